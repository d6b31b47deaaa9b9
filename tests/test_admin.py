"""Admin routes: who may use them, the audit log, live config editing, ticket tools, reports;
and the admin page in a real browser."""

from __future__ import annotations

import datetime as dt
import difflib
import io
from pathlib import Path

import pytest
import tomlkit
from openpyxl import load_workbook
from starlette.testclient import TestClient

from queue_server import configedit
from queue_server.app import create_app
from queue_server.config import load_config, parse_text
from tests.support import JSON_HEADERS, KIOSK_TOKEN, PASSWORD, ROOT, TEST_OFFICE, add_staff, login, write_config

ADMIN_ENDPOINTS = [
    ("GET", "/api/admin/monitor"),
    ("POST", "/api/services/CT"),
    ("GET", "/api/admin/config"),
    ("POST", "/api/admin/config"),
    ("POST", "/api/admin/config/text"),
    ("GET", "/api/admin/users"),
    ("POST", "/api/admin/users"),
    ("POST", "/api/admin/users/clerk1/disabled"),
    ("POST", "/api/admin/users/clerk1/password"),
    ("GET", "/api/admin/tickets"),
    ("POST", "/api/tickets/1/cancel"),
    ("GET", "/api/admin/audit"),
    ("GET", "/api/reports"),
    ("GET", "/api/reports/export"),
]
# The admin screen's counter controls are the clerks' own endpoints: an admin may act for
# any counter, a clerk only for the one they signed on at (here: none).
COUNTER_CONTROLS = [("POST", f"/api/counters/2/{action}") for action in ("open", "pause", "resume", "close")]


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)  # 08:00 in Hà Nội

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def office(tmp_path: Path):
    path = write_config(tmp_path)
    add_staff(path, {"clerk1": "clerk", "boss": "admin"})
    clock = Clock()
    with TestClient(create_app(load_config(path), clock=clock, printing=False), headers=JSON_HEADERS) as client:
        client.clock = clock  # type: ignore[attr-defined]
        client.config_path = path  # type: ignore[attr-defined]
        yield client


def sign_in(client: TestClient, username: str) -> None:
    r = client.post("/api/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text


def issue(client: TestClient, service: str = "CT") -> dict:
    r = client.post("/api/tickets", json={"service": service}, headers={"Authorization": f"Bearer {KIOSK_TOKEN}"})
    assert r.status_code == 201, r.text
    return r.json()


def audit_actions(client: TestClient) -> list[tuple[str, str]]:
    return [(a["username"], a["action"]) for a in client.get("/api/admin/audit").json()["audit"]]


def audit_log(client: TestClient) -> list[dict]:
    """The audit rows, newest first, each checked to carry the office clock's time."""
    rows = client.get("/api/admin/audit").json()["audit"]
    for row in rows:
        assert dt.datetime.fromisoformat(row["at"]) == client.clock.now, row
    return rows


@pytest.mark.parametrize("method,path", ADMIN_ENDPOINTS + COUNTER_CONTROLS + [("POST", "/api/tickets/1/requeue")])
def test_admin_endpoints_refuse_anonymous_with_401(office, method, path):
    r = office.request(method, path, json={})
    assert r.status_code == 401 and r.json()["error"] == "login_required"


@pytest.mark.parametrize("method,path", ADMIN_ENDPOINTS)
def test_admin_endpoints_refuse_clerks_with_403(office, method, path):
    sign_in(office, "clerk1")
    r = office.request(method, path, json={})
    assert r.status_code == 403 and r.json()["error"] == "admin_only"


@pytest.mark.parametrize("method,path", COUNTER_CONTROLS)
def test_counter_controls_refuse_a_clerk_of_another_counter_with_403(office, method, path):
    r = office.post("/api/login", json={"username": "clerk1", "password": PASSWORD, "counter": 1})
    assert r.status_code == 200, r.text
    r = office.request(method, path, json={"reason": "Họp", "staff": "clerk1"})
    assert r.status_code == 403 and r.json()["error"] == "wrong_counter"
    assert office.app.state.office.engine.counters[2].state.value == "closed"


def test_a_clerk_cannot_open_their_counter_for_someone_else(office):
    r = office.post("/api/login", json={"username": "clerk1", "password": PASSWORD, "counter": 1})
    assert r.status_code == 200, r.text
    office.post("/api/counters/1/close")
    r = office.post("/api/counters/1/open", json={"staff": "boss"})
    assert r.status_code == 403 and r.json()["error"] == "admin_only"
    assert office.post("/api/counters/1/open", json={"staff": "clerk1"}).json()["counter"]["staff"] == "clerk1"


def test_monitor_alerts_on_a_ticket_waiting_too_long(office):
    sign_in(office, "boss")
    first = issue(office)
    issue(office, "HT")
    office.clock.now += dt.timedelta(minutes=31)  # alerts.long_wait_minutes = 30
    issue(office)
    body = office.get("/api/admin/monitor").json()
    assert [a["label"] for a in body["alerts"]] == [first["label"], "2001"]
    assert body["alerts"][0]["waited_s"] == 31 * 60
    ct = next(s for s in body["snapshot"]["services"] if s["code"] == "CT")
    assert ct["waiting"] == 2 and ct["longest_wait_s"] == 31 * 60
    assert {c["number"] for c in body["snapshot"]["counters"]} == {1, 2, 3, 4, 5}


def test_service_close_and_cap_are_applied_and_audited(office):
    sign_in(office, "boss")
    r = office.post("/api/services/DD", json={"open": False, "cap": 10})
    assert r.status_code == 200
    dd = next(s for s in r.json()["services"] if s["code"] == "DD")
    assert dd["open"] is False and dd["cap"] == 10
    entry = office.get("/api/admin/audit").json()["audit"][0]
    assert (entry["username"], entry["action"], entry["details"]) == (
        "boss",
        "service_changed",
        {"service": "DD", "open": False, "cap": 10},
    )
    assert dt.datetime.fromisoformat(entry["at"]) == office.clock.now


def test_staff_add_disable_and_reset_password_are_audited(office):
    sign_in(office, "boss")
    r = office.post(
        "/api/admin/users", json={"username": "clerk9", "password": "mat-khau-moi-1", "display_name": "Nguyễn Văn Chín"}
    )
    assert r.status_code == 201 and r.json()["user"]["role"] == "clerk"
    assert office.post("/api/admin/users/clerk9/password", json={"password": "mat-khau-moi-2"}).status_code == 200
    assert office.post("/api/admin/users/clerk9/disabled", json={"disabled": True}).json()["user"]["disabled"]
    assert office.post("/api/admin/users/boss/disabled", json={"disabled": True}).status_code == 400
    users = {u["username"]: u for u in office.get("/api/admin/users").json()["users"]}
    assert users["clerk9"]["display_name"] == "Nguyễn Văn Chín" and "password_hash" not in users["clerk9"]
    assert audit_actions(office)[:3] == [("boss", "user_disabled"), ("boss", "password_reset"), ("boss", "user_added")]
    office.post("/api/logout")
    r = office.post("/api/login", json={"username": "clerk9", "password": "mat-khau-moi-2"})
    assert r.status_code == 401


def test_ticket_tools_cancel_and_requeue_a_no_show_and_are_audited(office):
    a, b = issue(office), issue(office)
    sign_in(office, "boss")
    assert office.post("/api/tickets/{}/cancel".format(b["id"])).json()["ticket"]["state"] == "cancelled"
    # A no-show to requeue: counter 1 calls A twice-recalled... simply mark it no-show.
    assert office.post("/api/counters/1/open").status_code == 200
    assert office.post("/api/counters/1/next").status_code == 200
    assert office.post("/api/counters/1/no-show").status_code == 200
    r = office.post("/api/tickets/{}/requeue".format(a["id"]))
    assert r.json()["ticket"]["state"] == "waiting"
    again = office.post("/api/tickets/{}/requeue".format(a["id"]))
    assert again.status_code == 409 and again.json()["error"] == "invalid_transition"
    assert office.post("/api/tickets/{}/cancel".format(b["id"])).status_code == 409
    found = office.get("/api/admin/tickets", params={"q": a["label"]}).json()["tickets"]
    assert [t["id"] for t in found] == [a["id"]]
    # Refused actions leave no row; the admin opening counter 1 is an admin action too.
    assert [(e["username"], e["action"], e["details"]) for e in audit_log(office)] == [
        ("boss", "ticket_requeue", {"ticket_id": a["id"], "label": a["label"]}),
        ("boss", "counter_open", {"counter": 1, "staff": "boss"}),
        ("boss", "ticket_cancel", {"ticket_id": b["id"], "label": b["label"]}),
    ]


def test_a_clerk_requeue_is_audited_but_their_own_counter_work_is_not(office):
    a = issue(office)
    r = office.post("/api/login", json={"username": "clerk1", "password": PASSWORD, "counter": 1})
    assert r.status_code == 200, r.text
    for action, body in (
        ("next", {}),
        ("no-show", {}),
        ("pause", {"reason": "Nghỉ trưa"}),
        ("resume", {}),
        ("close", {}),
        ("open", {}),
    ):
        assert office.post(f"/api/counters/1/{action}", json=body).status_code == 200, action
    assert office.post("/api/tickets/{}/requeue".format(a["id"])).status_code == 200
    office.post("/api/logout")
    sign_in(office, "boss")
    assert [(e["username"], e["action"], e["details"]) for e in audit_log(office)] == [
        ("clerk1", "ticket_requeue", {"ticket_id": a["id"], "label": a["label"]})
    ]


def test_config_edit_keeps_comments_and_reloads_live(office):
    sign_in(office, "boss")
    before = office.config_path.read_text(encoding="utf-8")
    current = office.get("/api/admin/config").json()["editable"]
    services = current["services"] + [
        {"code": "BHYT", "name": "Bảo hiểm y tế", "range": [6001, 6999], "service_minutes": 7}
    ]
    counters = current["counters"]
    counters[4]["services"] = {**counters[4]["services"], "BHYT": "primary"}
    r = office.post(
        "/api/admin/config",
        json={"office": {"ticker": "Hôm nay nghỉ trưa từ 11:30."}, "services": services, "counters": counters},
    )
    assert r.status_code == 200, r.text
    text = office.config_path.read_text(encoding="utf-8")
    # Every comment line of the file is still there, and the untouched parts unchanged.
    comments = [line for line in before.splitlines() if line.lstrip().startswith("#")]
    assert all(c in text for c in comments)
    assert 'ticker = "Hôm nay nghỉ trưa từ 11:30."' in text and 'code = "BHYT"' in text
    # Outside the edited ticker line, the [office] part is byte for byte what it was.
    head_before, head_after = before.split("[[services]]")[0], text.split("[[services]]")[0]
    assert [x for x in head_before.splitlines() if not x.startswith("ticker =")] == [
        x for x in head_after.splitlines() if not x.startswith("ticker =")
    ]
    assert load_config(office.config_path).service("BHYT").name == "Bảo hiểm y tế"
    assert (office.config_path.parent / "config.toml.bak").read_text(encoding="utf-8") == before
    # Live: the state every screen reads shows the change without a restart.
    state = office.get("/api/state").json()
    assert state["office"]["ticker"] == "Hôm nay nghỉ trưa từ 11:30."
    assert "BHYT" in [s["code"] for s in state["services"]]
    assert issue(office, "BHYT")["number"] == 6001
    assert audit_actions(office)[0] == ("boss", "config_edited")


def test_invalid_config_edit_is_refused_and_the_file_left_alone(office):
    sign_in(office, "boss")
    before = office.config_path.read_text(encoding="utf-8")
    services = office.get("/api/admin/config").json()["editable"]["services"]
    services[1]["range"] = [1500, 2999]  # overlaps CT
    r = office.post("/api/admin/config", json={"services": services})
    assert r.status_code == 400 and r.json()["error"] == "services[1].range"  # the key at fault
    r = office.post("/api/admin/config/text", json={"text": "[office\nname = 1"})
    assert r.status_code == 400
    assert office.config_path.read_text(encoding="utf-8") == before
    assert not (office.config_path.parent / "config.toml.new").exists()


@pytest.mark.parametrize(
    "body",
    [
        {"office": {"ticker": {"a": None}}},  # TOML has no null
        {"services": [{"code": "CT", "tags": [None]}]},
    ],
)
def test_a_config_edit_holding_a_null_is_refused_and_the_file_left_alone(office, body):
    sign_in(office, "boss")
    before = office.config_path.read_text(encoding="utf-8")
    r = office.post("/api/admin/config", json=body)
    assert r.status_code == 400 and r.json()["error"] == "bad_field"
    assert office.config_path.read_text(encoding="utf-8") == before


# 3000 levels (15 KB, within server.max_body_bytes) is far past Python's recursion limit.
@pytest.mark.parametrize("raw", [b'{"a":' * 3000, b'{"text": "\\ud800"}', b"[1]"])
def test_config_bodies_that_are_not_a_json_object_are_refused(office, raw):
    sign_in(office, "boss")
    for path in ("/api/admin/config", "/api/admin/config/text"):
        r = office.post(path, content=raw, headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["error"] == "bad_json", (path, r.text)


def test_report_export_asks_who_is_asking_before_reading_the_query(office):
    r = office.get("/api/reports/export", params={"format": "pdf"})
    assert r.status_code == 401 and r.json()["error"] == "login_required"


def test_config_edit_that_would_strand_a_waiting_ticket_is_refused(office):
    issue(office, "LD")
    sign_in(office, "boss")
    current = office.get("/api/admin/config").json()["editable"]
    services = [s for s in current["services"] if s["code"] != "LD"]
    counters = [{**c, "services": {k: v for k, v in c["services"].items() if k != "LD"}} for c in current["counters"]]
    r = office.post("/api/admin/config", json={"services": services, "counters": counters})
    assert r.status_code == 409 and r.json()["error"] == "service_busy"
    assert 'code = "LD"' in office.config_path.read_text(encoding="utf-8")


def test_config_text_edit_keeps_what_was_written(office):
    sign_in(office, "boss")
    text = office.get("/api/admin/config").json()["text"]
    text = text.replace("[rating]\n", "[rating]\n# Năm mức từ 1/1/2027.\n").replace("levels = 4", "levels = 5")
    assert office.post("/api/admin/config/text", json={"text": text}).status_code == 200
    assert office.config_path.read_text(encoding="utf-8") == text
    assert office.get("/api/state").json()["office"]["rating_levels"] == 5


def test_reports_endpoint_and_exports(office):
    sign_in(office, "boss")
    issue(office)
    office.post("/api/counters/1/open")
    office.clock.now += dt.timedelta(minutes=4)
    office.post("/api/counters/1/next")
    office.clock.now += dt.timedelta(minutes=6)
    office.post("/api/counters/1/done")
    r = office.get("/api/reports", params={"from": "23/11/2026", "to": "23/11/2026", "by": "staff"})
    assert r.status_code == 200, r.text
    total = r.json()["total"]
    assert (total["issued"], total["served"], total["waiting"]["mean"], total["service"]["mean"]) == (1, 1, 240, 360)
    assert r.json()["staff"][0]["staff"] == "boss"
    csv_r = office.get("/api/reports/export", params={"from": "2026-11-23", "format": "csv"})
    assert csv_r.content.startswith(b"\xef\xbb\xbf") and "23/11/2026" in csv_r.content.decode("utf-8-sig")
    x = office.get("/api/reports/export", params={"from": "2026-11-23", "format": "xlsx"})
    assert "attachment" in x.headers["content-disposition"]
    assert load_workbook(io.BytesIO(x.content))["Báo cáo"]["B5"].value == 1
    assert office.get("/api/reports", params={"from": "31/02/2026"}).status_code == 400


# --------------------------------------------------------------------------- the page

BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.mark.browser
def test_admin_page_in_a_browser(tmp_path):
    """Sign in (a clerk is turned away), see the live monitor, run a report with its charts.
    The database holds the hand-checked fixture day of test_reports plus today's queue."""
    playwright = pytest.importorskip("playwright.sync_api")
    from tests.support import ServerProcess, http
    from tests.test_reports import play_fixture_day

    config_path = write_config(tmp_path)
    config = load_config(config_path)
    play_fixture_day(config, config.resolve(config.server.database))
    add_staff(config_path, {"clerk1": "clerk", "clerk2": "clerk", "clerk3": "clerk", "boss": "admin"})
    shots = ROOT / "docs" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    with ServerProcess(tmp_path, config_path) as server:
        base = server.base_url
        cookie = login(base, "clerk2", 2)
        for service in ("CT", "CT", "CT", "HT", "DD"):
            http("POST", base + "/api/tickets", {"service": service}, token=KIOSK_TOKEN)
        http("POST", base + "/api/counters/2/next", {}, cookie=cookie)
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=BROWSER_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="vi-VN", bypass_csp=True)
                errors: list[str] = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                # A clerk is told the screen is not for them.
                page.goto(base + "/admin")
                page.fill("#login-username", "clerk3")
                page.fill("#login-password", PASSWORD)
                page.click("#login-submit")
                page.wait_for_selector("text=Chỉ dành cho quản trị")
                assert page.locator("#app").is_hidden()
                page.click("#logout")
                page.fill("#login-username", "boss")
                page.fill("#login-password", PASSWORD)
                page.click("#login-submit")
                page.wait_for_selector("#monitor-services tr[data-code='CT']")
                assert page.inner_text("#monitor-services tr[data-code='CT'] .waiting") == "2"
                page.wait_for_selector("#monitor-counters tr[data-number='2'] >> text=clerk2")
                # Live: a ticket issued now shows up without reloading the page.
                http("POST", base + "/api/tickets", {"service": "HT"}, token=KIOSK_TOKEN)
                page.wait_for_function(
                    "document.querySelector(\"#monitor-services tr[data-code='HT'] .waiting\").textContent === '2'"
                )
                page.screenshot(path=str(shots / "admin.png"), full_page=True)
                page.click("nav [data-tab='reports']")
                page.fill("#report-from", "23/11/2026")
                page.fill("#report-to", "23/11/2026")
                page.select_option("#report-by", "service")
                page.click("#report-run")
                page.wait_for_selector("#report-table tbody tr")
                assert page.locator("#report-table tbody tr").count() == 2  # CT, HT
                assert page.inner_text("#report-table tfoot td:nth-child(2)") == "11"
                page.wait_for_function("document.querySelectorAll('#tab-reports canvas').length === 4")
                page.wait_for_timeout(800)  # let the charts finish their animation
                page.screenshot(path=str(shots / "report.png"), full_page=True)
                page.emulate_media(media="print")
                assert page.locator("#report-form").is_hidden() and page.locator(".admin-bar").is_hidden()
                page.emulate_media(media="screen")
                # Counter controls and ticket tools call the core endpoints, which write the audit rows.
                page.click("nav [data-tab='monitor']")
                closed = page.locator("#monitor-counters tr:has(button:has-text('Mở'))").first
                number = closed.get_attribute("data-number")
                page.once("dialog", lambda dialog: dialog.accept("clerk3"))
                closed.locator("button:has-text('Mở')").click()
                page.wait_for_selector(f"#monitor-counters tr[data-number='{number}'] >> text=clerk3")
                page.click("nav [data-tab='tickets']")
                page.wait_for_selector("#tickets tbody tr[data-ticket]")
                page.click("#tickets tbody tr[data-ticket] >> nth=0 >> button:has-text('In lại')")
                page.wait_for_selector("text=Đã gửi lệnh in lại")
                page.click("nav [data-tab='audit']")
                page.wait_for_selector("#audit tbody >> text=In lại vé")
                assert page.locator("#audit tbody >> text=Mở quầy").count() == 1
                assert errors == []
            finally:
                browser.close()
    assert (shots / "admin.png").stat().st_size > 10_000 and (shots / "report.png").stat().st_size > 10_000


def test_counter_open_pause_resume_close_from_the_admin_screen(office):
    sign_in(office, "boss")
    assert office.post("/api/counters/2/open", json={"staff": "nobody"}).status_code == 404
    assert office.post("/api/counters/2/open", json={"staff": "clerk1"}).json()["counter"]["staff"] == "clerk1"
    paused = office.post("/api/counters/2/pause", json={"reason": "Họp giao ban"}).json()["counter"]
    assert (paused["state"], paused["pause_reason"]) == ("paused", "Họp giao ban")
    assert office.post("/api/counters/2/resume").json()["counter"]["state"] == "open"
    assert office.post("/api/counters/2/close").json()["counter"]["state"] == "closed"
    assert office.post("/api/counters/2/explode").status_code == 404
    assert [(e["username"], e["action"], e["details"]) for e in audit_log(office)] == [
        ("boss", "counter_close", {"counter": 2}),
        ("boss", "counter_resume", {"counter": 2}),
        ("boss", "counter_pause", {"counter": 2, "reason": "Họp giao ban"}),
        ("boss", "counter_open", {"counter": 2, "staff": "clerk1"}),
    ]


COUNTERS_COMMENT = "# (backup: only when no primary/normal ticket waits for that counter).\n[[counters]]"


def test_config_edit_keeps_comments_in_place_when_adding_or_removing_the_last_table(office):
    # The tests' office file has a comment between the last [[services]] and the first [[counters]].
    sign_in(office, "boss")
    (office.config_path.parent / "config.toml").write_text(
        TEST_OFFICE.read_text(encoding="utf-8")
        .replace("enforce_hours = true", "enforce_hours = false")
        .replace('url = "png://var/tickets"', f'url = "png://{office.config_path.parent}/var/t"'),
        encoding="utf-8",
    )
    current = office.get("/api/admin/config").json()["editable"]
    added = current["services"] + [{"code": "BHYT", "name": "Bảo hiểm y tế", "range": [6001, 6999]}]
    assert office.post("/api/admin/config", json={"services": added}).status_code == 200
    text = office.config_path.read_text(encoding="utf-8")
    assert COUNTERS_COMMENT in text and text.index('code = "BHYT"') < text.index(COUNTERS_COMMENT)
    assert '\n\n[[services]]\ncode = "BHYT"' in text
    counters = [{**c, "services": {k: v for k, v in c["services"].items() if k != "TKQ"}} for c in current["counters"]]
    kept = [s for s in current["services"] if s["code"] != "TKQ"]
    r = office.post("/api/admin/config", json={"services": kept, "counters": counters})
    assert r.status_code == 200, r.text
    text = office.config_path.read_text(encoding="utf-8")
    assert 'code = "TKQ"' not in text and 'code = "BHYT"' not in text
    assert "service_minutes = 10\n\n# Each counter serves" in text and COUNTERS_COMMENT in text
    assert [s["code"] for s in office.get("/api/state").json()["services"]] == ["CT", "HT", "DD", "LD"]


def test_a_report_is_built_once_for_viewing_and_downloading_until_the_next_event(office, monkeypatch):
    from queue_server import reports

    calls = []
    real = reports.build_report
    monkeypatch.setattr(reports, "build_report", lambda *a, **k: calls.append(a[2:]) or real(*a, **k))
    sign_in(office, "boss")
    params = {"from": "2026-11-01", "to": "2026-11-30", "by": "service"}
    office.get("/api/reports", params=params)
    office.get("/api/reports/export", params={**params, "format": "csv"})
    office.get("/api/reports/export", params={**params, "format": "xlsx"})
    assert len(calls) == 1
    issue(office)
    assert office.get("/api/reports", params=params).json()["total"]["issued"] == 1
    assert len(calls) == 2


def test_saving_the_config_form_unchanged_leaves_the_file_byte_for_byte(office):
    # docs/admin.md: "saving the form unchanged leaves the file byte for byte the same" — also
    # a service's nested [services.booking] and [services.booking.windows] tables and their
    # comments, which once came back as one inline table filled with every default.
    sign_in(office, "boss")
    before = office.config_path.read_text(encoding="utf-8")
    assert "[services.booking]" in before and "[services.booking.windows]" in before
    r = office.post("/api/admin/config", json=office.get("/api/admin/config").json()["editable"])
    assert r.status_code == 200, r.text
    assert office.config_path.read_text(encoding="utf-8") == before


def test_config_form_keeps_an_inline_booking_table_and_edits_nested_tables_in_place(office):
    # The same promise for a file that writes a service's booking inline, and a change inside
    # the nested tables touches only the lines it changes.
    path = office.config_path
    text = path.read_text(encoding="utf-8")
    start = text.index("[services.booking]\n")
    end = text.index("[[services]]", start)
    inline = text[:start] + 'booking = {open = true, windows = {mon = ["08:00-11:00"]}}\n\n' + text[end:]
    doc = configedit.parse_text(inline)
    configedit.apply_changes(doc, configedit.editable(parse_text(inline, path)))
    assert tomlkit.dumps(doc) == inline

    doc = configedit.parse_text(text)
    form = configedit.editable(parse_text(text, path))
    form["services"][0]["booking"]["open"] = False
    del form["services"][0]["booking"]["windows"]["fri"]
    configedit.apply_changes(doc, form)
    diff = [x for x in difflib.ndiff(text.splitlines(), tomlkit.dumps(doc).splitlines()) if x[:2] in ("- ", "+ ")]
    assert diff == ["- open = true", "+ open = false", '- fri = ["08:00-11:00", "14:00-16:00"]'], diff

    # A counter's inline services (as tests/office.toml writes them) losing one are written
    # afresh, not left with a gap.
    text = TEST_OFFICE.read_text(encoding="utf-8")
    doc = configedit.parse_text(text)
    form = configedit.editable(parse_text(text, TEST_OFFICE))
    form["counters"][0]["services"] = {"CT": "primary"}
    configedit.apply_changes(doc, form)
    assert '\nservices = {CT = "primary"}\n' in tomlkit.dumps(doc)
