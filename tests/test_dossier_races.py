"""Dossier rules under races, on a real server process: the outcome guard and the kiosk
check-in decide under the office lock (their database reads done before it, off the event
loop), so requests that arrive together never finish a ticket without its outcome nor issue
two result-return tickets for one dossier."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

from tests.dossier_support import KIOSK_TOKEN, code, office_data, write_office
from tests.support import ServerProcess, add_staff, http, login


@pytest.fixture
def proc(tmp_path: Path) -> Iterator[ServerProcess]:
    data = office_data(require_outcome=True)
    data["counters"][1]["services"]["TKQ"] = "backup"  # counter 2 returns results too
    config_path = write_office(tmp_path, data)
    add_staff(config_path, {"clerk1": "clerk", "clerk2": "clerk", "clerk5": "clerk", "boss": "admin"})
    with ServerProcess(tmp_path, config_path) as server:
        yield server


def together(n: int, request: Callable[[], tuple[int, Any, Any]]) -> list[tuple[int, Any]]:
    """``n`` copies of one request sent at once; their (status, body) answers."""
    with ThreadPoolExecutor(max_workers=n) as pool:
        return [(status, body) for status, body, _ in pool.map(lambda _: request(), range(n))]


def held(base: str, boss: str, counter: int) -> dict[str, Any] | None:
    """The ticket ``counter`` calls or serves, as the admin monitor shows it."""
    status, body, _ = http("GET", base + "/api/admin/monitor", cookie=boss)
    assert status == 200, body
    [entry] = [c for c in body["snapshot"]["counters"] if c["number"] == counter]
    ticket: dict[str, Any] | None = entry["ticket"]
    return ticket


def ready_dossier(base: str, clerk: str, n: int) -> str:
    """A dossier received at counter 1 (its visit's ticket finished) and made ready."""
    status, body, _ = http("POST", base + "/api/tickets", {"service": "CT"}, token=KIOSK_TOKEN)
    assert status == 201, body
    assert http("POST", base + "/api/counters/1/next", {}, cookie=clerk)[0] == 200
    status, body, _ = http(
        "POST", base + "/api/counters/1/dossiers", {"code": code(n), "procedure": "CT03"}, cookie=clerk
    )
    assert status == 201, body
    assert http("POST", base + "/api/counters/1/done", {}, cookie=clerk)[0] == 200
    assert http("POST", base + f"/api/dossiers/{code(n)}/ready", {}, cookie=clerk)[0] == 200
    return code(n)


def test_check_ins_of_one_dossier_at_once_give_one_ticket_also_after_a_restart(proc: ServerProcess):
    base = proc.base_url
    clerk = login(base, "clerk1", 1)
    dossier = ready_dossier(base, clerk, 1)
    answers = together(6, lambda: http("POST", base + f"/api/dossiers/{dossier}/check-in", {}, token=KIOSK_TOKEN))
    assert sorted(status for status, _ in answers) == [200] * 5 + [201], answers
    ids = {body["id"] for _, body in answers}
    assert len(ids) == 1
    boss = login(base, "boss")
    waiting = http("GET", base + "/api/admin/monitor", cookie=boss)[1]["snapshot"]["waiting"]
    assert [t["service"] for t in waiting] == ["TKQ"]
    proc.kill()
    proc.start()
    status, body, _ = http("POST", base + f"/api/dossiers/{dossier}/check-in", {}, token=KIOSK_TOKEN)
    assert status == 200 and body["id"] in ids, body
    # The check-in is the return ticket's outcome: the clerk at the return counter finishes it.
    clerk5 = login(base, "clerk5", 5)
    status, body, _ = http("POST", base + "/api/counters/5/next", {}, cookie=clerk5)
    assert status == 200 and body["ticket"]["id"] in ids, body
    assert http("POST", base + "/api/counters/5/done", {}, cookie=clerk5)[0] == 200
    assert http("GET", base + f"/api/dossiers/{dossier}")[1]["status"] == "returned"


def test_next_pressed_twice_at_once_never_finishes_a_ticket_without_its_outcome(proc: ServerProcess):
    base = proc.base_url
    clerk, boss = login(base, "clerk1", 1), login(base, "boss")
    for _ in range(4):
        assert http("POST", base + "/api/tickets", {"service": "CT"}, token=KIOSK_TOKEN)[0] == 201
    assert http("POST", base + "/api/counters/1/next", {}, cookie=clerk)[0] == 200
    for _ in range(3):
        served = held(base, boss, 1)
        assert served is not None
        status, body, _ = http("POST", base + "/api/counters/1/dossiers", {"outcome": "guidance"}, cookie=clerk)
        assert status == 201, body
        answers = together(2, lambda: http("POST", base + "/api/counters/1/next", {}, cookie=clerk))
        assert sorted(status for status, _ in answers) == [200, 409], answers
        refused = next(body for status, body in answers if status == 409)
        assert refused["error"] == "outcome_required", refused
        called = held(base, boss, 1)
        # One press finished the served ticket and called the next; the other was refused:
        # the newly called ticket, with no outcome yet, is still held, not finished.
        assert called is not None and called["id"] != served["id"] and called["state"] == "called"
        assert f"ticket {called['label']} " in refused["message_en"], refused


def test_the_monitor_lists_dossiers_due_soon(proc: ServerProcess):
    base = proc.base_url
    clerk = login(base, "clerk1", 1)
    assert http("POST", base + "/api/tickets", {"service": "CT"}, token=KIOSK_TOKEN)[0] == 201
    assert http("POST", base + "/api/counters/1/next", {}, cookie=clerk)[0] == 200
    status, body, _ = http(
        "POST", base + "/api/counters/1/dossiers", {"code": code(7), "procedure": "CT03"}, cookie=clerk
    )
    assert status == 201, body
    boss = login(base, "boss")
    alerts = http("GET", base + "/api/admin/monitor", cookie=boss)[1]["dossier_alerts"]
    assert [d["code"] for d in alerts["due_soon"]] == [code(7)] and alerts["overdue"] == alerts["due_today"] == []
    assert http("GET", base + "/api/dossiers/alerts", cookie=boss)[1] == alerts


def test_a_check_in_racing_the_return_ticket_being_finished_never_issues_a_second_ticket(proc: ServerProcess):
    base = proc.base_url
    clerk, clerk5 = login(base, "clerk1", 1), login(base, "clerk5", 5)
    for n in range(1, 4):
        dossier = ready_dossier(base, clerk, n)
        status, first, _ = http("POST", base + f"/api/dossiers/{dossier}/check-in", {}, token=KIOSK_TOKEN)
        assert status == 201, first
        assert http("POST", base + "/api/counters/5/next", {}, cookie=clerk5)[0] == 200
        requests = [
            lambda: http("POST", base + "/api/counters/5/done", {}, cookie=clerk5),
            lambda url=base + f"/api/dossiers/{dossier}/check-in": http("POST", url, {}, token=KIOSK_TOKEN),
        ]
        with ThreadPoolExecutor(max_workers=2) as pool:
            (done, _, _), (status, body, _) = pool.map(lambda request: request(), requests)
        assert done == 200
        # Before the finish: the same ticket; after it: the dossier is returned. Never a new one.
        assert (status == 200 and body["id"] == first["id"]) or (
            status == 409 and body["error"] == "already_returned"
        ), (status, body)
        assert http("GET", base + f"/api/dossiers/{dossier}")[1]["status"] == "returned"


def test_return_tickets_finished_together_each_tell_staff_their_dossier(proc: ServerProcess):
    base = proc.base_url
    clerk, clerk2, clerk5 = login(base, "clerk1", 1), login(base, "clerk2", 2), login(base, "clerk5", 5)
    for n in range(3):
        dossiers = [ready_dossier(base, clerk, 2 * n + i) for i in (1, 2)]
        for dossier in dossiers:
            assert http("POST", base + f"/api/dossiers/{dossier}/check-in", {}, token=KIOSK_TOKEN)[0] == 201
        assert http("POST", base + "/api/counters/5/next", {}, cookie=clerk5)[0] == 200
        assert http("POST", base + "/api/counters/2/next", {}, cookie=clerk2)[0] == 200
        with connect(proc.ws_url, open_timeout=5, additional_headers={"Cookie": clerk, "Origin": base}) as staff:
            assert json.loads(staff.recv(timeout=5))["type"] == "snapshot"
            finish = [(5, clerk5), (2, clerk2)]
            with ThreadPoolExecutor(max_workers=2) as pool:
                statuses = list(
                    pool.map(lambda c: http("POST", base + f"/api/counters/{c[0]}/done", {}, cookie=c[1])[0], finish)
                )
            assert statuses == [200, 200]
            returned: list[str] = []
            while len(returned) < 2:  # (a missing message times out: TimeoutError)
                msg = json.loads(staff.recv(timeout=5))
                if msg["type"] == "dossier_returned":
                    returned.append(msg["dossier"]["code"])
            assert sorted(returned) == sorted(dossiers)
