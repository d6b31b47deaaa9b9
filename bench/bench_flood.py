"""Four WebSocket clients flood the server with resyncs for 8 s (reconnecting whenever they
are closed), while one client measures ``/healthz`` and ticket issue. Target: p99 of both
under 250 ms (security issue 10). A quiet run first gives the baseline.

    python bench/bench_flood.py [--seconds 8] [--flooders 4]

Writes ``bench/results/flood.json`` and prints the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from websockets.asyncio.client import connect  # noqa: E402
from websockets.exceptions import ConnectionClosed, InvalidStatus  # noqa: E402

from tests.support import KIOSK_TOKEN, ServerProcess, http, write_config  # noqa: E402

TARGET_MS = 250.0


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return round(s[min(len(s) - 1, max(0, round(p / 100 * len(s)) - 1))] * 1000, 1) if s else float("nan")


def measure(base: str, seconds: float, prefix: str) -> dict[str, Any]:
    """Alternate /healthz and POST /api/tickets for ``seconds``; latencies in ms."""
    health: list[float] = []
    issue: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    i = 0
    while time.monotonic() < deadline:
        t = time.perf_counter()
        status, _, _ = http("GET", base + "/healthz", timeout=15)
        health.append(time.perf_counter() - t)
        t = time.perf_counter()
        status2, _, _ = http(
            "POST",
            base + "/api/tickets",
            {"service": ("CT", "HT", "LD")[i % 3], "request_id": f"{prefix}{i}"},
            token=KIOSK_TOKEN,
            timeout=15,
        )
        issue.append(time.perf_counter() - t)
        errors += status != 200 or status2 not in (200, 201)
        i += 1
        time.sleep(0.02)
    return {
        "requests": len(health) + len(issue),
        "errors": errors,
        "healthz_ms": {"p50": pct(health, 50), "p99": pct(health, 99), "max": pct(health, 100)},
        "issue_ms": {"p50": pct(issue, 50), "p99": pct(issue, 99), "max": pct(issue, 100)},
    }


async def flood(url: str, stop: asyncio.Event, stats: dict[str, int]) -> None:
    """Send resyncs as fast as possible without reading; reconnect when closed."""
    message = json.dumps({"type": "resync"})
    while not stop.is_set():
        try:
            async with connect(url, proxy=None, max_queue=4) as ws:
                stats["connections"] += 1
                while not stop.is_set():
                    await ws.send(message)
                    stats["sent"] += 1
                    await asyncio.sleep(0)
        except ConnectionClosed as exc:
            if exc.rcvd and exc.rcvd.code == 1008:
                stats["closed_1008"] += 1
        except (InvalidStatus, OSError):
            await asyncio.sleep(0.05)


def run_flooders(url: str, count: int, seconds: float, stats: dict[str, int]) -> threading.Thread:
    async def main() -> None:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(flood(url, stop, stats)) for _ in range(count)]
        await asyncio.sleep(seconds)
        stop.set()
        await asyncio.wait(tasks, timeout=5)
        for task in tasks:
            task.cancel()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    return thread


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--flooders", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        server = ServerProcess(Path(folder), write_config(Path(folder))).start()
        try:
            quiet = measure(server.base_url, 3.0, "q")
            stats = {"connections": 0, "sent": 0, "closed_1008": 0}
            flooders = run_flooders(server.ws_url, args.flooders, args.seconds, stats)
            time.sleep(0.5)  # let the flood start
            flooded = measure(server.base_url, args.seconds - 1.0, "f")
            flooders.join(15)
        finally:
            server.stop()
    result = {
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "flooders": args.flooders,
        "seconds": args.seconds,
        "quiet": quiet,
        "flooded": flooded,
        "flood": stats,
        "target_p99_ms": TARGET_MS,
        "met": flooded["healthz_ms"]["p99"] < TARGET_MS and flooded["issue_ms"]["p99"] < TARGET_MS,
    }
    out = ROOT / "bench" / "results" / "flood.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
