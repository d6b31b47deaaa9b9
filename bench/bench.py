"""motcua benchmark: ``make bench`` (``BENCH_ARGS="--displays 200 --clerks 30 ..."``, or
``BENCH_ARGS="--profile ward"``).

What it does, in one run, all on 127.0.0.1 (details and results: docs/benchmarks.md):

1. Starts the real server (``python -m queue_server.cli serve``) on a free port with a
   temporary database and a bench office (bench/office.py), and times spawn → first
   ``/healthz``.
2. **Issue**: K kiosks (keep-alive HTTP) issue T tickets concurrently; every ticket is a
   durable commit (WAL, synchronous=FULL). Then T/10 more with every kiosk printing its
   tickets to a fake port-9100 printer (bench/fake_printer.py, its own process; ``--no-print``
   leaves it out): throughput and server CPU per printed ticket.
3. **Sweep** over the number of tickets waiting (``--sweep 0,300,3000``): for each, a fresh
   server with that queue (loaded by a kiosk without printer), D hall displays and C clerk
   screens connected; T/10 tickets issued
   with everyone connected (server CPU per ticket), then each clerk presses Next P times at
   random moments (mean interval I s): server CPU per call and call→display latency (from the
   clerk's request being written to each display receiving the ``ticket_called``). The point at
   ``--waiting`` (300) gives the headline figures.
4. **Floor**: a minimal ``websockets.broadcast()`` server (bench/floor.py) driven by the same
   clients with the same press schedule and the same message size per call.
5. **Raw SQLite**: one-row durable inserts on the same disk.
6. **Year report** (bench/bench_reports.py, its own process, no server running): a year of a
   busy centre (500,000 tickets), the year report for every grouping. Its database is
   generated once (about a minute) into ``bench/.cache/`` (not committed) and reused by
   later runs; ``--no-reports`` leaves the phase out.

Every target of issue 12 is printed at the end, met or MISSED, with its figure.

The bench's clients share the machine's two cores with the server, so they are kept cheap
(bench/clients.py) and their CPU time per phase is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from websockets.asyncio.client import connect as ws_connect  # noqa: E402

from clients import LightClient, Screens, cpu_seconds, free_port, press_schedule, proc_status  # noqa: E402
from floor import raw_sqlite, run_calls_floor  # noqa: E402
from office import (  # noqa: E402
    add_clerks,
    bench_config,
    issue_tickets,
    login,
    run_calls_ours,
    start_server,
    stop_server,
)

RESULTS = ROOT / "bench" / "results"
# Generated data kept between runs (.gitignore): the year report's database.
CACHE = ROOT / "bench" / ".cache"
PROFILES = {
    # A provincial centre's screens, 20x its busiest hour of calls (30 clerks every 8 s).
    "centre": {
        "displays": 200,
        "clerks": 30,
        "kiosks": 8,
        "tickets": 2000,
        "presses": 4,
        "interval": 8.0,
        "waiting": 300,
        "sweep": "0,300,3000",
    },
    # A ward: 2 displays, 5 clerks, 1 kiosk.
    "ward": {
        "displays": 2,
        "clerks": 5,
        "kiosks": 1,
        "tickets": 300,
        "presses": 6,
        "interval": 2.0,
        "waiting": 20,
        "sweep": "0,20,300",
    },
}


class FakePrinter:
    """bench/fake_printer.py in its own process."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).parent / "fake_printer.py"), str(self.port)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.proc.stdout.readline()  # "ready"

    def stop(self) -> dict[str, int]:
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=10)
        try:
            return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]
        except (ValueError, IndexError):
            return {}


async def settle(pid: int, limit: float = 60) -> float:
    """Wait until the server is idle (print jobs rendered and sent); returns the seconds waited."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit:
        cpu = cpu_seconds(pid)
        await asyncio.sleep(0.5)
        if cpu_seconds(pid) - cpu < 0.03:
            break
    return round(time.perf_counter() - t0, 2)


async def phase_issue(args: argparse.Namespace, folder: Path, printer_port: int | None) -> dict[str, Any]:
    """Durable issue throughput (the queue path: kiosk0, which has no printer), then the same
    with every kiosk printing its tickets (rendering and sending them costs the server CPU)."""
    folder.mkdir()
    config_path = bench_config(folder, max(args.clerks, 1), args.kiosks, printer_port)
    port = free_port()
    proc, startup = start_server(folder, config_path, port)
    out: dict[str, Any] = {"startup_s": round(startup, 3)}
    try:
        await issue_tickets(port, min(2, args.kiosks), 20, 0, printing=False)  # warm-up
        await settle(proc.pid)
        cpu = cpu_seconds(proc.pid)
        out["issue"] = issue = await issue_tickets(port, args.kiosks, args.tickets, 1000, printing=False)
        issue["server_cpu_ms_per_ticket"] = round((cpu_seconds(proc.pid) - cpu) * 1000 / args.tickets, 3)
        issue["server_rss_mb"] = round(proc_status(proc.pid).get("VmHWM", 0) / 1024, 1)
        print(f"issue: {issue}", flush=True)
        if printer_port:
            n = max(args.tickets // 10, 1)
            await settle(proc.pid)
            cpu = cpu_seconds(proc.pid)
            out["issue_printing"] = printing = await issue_tickets(port, args.kiosks, n, 50_000)
            # Printing goes on after the kiosks have their answers: wait for it, count it all.
            printing["print_settle_s"] = await settle(proc.pid)
            printing["server_cpu_ms_per_ticket"] = round((cpu_seconds(proc.pid) - cpu) * 1000 / n, 3)
            print(f"issue, every kiosk printing: {printing}", flush=True)
    finally:
        stop_server(proc)
    return out


async def sweep_point(
    args: argparse.Namespace, folder: Path, waiting: int, printer_port: int | None, schedule: list[list[float]]
) -> dict[str, Any]:
    """A fresh server with ``waiting`` tickets queued, every screen connected: issue, then calls."""
    folder.mkdir()
    config_path = bench_config(folder, max(args.clerks, 1), args.kiosks, printer_port)
    add_clerks(config_path, args.clerks)
    port = free_port()
    proc, startup = start_server(folder, config_path, port)
    r: dict[str, Any] = {"waiting": waiting, "startup_s": round(startup, 3)}
    try:
        if waiting:
            await issue_tickets(port, args.kiosks, waiting, 0, printing=False)
            await settle(proc.pid)
        cookies = [login(port, f"bench{i}", i) for i in range(1, args.clerks + 1)]
        screens = Screens(f"ws://127.0.0.1:{port}/ws", args.displays, cookies)
        r["connect_s"] = round(await screens.connect(), 3)
        r["snapshot_bytes"] = {
            "public": max(screens.first[: args.displays], default=0),
            "staff": max(screens.first[args.displays :], default=0),
        }
        r["server_rss_connected_mb"] = round(proc_status(proc.pid).get("VmRSS", 0) / 1024, 1)
        await settle(proc.pid)
        cpu, n = cpu_seconds(proc.pid), max(args.tickets // 10, 1)
        r["issue_connected"] = ic = await issue_tickets(port, args.kiosks, n, 100_000, printing=False)
        ic["server_cpu_ms_per_ticket"] = round((cpu_seconds(proc.pid) - cpu) * 1000 / n, 3)
        await settle(proc.pid)
        cpu = cpu_seconds(proc.pid)
        r["calls"] = calls = await run_calls_ours(port, cookies, schedule, screens)
        calls["server_cpu_ms_per_call"] = round((cpu_seconds(proc.pid) - cpu) * 1000 / max(calls["calls"], 1), 2)
        status = proc_status(proc.pid)
        r["server_rss_mb"] = {
            "peak": round(status.get("VmHWM", 0) / 1024, 1),
            "now": round(status.get("VmRSS", 0) / 1024, 1),
            "connections": args.displays + args.clerks,
            "waiting": waiting,
        }
        r["dropped_screens"] = screens.dropped
        r["message_bytes"] = {k: round(sum(v) / len(v)) for k, v in screens.sizes.items() if v}
        r["permessage_deflate"] = screens.deflate
        await screens.close()
    finally:
        stop_server(proc)
    print(
        f"waiting {waiting}: issue with screens {ic['throughput_per_s']} /s, "
        f"{ic['server_cpu_ms_per_ticket']} ms CPU/ticket; calls p50 {calls['p50_ms']} / p99 {calls['p99_ms']} ms, "
        f"{calls['server_cpu_ms_per_call']} ms CPU/call",
        flush=True,
    )
    return r


async def phase_floor(args: argparse.Namespace, schedule: list[list[float]], call_size: int) -> dict[str, Any]:
    fport = free_port()
    floor = subprocess.Popen([sys.executable, __file__, "--floor-server", str(fport), str(call_size)])
    out: dict[str, Any] = {}
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
        out["floor_calls"] = fc = await run_calls_floor(fport, args.clerks, schedule, screens)
        fc["server_cpu_ms_per_call"] = round((cpu_seconds(floor.pid) - cpu) * 1000 / max(fc["calls"], 1), 2)
        print(f"floor: {fc}", flush=True)
        out["floor_rss_mb"] = round(proc_status(floor.pid).get("VmHWM", 0) / 1024, 1)
        await screens.close()
    finally:
        floor.terminate()
        floor.wait(10)
    return out


def phase_reports(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """bench/bench_reports.py on the cached year (generated by the first run)."""
    db = CACHE / f"reports-{args.report_tickets}.db"
    cached = db.exists()
    out = folder / "reports.json" if args.no_save else RESULTS / "reports.json"
    t0 = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            str(Path(__file__).resolve().parent / "bench_reports.py"),
            *("--tickets", str(args.report_tickets), "--db", str(db), "--keep", "--results", str(out)),
        ],
        check=True,
    )
    data = json.loads(out.read_text(encoding="utf-8"))
    return {
        "tickets": data["tickets"],
        "seconds": data["seconds"],
        "cpu_seconds": data["cpu_seconds"],
        "slowest": data["slowest"],
        "best_of": data["best_of"],
        "database_cached": cached,
        "phase_s": round(time.perf_counter() - t0, 1),
    }


async def bench(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    printer = None if args.no_print else FakePrinter()
    printer_port = printer.port if printer else None
    results: dict[str, Any] = {
        "printing": "none" if printer is None else "fake port-9100 printer (bench/fake_printer.py)"
    }
    try:
        results.update(await phase_issue(args, folder / "issue", printer_port))
        schedule = press_schedule(args.clerks, args.presses, args.interval, args.seed)
        points = sorted({int(w) for w in args.sweep.split(",") if w.strip()} | {args.waiting})
        sweep = {w: await sweep_point(args, folder / f"waiting-{w}", w, printer_port, schedule) for w in points}
    finally:
        if printer is not None:
            results["printer"] = printer.stop()
    main = sweep[args.waiting]
    results["startup_2_s"] = main["startup_s"]
    for key in (
        "connect_s",
        "snapshot_bytes",
        "server_rss_connected_mb",
        "issue_connected",
        "calls",
        "server_rss_mb",
        "dropped_screens",
        "message_bytes",
        "permessage_deflate",
    ):
        results[key] = main[key]
    results["sweep"] = [
        {
            "waiting": w,
            "server_cpu_ms_per_call": p["calls"]["server_cpu_ms_per_call"],
            "server_cpu_ms_per_ticket": p["issue_connected"]["server_cpu_ms_per_ticket"],
            "call_p99_ms": p["calls"]["p99_ms"],
            "call_p50_ms": p["calls"]["p50_ms"],
            "issue_connected_per_s": p["issue_connected"]["throughput_per_s"],
            "connect_s": p["connect_s"],
            "server_rss_peak_mb": p["server_rss_mb"]["peak"],
            "snapshot_bytes": p["snapshot_bytes"],
        }
        for w, p in sorted(sweep.items())
    ]
    results.update(await phase_floor(args, schedule, main["message_bytes"].get("call", 2500)))
    results["raw_sqlite_inserts_per_s"] = round(raw_sqlite(folder, min(args.tickets, 3000)), 1)
    if not args.no_reports:
        results["year_report"] = phase_reports(args, folder)
    return results


def summarise(args: argparse.Namespace, r: dict[str, Any]) -> dict[str, Any]:
    calls, floor = r["calls"], r["floor_calls"]
    sweep = r["sweep"]
    r["ratios"] = {
        "call_p50_vs_floor": round(calls["p50_ms"] / floor["p50_ms"], 2),
        "call_p99_vs_floor": round(calls["p99_ms"] / floor["p99_ms"], 2),
        "issue_vs_raw_sqlite": round(r["issue"]["throughput_per_s"] / r["raw_sqlite_inserts_per_s"], 3),
        "cpu_per_call_largest_vs_empty_queue": round(
            sweep[-1]["server_cpu_ms_per_call"] / sweep[0]["server_cpu_ms_per_call"], 2
        ),
        "cpu_per_ticket_largest_vs_empty_queue": round(
            sweep[-1]["server_cpu_ms_per_ticket"] / sweep[0]["server_cpu_ms_per_ticket"], 2
        ),
    }
    ratios = r["ratios"]
    largest_vs_empty = max(
        ratios["cpu_per_call_largest_vs_empty_queue"], ratios["cpu_per_ticket_largest_vs_empty_queue"]
    )
    # Issue 12's targets: (key in "targets", what, the figure measured, met).
    checks: list[tuple[str, str, str, bool]] = [
        (
            "call_p99_le_1.2x_floor",
            "call→display p99 ≤ 1.2× the floor",
            f"{ratios['call_p99_vs_floor']}×",
            ratios["call_p99_vs_floor"] <= 1.2,
        ),
        (
            "call_p50_le_1.1x_floor",
            "call→display p50 ≤ 1.1× the floor",
            f"{ratios['call_p50_vs_floor']}×",
            ratios["call_p50_vs_floor"] <= 1.1,
        ),
        (
            "issue_ge_0.5x_raw_sqlite",
            "durable issue ≥ 0.5× raw SQLite",
            f"{ratios['issue_vs_raw_sqlite']}×",
            ratios["issue_vs_raw_sqlite"] >= 0.5,
        ),
        (
            "issue_ge_1000_per_s",
            "durable issue ≥ 1,000 /s",
            f"{r['issue']['throughput_per_s']} /s",
            r["issue"]["throughput_per_s"] >= 1000,
        ),
        (
            "issue_with_screens_ge_500_per_s",
            f"issue with {r['server_rss_mb']['connections']} screens ≥ 500 /s",
            f"{r['issue_connected']['throughput_per_s']} /s",
            r["issue_connected"]["throughput_per_s"] >= 500,
        ),
        (
            "cpu_per_op_largest_queue_le_1.2x",
            f"CPU per operation at {sweep[-1]['waiting']:,} waiting ≤ 1.2× at {sweep[0]['waiting']:,}",
            f"{largest_vs_empty}× (call {ratios['cpu_per_call_largest_vs_empty_queue']}×, "
            f"ticket {ratios['cpu_per_ticket_largest_vs_empty_queue']}×)",
            largest_vs_empty <= 1.2,
        ),
        (
            "rss_le_80mb",
            f"server RSS with {r['server_rss_mb']['connections']} connections ≤ 80 MB",
            f"{r['server_rss_mb']['peak']} MB",
            r["server_rss_mb"]["peak"] <= 80,
        ),
        ("start_le_1.5s", "start ≤ 1.5 s", f"{r['startup_s']} s", r["startup_s"] <= 1.5),
    ]
    if "year_report" in r:
        slowest = r["year_report"]["slowest"]
        checks.append(
            (
                "year_report_le_0.5s",
                f"year report ({r['year_report']['tickets']:,} tickets) ≤ 0.5 s, every grouping",
                f"{slowest['seconds']} s by {slowest['by']} (CPU {slowest['cpu_seconds']} s)",
                slowest["seconds"] <= 0.5,
            )
        )
    r["targets"] = {key: met for key, _, _, met in checks}
    r["target_figures"] = [{"target": what, "measured": figure, "met": met} for _, what, figure, met in checks]
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "params": {
            "profile": args.profile,
            "displays": args.displays,
            "clerks": args.clerks,
            "kiosks": args.kiosks,
            "tickets": args.tickets,
            "waiting": args.waiting,
            "sweep": args.sweep,
            "deflate": not args.no_deflate,
            "print": not args.no_print,
            "presses": args.presses,
            "interval_s": args.interval,
            "seed": args.seed,
            "report_tickets": None if args.no_reports else args.report_tickets,
        },
        **r,
    }


def table(r: dict[str, Any]) -> str:
    i, ic, c, f = r["issue"], r["issue_connected"], r["calls"], r["floor_calls"]
    rows = [
        ("start to serving", f"{r['startup_s'] * 1000:.0f} ms", ""),
        (f"issue p50 / p99 ({i['kiosks']} kiosks)", f"{i['p50_ms']} / {i['p99_ms']} ms", f"printing: {r['printing']}"),
        (
            "issue throughput (durable)",
            f"{i['throughput_per_s']} /s",
            f"{r['ratios']['issue_vs_raw_sqlite']}× raw SQLite ({r['raw_sqlite_inserts_per_s']} /s)",
        ),
        (
            f"issue with {r['server_rss_mb']['connections']} screens",
            f"{ic['throughput_per_s']} /s",
            f"p50 {ic['p50_ms']} / p99 {ic['p99_ms']} ms",
        ),
        ("call→display p50", f"{c['p50_ms']} ms", f"floor {f['p50_ms']} ms = {r['ratios']['call_p50_vs_floor']}×"),
        ("call→display p99", f"{c['p99_ms']} ms", f"floor {f['p99_ms']} ms = {r['ratios']['call_p99_vs_floor']}×"),
        (
            "samples (calls × displays)",
            f"{c['samples']}/{c['expected_samples']}",
            f"floor {f['samples']}/{f['expected_samples']}",
        ),
        ("server CPU per call", f"{c['server_cpu_ms_per_call']} ms", f"floor {f['server_cpu_ms_per_call']} ms"),
        (
            "server CPU per ticket",
            f"{i['server_cpu_ms_per_ticket']} ms",
            f"{ic['server_cpu_ms_per_ticket']} ms with screens",
        ),
        (
            "issue, every kiosk printing",
            f"{r['issue_printing']['throughput_per_s']} /s" if "issue_printing" in r else "-",
            f"{r['issue_printing']['server_cpu_ms_per_ticket']} ms CPU per printed ticket"
            if "issue_printing" in r
            else "",
        ),
        ("server peak RSS", f"{r['server_rss_mb']['peak']} MB", f"floor {r['floor_rss_mb']} MB"),
    ]
    w = max(len(a) for a, _, _ in rows)
    lines = [f"{a:<{w}}  {b:>16}  {c_}" for a, b, c_ in rows]
    lines.append("sweep (waiting: CPU/call, CPU/ticket with screens, call p50/p99, connect):")
    for p in r["sweep"]:
        lines.append(
            f"  {p['waiting']:>6}: {p['server_cpu_ms_per_call']:6.2f} ms, {p['server_cpu_ms_per_ticket']:6.2f} ms,"
            f" {p['call_p50_ms']} / {p['call_p99_ms']} ms, {p['connect_s']} s"
        )
    lines.append(f"printed: {r.get('printer')}")
    lines.append(
        f"load average before/after (1 min): {r['loadavg']['before'][0]} / {r['loadavg']['after'][0]}"
        f" on {os.cpu_count()} CPUs"
    )
    if "year_report" in r:
        y = r["year_report"]
        lines.append(
            "year report (wall / CPU, s): "
            + ", ".join(f"{by} {y['seconds'][by]} / {y['cpu_seconds'][by]}" for by in y["cpu_seconds"])
        )
    else:
        lines.append("year report: not measured (--no-reports)")
    lines.append("targets (issue 12):")
    w = max(len(t["target"]) for t in r["target_figures"])
    for t in r["target_figures"]:
        lines.append(f"  {t['target']:<{w}}  {'met' if t['met'] else 'MISSED':<6}  {t['measured']}")
    return "\n".join(lines)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--floor-server":
        from floor import floor_server

        floor_server(int(sys.argv[2]), int(sys.argv[3]))
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default="centre",
        help="defaults for the options below (centre: 200 displays, 30 clerks, 8 kiosks)",
    )
    p.add_argument("--displays", "-D", type=int)
    p.add_argument("--clerks", "-C", type=int)
    p.add_argument("--kiosks", "-K", type=int)
    p.add_argument("--tickets", "-T", type=int)
    p.add_argument("--presses", "-P", type=int, help="Next presses per clerk")
    p.add_argument("--interval", "-I", type=float, help="mean seconds between a clerk's presses")
    p.add_argument("--waiting", "-W", type=int, help="tickets waiting for the headline figures")
    p.add_argument("--sweep", help="numbers waiting to sweep over, comma-separated")
    p.add_argument("--seed", type=int, default=6)
    p.add_argument("--no-deflate", action="store_true", help="screens do not offer permessage-deflate")
    p.add_argument("--no-print", action="store_true", help="kiosks without printers")
    p.add_argument("--no-save", action="store_true", help="do not write bench/results/")
    p.add_argument("--no-reports", action="store_true", help="leave the year report out")
    p.add_argument(
        "--report-tickets",
        type=int,
        default=500_000,
        help="tickets in the year report's year (cached in bench/.cache/)",
    )
    args = p.parse_args()
    for key, value in PROFILES[args.profile].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
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
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H%M%SZ")
        (RESULTS / f"{stamp}.json").write_text(text, encoding="utf-8")
        if args.profile == "centre":
            (RESULTS / "latest.json").write_text(text, encoding="utf-8")
        print(f"written: bench/results/{stamp}.json" + (" and latest.json" if args.profile == "centre" else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
