"""The security matrix, against a real server: who may change what, sessions, tokens,
limits, and what error responses never reveal. See docs/security.md."""

from __future__ import annotations

import asyncio
import base64
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from queue_server.app import create_app
from queue_server.config import load_config
from tests.support import KIOSK_TOKEN, PASSWORD, ROOT, ServerProcess, add_staff, http, login, write_config

# Writes anyone may make: signing in/out, and the rating tablet (one rating for the ticket
# that counter just finished, checked by the server).
PUBLIC_WRITES = {"/api/login", "/api/logout", "/api/counters/{n}/rating"}
PATH_VALUES = {"n": "2", "id": "1", "code": "CT", "token": "A" * 22}
STAFF = {**{f"clerk{i}": "clerk" for i in range(1, 6)}, "boss": "admin", "locked": "clerk"}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("security")
    config_path = write_config(folder)
    add_staff(config_path, STAFF)
    proc = ServerProcess(folder, config_path).start()
    try:
        yield proc
    finally:
        proc.stop()


def all_routes(tmp_path: Path) -> list[tuple[str, str]]:
    """(method, path) of every HTTP route the app has, feature modules included, so a new
    endpoint is in the matrix the day it is added."""
    app = create_app(load_config(write_config(tmp_path)))
    return [
        (method, route.path)
        for route in app.routes
        if isinstance(route, Route) and route.methods
        for method in sorted(route.methods - {"HEAD", "OPTIONS"})
    ]


def write_routes(tmp_path: Path) -> list[tuple[str, str]]:
    out = [(m, p) for m, p in all_routes(tmp_path) if m != "GET"]
    assert out
    return out


def admin_reads(tmp_path: Path) -> list[tuple[str, str]]:
    return [(m, p) for m, p in all_routes(tmp_path) if m == "GET" and p.startswith("/api/admin/")]


def fill(path: str) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: PATH_VALUES.get(m.group(1), "1"), path)


def assert_error_body(body: dict[str, Any]) -> None:
    assert set(body) >= {"error", "message", "message_en"}, body
    assert body["message"] and body["message_en"]


def event_count(srv: ServerProcess) -> int:
    return int(http("GET", srv.base_url + "/healthz")[1]["seq"])


def test_every_state_changing_endpoint_needs_a_session_or_device_token(srv: ServerProcess, tmp_path: Path) -> None:
    seq = event_count(srv)
    checked = 0
    for method, path in write_routes(tmp_path):
        if path in PUBLIC_WRITES or not path.startswith("/api/") or path.startswith("/api/appointments"):
            continue
        status, body, _ = http(method, srv.base_url + fill(path), {})
        assert status == 401, (method, path, status, body)
        assert_error_body(body)
        checked += 1
    assert checked >= 14
    assert event_count(srv) == seq
    for method, path in admin_reads(tmp_path):  # admin pages read accounts, audit, config
        status, body, _ = http(method, srv.base_url + fill(path))
        assert status == 401, (path, status)
        assert_error_body(body)


def test_a_wrong_or_misplaced_token_is_no_credential(srv: ServerProcess) -> None:
    url = srv.base_url + "/api/tickets"
    assert http("POST", url, {"service": "CT"}, token="kiosk-sanh-doi-ma-nax")[0] == 401
    assert http("POST", url, {"service": "CT"}, token=KIOSK_TOKEN[:-1])[0] == 401
    assert http("POST", url, {"service": "CT"}, cookie=f"motcua_session={KIOSK_TOKEN}")[0] == 401
    # A kiosk token is not a staff session.
    assert http("POST", srv.base_url + "/api/counters/1/next", {}, token=KIOSK_TOKEN)[0] == 401
    # A forged session cookie (valid base64 JSON, no signature) is ignored.
    forged = base64.b64encode(b'{"user": "boss", "counter": 1}').decode()
    assert http("POST", srv.base_url + "/api/services/CT", {"open": False}, cookie=f"motcua_session={forged}")[0] == 401


def test_a_clerk_at_counter_2_cannot_act_for_counter_3(srv: ServerProcess) -> None:
    cookie = login(srv.base_url, "clerk2", 2)
    other = login(srv.base_url, "clerk3", 3)
    http("POST", srv.base_url + "/api/tickets", {"service": "HT", "request_id": "sec-3"}, token=KIOSK_TOKEN)
    seq = event_count(srv)
    for action in (
        "open",
        "next",
        "recall",
        "start",
        "done",
        "no-show",
        "transfer",
        "call",
        "pause",
        "resume",
        "close",
    ):
        body = {"number": "2001", "reason": "x", "service": "CT"}
        status, answer, _ = http("POST", srv.base_url + f"/api/counters/3/{action}", body, cookie=cookie)
        assert status == 403, (action, answer)
        assert_error_body(answer)
    assert event_count(srv) == seq
    # …while acting for its own counter works.
    assert http("POST", srv.base_url + "/api/counters/2/next", {}, cookie=cookie)[0] == 200
    http("POST", srv.base_url + "/api/counters/2/close", {}, cookie=cookie)
    http("POST", srv.base_url + "/api/counters/3/close", {}, cookie=other)


def test_admin_endpoints_refuse_clerks(srv: ServerProcess, tmp_path: Path) -> None:
    cookie = login(srv.base_url, "clerk1")
    status, issued, _ = http(
        "POST", srv.base_url + "/api/tickets", {"service": "CT", "request_id": "sec-adm"}, token=KIOSK_TOKEN
    )
    assert status in (200, 201)
    seq = event_count(srv)
    targets = [("POST", f"/api/tickets/{issued['id']}/cancel", {}), ("POST", "/api/services/CT", {"open": False})]
    targets += [
        (m, fill(p), {}) for m, p in write_routes(tmp_path) + admin_reads(tmp_path) if p.startswith("/api/admin/")
    ]
    for method, path, body in targets:
        status, answer, _ = http(method, srv.base_url + path, body if method != "GET" else None, cookie=cookie)
        assert status == 403, (path, answer)
        assert_error_body(answer)
    assert event_count(srv) == seq
    state = http("GET", srv.base_url + "/api/state")[1]
    assert next(s for s in state["services"] if s["code"] == "CT")["open"] is True


def test_a_disabled_account_cannot_sign_in_and_loses_its_session(srv: ServerProcess) -> None:
    cookie = login(srv.base_url, "locked")
    assert http("GET", srv.base_url + "/api/me", cookie=cookie)[0] == 200
    # An admin disables the account while the server runs (the admin screen's route).
    admin = login(srv.base_url, "boss")
    status, body, _ = http("POST", srv.base_url + "/api/admin/users/locked/disabled", {"disabled": True}, cookie=admin)
    assert status == 200, body
    status, body, _ = http("POST", srv.base_url + "/api/login", {"username": "locked", "password": PASSWORD})
    assert status == 401
    assert_error_body(body)
    assert http("GET", srv.base_url + "/api/me", cookie=cookie)[0] == 401


def test_repeated_failed_sign_ins_are_refused_with_429(srv: ServerProcess) -> None:
    url = srv.base_url + "/api/login"
    statuses = [http("POST", url, {"username": "clerk5", "password": f"wrong-{i}"})[0] for i in range(5)]
    assert statuses == [401] * 5
    status, body, _ = http("POST", url, {"username": "clerk5", "password": PASSWORD})
    assert status == 429  # even the right password, until the minute has passed
    assert_error_body(body)
    # Another account from the same address is not locked out.
    assert http("POST", url, {"username": "clerk4", "password": PASSWORD})[0] == 200


def cookie_header(srv: ServerProcess) -> str:
    status, _, headers = http("POST", srv.base_url + "/api/login", {"username": "clerk1", "password": PASSWORD})
    assert status == 200
    return next(v for k, v in headers.items() if k.lower() == "set-cookie")


def test_the_session_cookie_is_httponly_and_samesite_strict(srv: ServerProcess) -> None:
    header = cookie_header(srv)
    assert header.startswith("motcua_session=")
    flags = [f.strip().lower() for f in header.split(";")]
    assert "httponly" in flags and "samesite=strict" in flags
    assert "secure" not in flags  # plain HTTP on the LAN: a Secure cookie would never come back


def test_the_session_cookie_is_secure_when_served_over_https(tmp_path: Path) -> None:
    config_path = write_config(tmp_path, server={"https": True})
    add_staff(config_path, {"clerk1": "clerk"})
    with ServerProcess(tmp_path, config_path) as proc:
        flags = [f.strip().lower() for f in cookie_header(proc).split(";")]
    assert {"secure", "httponly", "samesite=strict"} <= set(flags)


async def _ws_first(url: str, headers: dict[str, str]) -> tuple[str, Any]:
    try:
        async with ws_connect(url, additional_headers=headers, proxy=None, open_timeout=5) as ws:
            msg = await asyncio.wait_for(ws.recv(), 5)
            return "message", msg
    except InvalidStatus as exc:
        return "refused", exc.response.status_code
    except ConnectionClosed as exc:
        return "closed", exc.rcvd.code if exc.rcvd else None


def test_staff_websocket_with_a_foreign_origin_is_refused(srv: ServerProcess) -> None:
    cookie = login(srv.base_url, "clerk1")
    foreign = asyncio.run(_ws_first(srv.ws_url, {"Cookie": cookie, "Origin": "http://evil.example"}))
    assert foreign == ("refused", 403)  # docs/security.md: "the handshake is refused with 403"
    kind, msg = asyncio.run(_ws_first(srv.ws_url, {"Cookie": cookie, "Origin": srv.base_url}))
    assert kind == "message" and '"waiting": [' in msg  # the staff snapshot
    # Without a session the foreign page gets the public stream only: no staff fields.
    kind, msg = asyncio.run(_ws_first(srv.ws_url, {"Origin": "http://evil.example"}))
    assert kind == "message" and '"waiting": [' not in msg and '"staff"' not in msg


def raw_request(srv: ServerProcess, data: bytes) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(data)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
    response = b"".join(chunks)
    return int(response[9:12]), response.split(b"\r\n\r\n", 1)[-1]


def test_request_bodies_over_the_limit_are_refused_with_413(srv: ServerProcess) -> None:
    seq = event_count(srv)
    big = {"service": "CT", "request_id": "x", "pad": "x" * 300_000}
    status, body, _ = http("POST", srv.base_url + "/api/tickets", big, token=KIOSK_TOKEN)
    assert status == 413
    assert_error_body(body)
    assert http("POST", srv.base_url + "/api/login", {"username": "x" * 300_000, "password": "y"})[0] == 413
    # Chunked, so the size is not declared up front: still cut off at the limit.
    payload = b'{"service": "CT", "pad": "' + b"x" * 600_000 + b'"}'
    chunked = (
        b"".join(
            b"%x\r\n%s\r\n" % (len(payload[i : i + 4096]), payload[i : i + 4096]) for i in range(0, len(payload), 4096)
        )
        + b"0\r\n\r\n"
    )
    status, raw = raw_request(
        srv,
        (
            f"POST /api/tickets HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KIOSK_TOKEN}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        ).encode()
        + chunked,
    )
    assert status == 413, raw[:300]
    assert event_count(srv) == seq


def test_status_tokens_are_long_random_and_not_derived_from_the_ticket(srv: ServerProcess) -> None:
    tokens = []
    for i in range(30):
        status, body, _ = http(
            "POST", srv.base_url + "/api/tickets", {"service": "LD", "request_id": f"tok-{i}"}, token=KIOSK_TOKEN
        )
        assert status == 201
        token = body["token"]
        assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
        assert len(token) * 6 >= 64 + 6, token  # base64url: ≥ 64 bits of randomness
        assert str(body["number"]) not in token or len(token) >= 16
        assert body["status_url"].endswith("/t/" + token)
        tokens.append((token, body))
    assert len({t for t, _ in tokens}) == len(tokens)
    # No shared structure between consecutive tokens (a counter or a timestamp would show).
    common = [len(__import__("os").path.commonprefix([a, b])) for (a, _), (b, _) in zip(tokens, tokens[1:])]
    assert max(common) <= 4
    token, body = tokens[0]
    assert http("GET", srv.base_url + f"/api/tickets/{token}")[0] == 200
    for guess in (
        str(body["id"]),
        str(body["number"]),
        body["label"],
        token[:-1] + ("A" if token[-1] != "A" else "B"),
        "A" * len(token),
    ):
        assert http("GET", srv.base_url + f"/api/tickets/{guess}")[0] == 404


def test_public_reads_show_no_tokens_or_staff(srv: ServerProcess) -> None:
    http("POST", srv.base_url + "/api/tickets", {"service": "CT", "request_id": "pub"}, token=KIOSK_TOKEN)
    cookie = login(srv.base_url, "clerk1", 1)
    http("POST", srv.base_url + "/api/counters/1/next", {}, cookie=cookie)
    state = http("GET", srv.base_url + "/api/state")[1]
    text = repr(state)
    assert "'token'" not in text and "clerk1" not in text and "'waiting': [" not in text
    http("POST", srv.base_url + "/api/counters/1/done", {}, cookie=cookie)
    http("POST", srv.base_url + "/api/counters/1/close", {}, cookie=cookie)


LEAKS = re.compile(r"Traceback|File \"|\.py\b|/work/|/home/|/tmp/|site-packages|[A-Z]:\\\\", re.I)


def test_no_stack_trace_or_internal_path_in_error_responses(srv: ServerProcess, tmp_path: Path) -> None:
    b = srv.base_url
    cookie = login(b, "clerk1")
    requests: list[tuple[str, str, Any, dict[str, str]]] = [
        ("GET", "/no/such/page", None, {}),
        ("GET", "/api/tickets/" + "x" * 30, None, {}),
        ("DELETE", "/api/tickets", None, {}),
        ("POST", "/api/tickets", {"service": "NOPE"}, {"token": KIOSK_TOKEN}),
        ("POST", "/api/tickets", {"service": 12}, {"token": KIOSK_TOKEN}),
        ("POST", "/api/tickets", ["not", "an", "object"], {"token": KIOSK_TOKEN}),
        ("POST", "/api/counters/999/next", {}, {"cookie": cookie}),
        ("POST", "/api/counters/abc/next", {}, {"cookie": cookie}),
        ("POST", "/api/counters/1/next", {"current": "x"}, {"cookie": cookie}),
        ("POST", "/api/tickets/99999999/requeue", {}, {"cookie": cookie}),
        ("GET", "/audio/clips/..%2f..%2fconfig.toml", None, {}),
        ("GET", "/audio/clips/nope.wav", None, {}),
    ]
    for method, path, body, kw in requests:
        status, answer, _ = http(method, b + path, body, **kw)
        assert 400 <= status < 500, (method, path, status)
        assert not LEAKS.search(repr(answer)), (path, answer)
    for method, path in write_routes(tmp_path):
        for kw in ({}, {"cookie": cookie}):
            status, answer, _ = http(method, b + fill(path), {"x": "\x00", "number": -1}, **kw)
            assert status < 500, (method, path, status)
            assert not LEAKS.search(repr(answer)), (path, answer)
    status, raw = raw_request(
        srv,
        b"POST /api/tickets HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + KIOSK_TOKEN.encode() + b'\r\n\r\n{"a":',
    )
    assert status == 400 and not LEAKS.search(raw.decode(errors="replace"))


def test_an_unexpected_error_is_a_plain_500_without_details(tmp_path: Path) -> None:
    app = create_app(load_config(write_config(tmp_path)), printing=False)

    async def boom(request: Any) -> Any:
        raise RuntimeError(f"secret detail in {ROOT}/queue_server/x.py")

    app.router.routes.insert(0, Route("/api/boom", boom))
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/boom")
    assert response.status_code == 500
    assert_error_body(response.json())
    assert "secret" not in response.text and not LEAKS.search(response.text)
