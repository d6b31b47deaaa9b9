"""queue_server.printing.service: print jobs for printers the server drives itself, through the real
app (TestClient), a real SQLite file, the png:// virtual printer and fake port-9100 printers
on 127.0.0.1 that accept, refuse, hang, close mid-job and report paper out."""

from __future__ import annotations

import datetime as dt
import json
import math
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops
from starlette.testclient import TestClient

from printer.render import TicketInfo, render_ticket
from queue_server import auth
from queue_server.app import create_app
from queue_server.errors import InvalidTransition
from queue_server.printing import service as printing
from queue_server.printing.jobs import JobState
from queue_server.printing.service import PrintService
from queue_server.store import Store
from tests.fakeprinter import FakePrinter, paper_out, refused_url
from tests.support import JSON_HEADERS, KIOSK_TOKEN, PASSWORD, office_config

KIOSK = {"Authorization": f"Bearer {KIOSK_TOKEN}"}
RASTER = b"\x1dv0"  # GS v 0: a ticket image, as opposed to a status query


@pytest.fixture(autouse=True, name="quick_printing")
def quick_printing_fixture(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(printing, "POLL_SECONDS", 0.2)
    monkeypatch.setattr(printing, "RETRY_SECONDS", 0.3)
    monkeypatch.setattr(printing, "SWEEP_SECONDS", 0.1)


class ShiftedClock:
    """Real time plus an offset that tests can move (to reach another office day)."""

    def __init__(self) -> None:
        self.offset = dt.timedelta()

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset


def printer(url: str, **settings: Any) -> dict[str, Any]:
    return {"id": "may-in-sanh", "url": url, "width": 384, "timeout": 1.0, "stale_after": 3, **settings}


@pytest.fixture(name="make_client")
def make_client_fixture(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """``make_client(printer_settings, clock=None)``: the sample office with that one printer
    for the kiosk, staff clerk1 and boss, and printing on."""
    db_path = tmp_path / "motcua.db"
    store = Store(db_path)
    if store.get_user("clerk1") is None:
        auth.add_user(store, "clerk1", PASSWORD, "clerk")
        auth.add_user(store, "boss", PASSWORD, "admin")
    store.close()
    clients: list[TestClient] = []

    def make(printer_settings: dict[str, Any], clock: Callable[[], dt.datetime] | None = None) -> TestClient:
        config = office_config(tmp_path, office={"enforce_hours": False}, printers=[printer_settings])
        app = create_app(config, database=db_path, clock=clock or ShiftedClock(), printing=True)
        client = TestClient(app, headers=JSON_HEADERS)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def service(client: TestClient) -> PrintService:
    return client.app.state.printing  # type: ignore[no-any-return,attr-defined]


def issue(client: TestClient, service_code: str = "CT", priority: bool = False) -> dict[str, Any]:
    r = client.post("/api/tickets", json={"service": service_code, "priority": priority}, headers=KIOSK)
    assert r.status_code == 201, r.text
    return r.json()


def sign_in(client: TestClient, user: str = "clerk1") -> None:
    r = client.post("/api/login", json={"username": user, "password": PASSWORD})
    assert r.status_code == 200, r.text


def wait_for(predicate: Callable[[], Any], timeout: float = 8.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"not true after {timeout} s")


def job_state(client: TestClient, ticket_id: int) -> str:
    return service(client).job_status(ticket_id)["state"]


def printed_jobs(fake: FakePrinter) -> list[bytes]:
    """What reached the printer as tickets (status queries open connections too)."""
    return [data for data in fake.jobs if RASTER in data]


def jobs_in_db(tmp_path: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(tmp_path / "motcua.db") as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM print_jobs ORDER BY id")]


def listen_on(url: str) -> FakePrinter:
    """An accepting fake printer on the port of ``url`` (where nothing listened before)."""
    port = int(url.rsplit(":", 1)[1])
    fake = FakePrinter("accept")
    fake._listener.close()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(8)
    listener.settimeout(0.05)
    fake._listener, fake.port = listener, port
    return fake


SERVICE_NAMES = {"CT": "Chứng thực", "HT": "Hộ tịch", "DD": "Đất đai – Xây dựng", "TKQ": "Trả kết quả"}
# The sample office's counters serving each service at primary or normal level.
SERVICE_COUNTERS = {"CT": "Quầy 1, 2", "HT": "Quầy 3", "DD": "Quầy 4", "TKQ": "Quầy 5"}


def expected_ticket(answer: dict[str, Any], width: int = 384) -> Image.Image:
    """The ticket ``render_ticket`` draws for the kiosk's answer, built here independently."""
    issued = dt.datetime.fromisoformat(answer["issued_at"]).astimezone(dt.timezone(dt.timedelta(hours=7)))
    return render_ticket(
        TicketInfo(
            office_name="Bộ phận Một cửa – UBND phường Hồng Hà",
            service_name=SERVICE_NAMES[answer["service"]],
            label=answer["label"],
            issued_at=issued.strftime("%d/%m/%Y %H:%M"),
            people_ahead=answer["people_ahead"],
            estimated_wait_min=0 if answer["estimated_wait_s"] < 30 else math.ceil(answer["estimated_wait_s"] / 60),
            status_url=answer["status_url"],
            footer="Xin cảm ơn!",
            priority=answer["priority"],
            counters=SERVICE_COUNTERS[answer["service"]],
        ),
        width,
    )


def same_image(got: Image.Image, expected: Image.Image) -> bool:
    return (
        got.size == expected.size and ImageChops.difference(got.convert("L"), expected.convert("L")).getbbox() is None
    )


# ------------------------------------------------------------------ png:// and the kiosk answer


def test_issued_ticket_comes_out_of_the_png_printer_as_render_ticket_draws_it(make_client, tmp_path: Path):
    client = make_client(printer(f"png://{tmp_path / 'var' / 'tickets'}"))
    answer = issue(client)
    assert answer["print"]["state"] == "queued" and answer["print"]["printer"] == "may-in-sanh"
    png = wait_for(lambda: sorted((tmp_path / "var" / "tickets").glob("*.png")))
    assert len(png) == 1
    wait_for(lambda: job_state(client, answer["id"]) == "printed")

    with Image.open(png[0]) as got:
        assert same_image(got, expected_ticket(answer))


def test_tickets_print_one_at_a_time_in_the_order_issued(make_client, tmp_path: Path):
    client = make_client(printer(f"png://{tmp_path / 'var' / 'tickets'}"))
    answers = [issue(client, code, priority=code == "HT") for code in ("CT", "HT", "CT", "DD", "TKQ")]
    assert answers[1]["priority"]
    wait_for(lambda: all(job_state(client, a["id"]) == "printed" for a in answers))
    files = sorted((tmp_path / "var" / "tickets").glob("*.png"))  # named by time and a counter
    assert len(files) == len(answers)
    for path, answer in zip(files, answers):
        with Image.open(path) as got:
            assert same_image(got, expected_ticket(answer)), path.name


def test_job_is_stored_with_the_ticket_before_the_kiosk_hears_of_it(make_client, tmp_path: Path):
    # An agent printer with no agent: the job can only be queued, and must already be stored.
    client = make_client(printer("tcp://127.0.0.1:9", agent_token="agent-token-123456"))
    answer = issue(client)
    rows = jobs_in_db(tmp_path)
    assert [(r["ticket_id"], r["printer"], r["state"]) for r in rows] == [(answer["id"], "may-in-sanh", "queued")]
    assert answer["print"] == {
        "state": "queued",
        "printer": "may-in-sanh",
        "error": "print agent not connected",
        "job_id": rows[0]["id"],
    }


def test_a_kiosk_without_a_printer_gets_no_job(tmp_path: Path):
    config = office_config(
        tmp_path, office={"enforce_hours": False}, kiosks=[{"id": "sanh", "token": KIOSK_TOKEN, "printer": ""}]
    )
    with TestClient(create_app(config, database=tmp_path / "motcua.db", printing=True), headers=JSON_HEADERS) as client:
        answer = issue(client)
    assert answer["print"]["state"] == "none"
    assert jobs_in_db(tmp_path) == []


def test_a_retried_kiosk_request_does_not_make_a_second_job(make_client, tmp_path: Path):
    client = make_client(printer(f"png://{tmp_path / 'var' / 'tickets'}"))
    body = {"service": "CT", "request_id": "tap-1"}
    first = client.post("/api/tickets", json=body, headers=KIOSK).json()
    again = client.post("/api/tickets", json=body, headers=KIOSK).json()
    assert again["id"] == first["id"] and again["print"]["job_id"] == first["print"]["job_id"]
    assert len(jobs_in_db(tmp_path)) == 1


def test_job_changes_reach_the_public_stream_as_print_job_messages(make_client, tmp_path: Path):
    client = make_client(printer(f"png://{tmp_path / 'var' / 'tickets'}"))
    with client.websocket_connect("/ws") as ws:
        assert ws.receive_json()["type"] == "snapshot"
        answer = issue(client)
        states = []
        while "printed" not in states:
            msg = ws.receive_json()
            if msg["type"] == "print_job":
                assert msg["ticket_id"] == answer["id"] and "requested_by" not in msg["job"]
                states.append(msg["print"]["state"])
    assert states == ["queued", "printing", "printed"]


def test_a_printed_job_never_changes_state_again(make_client, tmp_path: Path):
    client = make_client(printer(f"png://{tmp_path / 'var' / 'tickets'}"))
    answer = issue(client)
    wait_for(lambda: job_state(client, answer["id"]) == "printed")
    job = service(client).latest_job(answer["id"])
    for new in JobState:
        with pytest.raises(InvalidTransition):
            client.portal.call(service(client)._move, job, JobState.PRINTED, new)  # type: ignore[union-attr]
    assert jobs_in_db(tmp_path)[0]["state"] == "printed"


# ------------------------------------------------------------------ fake network printers


def test_a_printer_that_accepts_prints_the_job_once(make_client, tmp_path: Path):
    with FakePrinter("accept") as fake:
        client = make_client(printer(fake.url))
        answer = issue(client)
        assert answer["print"]["state"] == "queued"
        wait_for(lambda: job_state(client, answer["id"]) == "printed")
        # The fake records a connection's bytes when it closes, maybe just after the printer took them.
        wait_for(lambda: len(printed_jobs(fake)) == 1)
        wait_for(lambda: service(client).printers["may-in-sanh"].paper == "ok")
        summary = service(client).printers_summary()[0]
        assert summary["online"] is True and summary["last_success_at"] and summary["mode"] == "server"
        (public,) = client.get("/api/state").json()["printers"]
        assert public["paper"] == "ok" and "url" not in public
        sign_in(client)
        (staff,) = client.get("/api/state").json()["printers"]
        assert staff["url"] == fake.url
    assert jobs_in_db(tmp_path)[0]["attempts"] == 1


def test_a_refused_printer_is_retried_until_stale_and_never_printed_late(make_client, tmp_path: Path):
    url = refused_url()
    client = make_client(printer(url, stale_after=2))
    answer = issue(client)
    assert answer["print"]["state"] == "queued"
    wait_for(lambda: job_state(client, answer["id"]) == "stale")
    status = service(client).job_status(answer["id"])
    assert "refused" in (status["error"] or "").lower() or "connect" in (status["error"] or "")
    assert jobs_in_db(tmp_path)[0]["attempts"] >= 2
    assert service(client).printers["may-in-sanh"].online is False
    # The printer comes back: the stale ticket must not come out now (at any later time:
    # tests/test_print_jobs.py).
    with listen_on(url) as fake:
        wait_for(lambda: service(client).printers["may-in-sanh"].online)
        assert printed_jobs(fake) == []
    assert job_state(client, answer["id"]) == "stale"


def test_a_hanging_printer_fails_the_job_and_it_is_not_retried(make_client, tmp_path: Path):
    with FakePrinter("hang") as fake:
        client = make_client(printer(fake.url, stale_after=30))
        answer = issue(client)
        wait_for(lambda: job_state(client, answer["id"]) == "failed")
        # Not retried, at any later time: tests/test_print_jobs.py.
        row = jobs_in_db(tmp_path)[0]
        assert (row["state"], row["attempts"]) == ("failed", 1)
        assert "part way" in row["error"]


def test_a_printer_closing_mid_job_fails_it_and_a_reprint_prints_it_once_more(make_client, tmp_path: Path):
    with FakePrinter("close_mid_job", close_after=64) as fake:
        client = make_client(printer(fake.url, stale_after=30))
        answer = issue(client)
        wait_for(lambda: job_state(client, answer["id"]) == "failed")
        assert len(printed_jobs(fake)) == 1 and jobs_in_db(tmp_path)[0]["attempts"] == 1

        fake.behaviour = "accept"  # paper freed, printer fine again
        sign_in(client)
        r = client.post(f"/api/print-jobs/{answer['id']}/reprint")
        assert r.status_code == 201, r.text
        reprint = r.json()["job"]
        assert reprint["reprint_of"] == answer["print"]["job_id"] and reprint["requested_by"] == "clerk1"
        wait_for(lambda: job_state(client, answer["id"]) == "printed")
        jobs = printed_jobs(fake)
        assert len(jobs) == 2 and len(jobs[1]) > len(jobs[0])
    rows = jobs_in_db(tmp_path)
    assert [r["state"] for r in rows] == ["failed", "printed"]


def test_paper_out_holds_jobs_which_go_stale_instead_of_printing_later(make_client, tmp_path: Path):
    with paper_out() as fake:
        client = make_client(printer(fake.url, stale_after=2))
        wait_for(lambda: service(client).printers["may-in-sanh"].paper == "out")
        answer = issue(client)
        assert answer["print"]["state"] == "queued"
        assert "paper" in answer["print"]["error"]
        wait_for(lambda: job_state(client, answer["id"]) == "stale")
        assert printed_jobs(fake) == []
        sign_in(client)
        (entry,) = client.get("/api/printers").json()["printers"]
        assert entry["paper"] == "out" and "paper" in entry["error"]


# ------------------------------------------------------------------ reprint rules


def test_reprint_needs_staff_and_a_known_ticket_of_today(make_client, tmp_path: Path):
    clock = ShiftedClock()
    client = make_client(printer(f"png://{tmp_path / 'var' / 'tickets'}"), clock)
    answer = issue(client)
    wait_for(lambda: job_state(client, answer["id"]) == "printed")
    assert client.post(f"/api/print-jobs/{answer['id']}/reprint").status_code == 401
    sign_in(client, "boss")
    assert client.post("/api/print-jobs/99999/reprint").status_code == 404
    clock.offset = dt.timedelta(days=1)
    issue(client)  # rolls the office day over
    r = client.post(f"/api/print-jobs/{answer['id']}/reprint")
    assert r.status_code == 409 and r.json()["error"] == "ticket_not_today"


def test_the_job_list_filters_by_a_known_state_and_refuses_another(make_client, tmp_path: Path):
    client = make_client(printer(f"png://{tmp_path / 'var' / 'tickets'}"))
    answer = issue(client)
    wait_for(lambda: job_state(client, answer["id"]) == "printed")
    sign_in(client)
    assert [j["ticket_id"] for j in client.get("/api/print-jobs?state=printed").json()["jobs"]] == [answer["id"]]
    assert client.get("/api/print-jobs?state=failed").json()["jobs"] == []
    r = client.get("/api/print-jobs?state=broken")  # a typo is not an empty list
    assert r.status_code == 400 and r.json()["error"] == "bad_field", r.text
    assert r.json()["message"] and r.json()["message_en"]


def test_a_ticket_being_printed_is_not_reprinted(make_client, tmp_path: Path):
    client = make_client(printer("tcp://127.0.0.1:9", agent_token="agent-token-123456"))
    answer = issue(client)
    sign_in(client)
    r = client.post(f"/api/print-jobs/{answer['id']}/reprint")
    assert r.status_code == 409 and r.json()["error"] == "print_in_progress"
    assert audit_rows(tmp_path) == []  # a refused reprint leaves no audit row


def audit_rows(tmp_path: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(tmp_path / "motcua.db") as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT at, username, action, details FROM audit ORDER BY id")]


def test_every_reprint_is_audited_with_who_what_and_when(make_client, tmp_path: Path):
    clock = ShiftedClock()
    client = make_client(printer(f"png://{tmp_path / 'var' / 'tickets'}"), clock)
    answer = issue(client)
    wait_for(lambda: job_state(client, answer["id"]) == "printed")
    sign_in(client)  # a clerk may reprint: it is audited all the same
    before = clock()
    r = client.post(f"/api/print-jobs/{answer['id']}/reprint")
    assert r.status_code == 201, r.text
    (row,) = audit_rows(tmp_path)
    assert (row["username"], row["action"]) == ("clerk1", "ticket_reprint")
    assert json.loads(row["details"]) == {
        "ticket_id": answer["id"],
        "label": answer["label"],
        "job_id": r.json()["job"]["id"],
        "printer": "may-in-sanh",
    }
    assert before <= dt.datetime.fromisoformat(row["at"]) <= clock()
    wait_for(lambda: job_state(client, answer["id"]) == "printed")
    client.post("/api/logout")
    sign_in(client, "boss")
    assert client.post(f"/api/print-jobs/{answer['id']}/reprint").status_code == 201
    entry = client.get("/api/admin/audit").json()["audit"][0]
    assert (entry["username"], entry["action"], entry["details"]["ticket_id"]) == (
        "boss",
        "ticket_reprint",
        answer["id"],
    )


# ------------------------------------------------------------------ restart


def test_after_a_restart_young_queued_jobs_print_once_old_ones_go_stale_sent_ones_fail(make_client, tmp_path: Path):
    agent_printer = printer("tcp://127.0.0.1:9", agent_token="agent-token-123456", stale_after=60)
    first = make_client(agent_printer)
    old, sent, young = (issue(first) for _ in range(3))
    first.__exit__(None, None, None)
    with sqlite3.connect(tmp_path / "motcua.db") as conn:
        hour_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
        conn.execute("UPDATE print_jobs SET created_at = ? WHERE ticket_id = ?", (hour_ago, old["id"]))
        conn.execute("UPDATE print_jobs SET state = 'sent', attempts = 1 WHERE ticket_id = ?", (sent["id"],))

    # Same printer id, now a png:// printer the server drives: what comes out is what it sends.
    second = make_client(printer(f"png://{tmp_path / 'var' / 'tickets'}", stale_after=60))
    wait_for(lambda: job_state(second, young["id"]) == "printed")
    assert len(list((tmp_path / "var" / "tickets").glob("*.png"))) == 1
    states = {r["ticket_id"]: (r["state"], r["error"]) for r in jobs_in_db(tmp_path)}
    assert states[old["id"]][0] == "stale"
    assert states[sent["id"]][0] == "failed" and states[sent["id"]][1].startswith("no confirmation")
    assert states[young["id"]] == ("printed", None)


def test_a_printer_added_by_a_live_config_reload_gets_its_jobs(make_client, tmp_path: Path):
    client = make_client(printer(f"png://{tmp_path / 'var' / 'tickets'}"))
    with FakePrinter("accept") as fake:
        config = office_config(
            tmp_path,
            office={"enforce_hours": False},
            printers=[printer(f"png://{tmp_path / 'var' / 'tickets'}"), printer(fake.url, id="in-2")],
            kiosks=[{"id": "sanh", "token": KIOSK_TOKEN, "printer": "in-2"}],
        )
        client.portal.call(client.app.state.office.reload_config, config)  # type: ignore[union-attr,attr-defined]
        answer = issue(client)
        assert answer["print"]["printer"] == "in-2"
        wait_for(lambda: job_state(client, answer["id"]) == "printed")
        assert len(printed_jobs(fake)) == 1
        wait_for(lambda: [p["id"] for p in service(client).printers_summary()] == ["may-in-sanh", "in-2"])


def test_the_public_stream_tells_the_kind_of_printer_trouble_without_addresses(make_client):
    url = refused_url()
    client = make_client(printer(url, stale_after=30))
    wait_for(lambda: service(client).printers["may-in-sanh"].online is False)
    with client.websocket_connect("/ws") as ws:
        (public,) = ws.receive_json()["printers"]
        assert public["online"] is False and public["error"] == "printer error" and "url" not in public
        answer = issue(client)
        assert url in answer["print"]["error"]  # the kiosk itself gets the details
        msg = ws.receive_json()
        while msg["type"] != "print_job":
            msg = ws.receive_json()
        assert msg["print"]["error"] == "printer error" and url not in str(msg)
