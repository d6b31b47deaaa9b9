"""The voice screen's API on a real server (queue_server.voiceclips, docs/voice.md): the clips
an office needs, a recording saved trimmed and levelled into display.clips_dir, a sample call,
and bad recordings refused in both languages with nothing written."""

from __future__ import annotations

import array
import base64
import io
import json
import math
import urllib.request
import wave
from http.client import HTTPConnection
from pathlib import Path

from queue_server import audio, speech, voiceclips
from tests.support import ServerProcess, http, login, office_config, sample_data
from tests.test_voice import active_rms_db, tone


def wav(samples: list[float], rate: int = 48000) -> bytes:
    """Mono 16-bit WAV, written here with the wave module (not with queue_server.audio)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(array.array("h", (round(s * 32767) for s in samples)).tobytes())
    return out.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def clips_dir(server: ServerProcess) -> Path:
    return server.folder / "var" / "clips"


def audit_actions(server: ServerProcess, cookie: str) -> list[dict]:
    status, body, _ = http("GET", server.base_url + "/api/admin/audit", cookie=cookie)
    assert status == 200
    return [a for a in body["audit"] if a["action"].startswith("voice_")]


def test_the_list_holds_the_clips_of_this_offices_calls_in_recording_order(server: ServerProcess):
    boss = login(server.base_url, "boss")
    status, body, _ = http("GET", server.base_url + "/api/voice/clips", cookie=boss)
    assert status == 200, body
    names = [c["name"] for c in body["clips"]]
    assert names[:3] == ["moi_cong_dan_co_so_thu_tu", "xin_moi_lai_cong_dan_co_so_thu_tu", "den_quay_so"]
    assert names[3:8] == ["khong", "mot", "hai", "ba", "bon"] and names[-1] == "chime"
    # North: linh and nghìn; never the South's lẻ and ngàn.
    assert {"linh", "nghin", "muoi2", "mot2", "tu", "lam"} <= set(names) and not {"le", "ngan"} & set(names)
    # Every clip a call of this office uses is listed (all its services' numbers, every counter).
    used = {clip for n in range(1001, 6000) for clip in speech.call_clips(str(n), 1 + n % 5)}
    assert used <= set(names)
    row = body["clips"][0]
    assert row == {
        "name": "moi_cong_dan_co_so_thu_tu",
        "says": "Mời công dân có số thứ tự",
        "own": False,
        "own_seconds": None,
        "bundled": True,
    }
    assert body["sample"] == {"label": "1023", "counter": 2}
    status, said, _ = http("GET", server.base_url + "/api/voice/sample?label=1023&counter=2", cookie=boss)
    assert status == 200, said
    assert said["sentence"] == "Mời công dân có số thứ tự một nghìn không trăm hai mươi ba đến quầy số hai"
    assert said["clips"] == speech.call_clips("1023", 2)
    status, said, _ = http("GET", server.base_url + "/api/voice/sample?label=1023&counter=2&recall=true", cookie=boss)
    assert status == 200 and said["clips"][0] == "xin_moi_lai_cong_dan_co_so_thu_tu" and said["recall"] is True


def test_a_south_office_with_its_own_recall_phrase_and_letter_prefixes(tmp_path: Path):
    services = sample_data()["services"]
    services[0]["prefix"] = "Đ"
    config = office_config(
        tmp_path, display={"dialect": "south", "recall_phrase": "Mời lần nữa công dân số"}, services=services
    )
    clips = voiceclips.office_clip_list(config)
    assert clips["moi_lan_nua_cong_dan_so"] == "Mời lần nữa công dân số"
    assert clips["letter_dd"] == "đê" and clips["le"] == "lẻ" and clips["ngan"] == "ngàn"
    assert "linh" not in clips and "nghin" not in clips and "xin_moi_lai_cong_dan_co_so_thu_tu" not in clips


def test_a_recording_is_trimmed_levelled_saved_served_and_audited(server: ServerProcess):
    boss = login(server.base_url, "boss")
    rate = 48000
    voice = [0.05 * math.sin(2 * math.pi * 200 * i / rate) * (0.7 + 0.3 * math.sin(i / 2000)) for i in range(rate)]
    take = wav([0.0] * (rate // 2) + voice + [0.0] * int(rate * 0.7), rate)  # 0.5 s, 1 s of voice, 0.7 s
    status, body, _ = http("POST", server.base_url + "/api/voice/clips/lam", {"wav": b64(take)}, cookie=boss)
    assert status == 200, body
    saved = clips_dir(server) / "lam.wav"
    assert body == {"name": "lam", "own": True, "own_seconds": body["own_seconds"]}
    with wave.open(str(saved)) as w:
        seconds = w.getnframes() / w.getframerate()
    assert 1.0 <= seconds <= 1.0 + 2 * audio.KEEP_S + 0.05, seconds  # the silence at both ends is gone
    assert abs(body["own_seconds"] - seconds) < 0.01
    assert abs(active_rms_db(saved) - audio.TARGET_DBFS) <= 1.0  # same loudness as make_clips.py
    assert sorted(p.name for p in clips_dir(server).iterdir()) == ["lam.wav"]  # no temporary file left
    with urllib.request.urlopen(server.base_url + "/audio/clips/lam.wav") as r:
        assert r.read() == saved.read_bytes()  # the displays now say "lăm" in the office's voice
    status, listed, _ = http("GET", server.base_url + "/api/voice/clips", cookie=boss)
    row = next(c for c in listed["clips"] if c["name"] == "lam")
    assert row["own"] is True and row["bundled"] is True
    assert audit_actions(server, boss)[0]["details"] == {"clip": "lam", "seconds": body["own_seconds"]}

    # A stereo 16 kHz take (another browser, another card) is levelled the same way.
    status, body, _ = http(
        "POST", server.base_url + "/api/voice/clips/muoi2", {"wav": b64(tone(0.6, 0.9))}, cookie=boss
    )
    assert status == 200, body
    assert abs(active_rms_db(clips_dir(server) / "muoi2.wav") - active_rms_db(saved)) <= 1.0

    # Deleting the recording brings the bundled clip back.
    status, body, _ = http("DELETE", server.base_url + "/api/voice/clips/lam", cookie=boss)
    assert status == 200 and body == {"name": "lam", "own": False, "own_seconds": None}
    assert not saved.exists()
    assert audit_actions(server, boss)[0]["action"] == "voice_clip_removed"
    status, body, _ = http("DELETE", server.base_url + "/api/voice/clips/lam", cookie=boss)
    assert status == 404 and body["message"] and body["message_en"]


def test_bad_recordings_get_a_4xx_in_both_languages_and_nothing_is_written(server: ServerProcess):
    boss = login(server.base_url, "boss")
    url = server.base_url + "/api/voice/clips/"
    good = b64(tone(0.5, 0.3))
    assert http("POST", url + "lam", {"wav": good})[0] == 401
    assert http("POST", url + "lam", {"wav": good}, cookie=login(server.base_url, "clerk1", 1))[0] == 403
    cases = [
        ("lam", {}, 400, "bad_field"),
        ("lam", {"wav": 12}, 400, "bad_field"),
        ("lam", {"wav": "***"}, 400, "bad_field"),
        ("lam", {"wav": b64(b"RIFF....WAVEnot really audio")}, 400, "not_audio"),
        ("lam", {"wav": b64(b"<html>hello</html>")}, 400, "not_audio"),
        ("lam", {"wav": b64(wav([0.0] * 48000))}, 400, "no_voice"),  # a second of silence
        ("lam", {"wav": b64(tone(25, 0.3, rate=8000, silence=0))}, 400, "too_long"),
        ("hello", {"wav": good}, 404, "unknown_clip"),
        ("lam.wav", {"wav": good}, 404, "unknown_clip"),
        (".lam", {"wav": good}, 404, "unknown_clip"),
        ("..%2F..%2Fconfig", {"wav": good}, 404, None),
        ("%2E%2E", {"wav": good}, 404, "unknown_clip"),
    ]
    for name, body, expected, key in cases:
        status, answer, _ = http("POST", url + name, body, cookie=boss, timeout=30)
        assert status == expected, (name, str(body)[:60], answer)
        assert answer["message"] and answer["message_en"] and answer["message"] != answer["message_en"], answer
        if key:
            assert answer["error"] == key, answer
    # A take over the size limit is refused as soon as its declared size is read.
    conn = HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.putrequest("POST", "/api/voice/clips/lam")
    for header, value in (("Content-Type", "application/json"), ("Cookie", boss), ("Content-Length", "6000000")):
        conn.putheader(header, value)
    conn.endheaders(b'{"wav": "AAAA')
    response = conn.getresponse()
    answer = json.loads(response.read())
    conn.close()
    assert response.status == 413 and answer["message"] and answer["message_en"], answer
    for query in ("label=1a&counter=2", "label=1023&counter=0", "label=1023&counter=x", "label=1&recall=maybe"):
        status, answer, _ = http("GET", server.base_url + "/api/voice/sample?" + query, cookie=boss)
        assert status == 400 and answer["message"] and answer["message_en"], query
    assert not clips_dir(server).exists() or not any(clips_dir(server).iterdir())
    assert audit_actions(server, boss) == []
