"""The voice: every clip as loud as the others (bundled ones and an office's own, levelled
as they are added), a recall that does not sound like a first call, and whole phrases
cross-faded with the words in the browser."""

from __future__ import annotations

import array
import io
import math
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from queue_server import audio, speech
from queue_server.office import BUNDLED_CLIPS
from tests.browser import browser, screens  # noqa: F401
from tests.support import KIOSK_TOKEN, ROOT, http, login, office_config


def active_rms_db(path_or_bytes: Path | bytes) -> float:
    """RMS in dBFS over the 50 ms windows louder than -45 dBFS: written here on its own,
    not with queue_server.audio, so the test does not grade the code by itself."""
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else path_or_bytes.read_bytes()
    with wave.open(io.BytesIO(data)) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        rate = w.getframerate()
        pcm = array.array("h", w.readframes(w.getnframes()))
    size = rate // 20
    windows = [pcm[i : i + size] for i in range(0, len(pcm), size)]
    powers = [sum(v * v for v in win) / len(win) / 32768**2 for win in windows if len(win)]
    loud = [p for p in powers if p > 10 ** (-45 / 10)]
    return 10 * math.log10(sum(loud) / len(loud))


def tone(seconds: float, amplitude: float, rate: int = 16000, silence: float = 0.3) -> bytes:
    """A 220 Hz tone with silence before and after, as a stereo 16-bit WAV (a recording)."""
    n = int(rate * seconds)
    quiet = [0] * int(rate * silence)
    voice = [
        round(amplitude * 32767 * math.sin(2 * math.pi * 220 * i / rate) * (0.6 + 0.4 * math.sin(i / 900)))
        for i in range(n)
    ]
    frames = array.array("h", [v for s in quiet + voice + quiet for v in (s, s)])
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames.tobytes())
    return out.getvalue()


def test_every_bundled_word_clip_is_equally_loud_within_one_db():
    levels = {p.stem: active_rms_db(p) for p in BUNDLED_CLIPS.glob("*.wav") if p.stem != "chime"}
    assert set(speech.all_clip_names()) <= set(levels)
    middle = (max(levels.values()) + min(levels.values())) / 2
    assert all(abs(v - middle) <= 1.0 for v in levels.values()), sorted(levels.items(), key=lambda kv: kv[1])
    # No clip clips.
    for p in BUNDLED_CLIPS.glob("*.wav"):
        with wave.open(str(p)) as w:
            pcm = array.array("h", w.readframes(w.getnframes()))
        assert max(abs(v) for v in pcm) < 32767, p.name


def test_an_offices_own_recordings_are_trimmed_and_levelled_in_place(tmp_path):
    (tmp_path / "muoi2.wav").write_bytes(tone(0.5, 0.9))  # recorded close to the microphone
    (tmp_path / "lam.wav").write_bytes(tone(0.4, 0.05))  # recorded far from it
    (tmp_path / "chime.wav").write_bytes(tone(0.2, 0.9))
    chime_before = (tmp_path / "chime.wav").read_bytes()
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_clips.py"), "--level", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    loud, quiet = active_rms_db(tmp_path / "muoi2.wav"), active_rms_db(tmp_path / "lam.wav")
    assert abs(loud - quiet) <= 1.0
    assert abs(loud - audio.TARGET_DBFS) <= 1.0
    # The silence at both ends is gone (0.3 s each side), a short edge kept.
    with wave.open(str(tmp_path / "lam.wav")) as w:
        assert w.getnframes() / w.getframerate() < 0.4 + 0.2
    assert (tmp_path / "chime.wav").read_bytes() == chime_before


def test_a_recall_starts_with_its_own_phrase_and_an_unrecorded_custom_phrase_falls_back(tmp_path):
    from queue_server.office import Office
    from queue_server.store import Store

    def office(**display: str) -> Office:
        config = office_config(tmp_path, display={"clips_dir": str(tmp_path / "clips"), **display})
        return Office(config, Store(tmp_path / f"db{len(display)}.sqlite"))

    default = office()
    call, recall = default.announcement("1023", 2), default.announcement("1023", 2, recall=True)
    assert call["clips"][0] == "moi_cong_dan_co_so_thu_tu"
    assert recall["clips"][0] == "xin_moi_lai_cong_dan_co_so_thu_tu" and recall["clips"][1:] == call["clips"][1:]
    assert recall["sentence"].startswith("Xin mời lại công dân có số thứ tự một nghìn")
    assert (BUNDLED_CLIPS / "xin_moi_lai_cong_dan_co_so_thu_tu.wav").is_file()
    default.close()

    custom = office(recall_phrase="Mời lần nữa công dân có số thứ tự")
    said = custom.announcement("1023", 2, recall=True)
    assert said["sentence"].startswith("Mời lần nữa công dân có số thứ tự")
    assert said["clips"][0] == "xin_moi_lai_cong_dan_co_so_thu_tu"  # not recorded yet
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "moi_lan_nua_cong_dan_co_so_thu_tu.wav").write_bytes(tone(0.5, 0.3))
    assert custom.announcement("1023", 2, recall=True)["clips"][0] == "moi_lan_nua_cong_dan_co_so_thu_tu"
    custom.close()


@pytest.mark.parametrize(
    "phrase, name",
    [
        ("Mời lần nữa công dân có số thứ tự", "moi_lan_nua_cong_dan_co_so_thu_tu"),
        ("Đề nghị công dân số", "de_nghi_cong_dan_so"),
        (speech.CALL_PREFIX, "moi_cong_dan_co_so_thu_tu"),
    ],
)
def test_a_phrase_clip_is_named_by_its_letters(phrase, name):
    assert speech.phrase_clip_name(phrase) == name


def test_the_display_says_a_recall_with_the_recall_phrase_and_cross_fades_the_words(screens, server):
    status, _, _ = http("POST", server.base_url + "/api/tickets", {"service": "CT"}, token=KIOSK_TOKEN)
    assert status == 201
    display = screens.open("/display", 1920, 1080)
    clerk = login(server.base_url, "clerk1", 1)
    http("POST", server.base_url + "/api/counters/1/next", {"current": None}, cookie=clerk)
    display.wait_for_function("window.__announces.some(a => a.type === 'end' && a.label === '1001')", timeout=15000)
    schedule = display.evaluate("window.motcua.announcer.schedule")
    words = schedule[1:]  # after the chime
    assert len(words) == len(speech.call_clips("1001", 1))
    for before, after in zip(words, words[1:]):
        overlap = before["end"] - after["start"]
        assert 0.005 <= overlap <= 0.05, overlap  # a short cross-fade, no gap
    http("POST", server.base_url + "/api/counters/1/recall", {}, cookie=clerk)
    display.wait_for_function(
        "window.__announces.filter(a => a.type === 'start' && a.label === '1001').length === 2", timeout=5000
    )
    second = [a for a in display.evaluate("window.__announces") if a["type"] == "start"][1]
    assert second["clips"][0] == "xin_moi_lai_cong_dan_co_so_thu_tu"
    assert second["clips"][1:] == speech.call_clips("1001", 1)[1:]
