"""Screens against a real server: a display that stops reading is dropped without slowing the
others, and after a server restart (kill -9) every screen is back on the true state within
5 s, reconnecting with backoff as display/js/live.js does."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect as ws_connect

from tests.support import KIOSK_TOKEN, ServerProcess, add_staff, http, login, write_config

GOOD_DISPLAYS = 15


@pytest.fixture
def office(tmp_path: Path) -> Iterator[ServerProcess]:
    config_path = write_config(
        tmp_path, kiosks=[{"id": "sanh", "name": "Kiosk", "token": KIOSK_TOKEN, "printer": ""}], printers=[]
    )
    add_staff(config_path, {f"clerk{n}": "clerk" for n in range(1, 6)})
    proc = ServerProcess(tmp_path, config_path).start()
    try:
        yield proc
    finally:
        proc.stop()


def stuck_display(port: int) -> socket.socket:
    """A display that completes the handshake and then never reads, with a tiny receive
    buffer (a frozen TV box)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    s.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(
        (
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return s


def issue_many(base_url: str, count: int, prefix: str, sent: dict[int, float]) -> None:
    """Issue ``count`` tickets from three kiosk threads, noting when each request left."""
    numbers = iter(range(count))
    lock = threading.Lock()

    def kiosk() -> None:
        while True:
            with lock:
                i = next(numbers, None)
            if i is None:
                return
            t = time.perf_counter()
            status, body, _ = http(
                "POST",
                base_url + "/api/tickets",
                {"service": ("CT", "HT", "LD", "TKQ")[i % 4], "request_id": f"{prefix}{i}"},
                token=KIOSK_TOKEN,
            )
            assert status == 201, body
            with lock:
                sent[body["id"]] = t

    threads = [threading.Thread(target=kiosk) for _ in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()


async def watch_issues(
    url: str, displays: int, expected: int, received: list[dict[int, float]], ready: asyncio.Event
) -> None:
    async def display(i: int) -> None:
        async with ws_connect(url, proxy=None, max_size=None) as ws:
            await ws.recv()
            received[i] = {}
            if all(r is not None for r in received):
                ready.set()
            while len(received[i]) < expected:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 30))
                for event in msg.get("events", ()):
                    if event["kind"] == "ticket_issued":
                        received[i][event["ticket"]["id"]] = time.perf_counter()

    await asyncio.gather(*(display(i) for i in range(displays)))


def measure(server: ServerProcess, count: int, prefix: str) -> list[float]:
    """Latencies (kiosk request sent -> good display received) for ``count`` tickets."""
    received: list[Any] = [None] * GOOD_DISPLAYS
    sent: dict[int, float] = {}

    async def scenario() -> None:
        ready = asyncio.Event()
        watcher = asyncio.create_task(watch_issues(server.ws_url, GOOD_DISPLAYS, count, received, ready))
        await asyncio.wait_for(ready.wait(), 10)
        await asyncio.to_thread(issue_many, server.base_url, count, prefix, sent)
        await asyncio.wait_for(watcher, 30)

    asyncio.run(scenario())
    assert all(len(r) == count for r in received), "a good display missed events"
    return [r[tid] - sent[tid] for r in received for tid in r]


def test_a_display_that_stops_reading_is_dropped_without_slowing_the_others(office: ServerProcess) -> None:
    baseline = measure(office, 150, "a")
    stuck = [stuck_display(office.port) for _ in range(3)]
    try:
        # More events than a screen's queue (256) plus its socket buffers can hold: on
        # loopback the kernel absorbs ~1,400 of these ~2 kB messages first.
        loaded = measure(office, 1800, "b")
        # A stuck screen leaves the server one of two ways: dropped once what it left unread
        # passes the server's limit (how much the kernel's socket buffers absorb first varies),
        # or, on a slow machine where that takes longer, closed by the server's WebSocket
        # keepalive (ping every 10 s, 10 s to answer). Either way it must go, with the good
        # screens unharmed; more tickets follow (bounded) until it has. The drop itself (close
        # 1013, counted) is tested deterministically in tests/test_push.py.
        deadline = time.monotonic() + 90
        for extra in range(60):
            status, health, _ = http("GET", office.base_url + "/healthz")
            assert status == 200, health
            if health["screens"] == 0 or time.monotonic() > deadline:
                break
            issue_many(office.base_url, 100, f"x{extra}", {})
            time.sleep(0.5)
        assert health["screens"] == 0, health
        assert health["dropped_screens"] <= len(stuck), health
        log = office.log_path.read_text(errors="replace")
        assert log.count("dropping a public client") == health["dropped_screens"], log[-2000:]
        assert "Traceback" not in log, log[-2000:]
        # The good displays saw every event (``measure`` waits for each one). How fast is for
        # the benchmark (`make bench`), not for a test on a machine of unknown load.
        assert len(loaded) == GOOD_DISPLAYS * 1800 and len(baseline) == GOOD_DISPLAYS * 150
        # The server is still fine for everyone.
        status, body, _ = http("POST", office.base_url + "/api/tickets", {"service": "CT"}, token=KIOSK_TOKEN)
        assert status == 201, body
    finally:
        for s in stuck:
            s.close()


# --------------------------------------------------------------------------- restart


class Screen:
    """A screen's model of the office: the last snapshot, with events applied in seq order;
    reconnects with backoff and resyncs on a gap, like display/js/live.js."""

    def __init__(self, url: str, cookie: str | None = None):
        self.url = url
        self.cookie = cookie
        self.seq = -1
        self.counters: dict[int, Any] = {}
        self.connects = 0

    def view(self) -> tuple[int, dict[int, Any]]:
        return self.seq, dict(self.counters)

    async def run(self) -> None:
        delay = 0.1
        headers = {"Cookie": self.cookie} if self.cookie else None
        while True:
            try:
                async with ws_connect(
                    self.url,
                    additional_headers=headers,
                    proxy=None,
                    max_size=None,
                    open_timeout=2,
                    ping_interval=2,
                    ping_timeout=2,
                ) as ws:
                    self.connects += 1
                    delay = 0.1
                    async for raw in ws:
                        msg = json.loads(raw)
                        if msg["type"] == "snapshot":
                            self.seq = msg["seq"]
                            self.counters = {c["number"]: (c["ticket"] or {}).get("id") for c in msg["counters"]}
                        elif msg["type"] == "events":
                            for event in msg["events"]:
                                if event["seq"] != self.seq + 1:
                                    await ws.send(json.dumps({"type": "resync"}))
                                    break
                                self.seq = event["seq"]
                                if event.get("counter"):
                                    self.counters[event["counter"]["number"]] = event["counter"]["ticket_id"]
            except (TimeoutError, OSError, Exception):  # noqa: BLE001 - any failure: reconnect
                pass
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)


def true_view(server: ServerProcess) -> tuple[int, dict[int, Any]]:
    state = http("GET", server.base_url + "/api/state")[1]
    return state["seq"], {c["number"]: (c["ticket"] or {}).get("id") for c in state["counters"]}


def test_after_a_restart_every_screen_is_back_on_the_true_state_within_5_s(office: ServerProcess) -> None:
    base = office.base_url
    cookies = {n: login(base, f"clerk{n}", n) for n in (1, 2, 3)}
    for i in range(12):
        http("POST", base + "/api/tickets", {"service": ("CT", "HT")[i % 2], "request_id": f"r{i}"}, token=KIOSK_TOKEN)
    for n in (1, 2, 3):
        http("POST", base + f"/api/counters/{n}/next", {}, cookie=cookies[n])
    screens = [Screen(office.ws_url) for _ in range(8)] + [Screen(office.ws_url, cookies[1]) for _ in range(2)]

    async def scenario() -> list[float]:
        tasks = [asyncio.create_task(s.run()) for s in screens]
        try:
            await until(lambda: all(s.view() == true_view(office) for s in screens), 5)
            await asyncio.to_thread(office.kill)
            # While the server is down the office does not stop: on restart the state differs
            # from what the screens last saw.
            await asyncio.to_thread(office.start)
            back = time.perf_counter()
            for n in (1, 2):
                await asyncio.to_thread(http, "POST", base + f"/api/counters/{n}/next", {}, cookie=cookies[n])
            truth = await asyncio.to_thread(true_view, office)
            times = []
            for s in screens:
                await until(lambda s=s: s.view() == truth, 5)
                times.append(time.perf_counter() - back)
            return times
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    times = asyncio.run(scenario())
    assert max(times) <= 5.0, times
    assert all(s.connects >= 2 for s in screens)


async def until(predicate: Any, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise AssertionError("screens did not catch up in time")
        await asyncio.sleep(0.02)
