"""The voice screen's server side (``/admin/voice``, docs/voice.md): which clips this office's
calls use and which it has recorded, a sample call said with the current clips, and saving a
recording made in the browser into ``display.clips_dir``.

A recording arrives as a PCM WAV (the page records with MediaRecorder, decodes the take in
the browser and encodes it as WAV: no decoder for WebM/Opus is needed on the server). Here
it is checked, trimmed of silence at both ends and levelled to the loudness of the bundled
clips (``queue_server.audio``, the code ``scripts/make_clips.py --level`` uses), then written
atomically (``voicepack.store_clip``) and audit-logged. Anything wrong is a 4xx in both
languages and writes nothing.
"""

from __future__ import annotations

import base64
import binascii
import wave
from pathlib import Path
from typing import Annotated, Any

from msgspec import Meta, Struct
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from . import speech
from .answers import Answer
from .api import read_json
from .audio import AudioError, NoVoice, TooLong, level_clip, read_wav
from .config import Config
from .errors import BadRequest, NotFound
from .office import BUNDLED_CLIPS, Office
from .openapi import ADMIN, operation, path_param, query_param
from .schemas import Body, Empty, parse, ref
from .voicepack import admin_user, clips_changed, needed_clips, store_clip

# A word or a phrase takes a few seconds; a take is stopped by the page after MAX_SECONDS.
MAX_SECONDS = 20.0
# 20 s of 48 kHz stereo 16-bit PCM is 3.8 MB; the page sends 22 050 Hz mono (0.9 MB).
MAX_CLIP_BYTES = 4 * 1024 * 1024
CHIME = "chime"


def office_letters(config: Config) -> str:
    """The letters printed before this office's ticket numbers (services and bookings)."""
    return "".join(p for s in config.services for p in (s.prefix, s.booking.prefix) if p)


def office_clip_list(config: Config) -> dict[str, str]:
    """The clips this office's calls use (clip name → the words it says), in recording order."""
    return speech.office_clips(config.display.dialect, config.display.recall_phrase, office_letters(config))


def _seconds(path: Path) -> float | None:
    try:
        with wave.open(str(path)) as w:
            frames: int = w.getnframes()
            rate: int = w.getframerate()
        return round(frames / rate, 2)
    except (OSError, wave.Error, EOFError, ZeroDivisionError):
        return None


def clip_rows(config: Config) -> list[dict[str, Any]]:
    """One row per clip the office needs (and the chime): what it says, whether the office
    recorded its own and whether a bundled one exists."""
    folder = config.resolve(config.display.clips_dir)
    rows = []
    for name, says in [*office_clip_list(config).items(), (CHIME, "")]:
        own = folder / f"{name}.wav"
        rows.append(
            {
                "name": name,
                "says": says,
                "own": own.is_file(),
                "own_seconds": _seconds(own) if own.is_file() else None,
                "bundled": (BUNDLED_CLIPS / f"{name}.wav").is_file(),
            }
        )
    return rows


def _clip_name(request: Request) -> str:
    """The ``{name}`` of the path, if it is a clip the calls can use (never a path)."""
    name = str(request.path_params["name"])
    if name not in needed_clips(request.app.state.office.config):
        raise NotFound(
            f"Không có đoạn âm thanh nào tên “{name[:60]}” trong các cuộc gọi.",
            f"No clip the calls use is named “{name[:60]}”.",
            key="unknown_clip",
        )
    return name


async def page_voice(request: Request) -> Response:
    """The voice screen (/admin/voice): record the office's own voice clip by clip."""
    from .app import DISPLAY_DIR

    return FileResponse(DISPLAY_DIR / "voice.html", headers={"Cache-Control": "no-cache"})


async def list_clips(request: Request) -> Answer:
    admin_user(request)
    config: Config = request.app.state.office.config
    counters = [c.number for c in config.counters]
    first = config.services[0]
    return Answer(
        {
            "office": {"name": config.office.name, "name_en": config.office.name_en},
            "dialect": config.display.dialect,
            "recall_phrase": config.display.recall_phrase,
            "max_seconds": MAX_SECONDS,
            "clips": clip_rows(config),
            "sample": {"label": f"{first.prefix}1023", "counter": 2 if 2 in counters else (counters or [1])[0]},
        }
    )


def _sample_args(request: Request) -> tuple[str, int, bool]:
    query = request.query_params
    label = query.get("label", "1023").strip()
    try:
        if len(label) > 20:
            raise ValueError(label)
        speech.spell_label(label)
    except ValueError:
        raise BadRequest(
            "Số thứ tự phải là chữ cái (nếu có) rồi đến số, ví dụ 1023 hoặc A15.",
            "The ticket number must be letters (if any) then digits, e.g. 1023 or A15.",
            key="bad_field",
            field="label",
        ) from None
    text = query.get("counter", "1").strip()
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= speech.MAX_NUMBER):
        raise BadRequest(
            f"Số quầy phải là số từ 1 đến {speech.MAX_NUMBER}.",
            f"The counter must be a number from 1 to {speech.MAX_NUMBER}.",
            key="bad_field",
            field="counter",
        )
    recall = query.get("recall", "false").strip().lower()
    if recall not in ("true", "false", "1", "0"):
        raise BadRequest(
            "“recall” phải là true hoặc false.", "“recall” must be true or false.", key="bad_field", field="recall"
        )
    return label, int(text), recall in ("true", "1")


async def sample_call(request: Request) -> Answer:
    """What the hall displays would say for this call now: the sentence and its clips."""
    admin_user(request)
    office: Office = request.app.state.office
    label, counter, recall = _sample_args(request)
    return Answer(office.announcement(label, counter, recall=recall))


async def save_clip(request: Request) -> Answer:
    """Save a recording (JSON ``{"wav": "<PCM WAV, base64>"}``) as the office's clip ``name``."""
    user = admin_user(request)
    office: Office = request.app.state.office
    name = _clip_name(request)
    text = parse(await read_json(request, limit=MAX_CLIP_BYTES * 4 // 3 + 1024), VoiceRecording).wav
    if not text:
        raise BadRequest(
            "Thiếu bản ghi (“wav”, tệp WAV mã hóa base64).",
            "The recording is missing (“wav”, a WAV file in base64).",
            key="bad_field",
            field="wav",
        )
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("“wav” không phải base64.", "“wav” is not base64.", key="bad_field", field="wav") from None
    if len(data) > MAX_CLIP_BYTES:
        raise BadRequest(
            f"Bản ghi quá lớn (tối đa {MAX_CLIP_BYTES // 1024 // 1024} MB).",
            f"The recording is too large (at most {MAX_CLIP_BYTES // 1024 // 1024} MB).",
            key="too_large",
            field="wav",
        )
    try:
        if name == CHIME:  # a chime is kept as it is: trimming and levelling would spoil its decay
            rate, samples = await run_in_threadpool(read_wav, data)
            if len(samples) > rate * MAX_SECONDS:
                raise TooLong("too long")
            wav = data
        else:
            wav = await run_in_threadpool(level_clip, data, max_seconds=MAX_SECONDS, require_voice=True)
    except TooLong:
        raise BadRequest(
            f"Bản ghi dài quá {MAX_SECONDS:g} giây.",
            f"The recording is longer than {MAX_SECONDS:g} seconds.",
            key="too_long",
            field="wav",
        ) from None
    except NoVoice:
        raise BadRequest(
            "Bản ghi không có tiếng nói (chỉ có im lặng). Kiểm tra micrô rồi ghi lại.",
            "The recording has no voice in it (only silence). Check the microphone and record again.",
            key="no_voice",
            field="wav",
        ) from None
    except AudioError:
        raise BadRequest(
            "Bản ghi không phải tệp âm thanh WAV (PCM) đọc được.",
            "The recording is not a readable WAV (PCM) audio file.",
            key="not_audio",
            field="wav",
        ) from None
    config = office.config
    store_clip(config.resolve(config.display.clips_dir), name, wav)
    seconds = _seconds(config.resolve(config.display.clips_dir) / f"{name}.wav")
    clips_changed(office, [name])
    await office.audit(user, "voice_clip_recorded", clip=name, seconds=seconds)
    return Answer({"name": name, "own": True, "own_seconds": seconds})


async def remove_clip(request: Request) -> Answer:
    """Delete the office's own recording of ``name``: the bundled clip is said again."""
    user = admin_user(request)
    office: Office = request.app.state.office
    name = _clip_name(request)
    path = office.config.resolve(office.config.display.clips_dir) / f"{name}.wav"
    if not path.is_file():
        raise NotFound(
            "Văn phòng chưa ghi âm đoạn này.", "The office has no recording of this clip.", key="no_recording"
        )
    path.unlink()
    clips_changed(office, [name])
    await office.audit(user, "voice_clip_removed", clip=name)
    return Answer({"name": name, "own": False, "own_seconds": None})


routes = [
    Route("/admin/voice", page_voice),
    Route("/api/voice/clips", list_clips),
    Route("/api/voice/sample", sample_call),
    Route("/api/voice/clips/{name}", save_clip, methods=["POST"]),
    Route("/api/voice/clips/{name}", remove_clip, methods=["DELETE"]),
]


class VoiceClip(Struct, kw_only=True):
    name: str
    says: str
    own: bool
    own_seconds: float | None
    bundled: bool


class VoiceOffice(Struct, kw_only=True):
    name: str
    name_en: str


class VoiceSampleDefault(Struct, kw_only=True):
    label: str
    counter: int


class VoiceClipList(Struct, kw_only=True):
    office: VoiceOffice
    dialect: str
    recall_phrase: str
    max_seconds: float
    clips: list[VoiceClip]
    sample: VoiceSampleDefault


class VoiceSample(Struct, kw_only=True):
    label: str
    counter: int
    recall: bool
    sentence: str
    clips: list[str]


class VoiceRecording(Body):
    wav: Annotated[str, Meta(description="PCM WAV, base64, at most 20 s")]


class VoiceClipSaved(Struct, kw_only=True):
    name: str
    own: bool
    own_seconds: float | None


_NAME = [path_param("name", {"type": "string"})]

openapi_paths: dict[str, Any] = {
    "/api/voice/clips": {
        "get": operation(
            "The clips this office's calls use, in recording order, and which it has recorded",
            ref(VoiceClipList),
            errors=(401, 403),
            security=ADMIN,
        ),
    },
    "/api/voice/sample": {
        "get": operation(
            "A sample call as the displays would say it now: the sentence and its clips",
            ref(VoiceSample),
            params=[
                query_param("label", {"type": "string"}, "ticket number, e.g. 1023 (default)"),
                query_param("counter", {"type": "integer"}, "counter number (default 1)"),
                query_param("recall", {"type": "boolean"}, "say it as a recall"),
            ],
            errors=(400, 401, 403),
            security=ADMIN,
        ),
    },
    "/api/voice/clips/{name}": {
        "post": operation(
            "Save a recording as the office's clip: trimmed, levelled and written to display.clips_dir",
            ref(VoiceClipSaved),
            body=ref(VoiceRecording),
            params=_NAME,
            errors=(400, 401, 403, 404, 413),
            security=ADMIN,
        ),
        "delete": operation(
            "Delete the office's own recording of a clip (the bundled one is said again)",
            ref(VoiceClipSaved),
            body=ref(Empty),  # the screen sends {} as JSON, as every change (queue_server.guard)
            params=_NAME,
            errors=(400, 401, 403, 404, 413),
            security=ADMIN,
        ),
    },
}
