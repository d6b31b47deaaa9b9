"""The HTTP guard around the app: who a request comes from, cross-site request refusal,
security headers, and no 500 that drops a connection or logs a client's hang-up as a bug.

Pure ASGI middleware, outermost first (see ``queue_server.app``)::

    ProxyHeadersMiddleware   X-Forwarded-For/-Proto believed only from server.trusted_proxies
    SecurityHeaders          CSP, frame-ancestors 'none', X-Frame-Options, nosniff, no referrer
    CrossSiteGuard           state-changing requests: own Origin/Referer (403), JSON only (415)
    CatchErrors              an unexpected error is a JSON 500, logged once; the kept-alive
                             connection stays usable; a client hanging up mid-body is logged
                             at info level, without a traceback

Why a JSON-only rule: a page on another site (or another port of this PC) can send a form
or a ``no-cors`` fetch with the clerk's cookie, but only with a "simple" content type
(``text/plain``, form encodings). ``application/json`` needs a CORS preflight, which this
server never grants. The Origin check stops the same requests in browsers that send it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("motcua")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Every screen loads only its own files: no inline script or style, no remote anything.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; media-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _error(key: str, vi: str, en: str) -> bytes:
    return json.dumps({"error": key, "message": vi, "message_en": en}, ensure_ascii=False).encode()


async def _send_json(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


# ---------------------------------------------------------------------------- origins


def normalize_origin(value: str) -> str | None:
    """``scheme://host[:port]`` in a canonical form (lower case, default port left out), or
    None for anything that is not an http(s) origin (``null``, garbage)."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme.lower(), parts.scheme.lower())
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}" if port in (None, _DEFAULT_PORTS[scheme]) else f"{scheme}://{host}:{port}"


def own_origin(scope: Scope) -> str | None:
    """The origin the browser used to reach this server: the scheme of the connection (as
    a trusted proxy reported it) and the Host header."""
    host = _header(scope, b"host")
    if not host:
        return None
    return normalize_origin(f"{scope.get('scheme', 'http')}://{host}")


def allowed_origins(public_url: str, extra: Iterable[str]) -> frozenset[str]:
    """``server.public_url``'s origin and ``server.allowed_origins``, normalized."""
    found = {normalize_origin(o) for o in (public_url, *extra) if o}
    return frozenset(o for o in found if o)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def foreign_origin(scope: Scope, allowed: frozenset[str]) -> str | None:
    """The Origin (or, without one, the Referer's origin) of this request when it is neither
    this server's own nor an allowed one; None when it is fine or absent."""
    sent = _header(scope, b"origin")
    if sent is None:
        referer = _header(scope, b"referer")
        if not referer:
            return None
        sent = referer
    origin = normalize_origin(sent)
    if origin is not None and (origin == own_origin(scope) or origin in allowed):
        return None
    return sent[:200]


# ---------------------------------------------------------------------------- middleware


def proxy_middleware(trusted_proxies: list[str]) -> list[Middleware]:
    """uvicorn's X-Forwarded-For/-Proto handling, believing only ``server.trusted_proxies``.
    With none configured (the default) the headers are ignored: whoever connects is the
    client. (``queue_server.cli.serve`` turns uvicorn's own copy, which trusts 127.0.0.1,
    off.)"""
    if not trusted_proxies:
        return []
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    return [Middleware(ProxyHeadersMiddleware, trusted_hosts=list(trusted_proxies))]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *[(k, v) for k, v in SECURITY_HEADERS if k not in present],
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


# Endpoints whose body is a CSV file (text/csv is not a CORS-safelisted type either: a page
# elsewhere cannot send it without a preflight we never answer).
CSV_PATHS = frozenset({"/api/dossiers/import"})


class CrossSiteGuard:
    """Refuses state-changing requests from other origins (403) and without a JSON body
    type (415), before any handler runs."""

    def __init__(self, app: ASGIApp, allowed: frozenset[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        foreign = foreign_origin(scope, self.allowed)
        if foreign is not None:
            log.warning("refused %s %s from foreign origin %r", scope["method"], scope["path"], foreign)
            await _send_json(
                send,
                403,
                _error(
                    "foreign_origin",
                    "Yêu cầu từ trang khác bị từ chối.",
                    "Request from another site refused.",
                ),
            )
            return
        content_type = (_header(scope, b"content-type") or "").split(";", 1)[0].strip().lower()
        if content_type != "application/json" and not (content_type == "text/csv" and scope["path"] in CSV_PATHS):
            await _send_json(
                send,
                415,
                _error(
                    "unsupported_media_type",
                    "Dữ liệu phải gửi dạng JSON (Content-Type: application/json).",
                    "Send the body as JSON (Content-Type: application/json).",
                ),
            )
            return
        await self.app(scope, receive, send)


class CatchErrors:
    """Innermost safety net. Starlette's own last-resort handler re-raises after answering,
    which makes the server drop the connection; this one answers and returns."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except ClientDisconnect:
            log.info("client hung up during %s %s", scope["method"], scope["path"])
        except Exception:
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if not started:
                await _send_json(
                    send,
                    500,
                    _error(
                        "internal",
                        "Lỗi hệ thống: hãy thử lại hoặc báo cán bộ kỹ thuật.",
                        "Internal error: try again or tell the IT staff.",
                    ),
                )


# ---------------------------------------------------------------------------- logs

# A kiosk's or tablet's first setup URL (?token=…) and a ticket's status URL carry secrets.
_QUERY_TOKEN = re.compile(r"([?&](?:token|device_token)=)[^&\s\"]*", re.I)
_PATH_TOKEN = re.compile(r"(/t/|/api/tickets/)(?![0-9]+(?:/|\s|\"|$))[^/?\s\"]+")
# A booking code: with the phone's last 4 digits it cancels or moves the booking.
_BOOKING_CODE = re.compile(r"(/book/|/api/appointments/)(?!(?:services|slots)(?:[/?\s\"]|$))[^/?\s\"]+")


def redact(text: str) -> str:
    """``text`` with device and ticket tokens and booking codes replaced by ``***``."""
    return _BOOKING_CODE.sub(r"\1***", _PATH_TOKEN.sub(r"\1***", _QUERY_TOKEN.sub(r"\1***", text)))


class RedactTokens(logging.Filter):
    """Keeps tokens out of uvicorn's access log and WebSocket handshake lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def redact_server_logs(names: tuple[str, ...] = ("uvicorn.access", "uvicorn.error")) -> None:
    """Install ``RedactTokens`` on uvicorn's loggers (once)."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())


def client_address(scope: Scope) -> str:
    client: Any = scope.get("client")
    return str(client[0]) if client else "?"
