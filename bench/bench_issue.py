"""The real server's start and issue path, in CPU time: what `make bench` measures in wall time,
for a loaded machine.

    .venv/bin/python bench/bench_issue.py [--tickets 1000] [--kiosks 8] [--profile FILE]

Starts ``python -m queue_server.cli serve`` on the bench centre (bench/office.py: 30
counters, 5 services), optionally under cProfile (``--profile``: stats written to FILE when
the server stops), prints the wall time to the first ``/healthz`` answer and the server's CPU
time until then; then ``--kiosks`` kiosks without printers issue ``--tickets`` tickets over
keep-alive HTTP (the queue grows from 0), and it prints the server's CPU time per ticket and
the group commits (`/healthz` ``commits``). Writes nothing under bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from clients import cpu_seconds, free_port  # noqa: E402
from office import bench_config, issue_tickets  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tickets", type=int, default=1000)
    p.add_argument("--kiosks", type=int, default=8)
    p.add_argument("--profile", help="run the server under cProfile, stats to this file")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="motcua-bench-issue-") as tmp:
        folder, port = Path(tmp), free_port()
        config = bench_config(folder, 30, args.kiosks, None)
        profile = ["-m", "cProfile", "-o", str(Path(args.profile).resolve())] if args.profile else []
        cmd = [sys.executable, *profile, "-m", "queue_server.cli", "--config", str(config), "serve"]
        cmd += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=folder, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL)
        try:
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).close()
                    break
                except OSError:
                    if proc.poll() is not None:
                        raise RuntimeError("the server stopped") from None
                    time.sleep(0.005)
            cpu0 = cpu_seconds(proc.pid)
            print(f"start: {time.perf_counter() - t0:.3f} s wall, server CPU {cpu0:.3f} s", flush=True)
            result = asyncio.run(issue_tickets(port, args.kiosks, args.tickets, 0, printing=False))
            cpu = cpu_seconds(proc.pid) - cpu0
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as r:
                commits = json.load(r).get("commits")
            print(result)
            print(f"server CPU per ticket: {cpu * 1000 / args.tickets:.2f} ms; commits: {commits}")
            print(f"load average (1 min): {os.getloadavg()[0]:.2f}")
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
