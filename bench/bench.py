"""motcua benchmark: ``make bench`` (``BENCH_ARGS="--displays 200 --clerks 30 ..."``).

What it does, in one run, all on 127.0.0.1:

1. Starts the real server (``python -m queue_server.cli serve``: uvicorn, websockets-sansio)
   on a free port with a temporary database and a bench office of 30 counters, and times
   how long it takes from spawning the process to the first ``/healthz`` answer.
2. **Issue**: K kiosks (keep-alive HTTP connections) issue T tickets concurrently; every
   ticket is a durable commit (WAL, synchronous=FULL). Latency p50/p99 and tickets/s.
3. Connects D hall displays (public WebSocket) and C clerk screens (staff WebSocket, signed
   in at counters 1..C) with the ``websockets`` library, then issues T/4 more tickets with
   everyone connected (each issue event fans out to every screen).
4. **Calls**: each clerk presses Next P times at random moments (mean interval I s); every
   display records when the ``ticket_called`` event arrives. Latency is measured from the
   clerk's request being written to each display receiving the call: p50/p99 over all
   (call, display) pairs.
5. **Floor**: a minimal broadcast server written here with ``websockets`` (its
   ``broadcast()``, no HTTP, no database), in its own process, driven by the *same* clients
   with the *same* press schedule and the *same* message count and sizes per call (a
   ``ticket_done``-sized message and then a ``ticket_called``-sized one). Our latency is
   printed as a ratio to it.
6. **Raw SQLite**: one-row inserts, one transaction each, WAL + synchronous=FULL, on the same
   disk: our issue throughput is printed as a ratio to it.

Client overhead: HTTP is spoken with a few lines of raw asyncio (keep-alive, no parsing
library), displays only ``json.loads`` the messages that contain ``"ticket_called"``, and
the bench's own CPU time per phase is reported, because the clients share the machine's two
cores with the server. See docs/benchmarks.md for results and their explanation.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import tomlkit  # noqa: E402
from websockets.asyncio.client import connect as ws_connect  # noqa: E402

SERVICES = ("CT", "HT", "DD", "LD", "TKQ")
KIOSK_TOKEN = "bench-kiosk-token-0123456789"
PASSWORD = "bench-password-123"
RESULTS = ROOT / "bench" / "results"


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
            f"Content-Length: {len(body)}\r\n{self.headers}\r\n".encode() + body
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


# --------------------------------------------------------------------------- our server

def bench_config(folder: Path, counters: int) -> Path:
    from tests.support import sample_data

    data = sample_data(office={"enforce_hours": False})
    for s in data["services"]:
        s.pop("daily_cap", None)
    data["counters"] = [
        {"number": n, "name": f"Quầy {n}", "name_en": f"Counter {n}",
         "services": {code: ("primary" if i == n % len(SERVICES) else "normal") for i, code in enumerate(SERVICES)}}
        for n in range(1, counters + 1)
    ]
    # Printing is its own subsystem (rendering PNG/raster per ticket); the bench measures
    # the queue path, so the bench kiosk has no printer.
    data["kiosks"] = [{"id": "bench", "name": "Bench kiosk", "token": KIOSK_TOKEN, "printer": ""}]
    data["printers"] = []
    data["server"] = {**data["server"], "database": "bench.db"}
    path = folder / "config.toml"
    path.write_text(tomlkit.dumps(data), encoding="utf-8")
    return path


def add_clerks(config_path: Path, n: int) -> None:
    from queue_server import auth
    from queue_server.config import load_config
    from queue_server.store import Store

    config = load_config(config_path)
    store = Store(config.resolve(config.server.database))
    try:
        for i in range(1, n + 1):
            auth.add_user(store, f"bench{i}", PASSWORD, "clerk")
    finally:
        store.close()


def start_server(folder: Path, config_path: Path, port: int) -> tuple[subprocess.Popen[bytes], float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "queue_server.cli", "--config", str(config_path), "serve",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=folder, stdout=open(folder / "server.log", "ab"), stderr=subprocess.STDOUT, env=env,
    )
    deadline = t0 + 30
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise RuntimeError((folder / "server.log").read_text(errors="replace")[-2000:])
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                if r.status == 200:
                    return proc, time.perf_counter() - t0
        except OSError:
            time.sleep(0.01)
    proc.kill()
    raise RuntimeError("server did not start")


def login(port: int, user: str, counter: int) -> str:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/login", method="POST",
                                 data=json.dumps({"username": user, "password": PASSWORD, "counter": counter}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.headers["set-cookie"].split(";", 1)[0]


async def issue_tickets(port: int, kiosks: int, count: int, start: int) -> dict[str, Any]:
    latencies: list[float] = []
    next_index = iter(range(start, start + count))
    failures: dict[int, int] = {}

    async def kiosk(k: int) -> None:
        conn = await HttpConn(port, f"Authorization: Bearer {KIOSK_TOKEN}\r\n").open()
        try:
            for i in next_index:
                body = json.dumps({"service": SERVICES[i % len(SERVICES)], "priority": i % 10 == 0,
                                   "request_id": f"r{i}"}).encode()
                t = time.perf_counter()
                status, _ = await conn.post("/api/tickets", body)
                latencies.append(time.perf_counter() - t)
                if status != 201:
                    failures[status] = failures.get(status, 0) + 1
        finally:
            await conn.close()

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(kiosk(k) for k in range(kiosks)))
    wall = time.perf_counter() - t0
    return {"tickets": count, "kiosks": kiosks, "seconds": round(wall, 3),
            "throughput_per_s": round(count / wall, 1), "p50_ms": ms(pct(latencies, 50)),
            "p99_ms": ms(pct(latencies, 99)), "failures": failures,
            "bench_client_cpu_s": round(time.process_time() - cpu0, 3)}


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
        self.received: dict[Any, list[float]] = {}   # call id -> receive times (displays)
        self.sizes: dict[str, list[int]] = {}         # kind -> message sizes (display 0)
        self.first: list[int] = []                    # snapshot size per screen
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
                key = json.loads(data)["ticket"]["id"]
                self.received.setdefault(key, []).append(now)
                if index == 0:
                    self.sizes.setdefault("ticket_called", []).append(len(data))
            elif index == 0 and b'"ticket_done"' in data:
                self.sizes.setdefault("ticket_done", []).append(len(data))

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

        await asyncio.gather(*[start(i, None) for i in range(self.displays)],
                             *[start(-1 - i, c) for i, c in enumerate(self.clerk_cookies)])
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


async def run_calls_ours(port: int, cookies: list[str], schedule: list[list[float]],
                         screens: Screens) -> dict[str, Any]:
    sent: dict[int, float] = {}
    errors: dict[int, int] = {}

    async def clerk(n: int, cookie: str, sleeps: list[float]) -> None:
        conn = await HttpConn(port, f"Cookie: {cookie}\r\n").open()
        try:
            for pause in sleeps:
                await asyncio.sleep(pause)
                stamp: list[float] = []
                status, body = await conn.post(f"/api/counters/{n}/next", b"{}",
                                               on_sent=lambda: stamp.append(time.perf_counter()))
                if status != 200:
                    errors[status] = errors.get(status, 0) + 1
                    continue
                ticket = json.loads(body)["ticket"]
                if ticket:
                    sent[ticket["id"]] = stamp[-1]
        finally:
            await conn.close()

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(clerk(i + 1, c, s) for i, (c, s) in enumerate(zip(cookies, schedule))))
    await wait_received(screens, len(sent) * screens.displays, 10)
    lat = call_latencies(sent, screens)
    return {"calls": len(sent), "samples": len(lat), "expected_samples": len(sent) * screens.displays,
            "seconds": round(time.perf_counter() - t0, 2), "p50_ms": ms(pct(lat, 50)), "p99_ms": ms(pct(lat, 99)),
            "max_ms": ms(max(lat, default=float("nan"))), "errors": errors,
            "bench_client_cpu_s": round(time.process_time() - cpu0, 3)}


# --------------------------------------------------------------------------- the floor

def floor_server(port: int, done_size: int, called_size: int, deflate: bool) -> None:
    """A minimal broadcast server: a clerk connection sends ``call <id>``; every connection
    gets a ticket_done-sized and a ticket_called-sized message; the clerk gets ``ok``."""
    from websockets.asyncio.server import broadcast, serve
    from websockets.exceptions import ConnectionClosed

    connections: set[Any] = set()

    def padded(obj: dict[str, Any], size: int) -> str:
        text = json.dumps(obj)
        return text[:-1] + ', "pad": "' + "x" * max(0, size - len(text) - 10) + '"}'

    async def handler(ws: Any) -> None:
        connections.add(ws)
        try:
            await ws.send(padded({"type": "snapshot", "seq": 0}, 2000))
            async for msg in ws:  # ends quietly when the screen goes away
                if isinstance(msg, str) and msg.startswith("call "):
                    key = int(msg[5:])
                    broadcast(connections, padded({"type": "event", "kind": "ticket_done", "ticket": {"id": -key}},
                                                  done_size))
                    broadcast(connections, padded({"type": "event", "kind": "ticket_called", "ticket": {"id": key}},
                                                  called_size))
                    await ws.send("ok")
        except ConnectionClosed:
            pass
        finally:
            connections.discard(ws)

    async def main() -> None:
        async with serve(handler, "127.0.0.1", port, max_size=64 * 1024, ping_interval=10, ping_timeout=10,
                         compression="deflate" if deflate else None):
            await asyncio.Future()

    asyncio.run(main())


async def run_calls_floor(port: int, clerks: int, schedule: list[list[float]], screens: Screens) -> dict[str, Any]:
    sent: dict[int, float] = {}

    async def clerk(n: int, sleeps: list[float]) -> None:
        async with ws_connect(f"ws://127.0.0.1:{port}/", proxy=None, max_size=None, ping_interval=None) as ws:
            await ws.recv()
            answers: asyncio.Queue[str] = asyncio.Queue()

            async def read() -> None:
                # Keep reading like a clerk screen does (and so keep answering pings).
                async for msg in ws:
                    if msg == "ok":
                        answers.put_nowait(msg)

            reader = asyncio.create_task(read())
            for k, pause in enumerate(sleeps):
                await asyncio.sleep(pause)
                key = n * 100_000 + k
                t = time.perf_counter()
                await ws.send(f"call {key}")
                sent[key] = t
                await answers.get()
            reader.cancel()

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(clerk(i + 1, s) for i, s in enumerate(schedule)))
    await wait_received(screens, len(sent) * screens.displays, 10)
    lat = call_latencies(sent, screens)
    return {"calls": len(sent), "samples": len(lat), "expected_samples": len(sent) * screens.displays,
            "seconds": round(time.perf_counter() - t0, 2), "p50_ms": ms(pct(lat, 50)), "p99_ms": ms(pct(lat, 99)),
            "max_ms": ms(max(lat, default=float("nan"))),
            "bench_client_cpu_s": round(time.process_time() - cpu0, 3)}


def raw_sqlite(folder: Path, count: int) -> float:
    """Inserts/s of one ticket-sized row per transaction, WAL + synchronous=FULL."""
    conn = sqlite3.connect(str(folder / "raw.db"), isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, day TEXT, service TEXT, number INTEGER, body TEXT)")
    row = json.dumps({"label": "1001", "token": "x" * 22, "state": "waiting",
                      "issued_at": dt.datetime.now().isoformat()})
    t0 = time.perf_counter()
    for i in range(count):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (day, service, number, body) VALUES (?, ?, ?, ?)", ("2026-01-01", "CT", i, row))
        conn.execute("COMMIT")
    rate = count / (time.perf_counter() - t0)
    conn.close()
    return rate


# --------------------------------------------------------------------------- main

def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


async def bench(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    # Phase 1, on its own database: issue throughput.
    one = folder / "issue"
    one.mkdir()
    config_path = bench_config(one, max(args.clerks, 1))
    port = free_port()
    proc, startup = start_server(one, config_path, port)
    results["startup_s"] = round(startup, 3)
    try:
        await issue_tickets(port, 2, 20, 0)  # warm-up
        cpu = cpu_seconds(proc.pid)
        results["issue"] = await issue_tickets(port, args.kiosks, args.tickets, 1000)
        results["issue"]["server_cpu_ms_per_ticket"] = round((cpu_seconds(proc.pid) - cpu) * 1000 / args.tickets, 3)
        print(f"issue: {results['issue']}", flush=True)
        results["issue"]["server_rss_mb"] = round(proc_status(proc.pid).get("VmHWM", 0) / 1024, 1)
    finally:
        stop_server(proc)

    # Phase 2, a fresh database with a realistic queue (W tickets waiting): screens and calls.
    two = folder / "calls"
    two.mkdir()
    config_path = bench_config(two, max(args.clerks, 1))
    add_clerks(config_path, args.clerks)
    port = free_port()
    proc, startup_2 = start_server(two, config_path, port)
    results["startup_2_s"] = round(startup_2, 3)
    try:
        await issue_tickets(port, args.kiosks, args.waiting, 0)
        cookies = [login(port, f"bench{i}", i) for i in range(1, args.clerks + 1)]
        screens = Screens(f"ws://127.0.0.1:{port}/ws", args.displays, cookies)
        results["connect_s"] = round(await screens.connect(), 3)
        results["snapshot_bytes"] = {"public": max(screens.first[: args.displays], default=0),
                                     "staff": max(screens.first[args.displays:], default=0)}
        results["server_rss_connected_mb"] = round(proc_status(proc.pid).get("VmRSS", 0) / 1024, 1)
        cpu, n = cpu_seconds(proc.pid), max(args.tickets // 10, 1)
        results["issue_connected"] = await issue_tickets(port, args.kiosks, n, 100_000)
        results["issue_connected"]["server_cpu_ms_per_ticket"] = round((cpu_seconds(proc.pid) - cpu) * 1000 / n, 3)
        print(f"issue with {args.displays + args.clerks} screens: {results['issue_connected']}", flush=True)
        schedule = press_schedule(args.clerks, args.presses, args.interval, args.seed)
        cpu = cpu_seconds(proc.pid)
        results["calls"] = await run_calls_ours(port, cookies, schedule, screens)
        results["calls"]["server_cpu_ms_per_call"] = round(
            (cpu_seconds(proc.pid) - cpu) * 1000 / max(results["calls"]["calls"], 1), 2)
        print(f"calls: {results['calls']}", flush=True)
        status = proc_status(proc.pid)
        results["server_rss_mb"] = {"peak": round(status.get("VmHWM", 0) / 1024, 1),
                                    "now": round(status.get("VmRSS", 0) / 1024, 1),
                                    "connections": args.displays + args.clerks, "waiting": args.waiting}
        results["dropped_screens"] = screens.dropped
        sizes = {k: round(sum(v) / len(v)) for k, v in screens.sizes.items() if v}
        results["message_bytes"] = sizes
        # The floor compresses exactly when our server does (permessage-deflate negotiated).
        results["permessage_deflate"] = deflate = screens.deflate
        await screens.close()
    finally:
        stop_server(proc)

    # The floor: same clients, same schedule, same message sizes.
    fport = free_port()
    floor = subprocess.Popen([sys.executable, __file__, "--floor-server", str(fport),
                              str(sizes.get("ticket_done", 1500)), str(sizes.get("ticket_called", 2000)),
                              "deflate" if deflate else "plain"])
    try:
        for _ in range(300):
            try:
                async with ws_connect(f"ws://127.0.0.1:{fport}/", proxy=None, open_timeout=1):
                    break
            except OSError:
                await asyncio.sleep(0.02)
        # The clerks' own sockets (see run_calls_floor) are the floor's clerk screens.
        screens = Screens(f"ws://127.0.0.1:{fport}/", args.displays, [])
        await screens.connect()
        cpu = cpu_seconds(floor.pid)
        results["floor_calls"] = await run_calls_floor(fport, args.clerks, schedule, screens)
        results["floor_calls"]["server_cpu_ms_per_call"] = round(
            (cpu_seconds(floor.pid) - cpu) * 1000 / max(results["floor_calls"]["calls"], 1), 2)
        print(f"floor: {results['floor_calls']}", flush=True)
        fstatus = proc_status(floor.pid)
        results["floor_rss_mb"] = round(fstatus.get("VmHWM", 0) / 1024, 1)
        await screens.close()
    finally:
        floor.terminate()
        floor.wait(10)

    results["raw_sqlite_inserts_per_s"] = round(raw_sqlite(folder, min(args.tickets, 3000)), 1)
    return results


def summarise(args: argparse.Namespace, r: dict[str, Any]) -> dict[str, Any]:
    calls, floor = r["calls"], r["floor_calls"]
    r["ratios"] = {
        "call_p50_vs_floor": round(calls["p50_ms"] / floor["p50_ms"], 2),
        "call_p99_vs_floor": round(calls["p99_ms"] / floor["p99_ms"], 2),
        "issue_vs_raw_sqlite": round(r["issue"]["throughput_per_s"] / r["raw_sqlite_inserts_per_s"], 3),
    }
    r["targets"] = {
        "call_p99_le_2x_floor": r["ratios"]["call_p99_vs_floor"] <= 2,
        "call_p99_le_25ms": calls["p99_ms"] <= 25,
        "issue_ge_300_per_s": r["issue"]["throughput_per_s"] >= 300,
        "rss_le_100mb": r["server_rss_mb"]["peak"] <= 100,
    }
    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "params": {"displays": args.displays, "clerks": args.clerks, "kiosks": args.kiosks, "tickets": args.tickets,
                   "waiting": args.waiting, "deflate": not args.no_deflate,
                   "presses": args.presses, "interval_s": args.interval, "seed": args.seed},
        **r,
    }


def table(r: dict[str, Any]) -> str:
    i, ic, c, f = r["issue"], r["issue_connected"], r["calls"], r["floor_calls"]
    rows = [
        ("start to serving", f"{r['startup_s'] * 1000:.0f} ms", ""),
        (f"issue p50 / p99 ({i['kiosks']} kiosks)", f"{i['p50_ms']} / {i['p99_ms']} ms", ""),
        ("issue throughput (durable)", f"{i['throughput_per_s']} /s",
         f"{r['ratios']['issue_vs_raw_sqlite']}× raw SQLite ({r['raw_sqlite_inserts_per_s']} /s)"),
        (f"issue with {r['server_rss_mb']['connections']} screens", f"{ic['throughput_per_s']} /s",
         f"p50 {ic['p50_ms']} / p99 {ic['p99_ms']} ms"),
        ("call→display p50", f"{c['p50_ms']} ms", f"floor {f['p50_ms']} ms = {r['ratios']['call_p50_vs_floor']}×"),
        ("call→display p99", f"{c['p99_ms']} ms", f"floor {f['p99_ms']} ms = {r['ratios']['call_p99_vs_floor']}×"),
        ("samples (calls × displays)", f"{c['samples']}/{c['expected_samples']}",
         f"floor {f['samples']}/{f['expected_samples']}"),
        ("server CPU per call", f"{c['server_cpu_ms_per_call']} ms", f"floor {f['server_cpu_ms_per_call']} ms"),
        ("server CPU per ticket", f"{i['server_cpu_ms_per_ticket']} ms",
         f"{ic['server_cpu_ms_per_ticket']} ms with screens"),
        ("server peak RSS", f"{r['server_rss_mb']['peak']} MB", f"floor {r['floor_rss_mb']} MB"),
    ]
    w = max(len(a) for a, _, _ in rows)
    lines = [f"{a:<{w}}  {b:>16}  {c_}" for a, b, c_ in rows]
    lines.append(f"permessage-deflate negotiated: {'yes' if r.get('permessage_deflate') else 'no'} (floor: the same)")
    lines.append(f"load average before/after (1 min): {r['loadavg']['before'][0]} / {r['loadavg']['after'][0]}"
                 f" on {os.cpu_count()} CPUs")
    lines.append("targets: " + ", ".join(f"{k}={'met' if v else 'MISSED'}" for k, v in r["targets"].items()))
    return "\n".join(lines)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--floor-server":
        floor_server(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "deflate")
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--displays", "-D", type=int, default=200)
    p.add_argument("--clerks", "-C", type=int, default=30)
    p.add_argument("--kiosks", "-K", type=int, default=8)
    p.add_argument("--tickets", "-T", type=int, default=2000)
    p.add_argument("--presses", "-P", type=int, default=4, help="Next presses per clerk")
    # 30 clerks every 8 s on average: ~3.75 calls/s, 20x the busiest hour of a provincial
    # centre (5,000 tickets in 8 hours). -I 1 is the saturation run (docs/benchmarks.md).
    p.add_argument("--interval", "-I", type=float, default=8.0, help="mean seconds between a clerk's presses")
    p.add_argument("--waiting", "-W", type=int, default=300, help="tickets waiting when the screens connect")
    p.add_argument("--seed", type=int, default=6)
    p.add_argument("--no-deflate", action="store_true", help="screens do not offer permessage-deflate")
    p.add_argument("--no-save", action="store_true", help="do not write bench/results/")
    args = p.parse_args()
    LightClient.deflate = not args.no_deflate
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="motcua-bench-") as tmp:
        raw = asyncio.run(bench(args, Path(tmp)))
    # Other work on the machine skews every figure: keep the load average with the results.
    raw["loadavg"] = {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in os.getloadavg()]}
    result = summarise(args, raw)
    print(table(result))
    if not args.no_save:
        RESULTS.mkdir(parents=True, exist_ok=True)
        text = json.dumps(result, indent=2, ensure_ascii=False) + "\n"
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H%M%SZ")
        (RESULTS / f"{stamp}.json").write_text(text, encoding="utf-8")
        (RESULTS / "latest.json").write_text(text, encoding="utf-8")
        print(f"written: bench/results/{stamp}.json and latest.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
