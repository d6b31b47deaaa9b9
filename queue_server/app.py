"""The Starlette application: routes, the one error handler, pages, and the lifespan that
opens the store and starts the day-rollover timer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from . import answers, api, auth, dossier_desk, features, guard, openapi
from .backup import backup_forever
from .config import Config
from .errors import ConfigError, MotcuaError, NotFound
from .office import Clock, Office, utc_now
from .printing.service import PrintService
from .store import Store
from .ws import websocket_endpoint

log = logging.getLogger("motcua")

DISPLAY_DIR = Path(__file__).resolve().parent.parent / "display"
# Seconds between day-rollover checks when nobody presses anything.
TICK_SECONDS = 30
_HTTP_MESSAGES = {
    404: ("Không tìm thấy.", "Not found."),
    405: ("Phương thức không được hỗ trợ.", "Method not allowed."),
}


async def motcua_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MotcuaError)
    return JSONResponse(exc.to_json(), status_code=exc.status)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    vi, en = _HTTP_MESSAGES.get(exc.status_code, ("Yêu cầu không hợp lệ.", "Bad request."))
    return JSONResponse(
        {"error": f"http_{exc.status_code}", "message": vi, "message_en": en},
        status_code=exc.status_code,
        headers=exc.headers,
    )


def page(name: str):  # type: ignore[no-untyped-def]
    async def handler(request: Request) -> Response:
        path = DISPLAY_DIR / name
        if not path.is_file():
            raise NotFound("Màn hình này chưa có.", "This screen does not exist.")
        return FileResponse(path, headers={"Cache-Control": "no-cache"})

    handler.__name__ = f"page_{name.split('.')[0]}"
    return handler


async def audio_clip(request: Request) -> Response:
    """A voice clip: the office's own recording if it has one, else the bundled one."""
    name = request.path_params["name"]
    if not name.endswith(".wav") or "/" in name or "\\" in name or name.startswith("."):
        raise NotFound("Không có đoạn âm thanh này.", "No such clip.")
    config: Config = request.app.state.office.config
    for folder in (config.resolve(config.display.clips_dir), DISPLAY_DIR / "audio" / "clips"):
        path = folder / name
        if path.is_file():
            return FileResponse(path, headers={"Cache-Control": "no-cache"})
    raise NotFound("Không có đoạn âm thanh này.", "No such clip.")


async def openapi_json(request: Request) -> Response:
    return JSONResponse(openapi.document(features.openapi_paths()))


def secret_key(config: Config) -> str:
    """The cookie-signing key, created on first start and kept in var/. An existing file is
    never overwritten: a malformed one stops the start with an error naming the setting."""
    path = config.resolve(config.server.secret_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_secret(path)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key


def _read_secret(path: Path) -> str:
    def bad(vi: str, en: str) -> ConfigError:
        return ConfigError(
            f"server.secret_file ({path}): {vi}", f"server.secret_file ({path}): {en}", key="server.secret_file"
        )

    if not path.is_file():
        raise bad("không phải một tệp thường", "is not a regular file")
    with path.open("rb") as f:
        raw = f.read(1025)
    try:
        key = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        raise bad("không phải khóa hợp lệ (chỉ gồm ký tự ASCII)", "is not a valid key (ASCII only)") from None
    if not 32 <= len(key) <= 1024 or not key.isprintable() or any(ch.isspace() for ch in key):
        raise bad(
            "không phải khóa hợp lệ (32-1024 ký tự, một dòng); hãy xóa tệp để tạo khóa mới",
            "is not a valid key (32-1024 characters, one line); delete it to make a new one",
        )
    return key


def create_app(
    config: Config,
    *,
    database: str | Path | None = None,
    clock: Clock = utc_now,
    printing: bool = True,
    background: list[Callable[[Office], Coroutine[Any, Any, None]]] | None = None,
) -> Starlette:
    """The app for ``config``. ``database`` overrides ``server.database``; ``clock`` lets
    tests and the demo drive time; ``printing=False`` leaves printers alone; ``background``
    coroutines run beside the server (the demo's simulation)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = Store(database or config.resolve(config.server.database))
        office = Office(config, store, clock=clock)
        app.state.office = office
        app.state.printing = None
        guard.redact_server_logs()
        if printing:
            app.state.printing = PrintService(office)
            await app.state.printing.start()
        dossier_desk.attach(office)  # dossiers: returned with their ticket, outcome guard
        tasks = [asyncio.create_task(_tick_forever(office)), asyncio.create_task(backup_forever(office))]
        tasks += [asyncio.create_task(start(office)) for start in background or ()]
        # Feature modules' own timers (e.g. deleting appointments' personal data).
        tasks += [asyncio.create_task(run(office)) for run in features.BACKGROUND]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if app.state.printing is not None:
                await app.state.printing.stop()
            office.close()
            store.close()

    routes: list[Any] = [
        *api.routes,
        Route("/api/openapi.json", openapi_json),
        WebSocketRoute("/ws", websocket_endpoint),
        Route("/audio/clips/{name}", audio_clip),
        Route("/", page("index.html")),
        Route("/kiosk", page("kiosk.html")),
        Route("/display", page("display.html")),
        Route("/display/counter/{n}", page("board.html")),
        Route("/counter/{n}", page("counter.html")),
        Route("/rate/{n}", page("rate.html")),
        Route("/t/{token}", page("status.html")),
        Route("/admin", page("admin.html")),
        Mount("/static", StaticFiles(directory=DISPLAY_DIR, check_dir=False), name="static"),
    ]
    routes.extend(features.routes())
    origins = guard.allowed_origins(config.server.public_url, config.server.allowed_origins)
    app = Starlette(
        routes=routes,
        middleware=[
            *guard.proxy_middleware(config.server.trusted_proxies),
            Middleware(guard.SecurityHeaders),
            Middleware(guard.CrossSiteGuard, allowed=origins),
            Middleware(
                SessionMiddleware,
                secret_key=secret_key(config),
                session_cookie="motcua_session",
                same_site="strict",
                https_only=config.server.https,
                max_age=14 * 24 * 3600,
            ),
            Middleware(guard.CatchErrors),
        ],
        exception_handlers={MotcuaError: motcua_error, HTTPException: http_error},
        lifespan=lifespan,
    )
    app.state.allowed_origins = origins
    # Each JSON answer's declared type, by route, method and status (answers.Answer uses it).
    app.state.answers = answers.declare(routes, openapi.document(features.openapi_paths()))
    app.state.throttle = auth.LoginThrottle()
    return app


async def _tick_forever(office: Office) -> None:
    while True:
        await asyncio.sleep(TICK_SECONDS)
        try:
            await office.tick()
        except Exception:
            log.exception("day rollover check failed")
