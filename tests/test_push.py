"""The push path: frames written straight to uvicorn's connections, one message per command,
snapshots built once per sequence number and audience, status tokens found by index."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import json
import secrets
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import uvicorn
from websockets.asyncio.client import connect as ws_connect

from queue_server.app import create_app
from queue_server.hub import Hub, Subscriber
from queue_server.office import Office, Outcome
from queue_server.store import Store, ticket_by_token
from queue_server.wsraw import FrameWritingProtocol
from tests.support import free_port, office_config

T0 = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


@contextlib.asynccontextmanager
async def run_server(tmp_path: Path, ping: float = 20.0) -> AsyncIterator[tuple[int, Any]]:
    config = office_config(tmp_path, office={"enforce_hours": False})
    app = create_app(config, database=tmp_path / "push.db", printing=False)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            ws=FrameWritingProtocol,
            ws_per_message_deflate=False,
            ws_ping_interval=ping,
            ws_ping_timeout=ping,
            log_level="warning",
            lifespan="on",
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield port, app
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)  # a connection that cannot close must not hang the suite


def test_the_hub_writes_each_frame_straight_to_every_uvicorn_connection(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with run_server(tmp_path) as (port, app):
            office: Office = app.state.office
            async with (
                ws_connect(f"ws://127.0.0.1:{port}/ws", proxy=None) as a,
                ws_connect(f"ws://127.0.0.1:{port}/ws", proxy=None) as b,
            ):
                snapshots = [json.loads(await a.recv()), json.loads(await b.recv())]
                assert [s["type"] for s in snapshots] == ["snapshot", "snapshot"]
                assert len(office.hub) == 2
                assert all(sub.writer is not None for sub in office.hub.subscribers), "no direct path"
                await issue(office)
                for ws in (a, b):
                    message = json.loads(await asyncio.wait_for(ws.recv(), 5))
                    assert message["v"] == 2 and message["type"] == "events"
                    assert [e["kind"] for e in message["events"]] == ["ticket_issued"]
                    assert message["seq"] == snapshots[0]["seq"] + 1
                    assert "token" not in message["events"][0]["ticket"]

    asyncio.run(scenario())


def test_a_slow_direct_connection_is_closed_with_1013_and_counted(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with run_server(tmp_path) as (port, app):
            office: Office = app.state.office
            async with ws_connect(f"ws://127.0.0.1:{port}/ws", proxy=None) as ws:
                await ws.recv()
                [sub] = office.hub.subscribers
                assert sub.writer is not None
                sub.writer.limit = -1  # type: ignore[attr-defined]  # as if its buffer were full
                await issue(office)
                with contextlib.suppress(Exception):
                    while True:
                        await asyncio.wait_for(ws.recv(), 5)
                assert ws.close_code == 1013
            assert office.hub.dropped_total == 1 and len(office.hub) == 0

    asyncio.run(scenario())


def test_a_peer_that_never_reads_is_let_go_after_its_keepalive_ping_times_out(tmp_path: Path) -> None:
    """A frozen TV box: it completed the handshake, then reads nothing. Its unread events fill
    the kernel's buffers, so the close frame after an unanswered ping can never be sent; the
    connection is aborted and the screen unsubscribed rather than kept for good."""

    async def scenario() -> None:
        async with run_server(tmp_path, ping=0.3) as (port, app):
            office: Office = app.state.office
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
            sock.connect(("127.0.0.1", port))
            sock.setblocking(False)
            reader, writer = await asyncio.open_connection(sock=sock, limit=1024)
            key = base64.b64encode(secrets.token_bytes(16)).decode()
            writer.write(
                f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
            )
            assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
            writer.transport.pause_reading()  # from here on it reads nothing
            while len(office.hub) == 0:
                await asyncio.sleep(0.01)
            [sub] = office.hub.subscribers
            assert sub.writer is not None
            sub.writer.limit = 1 << 40  # type: ignore[attr-defined]  # never dropped as slow
            sub.writer.close_timeout = 0.3  # type: ignore[attr-defined]
            protocol = sub.writer
            # The server's kernel buffer for it as small as an old TV box's would make it.
            protocol.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)  # type: ignore[attr-defined]
            for _ in range(900):  # until the kernel's buffers for it are full (bounded)
                await issue(office)
                if protocol.transport.get_write_buffer_size() > 0:  # type: ignore[attr-defined]
                    break
            assert protocol.transport.get_write_buffer_size() > 0  # type: ignore[attr-defined]
            for _ in range(500):  # bounded: 10 s
                if protocol.disconnected and len(office.hub) == 0:  # type: ignore[attr-defined]
                    break
                await asyncio.sleep(0.02)
            # The connection is gone on the server's side (not waiting for ever to flush to a
            # peer that never reads), and the screen is no longer subscribed.
            assert protocol.disconnected, "the frozen screen's connection is still held"  # type: ignore[attr-defined]
            assert len(office.hub) == 0
            assert office.hub.dropped_total == 0  # let go by the keepalive, not counted as slow
            writer.close()

    asyncio.run(scenario())


async def issue(office: Office) -> Any:
    """Issue a CT ticket the way the kiosk route does; returns the ticket."""
    return await office.execute_outcome(
        lambda engine, now: Outcome(*engine.issue(now, service="CT", token=secrets.token_urlsafe(16)))
    )


def _office(tmp_path: Path) -> tuple[Office, Clock]:
    clock = Clock()
    config = office_config(tmp_path, office={"enforce_hours": False})
    return Office(config, Store(tmp_path / "office.db"), clock=clock, hub=Hub()), clock


def test_the_snapshot_is_built_once_per_sequence_number_and_audience(tmp_path: Path) -> None:
    office, clock = _office(tmp_path)
    built: list[str] = []
    real = office.snapshot

    def counting(audience: str = "public") -> dict[str, Any]:
        built.append(audience)
        return real(audience)

    office.snapshot = counting  # type: ignore[method-assign]

    async def scenario() -> None:
        first = office.snapshot_message("public")
        assert office.snapshot_message("public") is not None and built == ["public"]
        assert office.snapshot_message("public") == first
        office.snapshot_message("staff")
        assert built == ["public", "staff"]
        # A new event: the next snapshot is built again, and holds it.
        await issue(office)
        text, _ = office.snapshot_message("public")
        assert json.loads(text)["seq"] == office.seq and built[-1] == "public" and len(built) == 3
        # It says "now" and waiting times: after a second it is built again.
        clock.now += dt.timedelta(seconds=1)
        text, _ = office.snapshot_message("public")
        assert len(built) == 4 and json.loads(text)["now"] == clock.now.isoformat()
        # Anything published (a printer's state, say) makes it stale too.
        office.hub.publish({"public": json.dumps({"type": "printer"})})
        office.snapshot_message("public")
        assert len(built) == 5

    asyncio.run(scenario())
    office.close()


def test_a_ticket_status_is_found_by_its_token_today_and_on_a_later_day(tmp_path: Path) -> None:
    office, clock = _office(tmp_path)

    async def scenario() -> None:
        ticket = await issue(office)
        token = ticket.token
        assert office.ticket_status(token)["label"] == ticket.label
        assert office.ticket_status("no-such-token-000") is None
        clock.now += dt.timedelta(days=1)
        await office.tick()
        assert office.ticket_status(token) is None  # no longer in memory: read from the database
        stored = await office.read(ticket_by_token, token)
        status = office.ticket_status(token, stored)
        assert status is not None and status["state"] == "expired" and status["people_ahead"] == 0

    asyncio.run(scenario())
    office.close()


def test_a_finished_ticket_tells_screens_its_counters_figures_of_the_day(tmp_path: Path) -> None:
    """Screens take a counter's served count and mean service time from the server: the
    ticket_done message carries them, equal to what a fresh snapshot says."""
    office, clock = _office(tmp_path)

    async def serve(sub: Subscriber, seconds: int) -> dict[str, Any]:
        await office.execute(lambda e, now: e.call_next(now, 1, "clerk1"))
        await office.execute(lambda e, now: e.start(now, 1, "clerk1"))
        clock.now += dt.timedelta(seconds=seconds)
        await office.execute(lambda e, now: e.finish(now, 1, "clerk1"))
        while True:
            message = json.loads(sub.queue.get_nowait())
            done = [e for e in message.get("events", []) if e["kind"] == "ticket_done"]
            if done:
                return dict(done[0]["counter"])

    async def scenario() -> None:
        await office.execute(lambda e, now: e.sign_on(now, 1, "clerk1"))
        for _ in range(2):
            await issue(office)
        sub = await office.subscribe("public", None)
        assert json.loads(sub.queue.get_nowait())["type"] == "snapshot"
        first = await serve(sub, 120)
        assert (first["number"], first["served_today"], first["average_service_s"]) == (1, 1, 120)
        second = await serve(sub, 60)
        assert (second["number"], second["served_today"], second["average_service_s"]) == (1, 2, 90)
        assert "staff" not in second
        [counter] = [c for c in json.loads(await office.snapshot_text("public"))["counters"] if c["number"] == 1]
        assert (counter["served_today"], counter["average_service_s"]) == (2, 90)
        office.unsubscribe(sub)

    asyncio.run(scenario())
    office.close()
