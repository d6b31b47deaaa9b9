"""The hall display and the counter-top board in a real browser, at the sizes they are used:
a 1920×1080 TV read from across the hall, and the small screen above a counter.

Each test states one thing a citizen in the hall must be able to see."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import BLOCK_AUTOPLAY, Screens, browser, screens, screenshot, wait_online_mark  # noqa: F401
from tests.support import KIOSK_TOKEN, ServerProcess, add_staff, http, login, write_config

STAFF = {**{f"clerk{i}": "clerk" for i in range(1, 6)}, "boss": "admin"}

# WCAG 2.x relative luminance and contrast ratio of two CSS colours, computed in the page.
CONTRAST_JS = """
(([fg, bg]) => {
  const rgb = (css) => css.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = (css) => {
    const [r, g, b] = rgb(css).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
})
"""


def issue(server: ServerProcess, service: str) -> dict:
    status, body, _ = http("POST", server.base_url + "/api/tickets", {"service": service}, token=KIOSK_TOKEN)
    assert status == 201, body
    return body


def act(server: ServerProcess, cookie: str, counter: int, action: str, body: dict | None = None) -> dict:
    status, answer, _ = http("POST", f"{server.base_url}/api/counters/{counter}/{action}", body or {}, cookie=cookie)
    assert status == 200, answer
    return answer


def box(page, selector: str) -> dict:
    return page.locator(selector).bounding_box()


def font_px(page, selector: str) -> float:
    return page.locator(selector).evaluate("el => parseFloat(getComputedStyle(el).fontSize)")


def hero_state(page) -> str:
    return page.get_attribute("[data-testid=hero]", "data-state")


@pytest.fixture
def eight_calls(browser, tmp_path: Path) -> Iterator[tuple[Screens, ServerProcess]]:
    """Screens on an office whose display lists the 8 latest calls."""
    folder = tmp_path / "eight"
    folder.mkdir()
    config_path = write_config(folder, display={"latest_calls": 8})
    add_staff(config_path, STAFF)
    with ServerProcess(folder, config_path) as server:
        opened = Screens(browser, server)
        try:
            yield opened, server
        finally:
            opened.close()
        assert not opened.errors


def test_the_call_box_shows_a_finished_absent_or_closed_call_as_past_not_as_an_invitation(screens, server):
    for _ in range(3):
        issue(server, "CT")
    issue(server, "LD")
    display = screens.open("/display", 1920, 1080)
    assert hero_state(display) == "empty"
    clerk1 = login(server.base_url, "clerk1", 1)
    act(server, clerk1, 1, "next", {"current": None})
    display.wait_for_function("document.getElementById('hero-number').textContent === '1001'")
    assert hero_state(display) == "active"
    assert display.inner_text("#hero-invite").strip().upper() == "MỜI SỐ"

    act(server, clerk1, 1, "done")  # served: counter 1 is free
    display.wait_for_function("document.querySelector('[data-testid=hero]').dataset.state === 'past'")
    assert display.inner_text("[data-counter='1'] .status") == "Đang trống"
    assert "MỜI SỐ" not in display.inner_text("[data-testid=hero]").upper()

    act(server, clerk1, 1, "next", {"current": None})  # 1002, then absent
    display.wait_for_function("document.querySelector('[data-testid=hero]').dataset.state === 'active'")
    act(server, clerk1, 1, "no-show")
    display.wait_for_function("document.querySelector('[data-testid=hero]').dataset.state === 'past'")

    # Counter 4 calls 4001, serves it, and closes: the box does not keep inviting to a closed counter.
    clerk4 = login(server.base_url, "clerk4", 4)
    act(server, clerk4, 4, "next", {"current": None})
    display.wait_for_function("document.getElementById('hero-number').textContent === '4001'")
    act(server, clerk4, 4, "done")
    act(server, clerk4, 4, "close")
    display.wait_for_function("document.querySelector('[data-counter=\"4\"] .status')?.textContent === 'Đóng'")
    assert hero_state(display) == "past"

    # While counter 2 still invites 1003, a newer call that is already being served does not hide it.
    clerk2 = login(server.base_url, "clerk2", 2)
    act(server, clerk2, 2, "next", {"current": None})
    display.wait_for_function("document.getElementById('hero-number').textContent === '1003'")
    assert hero_state(display) == "active"
    screenshot(display, "display")


def test_the_first_call_of_the_day_is_not_contradicted_by_a_no_calls_line(screens, server):
    issue(server, "CT")
    display = screens.open("/display", 1920, 1080)
    assert "Chưa gọi số nào hôm nay" in display.inner_text("[data-testid=hero]")
    clerk1 = login(server.base_url, "clerk1", 1)
    act(server, clerk1, 1, "next", {"current": None})
    display.wait_for_function("document.getElementById('hero-number').textContent === '1001'")
    text = display.inner_text("body")
    assert "Chưa gọi số nào" not in text
    assert display.locator("[data-testid=recent]").is_hidden()


def test_recent_calls_show_at_least_four_whole_rows_at_1920x1080(eight_calls):
    screens, server = eight_calls
    for _ in range(8):
        issue(server, "CT")
    clerk1 = login(server.base_url, "clerk1", 1)
    current = None
    for _ in range(8):
        current = act(server, clerk1, 1, "next", {"current": current})["ticket"]["id"]
    display = screens.open("/display", 1920, 1080)
    display.wait_for_function("document.getElementById('hero-number').textContent === '1008'")
    rows = display.locator("[data-testid=recent] li")
    assert rows.count() == 7  # latest_calls = 8: the box shows one, the list the other seven
    visible = [rows.nth(i) for i in range(rows.count()) if rows.nth(i).is_visible()]
    assert len(visible) >= 4
    area = box(display, ".recent")
    for row in visible:
        b = row.bounding_box()
        assert b["y"] >= area["y"] and b["y"] + b["height"] <= area["y"] + area["height"] + 1, "a row is cut"
    assert [r.inner_text().split("➜")[0].strip() for r in visible[:4]] == ["1007", "1006", "1005", "1004"]
    assert box(display, ".recent")["y"] + box(display, ".recent")["height"] <= 1080


def test_waiting_counts_and_estimated_waits_are_readable_from_the_hall(screens, server):
    for _ in range(3):
        issue(server, "CT")
    display = screens.open("/display", 1920, 1080)
    ct = "[data-testid=waiting] [data-service=CT]"
    display.wait_for_function(f"document.querySelector('{ct} .count b').textContent === '3'")
    for part in (".name", ".count", ".count b", ".wait"):
        assert font_px(display, f"{ct} {part}") >= 40, part
    # 3 people ahead × 5 min ÷ 2 counters serving CT at primary level ≈ 8 min.
    assert display.inner_text(f"{ct} .wait") == "khoảng 8 phút"
    assert display.inner_text(f"{ct} .count") == "3 người chờ"
    # Every service's box is on screen, whole.
    for item in display.locator("[data-testid=waiting] li").all():
        b = item.bounding_box()
        assert b["y"] + b["height"] <= 1080 - 0.065 * 1080 + 1


def test_the_counter_column_header_fits_a_called_and_a_served_number(screens, server):
    issue(server, "CT")
    display = screens.open("/display", 1920, 1080)
    head = display.inner_text(".counters-head")
    assert "Số hiện tại".upper() in head.upper()
    assert "PHỤC VỤ" not in head.upper()


def test_the_disconnect_mark_is_plain_to_see_with_enough_contrast(screens, server):
    display = screens.open("/display", 1920, 1080)
    server.stop()
    wait_online_mark(display, online=False)
    mark = display.locator("[data-testid=offline-mark]")
    assert "Mất kết nối" in mark.inner_text()
    colours = mark.evaluate("el => [getComputedStyle(el).color, getComputedStyle(el).backgroundColor]")
    assert display.evaluate(CONTRAST_JS, colours) >= 4.5
    # Against what is around it too (WCAG 1.4.11: 3:1 for a visible component): not red on red.
    header = display.locator(".bar").evaluate("el => getComputedStyle(el).backgroundColor")
    board = display.locator("body").evaluate("el => getComputedStyle(el).backgroundColor")
    assert display.evaluate(CONTRAST_JS, [colours[1], header]) >= 3
    assert display.evaluate(CONTRAST_JS, [colours[1], board]) >= 3
    b = mark.bounding_box()
    assert b["width"] >= 600 and font_px(display, "[data-testid=offline-mark]") >= 30
    # It covers neither the call box nor the counters.
    for selector in ("[data-testid=hero]", "[data-testid=counters]", "[data-testid=waiting]"):
        other = box(display, selector)
        assert b["y"] >= other["y"] + other["height"] or b["y"] + b["height"] <= other["y"], selector
    screenshot(display, "display-offline")
    server.start()
    wait_online_mark(display, online=True, timeout=15000)


def test_a_filtered_display_packs_its_counter_rows_together(screens, server):
    display = screens.open("/display?services=CT,HT&counters=1,2", 1920, 1080)
    rows = display.locator("[data-counter]")
    assert rows.count() == 2
    first, second = rows.nth(0).bounding_box(), rows.nth(1).bounding_box()
    gap = second["y"] - (first["y"] + first["height"])
    assert 0 <= gap <= 0.02 * 1080, f"rows {gap:.0f} px apart"
    head = box(display, ".counters-head")
    assert first["y"] - (head["y"] + head["height"]) <= 0.03 * 1080
    assert first["height"] >= 0.09 * 1080  # still large
    assert display.locator("[data-testid=waiting] li").count() == 2
    screenshot(display, "display-filtered")


def test_blocked_sound_shows_a_small_notice_and_the_calls_stay_fully_visible(screens, server):
    # A key press is a user activation for Chromium's autoplay policy, as a tap is.
    blocked = BLOCK_AUTOPLAY + 'window.addEventListener("keydown", () => { tapped = true; }, true);'
    display = screens.open("/display", 1920, 1080, init_script=blocked)
    notice = display.locator("[data-testid=unlock]")
    notice.wait_for(state="visible", timeout=4000)
    assert "chạm" in notice.inner_text()
    issue(server, "CT")
    clerk = login(server.base_url, "clerk1", 1)
    act(server, clerk, 1, "next", {"current": None})
    display.wait_for_function("document.getElementById('hero-number').textContent === '1001'")
    b = notice.bounding_box()
    assert b["width"] * b["height"] < 0.05 * 1920 * 1080, "a notice, not a curtain"
    # Nothing dims or covers the calls: the topmost element at each one's centre is itself.
    for selector in ("#hero-number", "[data-counter='1'] .num", "[data-testid=waiting] [data-service=CT] .count"):
        assert display.locator(selector).evaluate(
            "el => { const r = el.getBoundingClientRect();"
            " return el.contains(document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2)); }"
        ), selector
    overlay = display.evaluate(
        "[...document.querySelectorAll('body *')].some(el => { const s = getComputedStyle(el), r = el.getBoundingClientRect();"
        " return s.position === 'fixed' && r.width >= innerWidth * 0.9 && r.height >= innerHeight * 0.9 && s.display !== 'none'; })"
    )
    assert not overlay
    screenshot(display, "display-sound-blocked")
    # The call waits for the sound; a key on the TV remote (or a tap) turns it on.
    display.wait_for_function("window.motcua.announcer.current?.label === '1001'")
    display.keyboard.press("Enter")
    notice.wait_for(state="hidden", timeout=3000)
    assert display.evaluate("window.motcua.announcer.needsUnlock") is False


def test_the_counter_top_board_shows_the_number_called_there_huge(screens, server):
    issue(server, "CT")
    issue(server, "CT")
    board = screens.open("/display/counter/2", 1280, 720)
    assert board.inner_text("[data-testid=board-title]") == "Quầy 2"
    assert board.inner_text("[data-testid=board-name]") == "Chứng thực"
    assert board.inner_text("[data-testid=board-caption]") == "Đóng"  # nobody signed on yet
    clerk1 = login(server.base_url, "clerk1", 1)
    act(server, clerk1, 1, "next", {"current": None})  # another counter: not shown here
    clerk2 = login(server.base_url, "clerk2", 2)
    act(server, clerk2, 2, "next", {"current": None})
    board.wait_for_function("document.querySelector('[data-testid=board-number]').textContent === '1002'")
    assert board.inner_text("[data-testid=board-caption]").upper() == "MỜI SỐ"
    assert font_px(board, "[data-testid=board-number]") >= 0.3 * 720
    number = box(board, "[data-testid=board-number]")
    assert number["x"] >= 0 and number["x"] + number["width"] <= 1280 and number["y"] + number["height"] <= 720
    screenshot(board, "board")
    act(server, clerk2, 2, "start")
    board.wait_for_function("document.querySelector('[data-testid=board-caption]').textContent === 'Đang phục vụ'")
    act(server, clerk2, 2, "done")
    board.wait_for_function("document.querySelector('[data-testid=board-number]').textContent === ''")
    assert board.inner_text("[data-testid=board-caption]") == "Đang trống"
    # In English, and in portrait on an upright tablet.
    english = screens.open("/display/counter/2?lang=en", 800, 1280)
    assert english.inner_text("[data-testid=board-title]") == "Counter 2"
    assert english.inner_text("[data-testid=board-name]") == "Certification"
