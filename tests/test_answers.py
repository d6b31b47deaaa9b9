"""queue_server.answers: a JSON answer goes out through its declared Struct, and a key the
declaration lacks is never dropped silently (logged and sent as is; a 500 under tests)."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route
from starlette.testclient import TestClient

from queue_server import answers, schemas
from queue_server.answers import Answer
from queue_server.openapi import operation
from queue_server.schemas import ref


class Rated(msgspec.Struct, kw_only=True):
    ok: bool
    level: int = 0


def app_answering(data: Any) -> Starlette:
    async def handler(request: Request) -> Answer:
        return Answer(data, status_code=201)

    routes = [Route("/x", handler, methods=["POST"])]
    app = Starlette(routes=routes)
    doc = {"paths": {"/x": {"post": operation("x", ref(Rated), status="201")}}}
    app.state.answers = answers.declare(routes, doc)
    return app


def test_an_answer_has_the_declared_fields_in_the_declared_types(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(answers.STRICT_ENV, "1")
    with TestClient(app_answering({"ok": 1})) as client:
        r = client.post("/x")
    assert r.status_code == 201
    assert r.content == b'{"ok":true,"level":0}'  # a stored 0/1 as a boolean, the declared default
    assert r.headers["content-length"] == str(len(r.content))


def test_a_key_the_declaration_lacks_fails_under_tests(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(answers.STRICT_ENV, "1")
    with TestClient(app_answering({"ok": True, "secret_field": 3}), raise_server_exceptions=False) as client:
        assert client.post("/x").status_code == 500


def test_a_key_the_declaration_lacks_is_logged_and_still_sent(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    monkeypatch.setenv(answers.STRICT_ENV, "0")
    with caplog.at_level(logging.ERROR, "motcua.answers"), TestClient(app_answering({"ok": True, "x": {"y": 1}})) as c:
        r = c.post("/x")
    assert r.status_code == 201 and r.json() == {"ok": True, "x": {"y": 1}}
    assert "lacks" in caplog.text and "$.x" in caplog.text


def test_nested_keys_are_checked_too():
    view = {"counter": {"number": 1, "state": "open", "mood": "fine"}, "ticket": None, "seq": 1}
    assert answers.dropped(view, msgspec.convert(view, schemas.CounterView)) == ["$.counter.mood"]


def test_a_time_is_sent_as_the_engine_wrote_it(monkeypatch: pytest.MonkeyPatch):
    """Times stay the text ``to_dict`` makes (msgspec alone would write UTC as "Z")."""
    monkeypatch.setenv(answers.STRICT_ENV, "1")
    counter = {"number": 2, "state": "open", "since": "2026-12-03T08:30:12.345678+00:00"}
    body = answers.encode({"counter": counter, "ticket": None, "seq": 1}, schemas.CounterView, "test")
    assert b'"since":"2026-12-03T08:30:12.345678+00:00"' in body


def test_the_snapshot_declaration_covers_what_every_screen_gets(tmp_path):
    """``GET /api/state`` (the snapshot the screens also get over /ws) is sent as built, so
    nothing else checks its declaration: every key of the public and the staff snapshot of
    a busy office, printers and bookings on, is declared, in its declared type."""
    from queue_server.app import create_app
    from queue_server.config import load_config
    from tests.support import JSON_HEADERS, KIOSK_TOKEN, PASSWORD, add_staff, write_config

    path = write_config(tmp_path)
    add_staff(path, {"clerk1": "clerk"})
    kiosk = {"Authorization": f"Bearer {KIOSK_TOKEN}"}
    with TestClient(create_app(load_config(path)), headers=JSON_HEADERS) as client:
        for service in ("CT", "CT", "HT", "CT"):
            assert client.post("/api/tickets", json={"service": service}, headers=kiosk).status_code == 201
        public = client.get("/api/state").json()
        login = {"username": "clerk1", "password": PASSWORD, "counter": 1}
        assert client.post("/api/login", json=login).status_code == 200
        assert client.post("/api/counters/1/next", json={"current": None}).status_code == 200
        assert client.post("/api/counters/1/no-show", json={}).status_code == 200
        assert client.post("/api/counters/1/next", json={"current": None}).status_code == 200
        assert client.post("/api/counters/1/start", json={}).status_code == 200
        assert client.post("/api/counters/1/done", json={}).status_code == 200
        assert client.post("/api/counters/1/next", json={"current": None}).status_code == 200
        staff = client.get("/api/state").json()
    assert staff["waiting"] and staff["no_shows"] and staff["latest_calls"] and "printers" in staff
    assert any(c["last_done"] for c in staff["counters"]) and any(c["staff"] for c in staff["counters"])
    for snapshot in (public, staff):
        typed = msgspec.convert(snapshot, schemas.Snapshot, strict=False)
        assert answers.dropped(snapshot, typed) == []
        assert list(answers.changed(snapshot, msgspec.json.decode(msgspec.json.encode(typed)))) == []
