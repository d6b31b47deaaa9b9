"""Core rules through a real server over HTTP (issue #9): a clerk who left a counter cannot act
for it any more, two racing copies of one kiosk request give one ticket, and a range edit that
would hold a label issued today is refused through the admin config API, changing nothing."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from queue_server.config import load_config
from tests.support import KIOSK_TOKEN, ServerProcess, add_staff, http, login, write_config


@pytest.fixture
def server(tmp_path: Path):
    config_path = write_config(
        tmp_path, kiosks=[{"id": "sanh", "name": "Kiosk", "token": KIOSK_TOKEN, "printer": ""}], printers=[]
    )
    add_staff(config_path, {"boss": "admin", "an": "clerk", "binh": "clerk"})
    with ServerProcess(tmp_path, config_path) as proc:
        yield proc


def issue(server: ServerProcess, service: str, request_id: str) -> dict[str, Any]:
    status, ticket, _ = http(
        "POST", server.base_url + "/api/tickets", {"service": service, "request_id": request_id}, token=KIOSK_TOKEN
    )
    assert status == 201, ticket
    return ticket


def database_rows(server: ServerProcess, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """A read-only look at the served database (no second writer)."""
    config = load_config(server.config_path)
    conn = sqlite3.connect(f"file:{config.resolve(config.server.database)}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def test_a_clerk_who_left_the_counter_gets_403_on_done_next_and_close(server: ServerProcess) -> None:
    base = server.base_url
    first = issue(server, "CT", "a")
    second = issue(server, "CT", "b")
    an = login(base, "an", 1)
    status, view, _ = http("POST", base + "/api/counters/1/next", {}, cookie=an)
    assert status == 200 and view["ticket"]["id"] == first["id"]
    status, _, _ = http("POST", base + "/api/counters/1/done", {}, cookie=an)
    assert status == 200
    status, _, _ = http("POST", base + "/api/counters/1/close", {}, cookie=an)
    assert status == 200
    # Bình signs on at counter 1 and calls the next citizen; An's browser still has its session.
    binh = login(base, "binh", 1)
    status, view, _ = http("POST", base + "/api/counters/1/next", {}, cookie=binh)
    assert status == 200 and view["ticket"]["id"] == second["id"]
    status, before, _ = http("GET", base + "/api/state", cookie=binh)
    for action in ("done", "next", "close"):
        status, body, _ = http("POST", base + f"/api/counters/1/{action}", {}, cookie=an)
        assert status == 403, (action, status, body)
        assert body["error"] == "counter_held_by_other", body
        assert "binh" in body["message"] and "binh" in body["message_en"], body
    # Nothing changed: Bình still holds counter 1 with the same citizen, and is still signed on.
    status, after, _ = http("GET", base + "/api/state", cookie=binh)
    assert after["counters"] == before["counters"]
    counter = next(c for c in after["counters"] if c["number"] == 1)
    assert counter["staff"] == "binh" and counter["ticket"]["id"] == second["id"]
    assert counter["ticket"]["state"] == "called"
    status, _, _ = http("POST", base + "/api/counters/1/start", {}, cookie=binh)
    assert status == 200
    done = database_rows(
        server, "SELECT count(*) FROM events WHERE kind = 'ticket_done' AND ticket_id = ?", second["id"]
    )
    assert done == [(0,)]


def race(server: ServerProcess, body: dict[str, Any], copies: int = 2) -> list[tuple[int, dict[str, Any]]]:
    """Send ``copies`` of one kiosk request at once, from threads released together."""
    barrier = threading.Barrier(copies)
    answers: list[tuple[int, dict[str, Any]]] = []
    lock = threading.Lock()

    def send() -> None:
        barrier.wait()
        status, answer, _ = http("POST", server.base_url + "/api/tickets", body, token=KIOSK_TOKEN)
        with lock:
            answers.append((status, answer))

    threads = [threading.Thread(target=send) for _ in range(copies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return answers


def test_two_racing_copies_of_one_request_get_the_same_ticket_201_then_200(server: ServerProcess) -> None:
    for attempt in range(5):  # each round races two threads on a fresh request id
        request_id = f"race-{attempt}"
        answers = race(server, {"service": "HT", "request_id": request_id})
        assert sorted(status for status, _ in answers) == [200, 201], answers
        (_, a), (_, b) = answers
        assert (a["id"], a["number"], a["label"], a["token"]) == (b["id"], b["number"], b["label"], b["token"])
        rows = database_rows(server, "SELECT id FROM tickets WHERE request_id = ?", request_id)
        assert rows == [(a["id"],)]
        issued = database_rows(
            server, "SELECT count(*) FROM events WHERE kind = 'ticket_issued' AND ticket_id = ?", a["id"]
        )
        assert issued == [(1,)]
    status, state, _ = http("GET", server.base_url + "/api/state")
    assert next(s for s in state["services"] if s["code"] == "HT")["issued"] == 5


def test_a_range_edit_holding_a_label_issued_today_is_refused_409_and_changes_nothing(
    server: ServerProcess,
) -> None:
    base = server.base_url
    boss = login(base, "boss")
    ht = issue(server, "HT", "ht-1")
    assert ht["label"] == "2001"
    # HT moves to a new block mid-day: its label 2001 stays valid.
    status, config, _ = http("GET", base + "/api/admin/config", cookie=boss)
    services = config["editable"]["services"]
    services[1]["range"] = [12001, 12999]
    status, body, _ = http("POST", base + "/api/admin/config", {"services": services}, cookie=boss)
    assert status == 200, body
    assert issue(server, "HT", "ht-2")["number"] == 12001
    ct = issue(server, "CT", "ct-1")
    assert ct["number"] == 1001

    # CT may not take 1500-2500 today: HT's 2001 lies in it.
    text_before = server.config_path.read_text(encoding="utf-8")
    status, state_before, _ = http("GET", base + "/api/state", cookie=boss)
    status, config, _ = http("GET", base + "/api/admin/config", cookie=boss)
    services = config["editable"]["services"]
    services[0]["range"] = [1500, 2500]
    status, body, _ = http("POST", base + "/api/admin/config", {"services": services}, cookie=boss)
    assert status == 409, body
    assert body["error"] == "range_overlaps_issued"
    assert "2001" in body["message"] and "2001" in body["message_en"] and "services[0].range" in body["message_en"]
    # Nothing changed: the file, the live office, CT's numbering.
    assert server.config_path.read_text(encoding="utf-8") == text_before
    status, config_after, _ = http("GET", base + "/api/admin/config", cookie=boss)
    assert config_after["editable"]["services"][0]["range"] == [1001, 1999]
    status, state_after, _ = http("GET", base + "/api/state", cookie=boss)
    assert state_after["services"] == state_before["services"]
    assert issue(server, "CT", "ct-2")["number"] == 1002
    audit = database_rows(server, "SELECT action FROM audit ORDER BY id")
    assert audit.count(("config_edited",)) == 1
