"""Booking on a phone (390×844) and checking in at the kiosk by typing the code, in Chromium
against a real server whose clock the test drives."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.appointment_server import threaded_server
from tests.appointment_support import KIOSK_TOKEN, MONDAY, Clock, booking_config
from tests.browser import SCREENSHOTS, browser  # noqa: F401  (fixture)
from tests.support import http, login


@pytest.fixture
def office(tmp_path: Path) -> Iterator[tuple[str, Clock]]:
    clock = Clock(MONDAY.replace(hour=8, minute=0))
    with threaded_server(
        booking_config(tmp_path), tmp_path / "m.db", clock, {"boss": "admin", "clerk1": "clerk"}
    ) as url:
        yield url, clock


def new_page(browser: Any, url: str, width: int, height: int, errors: list[str], **kw: Any) -> Any:
    # bypass_csp: Playwright's string waits are evaluated code, which the server's CSP forbids
    # (tests/test_headers.py runs the screens under the policy).
    context = browser.new_context(
        viewport={"width": width, "height": height},
        locale="vi-VN",
        timezone_id="Asia/Ho_Chi_Minh",
        bypass_csp=True,
        **kw,
    )
    context.set_default_timeout(6000)
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    return page


def test_book_on_a_phone_then_check_in_at_the_kiosk_by_typing_the_code(browser: Any, office: tuple[str, Clock]):
    url, clock = office
    errors: list[str] = []
    phone = new_page(browser, url + "/book", 390, 844, errors, is_mobile=True, has_touch=True)
    phone.wait_for_selector("[data-service=CT]")
    phone.click("[data-service=CT]")
    phone.click("[data-date='2026-12-07']")
    slots = phone.locator("[data-testid=book-slots] .slot")
    slots.first.wait_for()
    # 08:00 has started; 08:15 is the first slot still ahead.
    assert slots.first.get_attribute("data-start") == "08:15"
    phone.click(".slot[data-start='08:45']")
    assert "30 ngày" in phone.locator("[data-testid=book-purpose]").inner_text()
    phone.fill("[data-testid=book-name]", "Nguyễn Thị Hoa")
    phone.fill("[data-testid=book-phone]", "0912 345 678")
    phone.screenshot(path=str(SCREENSHOTS / "book-phone.png"), full_page=True)
    phone.click("[data-testid=book-submit]")
    phone.wait_for_selector("[data-testid=book-confirm]", state="visible")
    code = phone.locator("[data-testid=book-code]").inner_text()
    assert len(code) == 7 and code[3] == "-"
    assert phone.locator("[data-testid=book-time]").inner_text() == "08:45–09:00"
    assert phone.locator("#qr svg").count() == 1
    assert phone.locator("#papers").inner_text() == "Bản chính và bản sao"
    assert phone.url.endswith(f"/book/{code}")
    phone.screenshot(path=str(SCREENSHOTS / "book-confirmation.png"), full_page=True)

    # The .ics link downloads the event.
    with phone.expect_download() as download:
        phone.click("[data-testid=book-ics]")
    assert "BEGIN:VEVENT" in Path(download.value.path()).read_text(encoding="utf-8")

    # The slot now shows one seat fewer; a full slot is shown full (disabled).
    clock.now = MONDAY.replace(hour=8, minute=20)
    kiosk = new_page(browser, f"{url}/kiosk?device=sanh&token={KIOSK_TOKEN}", 1080, 1920, errors)
    kiosk.wait_for_selector("[data-testid=checkin-open]", state="visible")
    kiosk.click("[data-testid=checkin-open]")
    kiosk.wait_for_selector("[data-testid=checkin]", state="visible")
    for ch in code.replace("-", ""):
        kiosk.click(f"#checkin-keys [data-key='{ch}']")
    assert kiosk.locator("[data-testid=checkin-code]").inner_text() == code
    kiosk.screenshot(path=str(SCREENSHOTS / "kiosk-checkin.png"))
    kiosk.click("[data-testid=checkin-go]")
    kiosk.wait_for_selector("[data-testid=ticket]", state="visible")
    assert kiosk.locator("[data-testid=ticket-label]").inner_text() == "H1001"
    assert kiosk.locator("[data-testid=ticket-booked]").inner_text() == "Lịch hẹn 08:45"

    # Checking in again (a scanner typing the code + Enter on the start screen) gives the same ticket.
    kiosk.click("#ticket-done")
    kiosk.keyboard.type(code)
    kiosk.keyboard.press("Enter")
    kiosk.wait_for_selector("[data-testid=ticket]", state="visible")
    assert kiosk.locator("[data-testid=ticket-label]").inner_text() == "H1001"

    phone.reload()
    phone.wait_for_selector("[data-testid=book-state]")
    assert phone.locator("[data-testid=book-state]").inner_text() == "Đã xác nhận tại kiosk"

    # The clerk calls it: the clerk station marks it as booked, with the slot time.
    clock.now = MONDAY.replace(hour=8, minute=45)
    counter = new_page(browser, url + "/counter/1", 420, 640, errors)
    counter.wait_for_selector("#signon-form", state="visible")
    counter.fill("#username", "clerk1")
    counter.fill("#password", "mat-khau-123")
    counter.click("#signon-button")
    counter.wait_for_selector("#desk", state="visible")
    counter.click("[data-testid=next]")
    counter.wait_for_function("document.querySelector('#current-label').textContent === 'H1001'")
    assert counter.locator("[data-testid=current-booked]").inner_text() == "Lịch hẹn 08:45"
    assert not errors, errors


def test_a_full_slot_is_shown_full_and_too_late_offers_a_walk_in(browser: Any, office: tuple[str, Clock]):
    url, clock = office
    errors: list[str] = []
    import json
    import urllib.request

    def book(start: str, phone: str) -> dict[str, Any]:
        body = json.dumps(
            {"service": "CT", "date": "2026-12-07", "start": start, "name": "Trần Văn Ba", "phone": phone}
        ).encode()
        req = urllib.request.Request(url + "/api/appointments", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read())

    for i in range(3):
        book("09:00", f"091000000{i}")
    late = book("08:30", "0987000000")
    phone = new_page(browser, url + "/book", 390, 844, errors, is_mobile=True, has_touch=True)
    phone.click("[data-service=CT]")
    phone.click("[data-date='2026-12-07']")
    full = phone.locator(".slot[data-start='09:00']")
    full.wait_for()
    assert full.is_disabled() and "Hết chỗ" in full.inner_text()
    phone.screenshot(path=str(SCREENSHOTS / "book-slots.png"), full_page=True)

    clock.now = MONDAY.replace(hour=8, minute=50)  # 20 minutes after 08:30: past the 15-minute grace
    kiosk = new_page(browser, f"{url}/kiosk?device=sanh&token={KIOSK_TOKEN}", 1080, 1920, errors)
    kiosk.click("[data-testid=checkin-open]")
    for ch in late["code"]:
        kiosk.click(f"#checkin-keys [data-key='{ch}']")
    kiosk.click("[data-testid=checkin-go]")
    kiosk.wait_for_selector("[data-testid=checkin-error]", state="visible")
    assert "quá giờ hẹn" in kiosk.locator("[data-testid=checkin-error]").inner_text()
    kiosk.click("[data-testid=checkin-walkin]")
    kiosk.wait_for_selector("[data-testid=ticket]", state="visible")
    assert kiosk.locator("[data-testid=ticket-label]").inner_text() == "1001"
    assert kiosk.locator("[data-testid=ticket-booked]").is_hidden()
    assert not errors, errors


def test_staff_book_for_a_caller_see_the_list_and_cancel_with_a_reason(browser: Any, office: tuple[str, Clock]):
    url, clock = office
    errors: list[str] = []
    page = new_page(browser, url + "/appointments", 1280, 900, errors)
    page.wait_for_selector("#signin", state="visible")
    r = page.request.post(url + "/api/login", data={"username": "boss", "password": "mat-khau-123"})
    assert r.ok
    page.goto(url + "/book?staff=1")
    page.wait_for_selector("#staff-note", state="visible")
    page.click("[data-service=HT]")
    page.click("[data-date='2026-12-08']")
    page.click(".slot[data-start='14:00']")
    page.fill("[data-testid=book-name]", "Phạm Văn Dũng")
    page.fill("[data-testid=book-phone]", "0987 654 321")
    page.click("[data-testid=book-submit]")
    page.wait_for_selector("[data-testid=book-confirm]", state="visible")
    assert page.locator("#c-name").inner_text() == "Phạm Văn Dũng"
    assert page.locator("#print").is_visible()
    page.emulate_media(media="print")
    page.screenshot(path=str(SCREENSHOTS / "book-staff-slip.png"), full_page=True)
    page.emulate_media(media="screen")
    code = page.locator("[data-testid=book-code]").inner_text().replace("-", "")

    # The list opens on today; the row of coming days shows the booking on Tuesday and jumps there.
    page.goto(url + "/appointments")
    tuesday = page.locator("[data-testid=appt-upcoming] [data-day='2026-12-08']")
    tuesday.wait_for()
    assert tuesday.locator("strong").inner_text() == "1"
    assert page.locator("[data-testid=appt-upcoming] [data-day='2026-12-07'].picked").count() == 1
    tuesday.click()
    row = page.locator(f"[data-code='{code}']")
    row.wait_for()
    assert page.locator("[data-testid=appt-date]").input_value() == "2026-12-08"
    assert "Phạm Văn Dũng" in row.inner_text() and "0987654321" in row.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "appointments-staff.png"), full_page=True)
    page.once("dialog", lambda dialog: dialog.accept("Công dân gọi điện xin hủy"))
    row.locator("[data-cancel]").click()
    page.wait_for_selector(f"[data-code='{code}'].cancelled")
    # An admin closes a slot: /book shows it closed.
    page.locator("[data-service=HT] [data-slot='14:15']").click()
    page.wait_for_selector("[data-service=HT] tr.closed")
    assert not errors, errors


def test_a_called_appointment_is_marked_booked_on_the_hall_display_and_the_phone_page(
    browser: Any, office: tuple[str, Clock]
):
    url, clock = office
    errors: list[str] = []
    booked = http(
        "POST",
        url + "/api/appointments",
        {"service": "CT", "date": "2026-12-07", "start": "08:30", "name": "Trần Văn Ba", "phone": "0987000000"},
    )[1]
    clock.now = MONDAY.replace(hour=8, minute=30)
    status, ticket, _ = http("POST", f"{url}/api/appointments/{booked['code']}/check-in", {}, token=KIOSK_TOKEN)
    assert status == 201 and ticket["label"] == "H1001"
    walk_in = http("POST", url + "/api/tickets", {"service": "CT"}, token=KIOSK_TOKEN)[1]
    display = new_page(browser, url + "/display", 1920, 1080, errors)
    phone = new_page(browser, f"{url}/t/{ticket['token']}", 390, 844, errors, is_mobile=True, has_touch=True)
    phone.wait_for_selector("[data-testid=status-booked]", state="visible")
    assert phone.locator("[data-testid=status-booked]").inner_text() == "Lịch hẹn 08:30"

    clerk = login(url, "clerk1", 1)
    assert http("POST", url + "/api/counters/1/open", {}, cookie=clerk)[0] == 200
    assert http("POST", url + "/api/counters/1/next", {}, cookie=clerk)[1]["ticket"]["label"] == "H1001"
    display.wait_for_function("document.getElementById('hero-number').textContent === 'H1001'")
    display.wait_for_selector("[data-testid=hero-booked]", state="visible")
    assert display.locator("[data-testid=hero-booked]").inner_text() == "Lịch hẹn"

    # The walk-in called next takes the box without the mark; H1001 keeps it in the latest calls.
    assert http("POST", url + "/api/counters/1/next", {}, cookie=clerk)[1]["ticket"]["label"] == walk_in["label"]
    display.wait_for_function(f"document.getElementById('hero-number').textContent === '{walk_in['label']}'")
    assert display.locator("[data-testid=hero-booked]").is_hidden()
    assert (
        display.locator("[data-testid=recent] li", has_text="H1001").locator(".booked-mark").inner_text() == "Lịch hẹn"
    )
    assert not errors, errors


def test_a_clerk_books_for_a_caller_from_the_counter_station_and_an_admin_from_the_admin_screen(
    browser: Any, office: tuple[str, Clock]
):
    url, _ = office
    errors: list[str] = []

    def book_for_caller(start_page: Any, link: str, slot: str, phone: str) -> Any:
        with start_page.context.expect_page() as opened:
            start_page.click(f"[data-testid={link}]")
        listing = opened.value
        listing.wait_for_selector("[data-testid=appt-upcoming]", state="visible")
        with listing.context.expect_page() as opened:
            listing.click("[data-testid=appt-book-for]")
        form = opened.value
        form.wait_for_selector("#staff-note", state="visible")
        form.click("[data-service=CT]")
        form.click("[data-date='2026-12-08']")
        form.click(f".slot[data-start='{slot}']")
        form.fill("[data-testid=book-name]", "Bùi Thị Hạnh")
        form.fill("[data-testid=book-phone]", phone)
        form.click("[data-testid=book-submit]")
        form.wait_for_selector("[data-testid=book-confirm]", state="visible")
        assert form.locator("#c-phone").inner_text() == phone.replace(" ", "")
        assert form.locator("#print").is_visible()  # the printable confirmation slip
        return form

    counter = new_page(browser, url + "/counter/1", 420, 640, errors)
    counter.wait_for_selector("#signon-form", state="visible")
    counter.fill("#username", "clerk1")
    counter.fill("#password", "mat-khau-123")
    counter.click("#signon-button")
    counter.wait_for_selector("#desk", state="visible")
    book_for_caller(counter, "counter-appointments", "10:00", "0911 222 333")

    admin = new_page(browser, url + "/admin", 1280, 900, errors)
    admin.wait_for_selector("#login-form", state="visible")
    admin.fill("#login-username", "boss")
    admin.fill("#login-password", "mat-khau-123")
    admin.click("#login-form [type=submit]")
    admin.wait_for_selector("[data-testid=admin-appointments]", state="visible")
    book_for_caller(admin, "admin-appointments", "10:15", "0911 222 444")

    listing = admin.context.new_page()  # signed in as the admin
    listing.goto(url + "/appointments?date=2026-12-08")
    listing.wait_for_selector("[data-testid=appt-list] [data-code]")
    text = listing.locator("section[data-service=CT]").inner_text()
    assert "cán bộ clerk1 đặt" in text and "cán bộ boss đặt" in text
    assert not errors, errors


def test_the_citizen_moves_then_cancels_on_the_phone_with_the_last_four_digits(browser: Any, office: tuple[str, Clock]):
    url, _ = office
    errors: list[str] = []
    status, booked, _ = http(
        "POST",
        url + "/api/appointments",
        {"service": "CT", "date": "2026-12-08", "start": "10:15", "name": "Võ Văn Nam", "phone": "0933 222 112"},
    )
    assert status == 201
    phone = new_page(browser, f"{url}/book/{booked['code_display']}", 390, 844, errors, is_mobile=True, has_touch=True)
    phone.wait_for_selector("#manage", state="visible")
    phone.fill("[data-testid=book-last4]", "0000")
    phone.click("#move")
    phone.click("#move-days [data-date='2026-12-09']")
    phone.click("#move-slots .slot[data-start='08:30']")
    phone.click("#move")
    phone.wait_for_selector("[data-testid=manage-error]", state="visible")
    assert "không khớp" in phone.locator("[data-testid=manage-error]").inner_text()
    phone.fill("[data-testid=book-last4]", "2112")
    phone.click("#move")
    phone.wait_for_function("document.querySelector('[data-testid=book-time]').textContent === '08:30–08:45'")
    assert phone.locator("[data-testid=book-code]").inner_text() == booked["code_display"]  # the code stays
    assert "09/12/2026" in phone.locator("[data-testid=book-date]").inner_text()

    phone.fill("[data-testid=book-last4]", "2112")
    phone.click("[data-testid=book-cancel]")  # the first tap arms the button, the second cancels
    phone.click("[data-testid=book-cancel]")
    phone.wait_for_function("document.querySelector('[data-testid=book-state]').textContent === 'Đã hủy'")
    assert phone.locator("#manage").is_hidden()
    assert http("GET", f"{url}/api/appointments/{booked['code']}")[1]["state"] == "cancelled"
    assert not errors, errors


def test_an_admin_sees_the_appointment_report_and_downloads_it_a_clerk_does_not(
    browser: Any, office: tuple[str, Clock]
):
    url, clock = office
    errors: list[str] = []
    for start, phone in (("09:00", "0911000001"), ("09:15", "0911000002")):
        body = {"service": "CT", "date": "2026-12-07", "start": start, "name": "Đào Văn Sơn", "phone": phone}
        assert http("POST", url + "/api/appointments", body)[0] == 201
    code = http("GET", f"{url}/api/staff/appointments", cookie=login(url, "boss"))[1]["services"][0]["slots"][5][
        "appointments"
    ][0]["code"]
    assert http("POST", f"{url}/api/appointments/{code}/cancel", {"phone_last4": "0002"})[0] == 200

    clerk = new_page(browser, url + "/", 1280, 900, errors)
    assert clerk.request.post(url + "/api/login", data={"username": "clerk1", "password": "mat-khau-123"}).ok
    clerk.goto(url + "/appointments")
    clerk.wait_for_selector("[data-testid=appt-list] section")
    assert clerk.locator("[data-testid=appt-report]").is_hidden()

    page = new_page(browser, url + "/", 1280, 900, errors)
    assert page.request.post(url + "/api/login", data={"username": "boss", "password": "mat-khau-123"}).ok
    page.goto(url + "/appointments")
    page.wait_for_selector("[data-testid=appt-report]", state="visible")
    page.fill("#report-from", "2026-12-07")
    page.fill("#report-to", "2026-12-07")
    page.click("[data-testid=appt-report-show]")
    page.wait_for_selector("[data-testid=appt-report-table]", state="visible")
    cells = page.locator("[data-testid=appt-report-table] tbody tr").first.locator("td").all_inner_texts()
    # date, service, booked, checked in, absent, cancelled, called, mean wait, share within 10 minutes
    assert cells == ["07/12/2026", "Chứng thực", "2", "0", "0", "1", "0", "–", "–"]
    with page.expect_download() as download:
        page.click("[data-testid=appt-report-xlsx]")
    assert Path(download.value.path()).read_bytes()[:2] == b"PK"
    with page.expect_download() as download:
        page.click("[data-testid=appt-report-csv]")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert text.splitlines()[1].startswith("07/12/2026;Chứng thực;2;0;0;1;")
    assert not errors, errors
