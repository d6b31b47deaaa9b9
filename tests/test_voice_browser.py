"""The voice screen (/admin/voice) in Chromium at the admin's 1440×900, with Chromium's fake
microphone: the admin signs in, records a clip, sees it saved (trimmed and levelled on the
server) and listed, plays a whole sample call with it, and exports and imports a voice pack."""

from __future__ import annotations

import io
import json
import wave
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from queue_server import audio, speech
from tests.browser import Screens, launch_chromium, screens, screenshot  # noqa: F401
from tests.support import KIOSK_TOKEN, PASSWORD, ServerProcess, http, login
from tests.test_voice import active_rms_db, tone

# Chromium grants the microphone without asking and records from a fake device (a beep).
FAKE_MICROPHONE = ("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """This module's Chromium has a fake microphone (the ``screens`` fixture uses it)."""
    yield from launch_chromium(FAKE_MICROPHONE)


def test_an_admin_records_a_clip_hears_a_sample_call_with_it_and_sees_it_listed(
    screens: Screens, server: ServerProcess
):
    # A hall display already showing, with the bundled clips loaded in memory.
    display = screens.open("/display", 1920, 1080)
    display.wait_for_function("window.motcua.announcer !== null")
    page = screens.open("/admin/voice", 1440, 900, wait_online=False)
    page.wait_for_selector("#login-form", state="visible")
    page.fill("#login-username", "boss")
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("#clips tbody tr[data-clip=lam]")
    rows = page.locator("#clips tbody tr")
    names = [rows.nth(i).get_attribute("data-clip") for i in range(rows.count())]
    assert names[0] == "moi_cong_dan_co_so_thu_tu" and names[-1] == "chime" and "lam" in names and "nghin" in names
    assert page.locator("[data-testid=voice-mic-off]").is_hidden()
    words = len(names) - 1
    assert page.text_content("[data-testid=voice-progress]") == f"Đã ghi 0/{words} đoạn bằng giọng văn phòng."
    phrase = page.locator("tr[data-clip=moi_cong_dan_co_so_thu_tu]")
    assert phrase.locator("[data-testid=voice-status]").text_content() == "Giọng máy có sẵn"

    # Record the call's phrase: Record, speak (the fake microphone beeps), Stop.
    phrase.locator("button[data-action=record]").click()
    stop = phrase.locator("button[data-action=stop]")
    stop.wait_for()
    assert stop.evaluate("b => b === document.activeElement")  # Enter stops the take
    # The row's meter shows the microphone is heard (the fake one beeps).
    page.wait_for_function("document.querySelector('[data-testid=voice-meter]').value > 0.05")
    page.wait_for_function("window.motcua.state.take && window.motcua.state.take.elapsed >= 2")
    stop.click()
    phrase.locator("[data-testid=voice-status]", has_text="Giọng văn phòng").wait_for(timeout=15000)
    saved = server.folder / "var" / "clips" / "moi_cong_dan_co_so_thu_tu.wav"
    assert saved.is_file()
    with wave.open(str(saved)) as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2 and w.getframerate() == 22050
        seconds = w.getnframes() / w.getframerate()
    assert 0.05 < seconds < 3.5, seconds
    assert abs(active_rms_db(saved) - audio.TARGET_DBFS) <= 1.0
    assert page.text_content("[data-testid=voice-progress]") == f"Đã ghi 1/{words} đoạn bằng giọng văn phòng."
    # The saved clip is played back, and the next clip's Record button waits for Enter.
    page.wait_for_function(
        "window.__announces.some(a => a.type === 'end' && a.clips.join() === 'moi_cong_dan_co_so_thu_tu')"
    )
    assert page.evaluate("document.activeElement.closest('tr').dataset.clip") == names[1]
    assert phrase.locator("button[data-action=remove]").is_visible()

    # A whole sample call with the office's phrase: 1023 at counter 2, as the page offers it.
    assert page.input_value("[data-testid=voice-sample-label]") == "1023"
    assert page.input_value("[data-testid=voice-sample-counter]") == "2"
    page.click("[data-testid=voice-sample-play]")
    expected = speech.call_clips("1023", 2)
    page.wait_for_function(
        f"window.__announces.some(a => a.type === 'end' && a.clips.join() === {','.join(expected)!r})", timeout=15000
    )
    schedule = page.evaluate("window.motcua.callPlayer.schedule")
    assert len(schedule) == 1 + len(expected)  # the chime, then every clip: none was missing
    said = schedule[1]["end"] - schedule[1]["start"]
    assert abs(said - seconds) < 0.01, (said, seconds)  # the office's phrase, not the bundled one
    assert page.text_content("[data-testid=voice-sample-sentence]") == (
        "“Mời công dân có số thứ tự một nghìn không trăm hai mươi ba đến quầy số hai”"
    )
    page.evaluate("document.activeElement.blur(); window.scrollTo(0, 0)")  # the top of the page, no focus ring
    screenshot(page, "voice")

    # The hall display says the next call with the new phrase, without a reload.
    assert http("POST", server.base_url + "/api/tickets", {"service": "CT"}, token=KIOSK_TOKEN)[0] == 201
    clerk = login(server.base_url, "clerk1", 1)
    assert http("POST", server.base_url + "/api/counters/1/next", {"current": None}, cookie=clerk)[0] == 200
    display.wait_for_function("window.__announces.some(a => a.type === 'end' && a.label === '1001')", timeout=15000)
    hall = display.evaluate("window.motcua.announcer.schedule")
    assert abs((hall[1]["end"] - hall[1]["start"]) - seconds) < 0.01, (hall[1], seconds)

    # Export the office's voice as a pack: it holds the clip just recorded.
    with page.expect_download() as download:
        page.click("[data-testid=voice-pack-export]")
    exported = zipfile.ZipFile(download.value.path())
    assert json.loads(exported.read("manifest.json"))["clips"] == {
        "moi_cong_dan_co_so_thu_tu": "Mời công dân có số thứ tự"
    }
    assert exported.read("moi_cong_dan_co_so_thu_tu.wav") == saved.read_bytes()
    # Import another office's pack: "hai" is levelled into the office's folder and listed.
    pack = io.BytesIO()
    with zipfile.ZipFile(pack, "w") as z:
        z.writestr("manifest.json", json.dumps({"format": "motcua-voice-pack", "version": 1, "clips": {"hai": "hai"}}))
        z.writestr("hai.wav", tone(0.5, 0.8))
    page.set_input_files(
        "[data-testid=voice-pack-file]",
        files=[{"name": "tinh.zip", "mimeType": "application/zip", "buffer": pack.getvalue()}],
    )
    page.click("[data-testid=voice-pack-import]")
    page.wait_for_selector("[data-testid=voice-pack-result]:has-text('Đã nhập 1 đoạn: hai.')")
    hai = page.locator("tr[data-clip=hai] [data-testid=voice-status]")
    assert hai.text_content().startswith("Giọng văn phòng")
    assert abs(active_rms_db(server.folder / "var" / "clips" / "hai.wav") - audio.TARGET_DBFS) <= 1.0

    # The office's name in the bar, as on the other admin screens.
    assert page.text_content("#office-name") == "Bộ phận Một cửa – UBND phường Hồng Hà"
    # English on the same page.
    page.click("[data-testid=voice-lang]")
    page.wait_for_function("document.documentElement.lang === 'en'")
    assert phrase.locator("[data-testid=voice-status]").text_content().startswith("Office's voice (")
    assert page.text_content("[data-testid=voice-progress]") == f"2 of {words} clips recorded in the office's voice."


def test_without_a_microphone_api_the_page_says_to_open_it_on_the_server_and_records_nothing(
    screens: Screens, server: ServerProcess
):
    # As on a plain http://192.168.… address: browsers give no getUserMedia to insecure pages.
    page = screens.open(
        "/admin/voice?lang=en",
        1440,
        900,
        wait_online=False,
        init_script="Object.defineProperty(navigator, 'mediaDevices', {value: undefined});",
    )
    page.fill("#login-username", "boss")
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("#clips tbody tr[data-clip=lam]")
    notice = page.locator("[data-testid=voice-mic-off]")
    assert notice.is_visible()
    assert f"http://localhost:{server.port}/admin/voice" in notice.text_content()
    assert "HTTPS" in notice.text_content()
    assert page.locator("button[data-action=record]:enabled").count() == 0
    assert page.locator("tr[data-clip=lam] button[data-action=play]").is_enabled()
