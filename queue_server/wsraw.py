"""uvicorn's sans-I/O WebSocket protocol, plus direct frame writes for the push hub.

Through ASGI every message a screen gets costs a ``websocket.send`` call down Starlette's and
uvicorn's send chain, and therefore a task per screen. The hub instead writes one
pre-framed message straight to each connection's transport, as ``websockets.broadcast()``
does. This protocol class offers that to the application as an ASGI extension in the
WebSocket scope::

    scope["extensions"]["motcua.frames"] = <the protocol: write_frame(), close_slow()>

Everything else — the handshake, the application's receive loop, pings, closing — is
uvicorn's ``websockets-sansio`` implementation unchanged. The extension is offered only
without per-message compression (then a server frame is the same bytes for every
connection).
"""

from __future__ import annotations

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request
from websockets.protocol import State

from .hub import FRAMES_EXTENSION, QUEUE_BYTES


class FrameWritingProtocol(WebSocketsSansIOProtocol):
    # Unsent bytes allowed beyond the largest single write (a big staff snapshot).
    limit = QUEUE_BYTES

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        # The application task is created but has not run yet: it sees the extension.
        if scope is not None and not self.conn.extensions:
            scope["extensions"][FRAMES_EXTENSION] = self

    def write_frame(self, frame: bytes) -> bool:
        """Write one already-framed server message. Returns False (and writes nothing) when
        the peer has more than ``limit`` bytes unread; a closing connection is skipped."""
        if self.close_sent or self.disconnected or self.conn.state is not State.OPEN:
            return True
        if self.transport.get_write_buffer_size() > self.limit:
            return False
        self.transport.write(frame)
        if len(frame) > self.limit:
            # A snapshot larger than the allowance must not get the next event dropped.
            self.limit = QUEUE_BYTES + len(frame)
        return True

    def keepalive_timeout(self) -> None:
        """uvicorn sends a close frame and closes the transport, which waits for the unsent
        bytes to drain: from a peer that never reads (a frozen TV box) they never do, so the
        connection and the screen's subscription would stay for good. Abort it after the usual
        close timeout instead, as for a screen dropped for being slow."""
        super().keepalive_timeout()
        if self.close_sent and not self.disconnected and self.close_timer is None:
            self.close_timer = self.loop.call_later(self.close_timeout, self.transport.abort)

    def close_slow(self) -> None:
        """Close with 1013 "too slow, reconnect"; the application's receive loop ends."""
        if self.close_sent or self.disconnected:
            return
        self.queue.put_nowait({"type": "websocket.disconnect", "code": 1013, "reason": "too slow"})
        self.conn.send_close(1013, "too slow, reconnect")
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        # It does not read: do not wait for its close reply longer than usual.
        self.close_timer = self.loop.call_later(self.close_timeout, self.transport.abort)
