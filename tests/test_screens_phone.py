"""The phone status page (/t/<token>) on a 390×844 phone: the offline badge stays one line
and covers nothing that matters, and an unknown ticket still shows the office's name."""

from __future__ import annotations

from tests.browser import browser, screens, screenshot, wait_online_mark  # noqa: F401
from tests.support import KIOSK_TOKEN, http


def overlaps(a: dict, b: dict) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def test_the_offline_badge_is_one_line_and_covers_neither_the_office_nor_the_state(screens, server):
    status, mine, _ = http("POST", server.base_url + "/api/tickets", {"service": "CT"}, token=KIOSK_TOKEN)
    assert status == 201
    phone = screens.open(f"/t/{mine['token']}", 390, 844)
    server.stop()
    wait_online_mark(phone, online=False)
    mark = phone.locator("[data-testid=offline-mark]")
    b = mark.bounding_box()
    line = mark.evaluate(
        "el => parseFloat(getComputedStyle(el).lineHeight) || parseFloat(getComputedStyle(el).fontSize) * 1.3"
    )
    assert b["height"] <= line + 16, "the badge wraps"
    assert b["x"] >= 0 and b["x"] + b["width"] <= 390
    for selector in ("#office-name", "[data-testid=status-state]", "[data-testid=status-label]"):
        assert not overlaps(b, phone.locator(selector).bounding_box()), selector
    screenshot(phone, "status-offline")
    server.start()
    wait_online_mark(phone, online=True, timeout=15000)


def test_an_unknown_ticket_page_still_names_the_office(screens, server):
    phone = screens.open("/t/khong-co-ve-nay-1234567", 390, 844)
    phone.wait_for_selector("#missing", state="visible")
    phone.wait_for_function("document.getElementById('office-name').textContent.length > 0")
    assert phone.inner_text("#office-name") == "Bộ phận Một cửa – UBND phường Hồng Hà"
    assert "Không tìm thấy số thứ tự" in phone.inner_text("#missing")
    phone.click("#lang")
    phone.wait_for_function("document.getElementById('office-name').textContent.startsWith('One-stop')")
