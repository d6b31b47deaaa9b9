"""The screens in a real browser (headless Debian Chromium) against a real server.

Each test also saves the screenshots that docs/screens.md shows.
"""

from __future__ import annotations

import io
import sqlite3
import time

from queue_server import speech
from queue_server.config import load_config
from tests.browser import (  # noqa: F401
    BLOCK_AUTOPLAY,
    Screens,
    admin_state,
    browser,
    eventually,
    screens,
    screenshot,
    wait_online_mark,
)
from tests.support import KIOSK_TOKEN, ServerProcess, free_port, http, login, write_config

KIOSK = f"/kiosk?device=sanh&token={KIOSK_TOKEN}"


def issue(server: ServerProcess, service: str, **extra: object) -> dict:
    status, body, _ = http("POST", server.base_url + "/api/tickets", {"service": service, **extra}, token=KIOSK_TOKEN)
    assert status == 201, body
    return body


def service_summary(server: ServerProcess, code: str) -> dict:
    status, body, _ = http("GET", server.base_url + "/api/state")
    assert status == 200
    return next(s for s in body["services"] if s["code"] == code)


def announces(page, kind: str = "start") -> list[dict]:
    return [a for a in page.evaluate("window.__announces") if a["type"] == kind]


def test_kiosk_tap_shows_the_ticket_with_its_qr_and_a_double_tap_issues_one(screens, server):
    issue(server, "CT")
    issue(server, "CT")
    issue(server, "HT")
    kiosk = screens.open(KIOSK, 1920, 1080)
    button = kiosk.locator(".service[data-service=CT]")
    assert "2" in button.locator(".meta").inner_text()
    screenshot(kiosk, "kiosk-landscape")

    button.dblclick()
    kiosk.wait_for_selector("[data-testid=ticket]", state="visible")
    assert kiosk.inner_text("[data-testid=ticket-label]") == "1003"
    assert service_summary(server, "CT")["issued"] == 3, "a double tap must issue one ticket"
    # The sample kiosk prints to a png:// printer, which works.
    print_note = kiosk.locator("[data-testid=ticket-print]")
    assert print_note.get_attribute("data-state") in ("queued", "printing", "printed")
    assert "đang được in" in print_note.inner_text()

    # The QR code on screen is the phone status page of this very ticket.
    import zxingcpp
    from PIL import Image

    image = Image.open(io.BytesIO(kiosk.locator("#ticket-qr svg").screenshot()))
    codes = zxingcpp.read_barcodes(image)
    assert codes and "/t/" in codes[0].text
    status, ticket, _ = http("GET", server.base_url + "/api/tickets/" + codes[0].text.rsplit("/", 1)[1])
    assert status == 200 and ticket["label"] == "1003"
    screenshot(kiosk, "kiosk-ticket")

    kiosk.click("#ticket-done")
    kiosk.wait_for_selector("[data-testid=services]", state="visible")
    # The token was kept: a reload (now without it in the address) still issues tickets.
    assert "token=" not in kiosk.url
    kiosk.reload()
    wait_online_mark(kiosk, online=True)
    assert kiosk.locator("#setup").is_hidden()
    kiosk.click(".service[data-service=HT]")
    kiosk.wait_for_selector("[data-testid=ticket]", state="visible")
    assert kiosk.inner_text("[data-testid=ticket-label]") == "2002"

    portrait = screens.open(KIOSK, 1080, 1920)
    portrait.wait_for_selector(".service[data-service=CT]")
    screenshot(portrait, "kiosk-portrait")


def test_kiosk_tells_the_citizen_to_note_the_number_when_the_ticket_cannot_print(browser, tmp_path):
    # A kiosk printer nobody listens on: the print fails after the ticket is on screen.
    dead = free_port()
    config_path = write_config(
        tmp_path, printers=[{"id": "may-in-sanh", "url": f"tcp://127.0.0.1:{dead}", "width": 576}]
    )
    with ServerProcess(tmp_path, config_path) as server:
        page = Screens(browser, server)
        try:
            kiosk = page.open(KIOSK, 1920, 1080)
            kiosk.click(".service[data-service=CT]")
            kiosk.wait_for_selector("[data-testid=ticket]", state="visible")
            note = kiosk.locator("[data-testid=ticket-print]")
            kiosk.wait_for_function(
                "document.querySelector('[data-testid=ticket-print]').classList.contains('warn')", timeout=8000
            )
            assert "Không in được vé — xin quý công dân ghi nhớ số thứ tự trên màn hình" in note.inner_text()
            assert kiosk.inner_text("[data-testid=ticket-label]") == "1001"
        finally:
            page.close()
        assert not page.errors


def test_kiosk_shows_unavailable_services_disabled_with_the_reason_and_issues_priority_tickets(screens, server):
    cookie = login(server.base_url, "boss")
    status, body, _ = http("POST", server.base_url + "/api/services/DD", {"open": False}, cookie=cookie)
    assert status == 200, body
    kiosk = screens.open(KIOSK, 1920, 1080)
    dd = kiosk.locator(".service[data-service=DD]")
    assert dd.is_disabled()
    assert "tạm ngừng" in dd.inner_text()
    # Live: reopening it enables the button without a reload.
    http("POST", server.base_url + "/api/services/DD", {"open": True}, cookie=cookie)
    kiosk.wait_for_function("!document.querySelector('.service[data-service=DD]').disabled")

    # The priority path: one tap on "Lấy số ưu tiên", then the service.
    kiosk.click("[data-testid=priority]")
    assert kiosk.locator("#priority-banner").is_visible()
    kiosk.click(".service[data-service=HT]")
    kiosk.wait_for_selector("[data-testid=ticket]", state="visible")
    assert kiosk.locator("#ticket-priority").is_visible()
    state = admin_state(server)
    assert [t["priority"] for t in state["waiting"]] == [True]


def test_next_reaches_the_display_within_a_second_and_calls_queue_without_cutting_off(screens, server):
    for _ in range(6):
        issue(server, "CT")
    display = screens.open("/display", 1920, 1080)
    counter = screens.open("/counter/1", 420, 640, wait_online=True)
    screenshot(counter, "counter-signon")
    screens.sign_on(counter, "clerk1")

    counter.click("[data-testid=next]")
    display.wait_for_function("document.getElementById('hero-number').textContent === '1001'", timeout=1000)
    assert display.inner_text("[data-counter='1'] .num") == "1001"
    display.wait_for_function("window.__announces.some(a => a.type === 'start' && a.label === '1001')", timeout=2000)
    first = announces(display)[0]
    assert first["counter"] == 1
    assert first["clips"] == speech.call_clips("1001", 1, "north")
    assert first["clips"][0] == "moi_cong_dan_co_so_thu_tu" and first["clips"][-2:] == ["den_quay_so", "mot"]

    # A second call while the first is still being said waits its turn.
    clerk2 = login(server.base_url, "clerk2", 2)
    status, body, _ = http("POST", server.base_url + "/api/counters/2/next", {"current": None}, cookie=clerk2)
    assert status == 200 and body["ticket"]["label"] == "1002"
    display.wait_for_function("window.motcua.announcer.queue.some(a => a.label === '1002')", timeout=1000)
    assert display.evaluate("window.motcua.announcer.current.label") == "1001"
    assert [a["label"] for a in announces(display)] == ["1001"]

    # A double click on Next calls exactly one ticket. (Next is also locked for 0.6 s after
    # each press, against two quick key presses: let that pass first.)
    time.sleep(0.7)
    counter.dblclick("[data-testid=next]")
    counter.wait_for_function("document.getElementById('current-label').textContent === '1003'")
    time.sleep(0.5)
    state = admin_state(server)
    held = next(c for c in state["counters"] if c["number"] == 1)["ticket"]
    assert held["label"] == "1003"
    assert next(s for s in state["services"] if s["code"] == "CT")["next"][0] == "1004"

    # Recall (keyboard shortcut R) announces the same number again.
    press(counter, "r", "recall")
    display.wait_for_function(
        "[window.motcua.announcer.current, ...window.motcua.announcer.queue].filter(a => a && a.label === '1003').length === 2",
        timeout=2000,
    )
    counter.wait_for_function("document.getElementById('current-times').textContent.includes('1/2')")
    screenshot(counter, "counter")

    # The first call is played to its end before the second begins.
    display.wait_for_function("window.__announces.some(a => a.type === 'start' && a.label === '1002')", timeout=15000)
    events = display.evaluate("window.__announces")
    end_first = next(a["at"] for a in events if a["type"] == "end" and a["label"] == "1001")
    start_second = next(a["at"] for a in events if a["type"] == "start" and a["label"] == "1002")
    assert end_first <= start_second
    assert display.locator("#unlock").is_hidden()
    screenshot(display, "display")


def test_rating_after_done_is_stored_with_the_ticket(screens, server):
    ticket = issue(server, "CT")
    rate = screens.open("/rate/1?token=danh-gia-quay-1-doi-ma-nay", 1280, 800)  # first setup of the tablet
    assert rate.locator("[data-testid=rate-idle]").is_visible()
    clerk = login(server.base_url, "clerk1", 1)
    http("POST", server.base_url + "/api/counters/1/next", {"current": None}, cookie=clerk)
    http("POST", server.base_url + "/api/counters/1/done", {}, cookie=clerk)

    rate.wait_for_selector("[data-testid=rate-ask]", state="visible", timeout=2000)
    assert rate.inner_text("[data-testid=rate-label]") == ticket["label"]
    labels = rate.locator(".level span").all_inner_texts()
    assert labels == ["Rất hài lòng", "Hài lòng", "Bình thường", "Không hài lòng"]  # rating.levels = 4
    screenshot(rate, "rate")
    rate.click("[data-testid=level-4]")
    rate.wait_for_selector("[data-testid=rate-thanks]", state="visible")
    assert "token=" not in rate.url  # kept in the browser, gone from the address

    config = load_config(server.config_path)
    with sqlite3.connect(config.resolve(config.server.database)) as db:
        stored = db.execute("SELECT rating FROM tickets WHERE id = ?", (ticket["id"],)).fetchone()
    assert stored == (4,)


def test_phone_status_page_turns_to_called_live(screens, server):
    issue(server, "CT")
    mine = issue(server, "CT")
    phone = screens.open(f"/t/{mine['token']}", 390, 844)
    assert phone.inner_text("[data-testid=status-label]") == mine["label"]
    assert phone.inner_text("[data-testid=status-ahead]") == "1"
    clerk = login(server.base_url, "clerk1", 1)
    http("POST", server.base_url + "/api/counters/1/next", {"current": None}, cookie=clerk)
    phone.wait_for_function("document.querySelector('[data-testid=status-ahead]').textContent === '0'", timeout=2000)
    screenshot(phone, "status-waiting")

    status, body, _ = http("POST", server.base_url + "/api/counters/1/next", {}, cookie=clerk)
    assert body["ticket"]["label"] == mine["label"]
    phone.wait_for_selector("[data-testid=status-called]", state="visible", timeout=2000)
    assert "Mời đến quầy 1" in phone.inner_text("[data-testid=status-called]")
    assert phone.evaluate("window.__vibrations.length") == 1
    screenshot(phone, "status-called")

    http("POST", server.base_url + "/api/counters/1/done", {}, cookie=clerk)
    phone.wait_for_function("document.body.dataset.state === 'done'", timeout=2000)
    assert "Đã hoàn thành" in phone.inner_text("[data-testid=status-state]")


def test_screens_show_offline_and_recover_the_true_state_without_reload(screens, server):
    issue(server, "CT")
    issue(server, "TKQ")
    display = screens.open("/display", 1920, 1080)
    kiosk = screens.open(KIOSK, 1080, 1920)
    counter = screens.open("/counter/1", 420, 640)
    screens.sign_on(counter, "clerk1")
    pages = [display, kiosk, counter]

    server.stop()
    for page in pages:
        wait_online_mark(page, online=False)
    assert "Mất kết nối" in display.inner_text("[data-testid=offline-mark]")

    server.start()
    # Changed at once, likely before the screens are back: they must still show it.
    clerk5 = login(server.base_url, "clerk5", 5)
    status, body, _ = http("POST", server.base_url + "/api/counters/5/next", {"current": None}, cookie=clerk5)
    assert status == 200 and body["ticket"]["label"] == "5001"
    for page in pages:
        wait_online_mark(page, online=True, timeout=15000)
        assert page.evaluate("window.__sameDocument") is True, "the page must not have reloaded"
    display.wait_for_function("document.querySelector('[data-counter=\"5\"] .num')?.textContent === '5001'")
    kiosk.wait_for_function("document.querySelector('.service[data-service=TKQ] .meta b').textContent === '0'")

    # The clerk's session and screen work on after the restart.
    counter.click("[data-testid=next]")
    display.wait_for_function("document.getElementById('hero-number').textContent === '1001'", timeout=2000)
    assert counter.inner_text("[data-testid=current-label]") == "1001"


def test_a_filtered_display_shows_and_announces_only_its_counters_in_english(screens, server):
    issue(server, "CT")
    issue(server, "HT")
    display = screens.open("/display?counters=3&lang=en", 1920, 1080)
    assert display.locator("[data-counter]").count() == 1
    assert display.inner_text("[data-counter='3'] .label") == "Counter 3"
    clerk1 = login(server.base_url, "clerk1", 1)
    clerk3 = login(server.base_url, "clerk3", 3)
    http("POST", server.base_url + "/api/counters/1/next", {"current": None}, cookie=clerk1)
    http("POST", server.base_url + "/api/counters/3/next", {"current": None}, cookie=clerk3)
    display.wait_for_function("document.getElementById('hero-number').textContent === '2001'", timeout=2000)
    display.wait_for_function("window.__announces.length > 0")
    labels = [a["label"] for a in announces(display)]
    queued = display.evaluate("window.motcua.announcer.queue.map(a => a.label)")
    assert "1001" not in labels + queued, "a call at another counter is not announced here"
    assert display.inner_text("#hero-counter") == "Counter 3"


def test_display_offers_one_tap_sound_when_the_browser_blocks_autoplay(screens, server):
    display = screens.open("/display", 1920, 1080, init_script=BLOCK_AUTOPLAY)
    display.wait_for_selector("[data-testid=unlock]", state="visible", timeout=4000)
    assert "chạm hoặc bấm phím bất kỳ để bật" in display.inner_text("[data-testid=unlock]")
    # A call made meanwhile waits for the sound instead of being lost.
    issue(server, "CT")
    clerk = login(server.base_url, "clerk1", 1)
    http("POST", server.base_url + "/api/counters/1/next", {"current": None}, cookie=clerk)
    display.wait_for_function("window.motcua.announcer.current?.label === '1001'")
    assert announces(display)[0]["label"] == "1001" and not announces(display, "end")
    display.click("[data-testid=unlock]")
    display.wait_for_selector("#unlock", state="hidden", timeout=3000)
    assert display.evaluate("window.motcua.announcer.needsUnlock") is False


def press(counter, key: str, action: str) -> None:
    """Press a shortcut once its button is enabled (the screen may still await the answer
    to the previous action, whose event can arrive first)."""
    counter.wait_for_function(f"!document.querySelector('.action[data-action=\"{action}\"]').disabled")
    counter.keyboard.press(key)


def test_clerk_marks_a_no_show_requeues_it_transfers_and_pauses_with_a_reason(screens, server):
    issue(server, "CT")
    issue(server, "CT")
    counter = screens.open("/counter/1", 420, 640)
    screens.sign_on(counter, "clerk1")
    counter.keyboard.press("n")
    counter.wait_for_function("document.getElementById('current-label').textContent === '1001'")

    press(counter, "v", "no-show")  # Vắng mặt
    counter.wait_for_selector("[data-testid=noshows] [data-requeue]")
    assert "1001" in counter.inner_text("[data-testid=noshows]")
    assert counter.inner_text("[data-testid=current-label]") == "—"
    counter.click("[data-testid=noshows] [data-requeue]")
    counter.wait_for_function("!document.querySelector('[data-testid=noshows] [data-requeue]')")
    counter.wait_for_function("document.querySelector('[data-testid=queue] [data-service=CT] b').textContent === '2'")

    press(counter, "n", "next")
    counter.wait_for_function("document.getElementById('current-label').textContent === '1002'")
    press(counter, "c", "transfer")  # Chuyển → Hộ tịch
    counter.click("#transfer-services [data-service=HT]")
    counter.wait_for_function("document.getElementById('current-label').textContent === '—'")
    ht = service_summary(server, "HT")
    assert ht["waiting"] == 1 and ht["next"] == ["1002"]

    press(counter, "p", "pause")  # Tạm dừng, with a reason
    counter.click("#pause-reasons button >> nth=0")
    counter.wait_for_function(
        "document.querySelector('[data-testid=counter-state]').textContent === 'Tạm dừng: Nghỉ giải lao'"
    )
    assert counter.locator("[data-testid=next]").is_disabled()
    press(counter, "p", "pause")  # Tiếp tục
    counter.wait_for_function("document.querySelector('[data-testid=counter-state]').textContent === 'Đang mở'")

    # A refused action shows the server's message in the page's language.
    counter.click("#lang")
    clerk2 = login(server.base_url, "clerk2", 2)
    http("POST", server.base_url + "/api/counters/2/next", {"current": None}, cookie=clerk2)  # takes 1001
    press(counter, "g", "call")
    counter.fill("#call-number", "1001")
    counter.click("#call-ok")
    counter.wait_for_selector("[data-testid=error]", state="visible")
    assert "Cannot call ticket 1001" in counter.inner_text("[data-testid=error]")


def test_a_gap_in_the_event_sequence_brings_a_fresh_snapshot(screens, server):
    issue(server, "CT")
    issue(server, "CT")
    display = screens.open("/display", 1920, 1080)
    clerk = login(server.base_url, "clerk1", 1)
    http("POST", server.base_url + "/api/counters/1/next", {"current": None}, cookie=clerk)
    display.wait_for_function("document.getElementById('hero-number').textContent === '1001'")
    # Pretend an event was lost: the screen's last seq is now behind what it really has.
    display.evaluate("window.motcua.live.state.seq -= 2")
    http("POST", server.base_url + "/api/counters/1/next", {}, cookie=clerk)
    display.wait_for_function("window.motcua.live.resyncs === 1")
    display.wait_for_function("document.querySelector('[data-counter=\"1\"] .num')?.textContent === '1002'")
    assert display.evaluate("window.motcua.live.state.seq") == admin_state(server)["seq"]
