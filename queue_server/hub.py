"""The push hub: one bounded queue per connected screen.

``publish`` never blocks and never waits for a client: it puts the already-serialised
message in each subscriber's queue. A subscriber whose queue is full has fallen behind (a
frozen TV box, a phone on bad Wi-Fi); it is marked dropped, its connection is closed by its
own sender task, and the screen resyncs from a fresh snapshot when it reconnects. There is
no backpressure: the writer is never slowed by a slow screen.

Messages exist in two audiences: ``public`` (hall display, kiosk, phone status — no staff
names, no ticket tokens) and ``staff`` (clerk and admin screens).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

log = logging.getLogger("motcua.hub")

# Enough for a burst of events while a screen renders; a screen further behind resyncs.
QUEUE_SIZE = 256


@dataclass(eq=False)
class Subscriber:
    audience: str
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    dropped: bool = False


class Hub:
    def __init__(self) -> None:
        self.subscribers: set[Subscriber] = set()
        self.dropped_total = 0
        # Bumped by every publish: a cached snapshot from before it is out of date.
        self.published = 0

    def subscribe(self, audience: str) -> Subscriber:
        sub = Subscriber(audience)
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    def publish(self, messages: dict[str, str]) -> None:
        """Queue ``messages[audience]`` for every subscriber of that audience."""
        self.published += 1
        for sub in list(self.subscribers):
            if sub.dropped:
                continue
            text = messages.get(sub.audience)
            if text is None:
                continue
            try:
                sub.queue.put_nowait(text)
            except asyncio.QueueFull:
                sub.dropped = True
                self.dropped_total += 1
                log.warning("dropping a %s client that fell %d messages behind", sub.audience, QUEUE_SIZE)
                # Wake its sender so it notices and closes the connection.
                try:
                    sub.queue.get_nowait()
                    sub.queue.put_nowait("")
                except (asyncio.QueueEmpty, asyncio.QueueFull):
                    pass

    def __len__(self) -> int:
        return len(self.subscribers)
