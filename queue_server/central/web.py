"""The central's web server: sign-in with the central's own admin accounts (never a site's),
the live overview over ``/ws``, a read-only monitor per site and the combined reports.

The overview is pushed, not polled: each committed page from a site republishes that
site's line (coalesced to at most one push per site every ``PUSH_SECONDS``), and a timer
republishes every line so "out of contact since 10:42" appears without any site speaking.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from .. import auth, guard
from ..api import read_json
from ..app import http_error, motcua_error
from ..errors import BadRequest, MotcuaError, NotFound, Unauthorized
from ..hub import Hub
from ..report_routes import export_dialect
from ..reports import parse_date, to_csv, to_xlsx
from . import accounts, kind_export, kind_reports, overview
from .config import CentralConfig
from .pull import Clock, Puller, utc_now
from .reports import GROUPINGS, build_central_report
from .store import CentralStore

log = logging.getLogger("motcua.central")
DISPLAY_DIR = Path(__file__).resolve().parent.parent.parent / "display"
PUSH_SECONDS = 0.5
REFRESH_SECONDS = 15.0


def _store(conn: HTTPConnection) -> CentralStore:
    return conn.app.state.store  # type: ignore[no-any-return]


async def _admin(conn: HTTPConnection) -> dict[str, Any]:
    user = await accounts.current_user(conn, _store(conn))
    if user is None:
        raise Unauthorized(
            "Hãy đăng nhập (tài khoản của central).", "Please sign in (a central account).", key="login_required"
        )
    return user


def page(name: str):  # type: ignore[no-untyped-def]
    async def handler(request: Request) -> Response:
        return FileResponse(DISPLAY_DIR / name, headers={"Cache-Control": "no-cache"})

    handler.__name__ = f"page_{name.split('.')[0].replace('-', '_')}"
    return handler


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse(
        {"ok": True, "sites": len(request.app.state.config.sites), "screens": len(request.app.state.hub)}
    )


async def login(request: Request) -> JSONResponse:
    body = await read_json(request, limit=16384)
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise BadRequest("Cần tên đăng nhập và mật khẩu.", "Username and password are required.", key="bad_login")
    address = request.client.host if request.client else "?"
    throttle: auth.LoginThrottle = request.app.state.throttle
    throttle.check(username, address)
    store = _store(request)
    user = await request.app.state.in_writer(accounts.check_password, store, username, password)
    if user is None:
        throttle.failed(username, address)
        raise Unauthorized("Sai tên đăng nhập hoặc mật khẩu.", "Wrong username or password.", key="bad_login")
    throttle.succeeded(username, address)
    sid = await request.app.state.in_writer(accounts.start_session, store, username)
    request.session.clear()
    request.session.update({"user": username, "sid": sid})
    return JSONResponse({"user": {"username": username, "display_name": user["display_name"]}})


async def logout(request: Request) -> JSONResponse:
    sid = request.session.get("sid")
    if isinstance(sid, str):
        await request.app.state.in_writer(accounts.end_session, _store(request), sid)
    request.session.clear()
    return JSONResponse({"ok": True})


async def me(request: Request) -> JSONResponse:
    user = await _admin(request)
    return JSONResponse(
        {
            "user": {"username": user["username"], "display_name": user["display_name"]},
            "central": request.app.state.config.central.name,
        }
    )


async def get_overview(request: Request) -> JSONResponse:
    await _admin(request)
    app = request.app
    return JSONResponse(
        await app.state.in_writer(overview.overview, app.state.config, _store(request), app.state.clock())
    )


async def get_monitor(request: Request) -> JSONResponse:
    await _admin(request)
    app = request.app
    site_id = request.path_params["site"]
    if site_id not in {s.id for s in app.state.config.sites}:
        raise NotFound("Không có điểm một cửa này.", "No such site.", key="site_not_found")
    return JSONResponse(
        await app.state.in_writer(overview.monitor, app.state.config, _store(request), site_id, app.state.clock())
    )


def _report_args(request: Request) -> tuple[str, dt.date, dt.date, str, list[str] | None]:
    q = request.query_params
    if not q.get("from") or not q.get("to"):
        raise BadRequest("Cần from và to (dd/mm/yyyy).", "from and to are required (dd/mm/yyyy).", key="bad_range")
    kind = q.get("kind") or "tickets"
    if kind == "tickets":
        by = q.get("by") or "site"
        if by not in GROUPINGS:
            raise BadRequest(
                f"Nhóm theo phải là một trong: {', '.join(GROUPINGS)}.",
                f"Group by must be one of: {', '.join(GROUPINGS)}.",
                key="bad_group",
            )
    else:
        by = q.get("by") or "site"
        kind_reports.check(kind, by)
    sites = [s for s in (q.get("site") or "").split(",") if s] or None
    return kind, parse_date(q["from"]), parse_date(q["to"]), by, sites


async def _report(request: Request) -> dict[str, Any]:
    await _admin(request)
    kind, date_from, date_to, by, sites = _report_args(request)
    config: CentralConfig = request.app.state.config
    path = str(_store(request).path)
    if kind == "tickets":
        return await asyncio.to_thread(build_central_report, path, config, date_from, date_to, by, sites)
    now = request.app.state.clock()
    return await asyncio.to_thread(
        kind_reports.build_kind_report, path, config, kind, date_from, date_to, by, sites, now
    )


async def get_report(request: Request) -> JSONResponse:
    return JSONResponse(await _report(request))


async def export_report(request: Request) -> Response:
    fmt = request.query_params.get("format", "xlsx")
    if fmt not in ("csv", "xlsx"):
        raise BadRequest("Định dạng phải là csv hoặc xlsx.", "Format must be csv or xlsx.", key="bad_format")
    dialect = export_dialect(request)
    report = await _report(request)
    kind = report.get("kind", "tickets")
    if kind == "tickets":
        name = f"bao-cao-tong-hop-{report['from']}-{report['to']}-{report['by']}.{fmt}"
        csv_of, xlsx_of = to_csv, to_xlsx
    else:
        name = kind_export.filename(report, fmt)
        csv_of, xlsx_of = kind_export.to_csv, kind_export.to_xlsx
    if fmt == "csv":
        return Response(
            csv_of(report, dialect),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    data = await asyncio.to_thread(xlsx_of, report)
    return Response(
        data,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def websocket_overview(websocket: WebSocket) -> None:
    app = websocket.app
    user = await accounts.current_user(websocket, app.state.store)
    if user is None or guard.foreign_origin(websocket.scope, frozenset()) is not None:
        await websocket.close(code=1008, reason="login required")
        return
    await websocket.accept()
    hub: Hub = app.state.hub
    sub = hub.subscribe("central")
    try:
        snap = await app.state.in_writer(overview.overview, app.state.config, app.state.store, app.state.clock())
        await websocket.send_text(json.dumps(snap, ensure_ascii=False))
        while True:
            text = await sub.queue.get()
            if sub.dropped:
                await websocket.close(code=1013, reason="too slow, reconnect")
                return
            await websocket.send_text(text)
    except (WebSocketDisconnect, ConnectionError, RuntimeError):
        pass
    finally:
        hub.unsubscribe(sub)


class Pusher:
    """Coalesces 'site X changed' into at most one push per site every PUSH_SECONDS."""

    def __init__(self, app: Starlette):
        self.app = app
        self.pending: set[str] = set()
        self.task: asyncio.Task[None] | None = None

    def changed(self, site_id: str) -> None:
        self.pending.add(site_id)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        await asyncio.sleep(PUSH_SECONDS)
        sites, self.pending = sorted(self.pending), set()
        state = self.app.state
        if not len(state.hub):
            return

        def rows() -> list[dict[str, Any]]:
            now = state.clock()
            return [overview.site_row(state.config, state.store, s, now) for s in sites]

        for row in await state.in_writer(rows):
            state.hub.publish({"central": json.dumps({"type": "site", "site": row}, ensure_ascii=False)})

    async def refresh_forever(self) -> None:
        state = self.app.state
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            if len(state.hub):
                try:
                    snap = await state.in_writer(overview.overview, state.config, state.store, state.clock())
                    state.hub.publish({"central": json.dumps(snap, ensure_ascii=False)})
                except Exception:
                    log.exception("overview refresh failed")


def secret_key(config: CentralConfig) -> str:
    path = config.resolve(config.central.secret_file)
    if path.is_file() and len(path.read_text().strip()) >= 32:
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    with contextlib.suppress(OSError):
        path.chmod(0o600)
    return key


def create_central_app(
    config: CentralConfig, *, database: str | Path | None = None, clock: Clock = utc_now, pull: bool = True
) -> Starlette:
    """The central's app. ``pull=False`` leaves the sites alone (tests drive ``app.state.puller``)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = CentralStore(database or config.resolve(config.central.database))
        app.state.store = store
        pusher = Pusher(app)
        puller = Puller(config, store, clock=clock, on_change=pusher.changed)
        app.state.puller = puller

        async def in_writer(fn: Any, *args: Any) -> Any:
            return await asyncio.get_running_loop().run_in_executor(puller.writer, fn, *args)

        app.state.in_writer = in_writer
        if pull:
            puller.start()
        refresh = asyncio.create_task(pusher.refresh_forever())
        try:
            yield
        finally:
            refresh.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresh
            await puller.stop()
            store.close()

    routes: list[Any] = [
        Route("/healthz", healthz),
        Route("/api/login", login, methods=["POST"]),
        Route("/api/logout", logout, methods=["POST"]),
        Route("/api/me", me),
        Route("/api/central/overview", get_overview),
        Route("/api/central/sites/{site}/monitor", get_monitor),
        Route("/api/central/reports", get_report),
        Route("/api/central/reports/export", export_report),
        WebSocketRoute("/ws", websocket_overview),
        Route("/", page("central.html")),
        Route("/site/{site}", page("central-site.html")),
        Mount("/static", StaticFiles(directory=DISPLAY_DIR, check_dir=False), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            # The offices' guards: forwarded headers only from central.trusted_proxies,
            # security headers (CSP), no state change from another origin or without a JSON
            # body, no traceback to a user.
            *guard.proxy_middleware(config.central.trusted_proxies),
            Middleware(guard.SecurityHeaders),
            Middleware(guard.CrossSiteGuard, allowed=guard.allowed_origins("", [])),
            Middleware(
                SessionMiddleware,
                secret_key=secret_key(config),
                session_cookie="motcua_central",
                same_site="strict",
                https_only=config.central.https,
                max_age=14 * 24 * 3600,
            ),
            Middleware(guard.CatchErrors),
        ],
        exception_handlers={MotcuaError: motcua_error, HTTPException: http_error},
        lifespan=lifespan,
    )
    app.state.config = config
    app.state.clock = clock
    app.state.hub = Hub()
    app.state.throttle = auth.LoginThrottle()
    return app
