"""``/ws``: live updates for every screen.

On connect the server sends a snapshot (``{"v": 2, "type": "snapshot", "seq": S, ...}``), then
every event, in order, numbered from S+1. A client that sees a gap in
``seq`` sends ``{"type": "resync"}`` and receives a fresh snapshot. Signed-in staff get the
staff audience (clerk names, waiting list); everyone else the public one.

Protocol version 2 (``"v": 2``): the events of one command travel together in one
``{"v": 2, "type": "events", "seq": S, "events": [...], "services": [...]}`` message (a
call carries ``ticket_done`` and ``ticket_called``), each event with its own ``seq``.

A client that falls behind (``hub.QUEUE_BYTES`` unsent) is closed with code 1013 (try again
later); it reconnects and starts from a new snapshot. Dead connections are found by the
server's WebSocket pings (uvicorn's ``ws_ping_interval`` / ``ws_ping_timeout``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from urllib.parse import urlsplit

from starlette.websockets import WebSocket, WebSocketDisconnect

from . import auth
from .hub import FRAMES_EXTENSION, FrameWriter, Subscriber
from .office import Office

log = logging.getLogger("motcua.ws")


def same_origin(websocket: WebSocket) -> bool:
    """A browser's Origin must name this server: a page elsewhere on the LAN cannot ride a
    clerk's session cookie into the staff stream."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser (e.g. a script with its own cookie)
    host = websocket.headers.get("host", "")
    return urlsplit(origin).netloc == host


async def _subscribe(office: Office, audience: str, writer: FrameWriter | None) -> Subscriber:
    # Under the write lock: the snapshot then holds exactly the committed events up to its
    # seq, and every later event is sent after it.
    async with office.lock:
        sub = office.hub.subscribe(audience, writer)
        text, frame = office.snapshot_message(audience)
        sub.send(text, frame)
        return sub


async def _resync(office: Office, sub: Subscriber) -> None:
    async with office.lock:
        if sub.dropped:
            return
        text, frame = office.snapshot_message(sub.audience)
        if not sub.send(text, frame):
            office.hub.drop(sub)


async def websocket_endpoint(websocket: WebSocket) -> None:
    office: Office = websocket.app.state.office
    user = auth.current_user(websocket, office.store)
    if user is not None and not same_origin(websocket):
        await websocket.close(code=1008, reason="origin")
        return
    audience = "staff" if user is not None else "public"
    await websocket.accept()
    # uvicorn with queue_server.wsraw: the hub writes frames straight to this connection.
    writer: FrameWriter | None = websocket.scope.get("extensions", {}).get(FRAMES_EXTENSION)
    sub = await _subscribe(office, audience, writer)
    try:
        sender = asyncio.create_task(_send_loop(websocket, sub) if writer is None else sub.gone.wait())
        receiver = asyncio.create_task(_receive_loop(websocket, office, sub))
        done, pending = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        for task in done:
            exc = task.exception()
            if exc and not isinstance(exc, (WebSocketDisconnect, ConnectionError, RuntimeError)):
                log.warning("websocket closed after %r", exc)
    except (WebSocketDisconnect, ConnectionError, RuntimeError):
        pass
    finally:
        office.hub.unsubscribe(sub)


async def _send_loop(websocket: WebSocket, sub: Subscriber) -> None:
    """The portable path (no raw connection): drain this screen's queue."""
    while True:
        text = await sub.queue.get()
        if sub.dropped:
            await websocket.close(code=1013, reason="too slow, reconnect")
            return
        await websocket.send_text(text)


async def _receive_loop(websocket: WebSocket, office: Office, sub: Subscriber) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if not text or len(text) > 1024:
            continue
        try:
            data = json.loads(text)
        except ValueError:
            continue
        if isinstance(data, dict) and data.get("type") == "resync":
            await _resync(office, sub)
