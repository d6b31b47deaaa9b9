"""A real uvicorn server in a subprocess, driven over HTTP and with `websockets` clients."""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any

from websockets.sync.client import connect

from tests.support import KIOSK_TOKEN, ServerProcess, http, login


def issue(server: ServerProcess, service: str = "CT", **body: Any) -> dict[str, Any]:
    status, ticket, _ = http("POST", server.base_url + "/api/tickets", {"service": service, **body}, token=KIOSK_TOKEN)
    assert status in (200, 201), ticket
    return ticket


def staff_state(server: ServerProcess, cookie: str) -> dict[str, Any]:
    status, state, _ = http("GET", server.base_url + "/api/state", cookie=cookie)
    assert status == 200
    return state


def test_five_clerks_pressing_next_at_once_never_share_a_ticket(server: ServerProcess):
    # Counters 1, 2, 3, 5 serve CT at some level; counter 4 serves DD/LD: give everyone work.
    for _ in range(40):
        issue(server, "CT")
    for _ in range(10):
        issue(server, "DD")
    cookies = {n: login(server.base_url, f"clerk{n}", n) for n in range(1, 6)}
    calls: list[tuple[int, int]] = []
    errors: list[Any] = []
    lock = threading.Lock()
    barrier = threading.Barrier(5)

    with connect(server.ws_url, open_timeout=5) as ws:
        first = json.loads(ws.recv(timeout=5))
        assert first["type"] == "snapshot"

        def clerk(n: int) -> None:
            for _ in range(8):
                barrier.wait(timeout=10)
                status, view, _ = http("POST", f"{server.base_url}/api/counters/{n}/next", {}, cookie=cookies[n])
                with lock:
                    if status != 200:
                        errors.append((n, status, view))
                    elif view["ticket"]:
                        calls.append((n, view["ticket"]["id"]))

        threads = [threading.Thread(target=clerk, args=(n,)) for n in range(1, 6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not errors
        # Every call the clerks saw was also pushed, once, in seq order, without gaps.
        pushed: list[dict[str, Any]] = []
        seq = first["seq"]
        while len([e for e in pushed if e["kind"] == "ticket_called"]) < len(calls):
            message = json.loads(ws.recv(timeout=5))
            if message["type"] != "events":  # print_job pushes carry no seq
                continue
            for event in message["events"]:
                assert event["seq"] == seq + 1
                seq = event["seq"]
                pushed.append(event)

    ids = [tid for _, tid in calls]
    assert len(ids) == 40, "every press found a ticket"
    assert len(set(ids)) == len(ids), "a ticket was called twice"
    pushed_calls = [(e["counter"]["number"], e["ticket"]["id"]) for e in pushed if e["kind"] == "ticket_called"]
    assert sorted(pushed_calls) == sorted(calls)
    state = staff_state(server, cookies[1])
    held = [c["ticket"]["id"] for c in state["counters"] if c["ticket"]]
    assert len(held) == len(set(held)) == 5


def test_kill_9_between_commands_then_restart_keeps_the_exact_state(server: ServerProcess):
    tickets = [issue(server, "CT", request_id=f"r{i}") for i in range(5)]
    cookie = login(server.base_url, "clerk1", 1)
    http("POST", server.base_url + "/api/counters/1/next", {}, cookie=cookie)
    http("POST", server.base_url + "/api/counters/1/recall", {}, cookie=cookie)
    before = staff_state(server, cookie)

    server.kill()
    server.start()

    after = staff_state(server, cookie)  # the signed cookie survives: the key is on disk
    for key in ("seq", "services", "counters", "latest_calls", "waiting"):
        assert after[key] == before[key] or key == "services" and _same_services(after, before), key
    again = issue(server, "CT", request_id="r0")  # a retried tap after the crash
    assert again["id"] == tickets[0]["id"]
    assert issue(server, "CT")["label"] == "1006"


def _same_services(a: dict[str, Any], b: dict[str, Any]) -> bool:
    # longest_wait_s moves with the clock; everything else must be identical.
    strip = lambda s: [{k: v for k, v in x.items() if k != "longest_wait_s"} for x in s["services"]]  # noqa: E731
    return strip(a) == strip(b)


def test_events_after_a_restart_continue_the_sequence(server: ServerProcess):
    issue(server)
    server.stop()
    server.start()
    with connect(server.ws_url, open_timeout=5) as ws:
        snap = json.loads(ws.recv(timeout=5))
        issue(server)
        event = json.loads(ws.recv(timeout=5))
        while event["type"] != "events":
            event = json.loads(ws.recv(timeout=5))
    assert snap["seq"] == 1 and event["seq"] == 2 and event["events"][0]["seq"] == 2


def test_every_event_of_a_busy_morning_is_kept_for_reports(server: ServerProcess):
    import sqlite3

    issue(server)
    issue(server, "HT")
    cookie = login(server.base_url, "clerk3", 3)
    http("POST", server.base_url + "/api/counters/3/next", {}, cookie=cookie)
    http("POST", server.base_url + "/api/counters/3/start", {}, cookie=cookie)
    http("POST", server.base_url + "/api/counters/3/done", {}, cookie=cookie)
    db = server.folder / "var" / "motcua.db"
    with sqlite3.connect(db) as conn:
        kinds = Counter(k for (k,) in conn.execute("SELECT kind FROM events"))
        row = conn.execute("SELECT staff, counter FROM events WHERE kind = 'ticket_done'").fetchone()
    assert kinds == Counter(
        {"ticket_issued": 2, "counter_opened": 1, "ticket_called": 1, "ticket_started": 1, "ticket_done": 1}
    )
    assert row == ("clerk3", 3)
