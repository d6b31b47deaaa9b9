"""The admin screen as a leader uses it, in Chromium at 1440×900: the report table whole on
screen, figures named in plain Vietnamese, dates dd/mm/yyyy whatever the browser's language,
a CSV that opens in Vietnamese Excel, and an audit log that says what happened in words."""

from __future__ import annotations

import csv
import io
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import CHROMIUM_ARGS, browser  # noqa: F401
from tests.support import KIOSK_TOKEN, PASSWORD, ServerProcess, add_staff, http, login, write_config


@pytest.fixture
def office(tmp_path: Path) -> Iterator[ServerProcess]:
    """The sample office with a 5-level rating (the widest report table) and a served day."""
    config_path = write_config(tmp_path, rating={"levels": 5})
    add_staff(config_path, {"clerk1": "clerk", "boss": "admin"})
    with ServerProcess(tmp_path, config_path) as server:
        clerk = login(server.base_url, "clerk1", 1)
        for _ in range(3):
            http("POST", server.base_url + "/api/tickets", {"service": "CT"}, token=KIOSK_TOKEN)
        current = None
        for _ in range(3):
            current = http("POST", server.base_url + "/api/counters/1/next", {"current": current}, cookie=clerk)[1][
                "ticket"
            ]["id"]
        http("POST", server.base_url + "/api/counters/1/done", {}, cookie=clerk)
        yield server


def admin_page(browser, server: ServerProcess, locale: str = "vi-VN"):
    context = browser.new_context(
        viewport={"width": 1440, "height": 900}, locale=locale, timezone_id="Asia/Ho_Chi_Minh"
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.base_url + "/admin")
    page.fill("#login-username", "boss")
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("#app", state="visible")
    return context, page, errors


def test_report_dates_are_dd_mm_yyyy_in_an_english_browser_and_the_table_fits_at_1440(browser, office):
    context, page, errors = admin_page(browser, office, locale="en-US")
    try:
        page.click("nav [data-tab='reports']")
        for field in ("#report-from", "#report-to"):
            assert re.fullmatch(r"\d{2}/\d{2}/\d{4}", page.input_value(field)), page.input_value(field)
        today = page.input_value("#report-to")
        assert today.endswith(page.evaluate("String(new Date().getFullYear())")) or today[-4:].isdigit()
        page.fill("#report-from", "1/1/2026")  # typed the short way
        page.select_option("#report-by", "day")
        page.click("#report-run")
        page.wait_for_selector("#report-table tbody tr")
        assert "01/01/2026" in page.inner_text("#report-period")
        # A wrong date is refused in words, not sent.
        page.fill("#report-from", "2026-01-01")
        page.click("#report-run")
        page.wait_for_selector("#report-error", state="visible")
        assert "dd/mm/yyyy" in page.inner_text("#report-error")
        page.fill("#report-from", today)
        page.click("#report-run")
        page.wait_for_function("document.getElementById('report-error').hidden")

        # Every column, the five rating levels included, is on screen without scrolling.
        wrap = page.locator("#report-table").evaluate(
            "t => { const w = t.closest('.table-wrap'); return [w.scrollWidth, w.clientWidth, t.getBoundingClientRect().right]; }"
        )
        assert wrap[0] <= wrap[1] and wrap[2] <= 1440, wrap
        headers = page.locator("#report-table thead th").all_inner_texts()
        assert "Mức 5" in headers
        # Plain words, each with its definition on hover; no "P90" or "PV" jargon.
        text = " ".join(headers) + page.inner_text("#report-kpis")
        assert "P90" not in text and not re.search(r"\bPV\b", text)
        assert "Chờ, mức giữa" in headers and "Chờ: 9/10 không quá" in headers
        # "Closed without start" is its own figure (the fixture's Next twice without Start), and
        # says where the office counts it (the default: served).
        unstarted = headers.index("Chưa bắt đầu")
        assert headers[unstarted - 3 : unstarted] == ["Số phát", "Phục vụ", "Vắng"]
        assert page.locator("#report-table tfoot td").nth(unstarted).inner_text() == "2"
        assert page.locator("#report-table tfoot td").nth(unstarted - 2).inner_text() == "3"
        title = page.locator("#report-table thead th").nth(unstarted).get_attribute("title") or ""
        assert "đã nằm trong cột Phục vụ" in title
        assert re.search(r"\b2\s+Đóng khi chưa bắt đầu", page.inner_text("#report-kpis"))
        assert "9 trên 10" in page.locator("#report-table thead th[title*='9 trên 10']").first.get_attribute("title")
        assert "Mức giữa" in page.inner_text("[data-testid=report-notes]")
        page.screenshot(
            path=str(Path(__file__).resolve().parent.parent / "docs" / "screenshots" / "report.png"), full_page=True
        )
        # The counter levels in the setup form are in Vietnamese too.
        page.click("nav [data-tab='setup']")
        assert "CT=chính, TKQ=dự phòng" in page.inner_text("[data-testid=levels-help]")
        first_levels = page.locator("#cfg-counters tbody tr").first.locator("input").nth(3).input_value()
        assert first_levels == "CT=chính, TKQ=dự phòng"
    finally:
        context.close()
    assert not errors


def download(server: ServerProcess, query: str) -> tuple[int, bytes]:
    cookie = login(server.base_url, "boss")
    req = urllib.request.Request(f"{server.base_url}/api/reports/export?{query}", headers={"Cookie": cookie})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_the_csv_download_opens_in_vietnamese_excel_and_the_comma_dialect_is_offered(office):
    status, data = download(office, "format=csv&by=service")
    assert status == 200 and data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0] == "Lĩnh vực" and len(rows[0]) > 10
    assert all(len(r) == len(rows[0]) for r in rows)
    status, data = download(office, "format=csv&by=service&dialect=comma")
    assert status == 200 and not data.startswith(b"\xef\xbb\xbf")
    assert list(csv.reader(io.StringIO(data.decode())))[0][0] == "Lĩnh vực"
    status, body = download(office, "format=csv&dialect=tab")
    assert status == 400 and b"bad_dialect" in body


def test_the_audit_log_says_in_words_what_changed(browser, office):
    boss = login(office.base_url, "boss")
    status, current, _ = http("GET", office.base_url + "/api/admin/config", cookie=boss)
    assert status == 200
    editable = current["editable"] if "editable" in current else current
    edit = {k: editable[k] for k in ("office", "services", "counters", "kiosks", "printers") if k in editable}
    edit["office"] = {**edit["office"], "ticker": "Giờ làm việc: 7 giờ 30"}
    status, body, _ = http("POST", office.base_url + "/api/admin/config", edit, cookie=boss)
    assert status == 200, body
    status, body, _ = http("POST", office.base_url + "/api/tickets/1/cancel", {}, cookie=boss)
    context, page, errors = admin_page(browser, office)
    try:
        page.click("nav [data-tab='audit']")
        page.wait_for_selector("[data-testid=audit-details]")
        details = page.locator("[data-testid=audit-details]").all_inner_texts()
        edited = next(d for d in details if "Dòng chữ chạy" in d)
        assert "→ “Giờ làm việc: 7 giờ 30”" in edited
        assert "services" not in edited and "counters" not in edited and "sections" not in edited
        joined = " ".join(details)
        assert "ticket_id" not in joined and "label:" not in joined
        if status == 200:
            assert any(re.search(r"Vé \d{4}", d) for d in details)
    finally:
        context.close()
    assert not errors
