"""A voice pack: an office's recordings as one file, exported and imported elsewhere, each
clip checked and levelled on the way in (queue_server.voicepack; format in docs/voice.md)."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from queue_server.app import create_app
from queue_server.config import load_config
from tests.support import JSON_HEADERS, PASSWORD, add_staff, write_config
from tests.test_voice import active_rms_db, tone


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    path = write_config(tmp_path)
    add_staff(path, {"boss": "admin", "clerk1": "clerk"})
    with TestClient(create_app(load_config(path), printing=False), headers=JSON_HEADERS) as c:
        yield c


def sign_in(client: TestClient, username: str) -> None:
    assert client.post("/api/login", json={"username": username, "password": PASSWORD}).status_code == 200


def pack(clips: dict[str, bytes], manifest: dict | None = None) -> str:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(
            "manifest.json",
            json.dumps(
                manifest or {"format": "motcua-voice-pack", "version": 1, "clips": {name: "" for name in clips}}
            ),
        )
        for name, data in clips.items():
            z.writestr(f"{name}.wav", data)
    return base64.b64encode(out.getvalue()).decode()


def test_a_pack_imported_in_one_office_is_levelled_and_exports_again_whole(client: TestClient, tmp_path: Path):
    sign_in(client, "boss")
    r = client.post(
        "/api/voice/pack",
        json={
            "pack": pack(
                {
                    "muoi2": tone(0.5, 0.9),
                    "lam": tone(0.4, 0.05),
                    "../secret": tone(0.2, 0.5),
                    "hai": b"not a wav",
                    "chime": b"#!/bin/sh not a chime",
                }
            )
        },
    )
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["imported"] == ["lam", "muoi2"]
    assert set(result["skipped"]) == {"../secret", "hai", "chime"}
    clips = tmp_path / "var" / "clips"
    assert sorted(p.name for p in clips.iterdir()) == ["lam.wav", "muoi2.wav"]
    assert abs(active_rms_db(clips / "lam.wav") - active_rms_db(clips / "muoi2.wav")) <= 1.0
    # The server now says those words with the office's voice.
    assert client.get("/audio/clips/lam.wav").content == (clips / "lam.wav").read_bytes()

    exported = client.get("/api/voice/pack")
    assert exported.status_code == 200 and exported.headers["content-type"] == "application/zip"
    z = zipfile.ZipFile(io.BytesIO(exported.content))
    manifest = json.loads(z.read("manifest.json"))
    assert manifest["format"] == "motcua-voice-pack" and manifest["version"] == 1
    assert manifest["clips"] == {"lam": "lăm", "muoi2": "mươi"}
    assert z.read("lam.wav") == (clips / "lam.wav").read_bytes()
    audit = client.get("/api/admin/audit").json()["audit"]
    assert audit[0]["action"] == "voice_pack_imported" and audit[0]["details"]["clips"] == ["lam", "muoi2"]


def test_a_pack_is_for_admins_and_a_wrong_file_is_a_400_that_writes_nothing(client: TestClient, tmp_path: Path):
    assert client.get("/api/voice/pack").status_code == 401
    sign_in(client, "clerk1")
    assert client.post("/api/voice/pack", json={"pack": pack({"lam": tone(0.3, 0.3)})}).status_code == 403
    client.post("/api/logout")
    sign_in(client, "boss")
    for body in (
        {"pack": "***"},
        {"pack": base64.b64encode(b"PK not a zip").decode()},
        {},
        {"pack": pack({"lam": tone(0.3, 0.3)}, {"format": "other", "clips": {"lam": ""}})},
    ):
        r = client.post("/api/voice/pack", json=body)
        assert r.status_code == 400, body
        assert r.json()["message"] and r.json()["message_en"]
    assert not (tmp_path / "var" / "clips").exists() or not any((tmp_path / "var" / "clips").iterdir())
