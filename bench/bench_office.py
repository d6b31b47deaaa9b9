"""Micro-benchmark of the office itself, without HTTP or sockets: what one snapshot, one
services summary, one issue and one fan-out cost as the queue grows.

    .venv/bin/python bench/bench_office.py [--waiting 0,300,3000] [--screens 230] [--profile FILE]

For each number waiting it builds an ``Office`` on a fresh SQLite file (the bench office of
bench/office.py: 30 counters, 5 services), queues that many tickets through the engine, and
times (best of ``--repeat``):

- ``snapshot_staff_ms`` / ``snapshot_public_ms``: building the snapshot and its JSON;
- ``snapshot_cached_us``: asking for it again at the same sequence number (what a resync or a
  reconnecting screen costs);
- ``services_summary_ms``: the summary every events message carries;
- ``issue_ms``: one ticket through ``Office.execute`` (engine, durable commit, messages);
- ``issue_cpu_ms`` / ``call_cpu_ms``: CPU time (``time.process_time``) per issue and per Next
  (30 counters open, ``--repeat`` of each), the figures to trust on a loaded machine;
- ``fanout_us_per_screen``: ``Hub.publish`` of one call message to ``--screens`` connections
  (frames written to in-memory transports), per screen.

``--profile FILE``: the issues and Next presses timed for ``issue_cpu_ms`` / ``call_cpu_ms``
run under cProfile, whose stats go to ``FILE.<waiting>`` (read them with ``pstats``); those
two figures then include the profiler's own cost.

Writes ``bench/results/office.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import json
import os
import platform
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from office import SERVICES, bench_config  # noqa: E402
from queue_server.config import load_config  # noqa: E402
from queue_server.hub import Hub  # noqa: E402
from queue_server.office import Office  # noqa: E402
from queue_server.store import Store  # noqa: E402


class MemoryWriter:
    """A connection whose transport is a list (what the hub's write costs, without a socket)."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def write_frame(self, frame: bytes) -> bool:
        self.frames.append(frame)
        return True

    def close_slow(self) -> None:
        pass


def best(fn: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


async def measure(folder: Path, waiting: int, screens: int, repeat: int, profile: str = "") -> dict[str, Any]:
    folder.mkdir()
    config = load_config(bench_config(folder, 30, 1, None))
    office = Office(config, Store(folder / "office.db"), hub=Hub())
    for i in range(waiting):
        service = SERVICES[i % len(SERVICES)]
        await office.execute(lambda e, now, s=service: e.issue(now, service=s, token=secrets.token_urlsafe(16))[1])
    out: dict[str, Any] = {"waiting": waiting}
    out["snapshot_staff_ms"] = round(
        best(lambda: json.dumps(office.snapshot("staff"), ensure_ascii=False), repeat) * 1000, 3
    )
    out["snapshot_public_ms"] = round(
        best(lambda: json.dumps(office.snapshot("public"), ensure_ascii=False), repeat) * 1000, 3
    )
    office.snapshot_message("staff")
    out["snapshot_cached_us"] = round(best(lambda: office.snapshot_message("staff"), repeat) * 1e6, 2)
    out["services_summary_ms"] = round(best(lambda: office.services_summary(office.clock()), repeat) * 1000, 3)
    issue_times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        await office.execute(lambda e, now: e.issue(now, service="CT", token=secrets.token_urlsafe(16))[1])
        issue_times.append(time.perf_counter() - t0)
    out["issue_ms"] = round(min(issue_times) * 1000, 3)
    # CPU per command (process_time: what the office costs, not waiting for the disk or a
    # loaded machine), with 30 counters open: issue, then Next.
    for n in range(1, 31):
        await office.execute(lambda e, now, n=n: e.sign_on(now, n, f"clerk{n}"))
    profiler = cProfile.Profile() if profile else None
    if profiler is not None:
        profiler.enable()
    cpu0 = time.process_time()
    for i in range(repeat):
        await office.execute(
            lambda e, now, i=i: e.issue(now, service=SERVICES[i % 5], token=secrets.token_urlsafe(16))[1]
        )
    cpu1 = time.process_time()
    for i in range(repeat):
        await office.execute(lambda e, now, n=1 + i % 30: e.call_next(now, n, f"clerk{n}"))
    cpu2 = time.process_time()
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(f"{profile}.{waiting}")
    out["issue_cpu_ms"] = round((cpu1 - cpu0) * 1000 / repeat, 3)
    out["call_cpu_ms"] = round((cpu2 - cpu1) * 1000 / repeat, 3)
    for _ in range(screens):
        office.hub.subscribe("public", MemoryWriter())
    message = json.dumps({"v": 2, "type": "events", "pad": "x" * 2400})
    out["fanout_us_per_screen"] = round(
        best(lambda: office.hub.publish({"public": message}), repeat) * 1e6 / screens, 3
    )
    office.close()
    office.store.close()
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--waiting", default="0,300,3000")
    p.add_argument("--screens", type=int, default=230)
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--profile", default="", help="cProfile the timed issues and Next presses into FILE.<waiting>")
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="motcua-bench-office-") as tmp:
        for w in sorted({int(x) for x in args.waiting.split(",")}):
            row = asyncio.run(measure(Path(tmp) / f"w{w}", w, args.screens, args.repeat, args.profile))
            print(row, flush=True)
            rows.append(row)
    out = ROOT / "bench" / "results" / "office.json"
    out.write_text(
        json.dumps(
            {
                "benchmark": "office without HTTP",
                "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "machine": {
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "load_average_1m": round(os.getloadavg()[0], 2),
                },
                "screens": args.screens,
                "best_of": args.repeat,
                "rows": rows,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"written {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
