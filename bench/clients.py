"""The benchmark's clients: keep-alive HTTP in a few lines of asyncio, and screens built on
``websockets``' sans-I/O client so 230 of them in one process measure the server, not the
client. Also the small measuring helpers (percentiles, a process's CPU time and RSS)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from pathlib import Path
from typing import Any

# --------------------------------------------------------------------------- helpers


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s)) - 1))]


def ms(x: float) -> float:
    return round(x * 1000, 2)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_status(pid: int) -> dict[str, int]:
    """VmHWM / VmRSS of a process in kB (Linux)."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmHWM", "VmRSS")):
                key, value = line.split(":", 1)
                out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (Linux /proc/PID/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


class HttpConn:
    """A keep-alive HTTP/1.1 connection with just enough parsing for JSON answers."""

    def __init__(self, port: int, headers: str = ""):
        self.port = port
        self.headers = headers
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> HttpConn:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        return self

    async def post(self, path: str, body: bytes, on_sent: Any = None) -> tuple[int, bytes]:
        try:
            return await self._post(path, body, on_sent)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            if isinstance(exc, asyncio.IncompleteReadError) and exc.partial:
                raise
            # uvicorn closes keep-alive connections idle for 5 s; the request was not read.
            await self.close()
            await self.open()
            return await self._post(path, body, on_sent)

    async def _post(self, path: str, body: bytes, on_sent: Any = None) -> tuple[int, bytes]:
        assert self.reader and self.writer
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{self.headers}\r\n".encode()
            + body
        )
        if on_sent is not None:
            on_sent()
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        if self.writer:
            self.writer.close()


# --------------------------------------------------------------------------- screens


class LightClient(asyncio.Protocol):
    """A screen built on websockets' sans-I/O ``ClientProtocol``: arrival is timestamped when
    the bytes reach the process, and parsing costs a few microseconds, so 230 screens in one
    process measure the server rather than the client. It offers permessage-deflate, as
    browsers do, and answers pings (the protocol queues the pong)."""

    deflate = True  # --no-deflate: measure what per-message compression costs

    def __init__(self, uri: str, cookie: str | None, on_text: Any):
        from websockets.client import ClientProtocol
        from websockets.extensions.permessage_deflate import enable_client_permessage_deflate
        from websockets.uri import parse_uri

        extensions = enable_client_permessage_deflate(None) if self.deflate else None
        self.ws = ClientProtocol(parse_uri(uri), extensions=extensions, max_size=None)
        self.request = self.ws.connect()
        if cookie:
            self.request.headers["Cookie"] = cookie
        self.on_text = on_text
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.ws.send_request(self.request)
        self._flush()

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        from websockets.frames import Frame, Opcode
        from websockets.http11 import Response

        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Response):
                if not self.opened.done():
                    if event.status_code == 101:
                        self.opened.set_result(None)
                    else:
                        self.opened.set_exception(RuntimeError(f"handshake refused: {event.status_code}"))
            elif isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                self.on_text(event.data, now)
        self._flush()

    def _flush(self) -> None:
        assert self.transport is not None
        for chunk in self.ws.data_to_send():
            if chunk:
                self.transport.write(chunk)
            elif self.transport.can_write_eof():
                self.transport.write_eof()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError("closed during handshake"))
        if not self.closed.done():
            self.closed.set_result(None)

    def close(self) -> None:
        if self.transport is not None and not self.closed.done():
            try:
                self.ws.send_close(1001)
                self._flush()
            except Exception:
                pass
            self.transport.close()


class Screens:
    """D displays and C clerk screens on one event loop; displays time every call."""

    def __init__(self, url: str, displays: int, clerk_cookies: list[str]):
        self.url = url
        self.displays = displays
        self.clerk_cookies = clerk_cookies
        self.received: dict[Any, list[float]] = {}  # call id -> receive times (displays)
        self.sizes: dict[str, list[int]] = {}  # "call"/"issue" -> message sizes (display 0)
        self.first: list[int] = []  # snapshot size per screen
        self.clients: list[LightClient] = []
        self.deflate = False

    def _handler(self, index: int) -> Any:
        seen = [False]

        def on_text(data: bytes, now: float) -> None:
            if not seen[0]:
                seen[0] = True
                self.first.append(len(data))
                return
            if index < 0:
                return  # a clerk screen: read and drop
            if b'"ticket_called"' in data:
                # Protocol v2: one message per action; a Next's carries ticket_done and ticket_called.
                for event in json.loads(data)["events"]:
                    if event["kind"] == "ticket_called":
                        self.received.setdefault(event["ticket"]["id"], []).append(now)
                if index == 0:
                    self.sizes.setdefault("call", []).append(len(data))
            elif index == 0 and b'"ticket_issued"' in data:
                self.sizes.setdefault("issue", []).append(len(data))

        return on_text

    async def connect(self) -> float:
        from urllib.parse import urlsplit

        loop = asyncio.get_running_loop()
        parts = urlsplit(self.url)
        sem = asyncio.Semaphore(20)
        t0 = time.perf_counter()

        async def start(index: int, cookie: str | None) -> None:
            async with sem:
                client = LightClient(self.url, cookie, self._handler(index))
                await loop.create_connection(lambda: client, parts.hostname, parts.port)
                await asyncio.wait_for(client.opened, 30)
                self.clients.append(client)
                self.deflate = bool(client.ws.extensions)  # what the server agreed to

        await asyncio.gather(
            *[start(i, None) for i in range(self.displays)],
            *[start(-1 - i, c) for i, c in enumerate(self.clerk_cookies)],
        )
        deadline = time.perf_counter() + 60
        while len(self.first) < len(self.clients) and time.perf_counter() < deadline:
            await asyncio.sleep(0.01)  # every screen has its snapshot
        return time.perf_counter() - t0

    @property
    def dropped(self) -> int:
        return sum(1 for c in self.clients if c.closed.done())

    async def close(self) -> None:
        for c in self.clients:
            c.close()
        await asyncio.sleep(0.1)


def press_schedule(clerks: int, presses: int, interval: float, seed: int) -> list[list[float]]:
    rng = random.Random(seed)
    return [[rng.uniform(0, 2 * interval) for _ in range(presses)] for _ in range(clerks)]


async def wait_received(screens: Screens, expected: int, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if sum(len(v) for v in screens.received.values()) >= expected:
            return
        await asyncio.sleep(0.05)


def call_latencies(sent: dict[Any, float], screens: Screens) -> list[float]:
    return [r - sent[key] for key, times in screens.received.items() if key in sent for r in times]
