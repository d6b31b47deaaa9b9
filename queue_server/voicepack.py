"""An office's voice as one file: export the clips an office recorded (``display.clips_dir``)
as a pack, and import a pack there, so one recording can serve a whole province.

A pack is a ZIP file:

- ``manifest.json``: ``{"format": "motcua-voice-pack", "version": 1, "dialect": "north",
  "recall_phrase": "…", "clips": {"<name>": "<words it says>", …}}``;
- ``<name>.wav`` for each clip in the manifest (PCM WAV, any rate, mono or stereo).

On import every clip is checked (a name the calls can use, a readable WAV), trimmed and
levelled to the same loudness as the bundled clips (``queue_server.audio``) and written to
``display.clips_dir``; anything else is reported back, never written.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Annotated, Any

from msgspec import Meta, Struct
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import auth, speech
from .answers import Answer
from .api import read_json
from .audio import AudioError, level_clip, read_wav
from .config import Config
from .errors import BadRequest
from .office import Office
from .openapi import ADMIN, operation
from .schemas import Body, parse, ref

FORMAT = "motcua-voice-pack"
VERSION = 1
# A pack holds at most a few hundred short clips: 20 MB is far more than any needs.
MAX_PACK_BYTES = 20 * 1024 * 1024


def needed_clips(config: Config) -> dict[str, str]:
    """Every clip a call can use, with the words it says: the numbers and letters of both
    dialects, the fixed phrases, the office's recall phrase, and the chime."""
    words = {clip: word for word, clip in speech.WORD_CLIPS.items()}
    words[speech.phrase_clip_name(config.display.recall_phrase)] = config.display.recall_phrase
    words["chime"] = "(chuông / chime)"
    return dict(sorted(words.items()))


def export_pack(config: Config) -> bytes:
    """The office's own clips as a pack (only those in ``needed_clips``)."""
    folder = config.resolve(config.display.clips_dir)
    needed = needed_clips(config)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        present = {n: w for n, w in needed.items() if (folder / f"{n}.wav").is_file()}
        z.writestr(
            "manifest.json",
            json.dumps(
                {
                    "format": FORMAT,
                    "version": VERSION,
                    "dialect": config.display.dialect,
                    "recall_phrase": config.display.recall_phrase,
                    "clips": present,
                },
                ensure_ascii=False,
                indent=1,
            ),
        )
        for name in present:
            z.write(folder / f"{name}.wav", f"{name}.wav")
    return out.getvalue()


def import_pack(config: Config, data: bytes) -> dict[str, Any]:
    """Write the pack's clips, levelled, into ``display.clips_dir``. Returns
    ``{"imported": [...], "skipped": {name: reason}}``; BadRequest if it is no pack at all."""
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        manifest = json.loads(z.read("manifest.json"))
    except (zipfile.BadZipFile, KeyError, ValueError):
        raise BadRequest(
            "Tệp không phải gói giọng đọc (thiếu manifest.json).",
            "Not a voice pack (no manifest.json).",
            key="bad_pack",
        ) from None
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != FORMAT
        or not isinstance(manifest.get("clips"), dict)
    ):
        raise BadRequest("Tệp không phải gói giọng đọc của motcua.", "Not a motcua voice pack.", key="bad_pack")
    needed = needed_clips(config)
    folder = config.resolve(config.display.clips_dir)
    ready: dict[str, bytes] = {}
    skipped: dict[str, str] = {}
    for name in manifest["clips"]:
        if not isinstance(name, str) or name not in needed:
            skipped[str(name)] = "not a clip the calls use"
            continue
        try:
            info = z.getinfo(f"{name}.wav")
            if info.file_size > MAX_PACK_BYTES:
                raise AudioError("too large")
            raw = z.read(info)
            if name == "chime":
                read_wav(raw)  # kept as recorded (a chime is not speech), but it must be a WAV
                ready[name] = raw
            else:
                ready[name] = level_clip(raw)
        except KeyError:
            skipped[name] = "no WAV file in the pack"
        except AudioError as error:
            skipped[name] = str(error)
    for name, wav in ready.items():
        store_clip(folder, name, wav)
    return {"imported": sorted(ready), "skipped": skipped}


def store_clip(folder: Path, name: str, wav: bytes) -> None:
    """Write ``<name>.wav`` into ``folder`` atomically: a display fetching the clip meanwhile
    gets the old file or the new one, never half of one. ``name`` must be a checked clip name."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(wav)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, folder / f"{name}.wav")
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def clips_changed(office: Office, names: list[str]) -> None:
    """Tell every screen which clips changed: hall displays forget the copies they hold in
    memory and fetch the new ones at the next call, with no reload."""
    if names:
        text = json.dumps({"type": "voice_clips", "clips": sorted(names)})
        office.publish({"public": text, "staff": text})


def admin_user(request: Request) -> dict[str, Any]:
    office: Office = request.app.state.office
    return auth.require_user(request, office, role="admin")


async def get_pack(request: Request) -> Response:
    admin_user(request)
    config: Config = request.app.state.office.config
    return Response(
        export_pack(config),
        media_type="application/zip",
        headers={"Content-Disposition": 'attachment; filename="giong-doc.motcua-voice.zip"'},
    )


async def post_pack(request: Request) -> Answer:
    """Import a pack sent as JSON ``{"pack": "<base64 of the ZIP>"}`` (the admin screen's way)."""
    user = admin_user(request)
    office: Office = request.app.state.office
    text = parse(await read_json(request, limit=MAX_PACK_BYTES * 4 // 3 + 1024), Pack).pack
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("“pack” không phải base64.", "“pack” is not base64.", key="bad_field", field="pack") from None
    # Levelling is pure Python (about 0.03 s of CPU a clip): off the event loop, so the
    # screens keep getting their calls while a pack of a few hundred clips is imported.
    result = await run_in_threadpool(import_pack, office.config, data)
    clips_changed(office, result["imported"])
    await office.audit(user, "voice_pack_imported", clips=result["imported"])
    return Answer(result)


class Pack(Body):
    pack: Annotated[str, Meta(description="the ZIP, base64")]


class VoicesImported(Struct, kw_only=True):
    imported: list[str]
    skipped: dict[str, Any]


routes = [Route("/api/voice/pack", get_pack), Route("/api/voice/pack", post_pack, methods=["POST"])]

openapi_paths: dict[str, Any] = {
    "/api/voice/pack": {
        "get": operation(
            "The office's own voice clips as one pack (ZIP with manifest.json; docs/voice.md)",
            {"type": "string", "format": "binary"},
            errors=(401, 403),
            security=ADMIN,
            media="application/zip",
        ),
        "post": operation(
            "Import a voice pack into display.clips_dir: each clip checked, trimmed and levelled",
            ref(VoicesImported),
            body=ref(Pack),
            errors=(400, 401, 403, 413),
            security=ADMIN,
        ),
    },
}
