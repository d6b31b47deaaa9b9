"""``/ws``: live updates for every screen.

On connect the server sends a snapshot (``{"v": 2, "type": "snapshot", "seq": S, ...}``), then
every event, in order, numbered from S+1. A client that sees a gap in
``seq`` sends ``{"type": "resync"}`` and receives a fresh snapshot. Signed-in staff get the
staff audience (clerk names, waiting list); everyone else the public one.

Protocol version 2 (``"v": 2``): the events of one command travel together in one
``{"v": 2, "type": "events", "seq": S, "events": [...], "services": [...]}`` message (a
call carries ``ticket_done`` and ``ticket_called``), each event with its own ``seq``.

Limits, so that one bad client cannot slow the office down:

- A client may send ``MESSAGE_BURST`` messages at once and ``MESSAGE_RATE`` a second after
  that; a client beyond it is flooding and is closed with 1008 (policy violation).
- Resyncs within ``RESYNC_INTERVAL`` of the last snapshot are coalesced: the client gets one
  snapshot when the interval is over, however many it asked for.
- Snapshots come from ``Office.snapshot_message``, serialized once per (seq, audience), so a
  resync costs a lookup, not a build under the office lock.
- A client that fell behind (``hub.QUEUE_BYTES`` unsent) is dropped: it gets nothing more
  built for it, is closed with 1013 (try again later) and reconnects.

Staff streams end with their session: signing out, disabling the account, changing its
password, or the clerk's counter being closed or taken over closes that user's streams with
1008 within ``SESSION_CHECK_SECONDS``; a resync re-checks the session first. Dead
connections are found by the server's WebSocket pings (uvicorn's ``ws_ping_interval``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from . import auth, guard
from .engine import Event
from .hub import FRAMES_EXTENSION, FrameWriter, Subscriber
from .office import Office

log = logging.getLogger("motcua.ws")

MESSAGE_BURST = 30
MESSAGE_RATE = 1.0
RESYNC_INTERVAL = 1.0
SESSION_CHECK_SECONDS = 0.5
# How long a close may wait for a client that does not read before the connection is left
# for uvicorn to drop.
CLOSE_TIMEOUT = 2.0


class MessageBudget:
    """A token bucket: ``burst`` messages at once, refilled at ``rate`` per second."""

    def __init__(
        self, burst: int = MESSAGE_BURST, rate: float = MESSAGE_RATE, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.burst = burst
        self.rate = rate
        self.clock = clock
        self.tokens = float(burst)
        self.at = clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class ResyncGate:
    """Decides when a resync is answered: ``"now"``, ``"later"`` (one snapshot at the end of
    the interval) or ``"merged"`` (one is already due)."""

    def __init__(self, interval: float = RESYNC_INTERVAL, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self.last = float("-inf")
        self.pending = False

    def request(self) -> str:
        if self.pending:
            return "merged"
        if self.clock() - self.last >= self.interval:
            self.last = self.clock()
            return "now"
        self.pending = True
        return "later"

    def delay(self) -> float:
        return max(0.0, self.last + self.interval - self.clock())

    def sent(self) -> None:
        self.pending = False
        self.last = self.clock()


@dataclass(eq=False)
class Stream:
    """One staff connection: whose session it rides on, and how to end it."""

    websocket: WebSocket
    username: str
    sid: str
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    reason: str = ""

    def end(self, reason: str) -> None:
        if not self.ended.is_set():
            self.reason = reason
            self.ended.set()


class Streams:
    """The open staff streams of one office, and the watch that ends them with their
    session. ``recheck()`` asks for a check at once (after a sign-out, an account change)."""

    def __init__(self, office: Office) -> None:
        self.office = office
        self.open: set[Stream] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._holders = office.holders()
        office.after_commit.append(self._after_commit)

    def add(self, stream: Stream) -> None:
        self.open.add(stream)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._watch())

    def discard(self, stream: Stream) -> None:
        self.open.discard(stream)

    def recheck(self) -> None:
        self._wake.set()

    def end_user(self, username: str, reason: str) -> None:
        for stream in list(self.open):
            if stream.username == username:
                stream.end(reason)

    def check(self) -> None:
        for stream in list(self.open):
            if auth.session_user(self.office, stream.username, stream.sid) is None:
                stream.end("session ended")

    async def _watch(self) -> None:
        while self.open:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), SESSION_CHECK_SECONDS)
            self._wake.clear()
            try:
                self.check()
            except Exception:
                log.exception("checking staff sessions failed")

    def _after_commit(self, events: list[Event], seqs: list[int]) -> None:
        """A clerk whose counter was closed or taken over loses their open streams."""
        if not any(e.kind in ("counter_closed", "counter_opened", "counter_changed") for e in events):
            return
        holders = self.office.holders()
        for n, before in self._holders.items():
            if before is not None and holders.get(n) != before:
                self.end_user(before, "counter closed")
        self._holders = holders


def sessions_changed(office: Office) -> None:
    """Call after a sign-out or an account change: staff streams re-check their session now."""
    found = office.part(Streams)
    if found is not None:
        found.recheck()


def streams(office: Office) -> Streams:
    """The office's staff streams (made on first use)."""
    found = office.part(Streams, lambda: Streams(office))
    assert found is not None
    return found


async def websocket_endpoint(websocket: WebSocket) -> None:
    office: Office = websocket.app.state.office
    user = auth.current_user(websocket, office)
    if user is not None and guard.foreign_origin(websocket.scope, websocket.app.state.allowed_origins):
        # A page elsewhere on the LAN cannot ride a clerk's session cookie into the staff stream.
        await websocket.close(code=1008, reason="origin")
        return
    audience = "staff" if user is not None else "public"
    await websocket.accept()
    # uvicorn with queue_server.wsraw: the hub writes frames straight to this connection.
    writer: FrameWriter | None = websocket.scope.get("extensions", {}).get(FRAMES_EXTENSION)
    sub = await office.subscribe(audience, writer)
    stream = Stream(websocket, user["username"], websocket.session.get("sid", "")) if user else None
    if stream is not None:
        streams(office).add(stream)
    tasks: set[asyncio.Task[Any]] = set()
    try:
        tasks = {
            asyncio.create_task(_send_loop(websocket, sub) if writer is None else sub.gone.wait()),
            asyncio.create_task(_receive_loop(websocket, office, sub, stream)),
        }
        if stream is not None:
            tasks.add(asyncio.create_task(stream.ended.wait()))
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        code, reason = None, ""
        for task in done:
            exc = task.exception()
            if exc and not isinstance(exc, (WebSocketDisconnect, ConnectionError, RuntimeError)):
                log.warning("websocket closed after %r", exc)
            elif exc is None and isinstance(task.result(), tuple):
                code, reason = task.result()
        if stream is not None and stream.ended.is_set():
            code, reason = 1008, stream.reason
        if code is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(websocket.close(code=code, reason=reason), CLOSE_TIMEOUT)
    except (WebSocketDisconnect, ConnectionError, RuntimeError):
        pass
    finally:
        for task in tasks:
            task.cancel()
        office.unsubscribe(sub)
        if stream is not None:
            streams(office).discard(stream)


async def _send_loop(websocket: WebSocket, sub: Subscriber) -> tuple[int, str] | None:
    """The portable path (no raw connection): drain this screen's queue."""
    while True:
        text = await sub.queue.get()
        if sub.dropped:
            return 1013, "too slow, reconnect"
        await websocket.send_text(text)


async def _receive_loop(
    websocket: WebSocket, office: Office, sub: Subscriber, stream: Stream | None
) -> tuple[int, str] | None:
    budget = MessageBudget()
    gate = ResyncGate()
    later: asyncio.Task[None] | None = None

    async def answer_later() -> None:
        await asyncio.sleep(gate.delay())
        gate.sent()
        await office.resync(sub)

    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return None
            if not budget.take():
                log.warning("closing a %s client that sent too many messages", sub.audience)
                return 1008, "too many messages"
            if sub.dropped:
                continue  # it is being closed; build nothing for it
            text = message.get("text")
            if not text or len(text) > 1024:
                continue
            try:
                data = json.loads(text)
            except ValueError:
                continue
            if not (isinstance(data, dict) and data.get("type") == "resync"):
                continue
            if stream is not None and auth.session_user(office, stream.username, stream.sid) is None:
                return 1008, "session ended"
            decision = gate.request()
            if decision == "now":
                await office.resync(sub)
            elif decision == "later":
                later = asyncio.create_task(answer_later())
    finally:
        if later is not None:
            later.cancel()
