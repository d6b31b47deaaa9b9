"""queue_server.guard against a real server: cross-site requests are refused (403/415, also in
a real browser from another 127.0.0.1 port), every page carries the security headers and
runs under its Content-Security-Policy, forwarded headers count only from trusted proxies,
an error never drops a kept-alive connection, and logs never hold tokens."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Route
from websockets.asyncio.client import connect as ws_connect

from queue_server.app import create_app
from queue_server.config import load_config
from queue_server.guard import redact
from tests.browser import browser  # noqa: F401  (fixture)
from tests.support import KIOSK_TOKEN, PASSWORD, ServerProcess, add_staff, free_port, http, login, write_config

STAFF = {"clerk1": "clerk", "clerk2": "clerk", "boss": "admin"}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("guard")
    config_path = write_config(folder)
    add_staff(config_path, STAFF)
    proc = ServerProcess(folder, config_path).start()
    try:
        yield proc
    finally:
        proc.stop()


def seq(srv: ServerProcess) -> int:
    return int(http("GET", srv.base_url + "/healthz")[1]["seq"])


def raw(port: int, data: bytes) -> list[bytes]:
    """Send ``data`` (one or more requests, the last with ``Connection: close``) on one
    connection; the raw responses."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        chunks = b""
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks += chunk
    return [b"HTTP/1.1" + part for part in chunks.split(b"HTTP/1.1")[1:]]


def post_raw(srv: ServerProcess, path: str, body: bytes, headers: dict[str, str]) -> int:
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\nContent-Length: {len(body)}\r\n{head}"
        "Connection: close\r\n\r\n"
    ).encode() + body
    return int(raw(srv.port, request)[0][9:12])


# ---------------------------------------------------------------------------- CSRF over HTTP


def test_a_state_change_without_json_content_type_is_415_and_changes_nothing(srv: ServerProcess) -> None:
    cookie = login(srv.base_url, "boss")
    before = seq(srv)
    body = b'{"username": "evil", "password": "evil-pass-1", "role": "admin"}'
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None):
        headers = {"Cookie": cookie}
        if content_type:
            headers["Content-Type"] = content_type
        assert post_raw(srv, "/api/admin/users", body, headers) == 415, content_type
    ticket = b'{"service": "CT", "request_id": "csrf-1"}'
    assert (
        post_raw(srv, "/api/tickets", ticket, {"Authorization": f"Bearer {KIOSK_TOKEN}", "Content-Type": "text/plain"})
        == 415
    )
    assert post_raw(srv, "/api/counters/1/close", b"", {"Cookie": cookie}) == 415
    users = http("GET", srv.base_url + "/api/admin/users", cookie=cookie)[1]["users"]
    assert "evil" not in {u["username"] for u in users}
    assert seq(srv) == before
    # JSON with a charset is JSON.
    assert (
        post_raw(
            srv,
            "/api/tickets",
            ticket,
            {"Authorization": f"Bearer {KIOSK_TOKEN}", "Content-Type": "application/json; charset=utf-8"},
        )
        == 201
    )


def test_a_foreign_origin_or_referer_is_403_own_and_allowed_origins_pass(tmp_path: Path) -> None:
    config_path = write_config(tmp_path, server={"allowed_origins": ["https://motcua.lan"]})
    add_staff(config_path, {"boss": "admin"})
    with ServerProcess(tmp_path, config_path) as proc:
        cookie = login(proc.base_url, "boss")
        own = f"http://127.0.0.1:{proc.port}"
        json_headers = {"Cookie": cookie, "Content-Type": "application/json"}
        body = b'{"reason": "x"}'
        for origin in (
            f"http://127.0.0.1:{proc.port + 1}",
            "http://evil.example",
            "null",
            f"https://127.0.0.1:{proc.port}",
        ):
            assert post_raw(proc, "/api/counters/1/pause", body, {**json_headers, "Origin": origin}) == 403, origin
        assert (
            post_raw(
                proc,
                "/api/counters/1/pause",
                body,
                {**json_headers, "Referer": f"http://127.0.0.1:{proc.port + 1}/attack.html"},
            )
            == 403
        )
        # Own origin and the configured one reach the handler (409: counter 1 is not open).
        assert post_raw(proc, "/api/counters/1/pause", body, {**json_headers, "Origin": own}) == 409
        assert post_raw(proc, "/api/counters/1/pause", body, {**json_headers, "Referer": f"{own}/counter/1"}) == 409
        assert post_raw(proc, "/api/counters/1/pause", body, {**json_headers, "Origin": "https://motcua.lan"}) == 409


ATTACK_PAGE = """<!doctype html><meta charset="utf-8"><title>prize</title>
<form id="f" method="post" enctype="text/plain" action="{base}/api/admin/users" target="sink">
<input name='{{"username":"evil","password":"evil-pass-1","role":"admin","x":"' value='"}}'></form>
<iframe name="sink"></iframe>
<script src="/attack.js"></script>"""
ATTACK_JS = """
document.getElementById("f").submit();
const base = "{base}";
const tries = [
  fetch(base + "/api/counters/1/pause", {{method: "POST", mode: "no-cors", credentials: "include",
        body: JSON.stringify({{reason: "hacked"}})}}),
  fetch(base + "/api/counters/1/pause", {{method: "POST", credentials: "include",
        headers: {{"Content-Type": "application/json"}}, body: JSON.stringify({{reason: "hacked"}})}}),
  fetch(base + "/api/admin/users", {{method: "POST", mode: "no-cors", credentials: "include",
        body: JSON.stringify({{username: "evil2", password: "evil-pass-1", role: "admin"}})}}),
  fetch(base + "/api/tickets", {{method: "POST", mode: "no-cors",
        body: JSON.stringify({{service: "CT", request_id: "csrf-browser"}})}}),
  fetch(base + "/api/tickets", {{method: "POST", headers: {{"Authorization": "Bearer {token}",
        "Content-Type": "application/json"}}, body: JSON.stringify({{service: "CT", request_id: "csrf-cors"}})}}),
];
Promise.allSettled(tries).then(() => {{ setTimeout(() => {{ document.title = "done"; }}, 500); }});
"""


@contextlib.contextmanager
def attacker_site(base: str) -> Iterator[str]:
    """A page on another port of 127.0.0.1 (same site, other origin)."""
    files = {
        "/": ATTACK_PAGE.format(base=base).encode(),
        "/attack.js": ATTACK_JS.format(base=base, token=KIOSK_TOKEN).encode(),
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            data = files.get(self.path.split("?")[0], b"")
            self.send_response(200 if data else 404)
            self.send_header("Content-Type", "text/html" if self.path == "/" else "text/javascript")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_a_page_on_another_port_cannot_create_a_user_pause_a_counter_or_issue_a_ticket(
    srv: ServerProcess, browser: Any
) -> None:  # noqa: F811
    clerk = login(srv.base_url, "clerk2", 1)
    http("POST", srv.base_url + "/api/counters/1/resume", {}, cookie=clerk)
    before = seq(srv)
    context = browser.new_context()
    try:
        page = context.new_page()
        # The admin signs in on the real admin page: the browser holds the session cookie.
        page.goto(srv.base_url + "/admin")
        status = page.evaluate(
            """async (p) => (await fetch('/api/login', {method: 'POST',
            headers: {'Content-Type': 'application/json'}, body: JSON.stringify(p)})).status""",
            {"username": "boss", "password": PASSWORD, "counter": None},
        )
        assert status == 200
        with attacker_site(srv.base_url) as url:
            page.goto(url)
            page.wait_for_function("document.title === 'done'", timeout=10000)
    finally:
        context.close()
    boss = login(srv.base_url, "boss")
    users = {u["username"] for u in http("GET", srv.base_url + "/api/admin/users", cookie=boss)[1]["users"]}
    assert not users & {"evil", "evil2"}
    state = http("GET", srv.base_url + "/api/state")[1]
    assert next(c for c in state["counters"] if c["number"] == 1)["state"] == "open"
    assert seq(srv) == before  # no ticket, no pause, nothing
    http("POST", srv.base_url + "/api/counters/1/close", {}, cookie=clerk)


# ---------------------------------------------------------------------------- headers

PAGES = (
    "/",
    "/kiosk",
    "/display",
    "/counter/1",
    "/rate/1",
    "/admin",
    "/t/" + "A" * 22,
    "/static/js/live.js",
    "/healthz",
    "/api/state",
    "/no/such/page",
)


def test_every_response_carries_the_security_headers(srv: ServerProcess) -> None:
    for path in PAGES:
        response = raw(srv.port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())[0]
        head = response.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
        assert "content-security-policy: default-src 'self'" in head, path
        assert "frame-ancestors 'none'" in head and "'unsafe-inline'" not in head, path
        assert "x-frame-options: deny" in head, path
        assert "x-content-type-options: nosniff" in head, path
        assert "referrer-policy: no-referrer" in head, path


def test_pages_have_no_inline_scripts_or_styles() -> None:
    import re

    from tests.support import ROOT

    for html in (ROOT / "display").glob("*.html"):
        text = html.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), html.name
        assert "<style" not in text and not re.search(r"\sstyle=", text), html.name
        assert not re.search(r"\son[a-z]+=", text), html.name


# Records every Content-Security-Policy violation a page reports (init scripts are not
# subject to the policy).
CSP_WATCH = (
    "window.__csp = []; document.addEventListener('securitypolicyviolation', "
    "(e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
)


def test_every_screen_works_under_the_content_security_policy(srv: ServerProcess, browser: Any) -> None:  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(CSP_WATCH)
    errors: list[str] = []
    try:
        for path in ("/", "/display", "/counter/1", "/rate/1", "/admin", f"/kiosk?device=sanh&token={KIOSK_TOKEN}"):
            page = context.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
            response = page.goto(srv.base_url + path)
            assert response is not None and "script-src 'self'" in response.headers.get("content-security-policy", "")
            page.wait_for_load_state("networkidle")
            if path.startswith(("/display", "/counter", "/rate", "/kiosk")):
                page.wait_for_selector("html[data-online=true]", timeout=10000)
            if path.startswith("/kiosk"):
                before = seq(srv)
                page.locator("[data-service=CT]").first.click()
                page.wait_for_selector("#ticket-label:not(:empty)", timeout=10000)
                assert seq(srv) > before
                # The token left the address bar once the kiosk stored it.
                assert "token=" not in page.url
            assert page.evaluate("window.__csp") == [], path
            page.close()
    finally:
        context.close()
    assert not errors, errors


# ---------------------------------------------------------------------------- proxies


def test_forwarded_addresses_are_ignored_unless_from_a_trusted_proxy(srv: ServerProcess) -> None:
    """12 wrong passwords for one account, each 'from' another address: the account is
    throttled after 5, whatever X-Forwarded-For says."""
    statuses = []
    for i in range(12):
        body = f'{{"username": "clerk1", "password": "wrong-{i}"}}'.encode()
        statuses.append(
            post_raw(srv, "/api/login", body, {"Content-Type": "application/json", "X-Forwarded-For": f"10.9.8.{i}"})
        )
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}, statuses


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(tmp_path: Path) -> None:
    config_path = write_config(tmp_path, server={"trusted_proxies": ["127.0.0.1"]})
    add_staff(config_path, {f"u{i}": "clerk" for i in range(3)})
    with ServerProcess(tmp_path, config_path) as proc:

        def attempt(user: str, address: str, password: str = "wrong-password") -> int:
            body = f'{{"username": "{user}", "password": "{password}"}}'.encode()
            return post_raw(proc, "/api/login", body, {"Content-Type": "application/json", "X-Forwarded-For": address})

        # Rotating addresses still cannot guess one account's password.
        rotating = [attempt("u0", f"192.168.5.{i}") for i in range(8)]
        assert rotating[:5] == [401] * 5 and set(rotating[5:]) == {429}, rotating
        # One address guessing many accounts is throttled by address…
        many = [attempt(f"nobody{i}", "192.168.7.7") for i in range(22)]
        assert many[:20] == [401] * 20 and set(many[20:]) == {429}, many
        assert attempt("u1", "192.168.7.7", PASSWORD) == 429
        # …while another client (another forwarded address) signs in.
        assert attempt("u1", "192.168.7.8", PASSWORD) == 200


# ---------------------------------------------------------------------------- errors


def test_a_500_keeps_the_connection_alive_and_shows_no_details(tmp_path: Path) -> None:
    import uvicorn

    app = create_app(load_config(write_config(tmp_path)), printing=False)

    async def boom(request: Any) -> Any:
        raise RuntimeError("secret detail")

    app.router.routes.insert(0, Route("/api/boom", boom))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical", proxy_headers=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            threading.Event().wait(0.05)
        both = b"GET /api/boom HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        responses = raw(port, both)
        assert [int(r[9:12]) for r in responses] == [500, 200], responses
        assert b"secret" not in responses[0]
    finally:
        server.should_exit = True
        thread.join(10)


def test_a_client_hanging_up_mid_body_is_logged_at_info_without_a_traceback(srv: ServerProcess) -> None:
    cookie = login(srv.base_url, "boss")
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
        s.sendall(
            f"POST /api/admin/config/text HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\nCookie: {cookie}\r\n"
            'Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"text": "'.encode()
        )
    assert http("GET", srv.base_url + "/healthz")[0] == 200
    log = srv.log_path.read_text(errors="replace")
    for _ in range(50):
        if "hung up" in log:
            break
        threading.Event().wait(0.1)
        log = srv.log_path.read_text(errors="replace")
    assert "INFO motcua: client hung up during POST /api/admin/config/text" in log
    assert "Traceback" not in log and "ERROR" not in log


# ---------------------------------------------------------------------------- logs


def test_redact_hides_device_and_ticket_tokens_but_keeps_ids() -> None:
    line = (
        '127.0.0.1:5 - "GET /kiosk?device=sanh&token=abc-DEF_123 HTTP/1.1" 200 '
        '"GET /t/Zx9_abcdefghijklmnopqr" "GET /api/tickets/Zx9_abcdefghijklmnopqr" '
        '"POST /api/tickets/42/requeue" "GET /rate/2?token=tab-secret-1234" '
        '"GET /book/K7M-2QX" "POST /api/appointments/K7M2QX/cancel" "GET /api/appointments/slots?service=CT" '
        '"GET /api/appointments/services"'
    )
    out = redact(line)
    assert "abc-DEF_123" not in out and "Zx9_abcdefghijklmnopqr" not in out and "tab-secret" not in out
    assert "K7M-2QX" not in out and "K7M2QX" not in out and "/api/appointments/***/cancel" in out
    assert "/api/tickets/42/requeue" in out and "device=sanh" in out
    assert "/api/appointments/slots?service=CT" in out and "/api/appointments/services" in out


def test_access_logs_never_record_tokens(tmp_path: Path) -> None:
    proc = ServerProcess(tmp_path, write_config(tmp_path), log_level="info").start()
    try:
        status, ticket, _ = http(
            "POST", proc.base_url + "/api/tickets", {"service": "CT", "request_id": "log-1"}, token=KIOSK_TOKEN
        )
        assert status == 201
        for path in (
            f"/kiosk?device=sanh&token={KIOSK_TOKEN}",
            f"/t/{ticket['token']}",
            f"/api/tickets/{ticket['token']}",
        ):
            raw(proc.port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())

        async def connect_ws() -> None:
            async with ws_connect(proc.ws_url + f"?token={KIOSK_TOKEN}", proxy=None) as ws:
                await ws.recv()

        # In a thread: the module's browser keeps an event loop running in this one.
        worker = threading.Thread(target=asyncio.run, args=(connect_ws(),))
        worker.start()
        worker.join(10)
    finally:
        proc.stop()
    log_text = proc.log_path.read_text(errors="replace")
    assert "GET /kiosk?device=sanh&token=*** HTTP/1.1" in log_text
    assert KIOSK_TOKEN not in log_text and ticket["token"] not in log_text
