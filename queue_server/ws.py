"""``/ws``: live updates for every screen.

On connect the server sends a snapshot (``{"type": "snapshot", "seq": S, ...}``), then every
event as ``{"type": "event", "seq": S+1, ...}``, in order. A client that sees a gap in
``seq`` sends ``{"type": "resync"}`` and receives a fresh snapshot. Signed-in staff get the
staff audience (clerk names, waiting list); everyone else the public one.

A client that falls ``hub.QUEUE_SIZE`` messages behind is closed with code 1013 (try again
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
from .hub import Subscriber
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


async def _subscribe(office: Office, audience: str) -> tuple[Subscriber, str]:
    # Under the write lock: the snapshot then holds exactly the committed events up to its
    # seq, and every later event lands in the new queue.
    async with office.lock:
        sub = office.hub.subscribe(audience)
        return sub, json.dumps(office.snapshot(audience), ensure_ascii=False)


async def _resync(office: Office, sub: Subscriber) -> None:
    async with office.lock:
        text = json.dumps(office.snapshot(sub.audience), ensure_ascii=False)
        try:
            sub.queue.put_nowait(text)
        except asyncio.QueueFull:
            sub.dropped = True


async def websocket_endpoint(websocket: WebSocket) -> None:
    office: Office = websocket.app.state.office
    user = auth.current_user(websocket, office.store)
    if user is not None and not same_origin(websocket):
        await websocket.close(code=1008, reason="origin")
        return
    audience = "staff" if user is not None else "public"
    await websocket.accept()
    sub, snapshot = await _subscribe(office, audience)
    try:
        await websocket.send_text(snapshot)
        sender = asyncio.create_task(_send_loop(websocket, sub))
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
