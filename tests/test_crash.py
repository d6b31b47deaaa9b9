"""Crash test: under load, the server is killed with SIGKILL at random moments ten times and
restarted each time on the same database. Afterwards every ticket a kiosk got an answer for
exists (same number and token), none was served twice, numbers are unique per service and
day, and every counter's state agrees with its ticket's."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from http.client import HTTPException
from pathlib import Path
from typing import Any

import pytest

from queue_server.config import load_config
from tests.support import KIOSK_TOKEN, ServerProcess, add_staff, http, login, write_config

KILLS = 10
COUNTERS = (1, 2, 3, 4, 5)
SERVICES = ("CT", "HT", "DD", "LD", "TKQ")
STATE_AFTER = {
    "ticket_issued": "waiting",
    "ticket_called": "called",
    "ticket_recalled": "called",
    "ticket_started": "serving",
    "ticket_done": "done",
    "ticket_no_show": "no_show",
}


def call(method: str, url: str, body: dict[str, Any] | None = None, **kw: Any) -> tuple[int, dict[str, Any]] | None:
    """``http`` that returns None when the server is down or died mid-request."""
    try:
        status, answer, _ = http(method, url, body, timeout=5, **kw)
        return status, answer
    except (OSError, HTTPException, ValueError):
        return None


class Load:
    """Two kiosks and five clerks working flat out, recording every answer they get."""

    def __init__(self, server: ServerProcess, cookies: dict[int, str]):
        self.server = server
        self.cookies = cookies
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.issued: dict[str, dict[str, Any]] = {}  # request_id -> the ticket the kiosk was given
        self.called: list[tuple[int, int]] = []  # (counter, ticket id) answers to Next
        self.threads = [threading.Thread(target=self.kiosk, args=(k,)) for k in range(2)]
        self.threads += [threading.Thread(target=self.clerk, args=(n,)) for n in COUNTERS]

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)

    def kiosk(self, k: int) -> None:
        rng = random.Random(k)
        i = 0
        while not self.stop.is_set():
            request_id = f"k{k}-{i}"
            body = {"service": rng.choice(SERVICES), "priority": rng.random() < 0.2, "request_id": request_id}
            # A kiosk retries an unanswered request with the same request_id until it is
            # answered: it must then get the very ticket that was committed, or a new one.
            while not self.stop.is_set():
                answer = call("POST", self.server.base_url + "/api/tickets", body, token=KIOSK_TOKEN)
                if answer is not None:
                    break
                time.sleep(0.05)
            if answer is None:
                return
            status, ticket = answer
            if status in (200, 201):
                with self.lock:
                    self.issued[request_id] = ticket
            i += 1

    def clerk(self, n: int) -> None:
        rng = random.Random(100 + n)
        url = self.server.base_url + f"/api/counters/{n}/"
        while not self.stop.is_set():
            action = rng.choice(("next", "next", "next", "start", "done"))
            answer = call("POST", url + action, {}, cookie=self.cookies[n])
            if answer is None:
                time.sleep(0.05)
                continue
            status, view = answer
            if status == 200 and view.get("ticket") and action == "next":
                with self.lock:
                    self.called.append((n, view["ticket"]["id"]))
            time.sleep(rng.uniform(0, 0.02))


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_kill_minus_nine_ten_times_under_load_loses_and_doubles_nothing(tmp_path: Path) -> None:
    config_path = write_config(
        tmp_path, kiosks=[{"id": "sanh", "name": "Kiosk", "token": KIOSK_TOKEN, "printer": ""}], printers=[]
    )
    add_staff(config_path, {f"clerk{n}": "clerk" for n in COUNTERS})
    server = ServerProcess(tmp_path, config_path).start()
    try:
        cookies = {n: login(server.base_url, f"clerk{n}", n) for n in COUNTERS}
        rng = random.Random(6)
        started = time.monotonic()
        with Load(server, cookies) as load:
            for _ in range(KILLS):
                time.sleep(rng.uniform(0.2, 1.2))
                server.kill()
                time.sleep(rng.uniform(0, 0.2))
                server.start()
            time.sleep(0.5)
        assert time.monotonic() - started < 60
        assert len(load.issued) > 50 and len(load.called) > 20, (len(load.issued), len(load.called))
        server.kill()
        server.start()  # one more restart: the state below is what the database gives back
        check_database(server, load)
        check_live_state(server, cookies[1])
    finally:
        server.stop()


def check_database(server: ServerProcess, load: Load) -> None:
    config = load_config(server.config_path)
    conn = sqlite3.connect(f"file:{config.resolve(config.server.database)}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    tickets = {r["id"]: dict(r) for r in conn.execute("SELECT * FROM tickets")}

    # Every ticket a kiosk was told about exists, with the number and token it was given.
    for request_id, answer in load.issued.items():
        t = tickets.get(answer["id"])
        assert t is not None, f"{request_id}: ticket {answer['label']} was answered but is not in the database"
        assert (t["number"], t["label"], t["token"], t["request_id"]) == (
            answer["number"],
            answer["label"],
            answer["token"],
            request_id,
        )
    # One request id, one ticket — retries after a crash included.
    request_ids = [t["request_id"] for t in tickets.values() if t["request_id"]]
    assert len(request_ids) == len(set(request_ids))

    # Numbers unique per service and day (labels too: the ranges do not overlap).
    dupes = conn.execute(
        "SELECT day, service, number, count(*) FROM tickets GROUP BY day, service, number HAVING count(*) > 1"
    ).fetchall()
    assert not dupes
    assert len({(t["day"], t["label"]) for t in tickets.values()}) == len(tickets)

    # None served twice: called and finished at most once each, by one counter.
    for kind in ("ticket_called", "ticket_started", "ticket_done"):
        twice = conn.execute(
            "SELECT ticket_id, count(*), group_concat(counter) FROM events WHERE kind = ? "
            "GROUP BY ticket_id HAVING count(*) > 1",
            (kind,),
        ).fetchall()
        assert not twice, (kind, [tuple(r) for r in twice])
    for counter, tid in load.called:
        assert tickets[tid]["counter"] == counter, (counter, tickets[tid])
    # Each ticket's row is the result of its last event.
    last = conn.execute(
        "SELECT ticket_id, kind FROM events WHERE seq IN "
        "(SELECT max(seq) FROM events WHERE ticket_id IS NOT NULL GROUP BY ticket_id)"
    ).fetchall()
    for tid, kind in last:
        if kind in STATE_AFTER:
            assert tickets[tid]["state"] == STATE_AFTER[kind], (tid, kind, tickets[tid]["state"])

    # Counters and tickets agree both ways.
    counters = {r["number"]: dict(r) for r in conn.execute("SELECT * FROM counters")}
    held = {c["ticket_id"]: n for n, c in counters.items() if c["ticket_id"] is not None}
    assert len(held) == len([c for c in counters.values() if c["ticket_id"] is not None])
    for tid, n in held.items():
        assert tickets[tid]["state"] in ("called", "serving") and tickets[tid]["counter"] == n, (n, tickets[tid])
    for t in tickets.values():
        if t["state"] in ("called", "serving"):
            assert held.get(t["id"]) == t["counter"], t
    conn.close()


def check_live_state(server: ServerProcess, cookie: str) -> None:
    status, state, _ = http("GET", server.base_url + "/api/state", cookie=cookie)
    assert status == 200
    seen: set[int] = set()
    for c in state["counters"]:
        t = c["ticket"]
        if t is not None:
            assert t["id"] not in seen and t["counter"] == c["number"] and t["state"] in ("called", "serving")
            seen.add(t["id"])
    assert not seen & {t["id"] for t in state["waiting"]}
