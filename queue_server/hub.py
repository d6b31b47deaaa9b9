"""The push hub: every message serialised once per audience, framed once, written to all.

Messages exist in two audiences: ``public`` (hall display, kiosk, phone status — no staff
names, no ticket tokens) and ``staff`` (clerk and admin screens).

``publish`` follows ``websockets.broadcast()``: the text of each audience is encoded and
framed once (a server frame is never masked, so the bytes are the same for every
connection), then written to every connection's transport. There is no per-connection
encoding, no task and no queue on this path, and ``publish`` never waits for a client.

There is no backpressure: the writer is never slowed by a slow screen. Instead, a screen
whose unsent bytes pass ``QUEUE_BYTES`` (a frozen TV box, a phone on bad Wi-Fi) is closed
with code 1013 and counted in ``dropped_total``; it resyncs from a fresh snapshot when it
reconnects.

Servers that do not hand us the raw connection (Starlette's TestClient, another ASGI
server) get the portable path: a bounded queue per screen that the screen's own sender
task drains, with the same drop rule counted in messages (``QUEUE_SIZE``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Protocol

from websockets.frames import Frame, Opcode

log = logging.getLogger("motcua.hub")

# Portable path: enough for a burst of events while a screen renders.
QUEUE_SIZE = 256
# Direct path: unsent bytes a screen may have, beyond its snapshot, before it is dropped
# (about QUEUE_SIZE ordinary messages).
QUEUE_BYTES = 512 * 1024
# The ASGI scope extension under which a server offers a connection's ``FrameWriter``.
FRAMES_EXTENSION = "motcua.frames"


class FrameWriter(Protocol):
    """The raw side of one WebSocket connection (see ``queue_server.wsraw``)."""

    def write_frame(self, frame: bytes) -> bool:
        """Write an already-framed message; False when the peer is too far behind."""
        ...

    def close_slow(self) -> None:
        """Close the connection with 1013 (try again later)."""
        ...


def text_frame(text: str) -> bytes:
    """One unmasked, uncompressed, final text frame (what a server sends)."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


@dataclass(eq=False)
class Subscriber:
    audience: str
    writer: FrameWriter | None = None
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    dropped: bool = False
    # Set when the hub dropped this screen (the portable path's sender closes it).
    gone: asyncio.Event = field(default_factory=asyncio.Event)

    def send(self, text: str, frame: bytes | None = None) -> bool:
        """Hand one message to this screen; False when it is too far behind."""
        if self.writer is not None:
            return self.writer.write_frame(frame if frame is not None else text_frame(text))
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            return False
        return True


class Hub:
    def __init__(self) -> None:
        self.subscribers: set[Subscriber] = set()
        self._audiences: dict[str, set[Subscriber]] = {}
        self.dropped_total = 0
        # Bumped by every publish: cached snapshots built before it are stale.
        self.published = 0

    def subscribe(self, audience: str, writer: FrameWriter | None = None) -> Subscriber:
        sub = Subscriber(audience, writer)
        self.subscribers.add(sub)
        self._audiences.setdefault(audience, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)
        self._audiences.get(sub.audience, set()).discard(sub)

    def publish(self, messages: dict[str, str]) -> None:
        """Send ``messages[audience]`` to every subscriber of that audience."""
        self.published += 1
        slow: list[Subscriber] = []
        for audience, text in messages.items():
            subs = self._audiences.get(audience)
            if not subs:
                continue
            frame = text_frame(text)
            for sub in subs:
                writer = sub.writer
                if writer is not None:
                    if not writer.write_frame(frame):
                        slow.append(sub)
                elif not sub.dropped:
                    try:
                        sub.queue.put_nowait(text)
                    except asyncio.QueueFull:
                        slow.append(sub)
        for sub in slow:
            self.drop(sub)

    def drop(self, sub: Subscriber) -> None:
        """Close a screen that fell behind; it reconnects and resyncs."""
        if sub.dropped:
            return
        sub.dropped = True
        self.dropped_total += 1
        self.unsubscribe(sub)
        log.warning("dropping a %s client that fell too far behind", sub.audience)
        if sub.writer is not None:
            sub.writer.close_slow()
        else:
            # Wake its sender task, which closes the connection.
            while not sub.queue.empty():
                sub.queue.get_nowait()
            sub.queue.put_nowait("")
        sub.gone.set()

    def __len__(self) -> int:
        return len(self.subscribers)
