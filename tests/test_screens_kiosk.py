"""The kiosk in a real browser at its sizes (1920×1080 and 1080×1920 touch screens): what a
citizen reads on it and on the printed ticket, and what an installer sees when the device
token is wrong."""

from __future__ import annotations

import json
import re
import sqlite3

from printer.render import TicketInfo, ticket_text
from queue_server.config import load_config
from tests.browser import browser, screens, screenshot, wait_online_mark  # noqa: F401
from tests.support import KIOSK_TOKEN, ROOT, ServerProcess, http

KIOSK = f"/kiosk?device=sanh&token={KIOSK_TOKEN}"


def issue(server: ServerProcess, service: str, **extra: object) -> dict:
    status, body, _ = http("POST", server.base_url + "/api/tickets", {"service": service, **extra}, token=KIOSK_TOKEN)
    assert status == 201, body
    return body


def printed(server: ServerProcess, ticket_id: int) -> TicketInfo:
    """The ticket as the print job stored it for the printer."""
    config = load_config(server.config_path)
    with sqlite3.connect(config.resolve(config.server.database)) as db:
        (info,) = db.execute("SELECT info FROM print_jobs WHERE ticket_id = ?", (ticket_id,)).fetchone()
    return TicketInfo.from_json(json.loads(info))


def test_a_wrong_token_shows_the_installer_error_at_once_without_a_tap(screens, server):
    kiosk = screens.open("/kiosk?device=sanh&token=not-the-right-token", 1920, 1080)
    setup = kiosk.locator("[data-testid=kiosk-setup]")
    setup.wait_for(state="visible", timeout=3000)
    text = setup.inner_text()
    assert "Máy lấy số chưa được cấp phép" in text
    assert "config.toml" in text and "[[kiosks]]" in text and "/kiosk?device=sanh&token=" in text
    assert "liên hệ cán bộ" in text
    assert kiosk.locator("[data-testid=services]").is_hidden()
    screenshot(kiosk, "kiosk-bad-token")
    # README's troubleshooting row quotes what the screen says.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "“Máy lấy số chưa được cấp phép”" in readme
    assert "Thiết bị chưa được cấp phép" not in readme
    # The right token, opened once, works at once.
    good = screens.open(KIOSK, 1920, 1080)
    assert good.locator("[data-testid=kiosk-setup]").is_hidden()
    assert good.locator(".service[data-service=CT]").is_enabled()


def test_service_buttons_and_the_ticket_say_which_counters_serve_it(screens, server):
    kiosk = screens.open(KIOSK, 1920, 1080)
    counters = {
        code: kiosk.inner_text(f".service[data-service={code}] [data-testid=service-counters]")
        for code in ("CT", "HT", "DD", "LD", "TKQ")
    }
    # The sample office: primary/normal counters of each service.
    assert counters == {"CT": "Quầy 1, 2", "HT": "Quầy 3", "DD": "Quầy 4", "LD": "Quầy 4, 5", "TKQ": "Quầy 5"}
    kiosk.click(".service[data-service=CT]")
    kiosk.wait_for_selector("[data-testid=ticket]", state="visible")
    assert kiosk.inner_text("[data-testid=ticket-counters]") == "Quầy 1, 2"
    label = kiosk.inner_text("[data-testid=ticket-label]")
    config = load_config(server.config_path)
    with sqlite3.connect(config.resolve(config.server.database)) as db:
        (tid,) = db.execute("SELECT id FROM tickets WHERE label = ?", (label,)).fetchone()
    lines = ticket_text(printed(server, tid)).splitlines()
    assert "Quầy 1, 2" in lines


def test_the_ticket_and_the_screen_word_a_short_wait_the_same_way(screens, server):
    kiosk = screens.open(KIOSK, 1920, 1080)
    kiosk.click(".service[data-service=HT]")
    kiosk.wait_for_selector("[data-testid=ticket]", state="visible")
    assert kiosk.inner_text("#ticket-wait") == "dưới 1 phút"
    config = load_config(server.config_path)
    with sqlite3.connect(config.resolve(config.server.database)) as db:
        (tid,) = db.execute("SELECT id FROM tickets WHERE service = 'HT'").fetchone()
    text = ticket_text(printed(server, tid))
    assert "dưới 1 phút" in text and "~0" not in text
    # A longer wait: "khoảng N phút" on both (3 ahead × 10 min ÷ 1 counter = 30 min).
    for _ in range(3):
        issue(server, "HT")
    kiosk.click("#ticket-done")
    kiosk.click(".service[data-service=HT]")
    kiosk.wait_for_function("document.getElementById('ticket-label').textContent === '2005'")
    screen_wait = kiosk.inner_text("#ticket-wait")
    with sqlite3.connect(config.resolve(config.server.database)) as db:
        (tid,) = db.execute("SELECT id FROM tickets WHERE label = '2005'").fetchone()
    assert re.fullmatch(r"khoảng \d+ phút", screen_wait)
    assert f"Thời gian chờ dự kiến: {screen_wait}" in ticket_text(printed(server, tid))


def test_priority_mode_counts_priority_tickets_not_everyone(screens, server):
    for _ in range(3):
        issue(server, "CT")
    issue(server, "CT", priority=True)
    kiosk = screens.open(KIOSK, 1920, 1080)
    meta = ".service[data-service=CT] .meta"
    assert kiosk.inner_text(f"{meta} b") == "4"
    kiosk.click("[data-testid=priority]")
    kiosk.wait_for_function(f"document.querySelector('{meta}').textContent.includes('ưu tiên')")
    assert kiosk.inner_text(f"{meta} b") == "1"
    assert "số ưu tiên đang chờ" in kiosk.inner_text(meta)
    # The wait shown is the server's estimate for a priority ticket,
    # from services[].estimated_wait_priority_s.
    status, state, _ = http("GET", server.base_url + "/api/state")
    ct = next(x for x in state["services"] if x["code"] == "CT")
    assert ct["waiting_priority"] == 1
    words = lambda s: "dưới 1 phút" if s < 30 else f"khoảng {-(-s // 60)} phút"  # noqa: E731
    assert words(ct["estimated_wait_priority_s"]) in kiosk.inner_text(meta)
    screenshot(kiosk, "kiosk-priority")
    kiosk.click("#priority-cancel")
    kiosk.wait_for_function(f"document.querySelector('{meta} b').textContent === '4'")


def test_the_kiosk_addresses_citizens_as_quy_cong_dan_never_ban():
    vi = json.loads((ROOT / "display" / "i18n" / "vi.json").read_text(encoding="utf-8"))
    for key, text in vi.items():
        assert not re.search(r"\bbạn\b", text, re.IGNORECASE), key
    assert "quý công dân" in vi["kiosk.print_failed"]


def test_in_portrait_the_clock_stays_on_the_title_line(screens, server):
    kiosk = screens.open(KIOSK, 1080, 1920)
    kiosk.wait_for_selector(".service[data-service=CT]")
    kiosk.wait_for_function("document.getElementById('clock').textContent.length > 0")
    title = kiosk.locator(".bar h1").bounding_box()
    clock = kiosk.locator("#clock").bounding_box()
    assert clock["y"] < title["y"] + title["height"] and clock["y"] + clock["height"] > title["y"], (title, clock)
    assert clock["x"] > title["x"] + title["width"]
    assert kiosk.evaluate("document.documentElement.scrollWidth") <= 1080
    # Every button is on the screen, none below its edge.
    for selector in (".service", "[data-testid=priority]"):
        for button in kiosk.locator(selector).all():
            b = button.bounding_box()
            assert b["y"] + b["height"] <= 1920, selector
    screenshot(kiosk, "kiosk-portrait")
