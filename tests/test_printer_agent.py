"""printer.agent against a tiny real WebSocket server and fake port-9100 printers."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from printer.agent import AgentConfig, JobHandler, PrinterAgent, main, printer_ws_url
from printer.output import decode_raster, print_ticket
from printer.render import TicketInfo, render_ticket
from tests.fakeprinter import FakePrinter, paper_out, refused_url

REPO_ROOT = Path(__file__).resolve().parent.parent
TOKEN = "s3cret-token"
TICKET = TicketInfo(
    office_name="UBND phường Hồng Hà",
    service_name="Đất đai – Xây dựng",
    label="A1023",
    issued_at="28/11/2026 08:15",
    people_ahead=3,
    estimated_wait_min=14,
    status_url="http://127.0.0.1:8000/t/abc",
    footer="Cảm ơn quý khách",
    priority=True,
)


def run(scenario: Callable[[], Awaitable[None]], limit: float = 20.0) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(scenario(), limit)

    asyncio.run(bounded())


class ServerSide:
    """The server's half of the protocol, recording what agents send."""

    def __init__(self, *, width_px: int | None = 384, close_first_after_hello: bool = False) -> None:
        self.width_px = width_px
        self.close_first_after_hello = close_first_after_hello
        self.connections: list[ServerConnection] = []
        self.auth_headers: list[str | None] = []
        self.inbox: asyncio.Queue[tuple[int, dict[str, Any]]] = asyncio.Queue()
        self.port = 0

    def _check_token(self, connection: ServerConnection, request: Any) -> Any:
        self.auth_headers.append(request.headers.get("Authorization"))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return connection.respond(HTTPStatus.UNAUTHORIZED, "bad token\n")
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None and ws.request.path == "/ws/printer"
        index = len(self.connections)
        self.connections.append(ws)
        await ws.send(json.dumps({"type": "hello", "printer_id": "kiosk-1", "width_px": self.width_px}))
        if self.close_first_after_hello and index == 0:
            await ws.close()
            return
        try:
            async for raw in ws:
                await self.inbox.put((index, json.loads(raw)))
        except ConnectionClosed:
            pass

    async def send_job(
        self, job_id: int, ticket: TicketInfo = TICKET, width_px: int | None = None, connection: int = -1
    ) -> None:
        message = {"type": "job", "job_id": job_id, "ticket": ticket.to_json(), "width_px": width_px}
        await self.connections[connection].send(json.dumps(message))

    async def next(self, kind: str, timeout: float = 5.0) -> tuple[int, dict[str, Any]]:
        """The next message of type ``kind`` (others are skipped)."""

        async def find() -> tuple[int, dict[str, Any]]:
            while True:
                index, message = await self.inbox.get()
                if message["type"] == kind:
                    return index, message

        return await asyncio.wait_for(find(), timeout)

    def drain(self) -> list[dict[str, Any]]:
        """Every message received and not yet taken, without waiting."""
        messages = []
        while not self.inbox.empty():
            messages.append(self.inbox.get_nowait()[1])
        return messages

    async def wait_connections(self, n: int, timeout: float = 5.0) -> None:
        async def poll() -> None:
            while len(self.connections) < n:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(poll(), timeout)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@asynccontextmanager
async def server_side(**kwargs: Any) -> AsyncIterator[ServerSide]:
    side = ServerSide(**kwargs)
    async with serve(side._handler, "127.0.0.1", 0, process_request=side._check_token) as server:
        side.port = next(iter(server.sockets)).getsockname()[1]
        yield side


def agent_config(server: ServerSide, printer_url: str, **overrides: Any) -> AgentConfig:
    fields: dict[str, Any] = {
        "server": server.url,
        "token": TOKEN,
        "printer": printer_url,
        "status_interval": 60.0,
        "print_timeout": 0.5,
        "backoff_min": 0.05,
        "backoff_max": 0.2,
        "open_timeout": 2.0,
    }
    fields.update(overrides)
    return AgentConfig(**fields)


@asynccontextmanager
async def running(agent: PrinterAgent) -> AsyncIterator[PrinterAgent]:
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        yield agent
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


def printed_jobs(fake: FakePrinter) -> list[bytes]:
    """Connections that carried a picture (status queries open their own connections)."""
    return [data for data in fake.jobs if b"\x1dv0" in data]


# --- tests ----------------------------------------------------------------------------------


def test_job_is_printed_and_acknowledged_with_the_ticket_image() -> None:
    async def scenario() -> None:
        with FakePrinter("accept") as fake:
            async with server_side() as server, running(PrinterAgent(agent_config(server, fake.url))):
                await server.wait_connections(1)
                await server.send_job(1)
                _, result = await server.next("result")
                assert result == {"type": "result", "job_id": 1, "outcome": "printed", "error": None}
                assert server.auth_headers[0] == f"Bearer {TOKEN}"
                assert await asyncio.to_thread(fake.wait_for, lambda f: len(printed_jobs(f)) == 1)
                image = decode_raster(printed_jobs(fake)[0])
                assert image.tobytes() == render_ticket(TICKET, 384).tobytes()

    run(scenario)


def test_job_width_overrides_the_hello_width() -> None:
    async def scenario() -> None:
        with FakePrinter("accept") as fake:
            async with server_side(width_px=384) as server, running(PrinterAgent(agent_config(server, fake.url))):
                await server.wait_connections(1)
                await server.send_job(2, width_px=576)
                _, result = await server.next("result")
                assert result["outcome"] == "printed"
                assert await asyncio.to_thread(fake.wait_for, lambda f: len(printed_jobs(f)) == 1)
                assert decode_raster(printed_jobs(fake)[0]).width == 576

    run(scenario)


def test_refused_printer_is_reported_as_failed_before_send() -> None:
    async def scenario() -> None:
        async with server_side() as server, running(PrinterAgent(agent_config(server, refused_url()))):
            await server.wait_connections(1)
            _, status = await server.next("status")
            assert status["online"] is False and status["paper"] == "unknown"
            await server.send_job(3)
            _, result = await server.next("result")
            assert result["job_id"] == 3 and result["outcome"] == "failed_before_send"
            assert "refused" in result["error"].lower()

    run(scenario)


def test_status_is_sent_on_connect_and_every_interval() -> None:
    async def scenario() -> None:
        with paper_out() as fake:
            async with server_side() as server:
                agent = PrinterAgent(agent_config(server, fake.url, status_interval=0.1))
                async with running(agent):
                    first = await server.next("status", timeout=3)
                    second = await server.next("status", timeout=3)
                    assert first[0] == second[0] == 0  # both on the first connection
                    assert first[1] == {
                        "type": "status",
                        "online": True,
                        "paper": "out",
                        "error": "printer is out of paper",
                    }

    run(scenario)


def test_agent_reconnects_after_the_server_closes_the_connection() -> None:
    async def scenario() -> None:
        with FakePrinter("accept") as fake:
            async with server_side(close_first_after_hello=True) as server:
                agent = PrinterAgent(agent_config(server, fake.url))
                async with running(agent):
                    await server.wait_connections(2)
                    _index, status = await server.next("status")
                    assert status["paper"] == "ok"
                    await server.send_job(4, connection=1)
                    _, result = await server.next("result")
                    assert result["outcome"] == "printed"
                assert agent.connections == 2

    run(scenario)


def test_agent_keeps_retrying_with_backoff_while_the_server_is_down() -> None:
    async def scenario() -> None:
        with FakePrinter("accept") as fake:
            side = ServerSide()
            # Reserve a port, then start the server on it only after the agent has failed a few times.
            async with serve(side._handler, "127.0.0.1", 0) as probe:
                side.port = next(iter(probe.sockets)).getsockname()[1]
            agent = PrinterAgent(agent_config(side, fake.url, backoff_min=0.05, backoff_max=0.1))
            async with running(agent):
                await asyncio.sleep(0.4)
                assert agent.connections == 0
                async with serve(side._handler, "127.0.0.1", side.port, process_request=side._check_token):
                    await side.wait_connections(1, timeout=3)
                    await side.next("status")

    run(scenario)


def test_a_redelivered_job_is_answered_again_but_printed_once() -> None:
    async def scenario() -> None:
        with FakePrinter("accept") as fake:
            async with server_side() as server, running(PrinterAgent(agent_config(server, fake.url))):
                await server.wait_connections(1)
                await server.send_job(5)
                _, first = await server.next("result")
                await server.send_job(5)
                _, again = await server.next("result")
                assert first == again and first["outcome"] == "printed"
                await asyncio.sleep(0.2)
                assert [m for m in server.drain() if m["type"] == "result"] == []
                assert await asyncio.to_thread(fake.wait_for, lambda f: len(printed_jobs(f)) == 1)
                await asyncio.sleep(0.1)
                assert len(printed_jobs(fake)) == 1

    run(scenario)


def test_jobs_are_answered_in_order_exactly_once_each() -> None:
    async def scenario() -> None:
        with FakePrinter("accept") as fake:
            async with server_side() as server, running(PrinterAgent(agent_config(server, fake.url))):
                await server.wait_connections(1)
                for job_id in (10, 11, 12):
                    await server.send_job(job_id)
                results = [(await server.next("result"))[1] for _ in range(3)]
                assert [r["job_id"] for r in results] == [10, 11, 12]
                assert {r["outcome"] for r in results} == {"printed"}
                await asyncio.sleep(0.2)
                assert [m for m in server.drain() if m["type"] == "result"] == []
                assert await asyncio.to_thread(fake.wait_for, lambda f: len(printed_jobs(f)) == 3)

    run(scenario)


def test_invalid_ticket_fails_before_send_and_bad_messages_are_ignored() -> None:
    async def scenario() -> None:
        with FakePrinter("accept") as fake:
            async with server_side() as server, running(PrinterAgent(agent_config(server, fake.url))):
                await server.wait_connections(1)
                ws = server.connections[0]
                await ws.send("not json")
                await ws.send(json.dumps({"type": "mystery"}))
                await ws.send(json.dumps({"type": "job", "job_id": "x", "ticket": {}}))
                await ws.send(json.dumps({"type": "job", "job_id": 6, "ticket": {"label": "1"}, "width_px": None}))
                _, result = await server.next("result")
                assert result["job_id"] == 6 and result["outcome"] == "failed_before_send"
                assert "office_name" in result["error"]
                assert printed_jobs(fake) == []

    run(scenario)


def test_result_of_a_job_printing_when_the_connection_drops_is_sent_after_reconnecting() -> None:
    started, release = threading.Event(), threading.Event()

    def slow_print(*args: Any, **kwargs: Any) -> Any:
        started.set()
        release.wait(5)
        return print_ticket(*args, **kwargs)

    async def scenario() -> None:
        with FakePrinter("accept") as fake:
            async with server_side() as server:
                config = agent_config(server, fake.url)
                agent = PrinterAgent(config, JobHandler(config, print_fn=slow_print))
                async with running(agent):
                    await server.wait_connections(1)
                    await server.send_job(7)
                    assert await asyncio.to_thread(started.wait, 5)
                    await server.connections[0].close()
                    await server.wait_connections(2)
                    release.set()
                    index, result = await server.next("result")
                    assert index == 1 and result["job_id"] == 7 and result["outcome"] == "printed"
                assert await asyncio.to_thread(fake.wait_for, lambda f: len(printed_jobs(f)) == 1)

    run(scenario)


def test_wrong_token_is_refused_and_nothing_is_printed() -> None:
    async def scenario() -> None:
        with FakePrinter("accept") as fake:
            async with server_side() as server:
                agent = PrinterAgent(agent_config(server, fake.url, token="wrong"))
                async with running(agent):
                    await asyncio.sleep(0.3)
                assert agent.connections == 0 and server.connections == []
                assert len(server.auth_headers) >= 2  # it kept trying
                assert set(server.auth_headers) == {"Bearer wrong"}

    run(scenario)


# --- command line --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "server, expected",
    [
        ("http://192.168.1.10:8000", "ws://192.168.1.10:8000/ws/printer"),
        ("https://motcua.example/", "wss://motcua.example/ws/printer"),
        ("http://10.0.0.2:8000/motcua", "ws://10.0.0.2:8000/motcua/ws/printer"),
        ("ws://10.0.0.2:8000", "ws://10.0.0.2:8000/ws/printer"),
    ],
)
def test_server_url_becomes_the_printer_websocket_url(server: str, expected: str) -> None:
    assert printer_ws_url(server) == expected


@pytest.mark.parametrize(
    "argv",
    [
        ["--server", "http://127.0.0.1:8000", "--token", "t", "--printer", "lpt://1"],
        ["--server", "127.0.0.1:8000", "--token", "t", "--printer", "tcp://127.0.0.1"],
        ["--server", "http://127.0.0.1:8000", "--token", "t", "--printer", "tcp://127.0.0.1", "--width", "380"],
    ],
)
def test_command_line_rejects_bad_settings_with_exit_code_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert "motcua-printer:" in capsys.readouterr().err


@pytest.mark.skipif(sys.platform == "win32", reason="uses SIGTERM")
def test_motcua_printer_command_prints_a_job_and_stops_on_sigterm(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with server_side() as server:
            env = {**os.environ, "PYTHONPATH": str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "printer.agent",
                "--server",
                server.url,
                "--token",
                TOKEN,
                "--printer",
                f"png://{tmp_path}",
                "--width",
                "576",
                "--status-interval",
                "0.2",
                cwd=str(REPO_ROOT),
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            try:
                await server.wait_connections(1, timeout=10)
                _, status = await server.next("status", timeout=5)
                assert status["online"] is True and status["paper"] == "ok"
                await server.send_job(8)
                _, result = await server.next("result", timeout=5)
                assert result["outcome"] == "printed"
                process.send_signal(signal.SIGTERM)
                assert await asyncio.wait_for(process.wait(), 5) == 0
            finally:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
            log = (await process.stdout.read()).decode()  # type: ignore[union-attr]
            assert "job 8 printed" in log
        files = list(tmp_path.glob("*.png"))
        assert len(files) == 1
        with Image.open(files[0]) as saved:
            assert saved.size == render_ticket(TICKET, 576).size

    run(scenario)


def test_reconnect_delay_doubles_up_to_the_cap_when_the_server_keeps_dropping_the_agent() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        connected_at: list[float] = []

        async def drop(ws: ServerConnection) -> None:
            connected_at.append(loop.time())
            await ws.close()

        with FakePrinter("accept") as fake:
            async with serve(drop, "127.0.0.1", 0) as server:
                side = ServerSide()
                side.port = next(iter(server.sockets)).getsockname()[1]
                agent = PrinterAgent(agent_config(side, fake.url, backoff_min=0.05, backoff_max=0.2))
                async with running(agent):
                    while len(connected_at) < 6:
                        await asyncio.sleep(0.02)
        gaps = [b - a for a, b in zip(connected_at, connected_at[1:])]
        assert gaps[0] >= 0.05 and gaps[1] >= 0.1 and gaps[2] >= 0.2  # 0.05, 0.1, 0.2, …
        assert all(gap < 0.2 + 0.25 for gap in gaps)  # … capped at 0.2 s

    run(scenario)
