"""Dossiers on a real server process: what it answers after a crash (SIGKILL) and restart is
what it answered before; the apology slip printed on the counter's (virtual) printer."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from printer.render import TicketInfo, ticket_text
from queue_server.config import load_config
from tests.dossier_support import KIOSK_TOKEN, code, office_data, write_office
from tests.support import ServerProcess, add_staff, http, login


@pytest.fixture
def proc(tmp_path: Path) -> Iterator[ServerProcess]:
    data = office_data()
    data["printers"] = [
        {"id": "quay5", "url": "png://var/slips", "width": 576},
        {"id": "sanh", "url": "png://var/tickets", "width": 576},
    ]
    data["counters"][2]["printer"] = "quay5"
    data["kiosks"][0]["printer"] = "sanh"
    config_path = write_office(tmp_path, data)
    add_staff(config_path, {"clerk1": "clerk", "boss": "admin"})
    server = ServerProcess(tmp_path, config_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def answers(base: str, cookie: str, token: str) -> dict[str, Any]:
    out: dict[str, Any] = {c: http("GET", base + f"/api/dossiers/{c}")[1] for c in (code(1), code(2), code(3))}
    out["alerts"] = http("GET", base + "/api/dossiers/alerts", cookie=cookie)[1]
    out["list"] = http("GET", base + "/api/dossiers", cookie=cookie)[1]
    out["phone"] = http("GET", base + f"/api/tickets/{token}/dossiers")[1]
    out["report"] = http("GET", base + "/api/reports/dossiers?by=procedure", cookie=cookie)[1]
    out["report"].pop("as_of", None)
    return out


def test_dossiers_read_the_same_after_a_crash_and_restart(proc: ServerProcess):
    base = proc.base_url
    status, ticket, _ = http("POST", base + "/api/tickets", {"service": "CT"}, token=KIOSK_TOKEN)
    assert status == 201
    clerk = login(base, "clerk1", 1)
    http("POST", base + "/api/counters/1/next", {}, cookie=clerk)
    for i, proc_code in ((1, "CT01"), (2, "CT03"), (3, "DD01")):
        status, body, _ = http(
            "POST", base + "/api/counters/1/dossiers", {"code": code(i), "procedure": proc_code}, cookie=clerk
        )
        assert status == 201, body
    http("POST", base + f"/api/dossiers/{code(1)}/ready", {}, cookie=clerk)
    http(
        "POST",
        base + f"/api/dossiers/{code(2)}/extend",
        {"due_date": "2099-01-05", "reason": "liên thông"},
        cookie=clerk,
    )
    boss = login(base, "boss")
    before = answers(base, boss, ticket["token"])
    assert before[code(2)]["status_text"] == "Trễ hẹn – hẹn lại ngày 05/01/2099"
    proc.kill()
    proc.start()
    assert answers(base, boss, ticket["token"]) == before
    # And it goes on from there: the visit's ticket is still held, more can be recorded.
    status, body, _ = http("POST", base + "/api/counters/1/dossiers", {"outcome": "guidance"}, cookie=clerk)
    assert status == 201 and [d["code"] for d in body["dossiers"]] == [code(1), code(2), code(3)]


def test_the_apology_slip_prints_on_the_counters_printer(proc: ServerProcess, tmp_path: Path):
    base = proc.base_url
    http("POST", base + "/api/tickets", {"service": "DD"}, token=KIOSK_TOKEN)
    clerk = login(base, "clerk1", 1)
    http("POST", base + "/api/counters/1/next", {}, cookie=clerk)
    http("POST", base + "/api/counters/1/dossiers", {"code": code(1), "procedure": "DD01"}, cookie=clerk)
    status, body, _ = http("POST", base + f"/api/dossiers/{code(1)}/apology/print", {"counter": 5}, cookie=clerk)
    assert status == 409 and body["error"] == "not_extended"
    http(
        "POST",
        base + f"/api/dossiers/{code(1)}/extend",
        {"due_date": "2099-01-05", "reason": "liên thông"},
        cookie=clerk,
    )
    status, body, _ = http("POST", base + f"/api/dossiers/{code(1)}/apology/print", {"counter": 1}, cookie=clerk)
    assert status == 409 and body["error"] == "no_printer"  # counter 1 has none: print the A4 page
    status, body, _ = http("POST", base + f"/api/dossiers/{code(1)}/apology/print", {"counter": 5}, cookie=clerk)
    assert status == 200 and body == {"printed": True, "printer": "quay5"}
    (slip,) = list((tmp_path / "var" / "slips").glob("*.png"))
    image = Image.open(slip)
    assert image.width == 576 and image.height > 300
    assert http("POST", base + f"/api/dossiers/{code(1)}/apology/print", {"counter": 5})[0] == 401


def test_the_result_return_ticket_is_printed_at_the_kiosk(proc: ServerProcess, tmp_path: Path):
    base = proc.base_url
    http("POST", base + "/api/tickets", {"service": "CT"}, token=KIOSK_TOKEN)
    clerk = login(base, "clerk1", 1)
    http("POST", base + "/api/counters/1/next", {}, cookie=clerk)
    http("POST", base + "/api/counters/1/dossiers", {"code": code(1), "procedure": "CT01"}, cookie=clerk)
    http("POST", base + f"/api/dossiers/{code(1)}/ready", {}, cookie=clerk)
    status, ticket, _ = http("POST", base + f"/api/dossiers/{code(1)}/check-in", {}, token=KIOSK_TOKEN)
    assert status == 201 and ticket["service"] == "TKQ" and ticket["dossier"]["code"] == code(1)
    assert ticket["print"]["state"] in ("queued", "printing", "printed")
    folder = tmp_path / "var" / "tickets"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(list(folder.glob("*.png"))) < 2:
        time.sleep(0.1)
    assert len(list(folder.glob("*.png"))) == 2  # the reception ticket and the result-return ticket
    # The result-return ticket carries the dossier's code on paper; the reception ticket does not.
    config = load_config(proc.config_path)
    with sqlite3.connect(config.resolve(config.server.database)) as db:
        infos = dict(db.execute("SELECT ticket_id, info FROM print_jobs").fetchall())
    texts = {tid: ticket_text(TicketInfo.from_json(json.loads(info))) for tid, info in infos.items()}
    assert f"Hồ sơ: {code(1)}" in texts.pop(ticket["id"]).splitlines()
    assert [t for t in texts.values() if "Hồ sơ" in t] == []
