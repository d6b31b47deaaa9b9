"""Dossiers on the screens, in Chromium against a real server on its own office config: a
scanner typing a code at the counter, the kiosk's lookup and result path, the phone page."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.browser import Screens, browser, screenshot  # noqa: F401  (fixture)
from tests.dossier_support import KIOSK_TOKEN, code, office_data, write_office
from tests.support import ServerProcess, add_staff, http, login


@pytest.fixture
def office_server(tmp_path: Path) -> Iterator[ServerProcess]:
    data = office_data()
    config_path = write_office(tmp_path, data)
    add_staff(config_path, {"clerk1": "clerk", "clerk5": "clerk", "boss": "admin"})
    proc = ServerProcess(tmp_path, config_path)
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def screens(browser: Any, office_server: ServerProcess) -> Iterator[Screens]:  # noqa: F811
    s = Screens(browser, office_server)
    try:
        yield s
    finally:
        s.close()
    assert not s.errors, f"uncaught errors in pages: {s.errors}"


def due_in(days: int) -> str:
    """Today (office time) plus ``days`` working days (Monday-Friday), as dd/mm/yyyy."""
    day = dt.datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    while days:
        day += dt.timedelta(days=1)
        days -= day.isoweekday() <= 5
    return day.strftime("%d/%m/%Y")


def issue(server: ServerProcess, service: str = "CT") -> dict[str, Any]:
    status, body, _ = http("POST", server.base_url + "/api/tickets", {"service": service}, token=KIOSK_TOKEN)
    assert status == 201, body
    return body


def test_a_scanner_typing_a_code_and_enter_records_the_dossier_in_three_keystrokes(screens, office_server):
    ticket = issue(office_server)
    counter = screens.open("/counter/1", 420, 760)
    screens.sign_on(counter, "clerk1")
    counter.keyboard.press("n")
    counter.wait_for_function("document.getElementById('current-label').textContent === '1001'")
    counter.wait_for_function("!document.querySelector('[data-outcome=received]').disabled")
    counter.keyboard.press("h")  # 1: Nhận hồ sơ
    counter.wait_for_selector("[data-testid=dossier-code]:focus")
    counter.select_option("[data-testid=dossier-procedure]", "CT03")
    # A USB scanner is a keyboard: it types the code fast, then Enter (2).
    counter.keyboard.type(code(1), delay=5)
    counter.keyboard.press("Enter")
    counter.wait_for_selector(".dossier-dialog", state="hidden")
    counter.wait_for_function(f"document.querySelector('[data-testid=dossier-list]').textContent.includes('{code(1)}')")
    assert f"hẹn {due_in(2)}" in counter.inner_text("[data-testid=dossier-list]")
    # The procedure is remembered for this service: the next code needs no choice.
    counter.keyboard.press("h")
    counter.wait_for_selector("[data-testid=dossier-code]:focus")
    assert counter.input_value("[data-testid=dossier-procedure]") == "CT03"
    counter.keyboard.type(code(2).lower(), delay=5)
    counter.keyboard.press("Enter")
    # The staff event may draw the list before the dialog has its answer and closes.
    counter.wait_for_selector(".dossier-dialog", state="hidden")
    counter.wait_for_function(f"document.querySelector('[data-testid=dossier-list]').textContent.includes('{code(2)}')")
    # A misscanned code is refused with the shape explained; nothing is recorded.
    counter.keyboard.press("h")
    counter.wait_for_selector("[data-testid=dossier-code]:focus")
    counter.keyboard.type("000.00.21.H40-26120", delay=5)
    counter.keyboard.press("Enter")
    counter.wait_for_selector(".dossier-error:not([hidden])")
    assert "không đúng dạng" in counter.inner_text(".dossier-error")
    screenshot(counter, "counter-dossier")
    counter.keyboard.press("Escape")
    counter.wait_for_selector(".dossier-dialog", state="hidden")
    # Both dossiers stay listed (a read answered late must not bring back an older list).
    listed = counter.inner_text("[data-testid=dossier-list]")
    assert code(1) in listed and code(2) in listed, listed
    # The counter's keys work once no field or dialog holds the focus (a clerk's next key
    # comes well after Escape; Playwright's may come before the closed dialog gives it back).
    counter.wait_for_function("!document.activeElement?.closest('input, textarea, select, dialog')")
    counter.keyboard.press("x")  # 3: done
    counter.wait_for_function("document.getElementById('current-label').textContent === '—'")
    for c, proc in ((code(1), "CT03"), (code(2), "CT03")):
        status, body, _ = http("GET", office_server.base_url + f"/api/dossiers/{c}")
        assert status == 200 and body["procedure"] == proc and body["status"] == "received"
    assert http("GET", office_server.base_url + "/api/dossiers/000.00.21.H40-261200-0000")[0] == 404
    # The phone page of that ticket lists both, with the status in the citizen's words.
    phone = screens.open(f"/t/{ticket['token']}", 390, 800)
    phone.wait_for_function(
        f"document.querySelector('[data-testid=status-dossiers]')?.textContent.includes('{code(2)}')"
    )
    assert "Đang giải quyết" in phone.inner_text("[data-testid=status-dossiers]")
    screenshot(phone, "status-dossiers")


def test_a_read_answered_after_the_outcome_does_not_bring_back_an_older_list(screens, office_server):
    issue(office_server)
    base = office_server.base_url
    counter = screens.open("/counter/1", 420, 760)
    screens.sign_on(counter, "clerk1")
    counter.keyboard.press("n")
    counter.wait_for_function("!document.querySelector('[data-outcome=received]').disabled")
    # The visit as it was before the dossier: what a read answered late would carry.
    clerk = login(base, "clerk1", 1)
    stale = http("GET", base + "/api/counters/1/dossiers", cookie=clerk)[1]
    assert stale["dossiers"] == []
    posts: list[Any] = []
    reads: list[Any] = []

    def hold(route: Any) -> None:
        if route.request.method == "POST":
            posts.append((route, route.fetch()))  # recorded on the server now; answered later
        else:
            reads.append(route)

    counter.route("**/api/counters/1/dossiers", hold)
    counter.keyboard.press("h")
    counter.wait_for_selector("[data-testid=dossier-code]:focus")
    counter.keyboard.type(code(1), delay=5)
    counter.keyboard.press("Enter")
    # The staff event of the new dossier makes the panel read the visit again: held too.
    while not (posts and reads):
        counter.evaluate("0")
    route, answer = posts[0]
    route.fulfill(response=answer)
    counter.wait_for_selector(".dossier-dialog", state="hidden")
    counter.wait_for_function(f"document.querySelector('[data-testid=dossier-list]').textContent.includes('{code(1)}')")
    answered = int(counter.get_attribute("[data-testid=dossier-panel]", "data-reads") or 0)
    reads[0].fulfill(status=200, content_type="application/json", body=json.dumps(stale))
    counter.wait_for_function(
        f"Number(document.querySelector('[data-testid=dossier-panel]').dataset.reads || 0) > {answered}"
    )
    counter.unroute("**/api/counters/1/dossiers")
    assert code(1) in counter.inner_text("[data-testid=dossier-list]")


def test_guidance_is_one_key(screens, office_server):
    issue(office_server)
    counter = screens.open("/counter/1", 420, 760)
    screens.sign_on(counter, "clerk1")
    counter.keyboard.press("n")
    counter.wait_for_function("!document.querySelector('[data-outcome=guidance]').disabled")
    counter.keyboard.press("d")
    counter.wait_for_function("document.querySelector('[data-testid=dossier-list]').textContent.includes('hướng dẫn')")
    # With a ticket held, D is the outcome only: it does not also jump to the no-show list.
    assert counter.evaluate("document.activeElement.id") != "noshows-title"


def test_papers_and_result_returned_are_a_key_and_enter_each(screens, office_server):
    issue(office_server)
    counter = screens.open("/counter/1", 420, 760)
    screens.sign_on(counter, "clerk1")
    counter.keyboard.press("n")
    counter.wait_for_function("!document.querySelector('[data-outcome=papers]').disabled")
    counter.keyboard.press("s")  # papers requested, no code yet: Enter on the empty field
    counter.wait_for_selector("[data-testid=dossier-code]:focus")
    counter.keyboard.press("Enter")
    counter.wait_for_function(
        "document.querySelector('[data-testid=dossier-list]').textContent.includes('yêu cầu bổ sung giấy tờ')"
    )
    counter.wait_for_selector(".dossier-dialog", state="hidden")  # the list is drawn just before it closes
    counter.keyboard.press("k")  # a result returned, for a dossier received before motcua
    counter.wait_for_selector("[data-testid=dossier-code]:focus")
    assert counter.locator("[data-testid=dossier-procedure]").is_hidden()
    counter.keyboard.type(code(5), delay=5)
    counter.keyboard.press("Enter")
    counter.wait_for_function(f"document.querySelector('[data-testid=dossier-list]').textContent.includes('{code(5)}')")
    assert "Đã trả" in counter.inner_text(f"[data-testid=dossier-list] li[data-code='{code(5)}']")
    status, body, _ = http("GET", office_server.base_url + f"/api/dossiers/{code(5)}")
    assert status == 200 and body["status"] == "returned"


def test_kiosk_looks_a_dossier_up_and_gives_a_result_ticket_only_when_ready(screens, office_server):
    base = office_server.base_url
    issue(office_server)
    clerk = login(base, "clerk1", 1)
    http("POST", base + "/api/counters/1/next", {}, cookie=clerk)
    http("POST", base + "/api/counters/1/dossiers", {"code": code(1), "procedure": "DD01"}, cookie=clerk)
    http("POST", base + "/api/counters/1/dossiers", {"code": code(2), "procedure": "CT01"}, cookie=clerk)
    http("POST", base + f"/api/dossiers/{code(2)}/ready", {}, cookie=clerk)
    http("POST", base + "/api/counters/1/dossiers", {"outcome": "papers", "code": code(3)}, cookie=clerk)
    kiosk = screens.open(f"/kiosk?device=sanh&token={KIOSK_TOKEN}", 1080, 1920)
    kiosk.click("[data-testid=kiosk-lookup]")
    kiosk.wait_for_selector("[data-testid=kiosk-dossier-code]:focus")
    kiosk.keyboard.type(code(1), delay=5)
    kiosk.keyboard.press("Enter")
    kiosk.wait_for_selector("[data-testid=kiosk-dossier-answer] dl")
    answer = kiosk.inner_text("[data-testid=kiosk-dossier-answer]")
    assert code(1) in answer and "Đăng ký biến động đất đai" in answer and "Đang giải quyết" in answer
    assert "clerk1" not in answer
    screenshot(kiosk, "kiosk-dossier-lookup")
    kiosk.click("[data-testid=kiosk-dossier-close]")
    # Not ready: the kiosk says so with the due date, and gives no ticket.
    kiosk.click("[data-testid=kiosk-collect]")
    kiosk.keyboard.type(code(1), delay=5)
    kiosk.keyboard.press("Enter")
    kiosk.wait_for_function(
        f"document.querySelector('[data-testid=kiosk-dossier-answer]').textContent.includes('{due_in(10)}')"
    )
    assert "chưa có kết quả" in kiosk.inner_text("[data-testid=kiosk-dossier-answer]")
    kiosk.click("[data-testid=kiosk-dossier-close]")
    # Waiting for papers: no date to come back on, the papers are needed.
    kiosk.click("[data-testid=kiosk-collect]")
    kiosk.keyboard.type(code(3), delay=5)
    kiosk.keyboard.press("Enter")
    kiosk.wait_for_function(
        "document.querySelector('[data-testid=kiosk-dossier-answer]').textContent.includes('bổ sung giấy tờ')"
    )
    assert "Ngày hẹn" not in kiosk.inner_text("[data-testid=kiosk-dossier-answer]")
    kiosk.click("[data-testid=kiosk-dossier-close]")
    # Ready: a ticket in the result-return service, shown like any ticket.
    kiosk.click("[data-testid=kiosk-collect]")
    for ch in code(2):  # the on-screen keys, as a citizen without a scanner types
        kiosk.click(f"[data-testid=kiosk-dossier-keys] [data-key='{ch}']")
    kiosk.click("[data-testid=kiosk-dossier-ok]")
    kiosk.wait_for_selector("[data-testid=ticket]", state="visible")
    assert kiosk.inner_text("[data-testid=ticket-label]") == "5001"


def test_admin_screen_alerts_marks_ready_in_bulk_imports_and_reports(screens, office_server, tmp_path):
    base = office_server.base_url
    issue(office_server)
    clerk = login(base, "clerk1", 1)
    http("POST", base + "/api/counters/1/next", {}, cookie=clerk)
    for i, proc in ((1, "CT01"), (2, "CT03"), (3, "DD01"), (4, "CT03")):
        http("POST", base + "/api/counters/1/dossiers", {"code": code(i), "procedure": proc}, cookie=clerk)
    http("POST", base + "/api/counters/1/done", {}, cookie=clerk)
    boss = login(base, "boss")
    page = screens.open("/admin/dossiers", 1280, 1000, wait_online=False)
    name, value = boss.split("=", 1)
    page.context.add_cookies([{"name": name, "value": value, "url": base}])
    page.reload()
    page.wait_for_selector("[data-testid=dossier-rows] tr")
    # CT01 (0 days) is due today, the two CT03 (2 working days) within 2 working days, DD01 later.
    assert page.inner_text("#n-today") == "1" and page.inner_text("#n-soon") == "2"
    for c in (code(1), code(2)):
        page.check(f"tr[data-code='{c}'] .pick")
    page.click("[data-testid=bulk-ready]")
    page.wait_for_function("document.getElementById('n-today').textContent === '0'")
    for c in (code(1), code(2)):
        status, body, _ = http("GET", base + f"/api/dossiers/{c}")
        assert body["status"] == "ready"
    csv_file = tmp_path / "tinh.csv"
    csv_file.write_text(f"Mã hồ sơ,Trạng thái,Ngày hoàn thành\n{code(3)},Đã có kết quả,03/12/2026\n", encoding="utf-8")
    page.set_input_files("#import-file", str(csv_file))
    page.click("#import button[type=submit]")
    page.wait_for_selector("[data-testid=import-result]:not([hidden])")
    assert "1 thay đổi" in page.inner_text("[data-testid=import-result]")
    assert f"{code(3)}: Đang giải quyết → Đã có kết quả (03/12/2026)" in page.inner_text("[data-testid=import-result]")
    assert http("GET", base + f"/api/dossiers/{code(3)}")[1]["status"] == "ready"
    # The report's dates are dd/mm/yyyy in this en-US browser too, from 1 January to today.
    today = dt.datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    assert page.input_value("#r-from") == f"01/01/{today.year}"
    assert page.input_value("#r-to") == today.strftime("%d/%m/%Y")
    assert f"from=01%2F01%2F{today.year}" in (page.get_attribute("#r-xlsx", "href") or "")
    page.click("#report button[type=submit]")
    # Wait for the new report, not the one already on the screen from before the import.
    page.wait_for_function(
        "document.querySelector('[data-testid=report-summary]').textContent.includes("
        "'tiếp nhận 4 hồ sơ, giải quyết đúng hạn 3 hồ sơ')"
    )
    assert "giải quyết đúng hạn 3 hồ sơ (100,00%)" in page.inner_text("[data-testid=report-summary]")
    screenshot(page, "admin-dossiers")


def test_the_admin_monitor_shows_the_dossier_alerts(screens, office_server):
    base = office_server.base_url
    issue(office_server)
    clerk = login(base, "clerk1", 1)
    http("POST", base + "/api/counters/1/next", {}, cookie=clerk)
    http("POST", base + "/api/counters/1/dossiers", {"code": code(1), "procedure": "CT01"}, cookie=clerk)  # today
    http("POST", base + "/api/counters/1/dossiers", {"code": code(2), "procedure": "CT03"}, cookie=clerk)  # +2
    http("POST", base + "/api/counters/1/dossiers", {"code": code(3), "procedure": "DD01"}, cookie=clerk)  # later
    boss = login(base, "boss")
    page = screens.open("/admin", 1280, 900, wait_online=False)
    name, value = boss.split("=", 1)
    page.context.add_cookies([{"name": name, "value": value, "url": base}])
    page.reload()
    box = page.locator("[data-testid=monitor-dossier-alerts]")
    box.wait_for(state="visible")
    text = box.inner_text()
    assert "1 đến hạn hôm nay" in text and "1 đến hạn trong 2 ngày làm việc" in text and "quá hạn" not in text
    assert code(1) in text and code(2) not in text and code(3) not in text  # the codes due today or overdue
    assert box.locator("a").get_attribute("href") == "/admin/dossiers"
    # Once the result is ready the dossier leaves the alerts (the monitor refreshes on events).
    http("POST", base + "/api/dossiers/ready", {"codes": [code(1), code(2)]}, cookie=boss)
    box.wait_for(state="hidden")
