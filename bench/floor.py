"""The floors our figures are divided by, measured on the same machine in the same run:

- ``floor_server``: a minimal broadcast server written with ``websockets`` (its
  ``broadcast()``, no HTTP, no database, no auth) in its own process; a clerk connection
  sends ``call <id>`` and every connection gets one message of the size of our call message.
- ``raw_sqlite``: one-row inserts, one transaction each, WAL + synchronous=FULL, same disk.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect as ws_connect

from clients import Screens, call_latencies, ms, pct, wait_received


def floor_server(port: int, call_size: int) -> None:
    """Serve until killed: ``call <id>`` from a clerk makes one ``call_size``-byte
    ``ticket_called`` message to every connection, then ``ok`` to the clerk."""
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
                    broadcast(
                        connections,
                        padded(
                            {"v": 2, "type": "events", "events": [{"kind": "ticket_called", "ticket": {"id": key}}]},
                            call_size,
                        ),
                    )
                    await ws.send("ok")
        except ConnectionClosed:
            pass
        finally:
            connections.discard(ws)

    async def main() -> None:
        async with serve(
            handler, "127.0.0.1", port, max_size=64 * 1024, ping_interval=10, ping_timeout=10, compression=None
        ):
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
    return {
        "calls": len(sent),
        "samples": len(lat),
        "expected_samples": len(sent) * screens.displays,
        "seconds": round(time.perf_counter() - t0, 2),
        "p50_ms": ms(pct(lat, 50)),
        "p99_ms": ms(pct(lat, 99)),
        "max_ms": ms(max(lat, default=float("nan"))),
        "bench_client_cpu_s": round(time.process_time() - cpu0, 3),
    }


def raw_sqlite(folder: Path, count: int) -> float:
    """Inserts/s of one ticket-sized row per transaction, WAL + synchronous=FULL."""
    conn = sqlite3.connect(str(folder / "raw.db"), isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, day TEXT, service TEXT, number INTEGER, body TEXT)")
    row = json.dumps(
        {"label": "1001", "token": "x" * 22, "state": "waiting", "issued_at": dt.datetime.now().isoformat()}
    )
    t0 = time.perf_counter()
    for i in range(count):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (day, service, number, body) VALUES (?, ?, ?, ?)", ("2026-01-01", "CT", i, row))
        conn.execute("COMMIT")
    rate = count / (time.perf_counter() - t0)
    conn.close()
    return rate
