"""The clerk station at its intended size, a 420×640 window beside the province's one-stop
software: what it says when nothing is there, its wording, everything one key or tap away,
and a USB numeric keypad as the call keypad."""

from __future__ import annotations

import time

import pytest

from queue_server.config import KEYPAD_DEFAULT
from queue_server.errors import ConfigError
from tests.browser import browser, screens, screenshot  # noqa: F401
from tests.support import KIOSK_TOKEN, ServerProcess, http, office_config


def issue(server: ServerProcess, service: str) -> dict:
    status, body, _ = http("POST", server.base_url + "/api/tickets", {"service": service}, token=KIOSK_TOKEN)
    assert status == 201, body
    return body


def in_view(page, selector: str) -> bool:
    return page.locator(selector).evaluate(
        "el => { const r = el.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight && r.height > 0; }"
    )


def open_desk(screens, clerk: str = "clerk1", counter: int = 1):
    page = screens.open(f"/counter/{counter}", 420, 640)
    screens.sign_on(page, clerk)
    return page


def test_next_with_nobody_waiting_says_so_and_the_idle_text_fits_after_calls(screens, server):
    desk = open_desk(screens)
    assert desk.inner_text("#current-service") == "Hiện không có số nào tại quầy."
    desk.keyboard.press("n")
    desk.wait_for_function("document.getElementById('current-service').textContent.startsWith('Không còn ai chờ')")
    screenshot(desk, "counter-empty")
    issue(server, "CT")  # someone arrives: the note goes
    desk.wait_for_function(
        "document.getElementById('current-service').textContent === 'Hiện không có số nào tại quầy.'"
    )
    desk.wait_for_function("!document.querySelector('[data-testid=next]').disabled")
    time.sleep(0.7)  # Next is locked for 0.6 s after each press (against a double press)
    desk.keyboard.press("n")
    desk.wait_for_function("document.getElementById('current-label').textContent === '1001'")
    desk.wait_for_function("!document.querySelector('.action[data-action=done]').disabled")
    desk.keyboard.press("x")
    desk.wait_for_function("document.getElementById('current-label').textContent === '—'")
    # The day's figures follow the server's (the ticket_done message carries them).
    desk.wait_for_function("document.getElementById('served').textContent === '1'")
    text = desk.inner_text("[data-testid=current]")
    assert "Hiện không có số nào tại quầy" in text and "Chưa gọi số nào" not in text


def test_the_queue_says_people_waiting_and_the_header_names_the_counter_once(screens, server):
    for _ in range(5):
        issue(server, "CT")
    desk = open_desk(screens)
    desk.wait_for_function(
        "document.querySelector('[data-testid=queue] [data-service=CT] .count').textContent.includes('5')"
    )
    assert desk.inner_text("[data-testid=queue] [data-service=CT] .count") == "5 người chờ"
    header = desk.inner_text("header.bar")
    assert header.count("Quầy 1") == 1, header
    assert desk.inner_text("#counter-name") == "Chứng thực"


def test_no_shows_figures_and_sign_out_are_one_key_or_tap_away_at_420x640(screens, server):
    for _ in range(6):
        issue(server, "CT")
    desk = open_desk(screens)
    for _ in range(3):  # three absent citizens fill the list below the fold
        desk.wait_for_function("!document.querySelector('[data-testid=next]').disabled")
        time.sleep(0.7)
        desk.keyboard.press("n")
        desk.wait_for_function("document.getElementById('current-label').textContent !== '—'")
        desk.wait_for_function("!document.querySelector('.action[data-action=no-show]').disabled")
        desk.keyboard.press("v")
        desk.wait_for_function("document.getElementById('current-label').textContent === '—'")
    desk.wait_for_function("document.querySelectorAll('#noshows [data-requeue]').length === 3")
    assert in_view(desk, "[data-testid=quickbar]")
    assert desk.inner_text("#noshow-count") == "3"
    assert not in_view(desk, "#noshows [data-requeue] >> nth=0"), "the list is below the fold at 420×640"
    screenshot(desk, "counter-quickbar")

    desk.keyboard.press("d")
    desk.wait_for_function("document.activeElement && document.activeElement.matches('#noshows [data-requeue]')")
    assert in_view(desk, "#noshows [data-requeue] >> nth=0")
    desk.keyboard.press("h")
    desk.wait_for_function("document.activeElement && document.activeElement.id === 'stats'")
    assert in_view(desk, "[data-testid=stats]")
    desk.evaluate("scrollTo(0, 0)")
    desk.click("[data-testid=goto-noshows]")  # and with one tap
    assert in_view(desk, "#noshows [data-requeue] >> nth=0")

    desk.keyboard.press("q")
    desk.locator("#dlg-logout").wait_for(state="visible")
    desk.keyboard.press("Enter")  # the focused "Đăng xuất, đóng quầy"
    desk.wait_for_selector("#signon-form", state="visible")
    status, state, _ = http("GET", server.base_url + "/api/state")
    assert next(c for c in state["counters"] if c["number"] == 1)["state"] == "closed"


def test_a_usb_numeric_keypad_calls_recalls_and_calls_a_typed_number(screens, server):
    for _ in range(4):
        issue(server, "CT")
    desk = open_desk(screens)
    desk.keyboard.press("NumpadEnter")  # next
    desk.wait_for_function("document.getElementById('current-label').textContent === '1001'")
    desk.wait_for_function("!document.querySelector('.action[data-action=recall]').disabled")
    desk.keyboard.press("NumpadAdd")  # recall
    desk.wait_for_function("document.getElementById('current-times').textContent.includes('1/2')")
    for key in ("Numpad1", "Numpad0", "Numpad0", "Numpad4"):
        desk.keyboard.press(key)
    assert "1004" in desk.inner_text("[data-testid=keypad-buffer]")
    desk.keyboard.press("NumpadEnter")  # with digits typed: call that number, out of order
    desk.wait_for_function("document.getElementById('current-label').textContent === '1004'")
    assert desk.locator("[data-testid=keypad-buffer]").is_hidden()
    desk.wait_for_function("!document.querySelector('.action[data-action=start]').disabled")
    desk.keyboard.press("NumpadMultiply")  # start
    desk.wait_for_function("document.querySelector('#current-state').textContent === 'Đang phục vụ'")
    desk.keyboard.press("NumpadSubtract")  # done
    desk.wait_for_function("document.getElementById('current-label').textContent === '—'")
    # The map the page used is the one config.toml declares (here the default).
    status, state, _ = http("GET", server.base_url + "/api/state")
    assert state["office"]["keypad"] == {"keys": KEYPAD_DEFAULT, "digits_call": True}


def test_the_keypad_map_is_a_validated_setting(tmp_path):
    config = office_config(tmp_path, keypad={"keys": {"F2": "next", "Numpad0": "recall"}})
    assert config.keypad.keys == {"F2": "next", "Numpad0": "recall"}
    with pytest.raises(ConfigError) as bad:
        office_config(tmp_path, keypad={"keys": {"NumpadEnter": "jump"}})
    assert bad.value.key == "keypad.keys.NumpadEnter"
    with pytest.raises(ConfigError) as bad:
        office_config(tmp_path, keypad={"keys": {"Numpad Enter": "next"}})
    assert bad.value.key == "keypad.keys.Numpad Enter"
