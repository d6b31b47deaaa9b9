"""Benchmark: the central for a province (``make bench-central``).

    .venv/bin/python bench/bench_central.py [--sites 200] [--days 365] [--tickets 150]
        [--ingest-sites 10] [--live-sites 200] [--live-seconds 30] [--db var/bench-central.db]

1. **Ingest.** ``--ingest-sites`` synthetic sites (bench/central_sim.py) each catch up a
   whole year through the central's real path: every page is serialised and gzipped as the
   site's feed would send it (not timed), then gunzipped, decoded and ingested (timed, wall
   and CPU), and the monthly roll-ups rebuilt (timed).
2. **The province.** The other sites are copies of those, made in SQL with a new site id
   (facts, daily and monthly rows; not timed): the database then holds ``--sites`` sites ×
   ``--days`` days, about 11 million tickets for the defaults. Its size is measured.
3. **Reports.** A province-wide month and year, grouped by site, service, counter, staff,
   hour and day, and one site's year (exact medians), each built three times with a
   read-only connection as ``motcua report`` does; the best and the median time are kept.
4. **Live overview.** A synthetic feed server on 127.0.0.1 plays ``--live-sites`` sites,
   each issuing a ticket every few seconds; a real ``motcua central`` process pulls them all
   and a WebSocket client signed in to its overview records, for every ticket, the time from
   its issue at the site to the overview line showing it.

Prints the figures and writes them to ``bench/results/central.json``. A benchmark, not a
test: the numbers depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gzip
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import msgspec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from central_sim import SiteSimulator, pages, site_info  # noqa: E402
from queue_server.central.config import parse_central_config  # noqa: E402
from queue_server.central.reports import build_central_report  # noqa: E402
from queue_server.central.store import CentralStore  # noqa: E402

PASSWORD = "bench-central-pass"


def site_id(i: int) -> str:
    return f"site-{i:03d}"


def tokens(i: int) -> str:
    return f"bench-sync-token-{i:04d}-xxxxxxxx"


# --------------------------------------------------------------------------- 1. ingest


def _schedstat() -> tuple[float, float]:
    """(seconds on a CPU, seconds runnable but waiting for one) of this process, from Linux's
    /proc/self/schedstat: tells a busy shared machine from a slow program."""
    try:
        on_cpu, waiting, _ = Path("/proc/self/schedstat").read_text().split()
        return int(on_cpu) / 1e9, int(waiting) / 1e9
    except (OSError, ValueError):
        return 0.0, 0.0


def ingest(store: CentralStore, args: argparse.Namespace, days: list[dt.date]) -> dict[str, Any]:
    sched0 = _schedstat()
    load_before = os.getloadavg()
    events = tickets = pages_n = 0
    wall = cpu = decode_wall = 0.0
    wire_bytes = 0
    now = dt.datetime.now(dt.UTC)
    for i in range(args.ingest_sites):
        sim = SiteSimulator(i, args.tickets, seed=args.seed)
        for page in pages(sim, days, args.page_size):
            blob = gzip.compress(json.dumps(page, ensure_ascii=False, separators=(",", ":")).encode(), 5)
            wire_bytes += len(blob)
            t0, c0 = time.perf_counter(), time.process_time()
            decoded = msgspec.json.decode(gzip.decompress(blob))  # as the central's pull does
            t1 = time.perf_counter()
            store.ingest(site_id(i), decoded, now)
            wall += time.perf_counter() - t0
            cpu += time.process_time() - c0
            decode_wall += t1 - t0
            events += len(page["events"])
            pages_n += 1
        tickets += sim.next_id - 1
        print(
            f"  ingest: {site_id(i)} done, {events:,} events so far, "
            f"{events / wall:,.0f} events/s (wall), {events / cpu:,.0f} events/s (CPU)",
            flush=True,
        )
    t0, c0 = time.perf_counter(), time.process_time()
    months = store.roll_up()
    roll_wall, roll_cpu = time.perf_counter() - t0, time.process_time() - c0
    sched1 = _schedstat()
    return {
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        # Over the whole ingest step (generation included): time spent runnable but waiting
        # for a CPU that other programs held. Large here means the wall figures measure the
        # machine's load, and the CPU figures the central.
        "process_on_cpu_s": round(sched1[0] - sched0[0], 1),
        "process_waiting_for_cpu_s": round(sched1[1] - sched0[1], 1),
        "sites": args.ingest_sites,
        "days": len(days),
        "tickets": tickets,
        "events": events,
        "pages": pages_n,
        "page_size": args.page_size,
        "wire_bytes_gzip": wire_bytes,
        "seconds_wall": round(wall, 1),
        "seconds_cpu": round(cpu, 1),
        "decode_seconds_wall": round(decode_wall, 1),
        "rollup_seconds_wall": round(roll_wall, 1),
        "rollup_seconds_cpu": round(roll_cpu, 1),
        "months_rolled": months,
        "events_per_s_wall": round(events / (wall + roll_wall)),
        "events_per_s_cpu": round(events / (cpu + roll_cpu)),
    }


# --------------------------------------------------------------------------- 2. the province


def replicate(store: CentralStore, args: argparse.Namespace) -> dict[str, Any]:
    conn = store.conn
    t0 = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    for i in range(args.ingest_sites, args.sites):
        src, dst = site_id(i % args.ingest_sites), site_id(i)
        info = json.dumps(site_info(i), ensure_ascii=False)
        conn.execute(
            "INSERT OR REPLACE INTO sites (id, cursor, snapshot_seq, info, timezone, day, last_heard, "
            "events_total) SELECT ?, cursor, snapshot_seq, ?, timezone, day, last_heard, events_total "
            "FROM sites WHERE id = ?",
            (dst, info, src),
        )
        for table in ("facts", "daily", "monthly"):
            cols = ", ".join(r[1] for r in conn.execute(f"PRAGMA table_info({table})") if r[1] != "site")
            conn.execute(
                f"INSERT OR REPLACE INTO {table} (site, {cols}) SELECT ?, {cols} FROM {table} WHERE site = ?",
                (dst, src),
            )
        if (i + 1) % 20 == 0:
            print(f"  province: {i + 1} sites", flush=True)
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    seconds = time.perf_counter() - t0
    facts = conn.execute("SELECT count(*) FROM facts").fetchone()[0]
    daily = conn.execute("SELECT count(*) FROM daily").fetchone()[0]
    monthly = conn.execute("SELECT count(*) FROM monthly").fetchone()[0]
    size = store.path.stat().st_size
    return {
        "sites": args.sites,
        "tickets": facts,
        "daily_rows": daily,
        "monthly_rows": monthly,
        "database_bytes": size,
        "database_mb": round(size / 1e6),
        "bytes_per_ticket": round(size / facts),
        "copy_seconds": round(seconds, 1),
    }


# --------------------------------------------------------------------------- 3. reports


def time_reports(db: Path, config: Any, year: int, repeat: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    ranges = {
        "month": (dt.date(year, 3, 1), dt.date(year, 3, 31)),
        "year": (dt.date(year, 1, 1), dt.date(year, 12, 31)),
    }
    for span, (a, b) in ranges.items():
        for by in ("site", "service", "counter", "staff", "hour", "day"):
            times, cpus = [], []
            for _ in range(repeat):
                t0, c0 = time.perf_counter(), time.process_time()
                report = build_central_report(str(db), config, a, b, by)
                times.append(time.perf_counter() - t0)
                cpus.append(time.process_time() - c0)
            out[f"{span}_by_{by}"] = {
                "best_s": round(min(times), 3),
                "median_s": round(statistics.median(times), 3),
                "best_cpu_s": round(min(cpus), 3),
                "load_average": round(os.getloadavg()[0], 2),
                "rows": len(report["rows"]),
                "tickets": report["total"]["issued"],
                "percentiles": report["percentiles"],
            }
            print(
                f"  report {span} by {by}: {min(times):.3f} s wall, {min(cpus):.3f} s CPU "
                f"({report['total']['issued']:,} tickets)",
                flush=True,
            )
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        report = build_central_report(str(db), config, ranges["year"][0], ranges["year"][1], "service", [site_id(0)])
        times.append(time.perf_counter() - t0)
    out["one_site_year_by_service"] = {
        "best_s": round(min(times), 3),
        "median_s": round(statistics.median(times), 3),
        "tickets": report["total"]["issued"],
        "percentiles": report["percentiles"],
    }
    print(f"  report one site, year: {min(times):.3f} s", flush=True)
    return out


# --------------------------------------------------------------------------- 4. live overview


class LiveFeeds:
    """A synthetic feed server for many sites: /s/<site>/api/sync/events (the sync protocol),
    each site issuing a ticket every ``every`` seconds (staggered)."""

    def __init__(self, n: int, every: float):
        self.n = n
        self.every = every
        self.events: dict[str, list[dict[str, Any]]] = {site_id(i): [] for i in range(n)}
        self.tickets: dict[str, dict[int, dict[str, Any]]] = {site_id(i): {} for i in range(n)}
        self.issued_at: dict[tuple[str, int], float] = {}  # (site, waiting count) -> monotonic time
        self.lock = threading.Lock()
        self.day = dt.datetime.now(dt.timezone(dt.timedelta(hours=7))).date().isoformat()

    def issue(self, site: str) -> None:
        now = dt.datetime.now(dt.UTC)
        with self.lock:
            tickets = self.tickets[site]
            tid = len(tickets) + 1
            t = {
                "id": tid,
                "day": self.day,
                "service": "CT",
                "number": 1000 + tid,
                "label": str(1000 + tid),
                "priority": False,
                "front": False,
                "state": "waiting",
                "issued_at": now.isoformat(),
                "queued_at": now.isoformat(),
                "estimated_wait_s": 0,
                "transfers": 0,
                "wait_s": None,
                "service_s": None,
            }
            tickets[tid] = t
            self.events[site].append(
                {
                    "seq": len(self.events[site]) + 1,
                    "at": now.isoformat(),
                    "day": self.day,
                    "kind": "ticket_issued",
                    "ticket_id": tid,
                    "service": "CT",
                    "counter": None,
                    "staff": None,
                    "details": None,
                }
            )
            self.issued_at[(site, tid)] = time.monotonic()

    def page(self, site: str, after: int, limit: int) -> bytes:
        with self.lock:
            events = self.events[site][after : after + limit]
            ids = {e["ticket_id"] for e in events}
            body = {
                "site": {**site_info(int(site[5:])), "name": site},
                "office_day_tz": "Asia/Ho_Chi_Minh",
                "after": after,
                "events": events,
                "tickets": [self.tickets[site][i] for i in sorted(ids)],
                "counters": [],
                "next_after": events[-1]["seq"] if events else after,
                "more": after + len(events) < len(self.events[site]),
                "snapshot_seq": len(self.events[site]),
            }
        return gzip.compress(json.dumps(body).encode(), 5)

    def app(self) -> Any:
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import Response
        from starlette.routing import Route

        async def feed(request: Request) -> Response:
            site = request.path_params["site"]
            after = int(request.query_params.get("after", 0))
            limit = int(request.query_params.get("limit", 1000))
            return Response(
                self.page(site, after, limit), media_type="application/json", headers={"Content-Encoding": "gzip"}
            )

        return Starlette(routes=[Route("/s/{site}/api/sync/events", feed)])

    async def run_issuing(self, seconds: float) -> None:
        start = time.monotonic()
        step = self.every / self.n
        i = 0
        while time.monotonic() - start < seconds:
            self.issue(site_id(i % self.n))
            i += 1
            await asyncio.sleep(step)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def live_overview(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    import uvicorn

    feeds = LiveFeeds(args.live_sites, args.live_every)
    feed_port, central_port = free_port(), free_port()
    server = uvicorn.Server(uvicorn.Config(feeds.app(), host="127.0.0.1", port=feed_port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    lines = [
        "[central]",
        'name = "Bench"',
        'database = "central-live.db"',
        f"port = {central_port}",
        f"pull_interval_seconds = {args.live_pull}",
        "silent_after_seconds = 120",
        "",
    ]
    for i in range(args.live_sites):
        lines += [
            "[[sites]]",
            f'id = "{site_id(i)}"',
            f'name = "{site_id(i)}"',
            f'url = "http://127.0.0.1:{feed_port}/s/{site_id(i)}"',
            f'token = "{tokens(i)}"',
            "",
        ]
    config_path = folder / "central-live.toml"
    config_path.write_text("\n".join(lines), encoding="utf-8")
    cli = [sys.executable, "-m", "queue_server.cli"]
    subprocess.run(
        [*cli, "central", "--config", str(config_path), "user", "add", "bench", "--password-stdin"],
        input=PASSWORD + "\n",
        text=True,
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    proc = subprocess.Popen(
        [*cli, "central", "--config", str(config_path), "--log-level", "warning"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{central_port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        req = urllib.request.Request(
            base + "/api/login",
            data=json.dumps({"username": "bench", "password": PASSWORD}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            cookie = r.headers["set-cookie"].split(";", 1)[0]
        return asyncio.run(_watch(feeds, f"ws://127.0.0.1:{central_port}/ws", cookie, args.live_seconds, proc.pid))
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        server.should_exit = True
        thread.join(timeout=10)


async def _watch(feeds: LiveFeeds, url: str, cookie: str, seconds: float, pid: int) -> dict[str, Any]:
    import websockets

    latencies: list[float] = []
    seen: dict[str, int] = {}
    messages = 0
    cpu0 = _cpu_seconds(pid)
    async with websockets.connect(
        url,
        additional_headers={"Cookie": cookie, "Origin": url.replace("ws", "http", 1).rsplit("/", 1)[0]},
        max_size=2**24,
    ) as ws:
        first = json.loads(await ws.recv())
        assert first["type"] == "overview" and len(first["sites"]) == feeds.n

        async def receive() -> None:
            nonlocal messages
            async for text in ws:
                msg = json.loads(text)
                messages += 1
                rows = msg["sites"] if msg["type"] == "overview" else [msg["site"]]
                now = time.monotonic()
                for row in rows:
                    before = seen.get(row["id"], 0)
                    for k in range(before + 1, row["waiting"] + 1):
                        issued = feeds.issued_at.get((row["id"], k))
                        if issued is not None:
                            latencies.append(now - issued)
                    seen[row["id"]] = max(before, row["waiting"])

        t0 = time.monotonic()
        receiver = asyncio.create_task(receive())
        await feeds.run_issuing(seconds)
        await asyncio.sleep(10)  # the last pulls land
        receiver.cancel()
        elapsed = time.monotonic() - t0
    issued = len(feeds.issued_at)
    cpu = _cpu_seconds(pid) - cpu0
    latencies.sort()
    return {
        "sites": feeds.n,
        "tickets_issued": issued,
        "tickets_seen_on_overview": len(latencies),
        "issue_rate_per_s": round(issued / seconds, 1),
        "ws_messages": messages,
        "latency_p50_s": round(latencies[len(latencies) // 2], 2) if latencies else None,
        "latency_p99_s": round(latencies[int(len(latencies) * 0.99)], 2) if latencies else None,
        "latency_max_s": round(latencies[-1], 2) if latencies else None,
        "central_cpu_share": round(cpu / elapsed, 2) if cpu is not None else None,
    }


def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


# --------------------------------------------------------------------------- docs


def _n(x: float) -> str:
    return f"{x:,.0f}"


def _load(ing: dict[str, Any]) -> str:
    if "load_average_before" not in ing:
        return ""
    return f" (load average {ing['load_average_before'][0]:.1f} before, {ing['load_average_after'][0]:.1f} after)"


def docs_block(r: dict[str, Any]) -> str:
    """The figures of a run, as docs/central.md shows them."""
    ing, prov, rep = r["ingest"], r["province"], r["reports"]
    lines = [
        f"Run of {r['when']} on {r['machine']['cpus']} CPUs (Python {r['machine']['python']}): "
        f"`{r.get('command') or 'make bench-central'}`; load average at start "
        f"{r['machine']['load_average_at_start'][0]:.1f} (other engineers' tests shared the machine).",
        "",
        "| what | measured |",
        "| --- | --- |",
        f"| ingest, through the real path ({ing['sites']} sites × {ing['days']} days, {_n(ing['tickets'])} tickets, "
        f"{_n(ing['events'])} events, pages of {ing['page_size']}) | **{_n(ing['events_per_s_wall'])} events/s of "
        f"wall time** on the shared machine{_load(ing)}; {_n(ing['events_per_s_cpu'])} events/s of CPU time |",
    ]
    if "process_waiting_for_cpu_s" in ing:
        lines.append(
            f"| of which the process ran / waited for a CPU held by others | {ing['process_on_cpu_s']} s / "
            f"{ing['process_waiting_for_cpu_s']} s |"
        )
    lines += [
        f"| catch-up bytes on the wire (gzip) | {ing['wire_bytes_gzip'] / ing['events']:.0f} bytes per event |",
        f"| monthly roll-up after the catch-up | {ing['rollup_seconds_wall']} s for "
        f"{ing['months_rolled']} site-months |",
        f"| the province | {prov['sites']} sites, **{_n(prov['tickets'])} tickets**, {_n(prov['daily_rows'])} daily "
        f"and {_n(prov['monthly_rows'])} monthly aggregate rows |",
        f"| database size | **{_n(prov['database_mb'])} MB** ({prov['bytes_per_ticket']} bytes per ticket) |",
    ]
    for span in ("month", "year"):
        for by in ("site", "service", "counter", "staff", "hour", "day"):
            x = rep[f"{span}_by_{by}"]
            bold = "**" if (span, by) in (("month", "site"), ("year", "site")) else ""
            cpu = f", {x['best_cpu_s']} s of CPU" if "best_cpu_s" in x else ""
            lines.append(
                f"| province report, one {span}, by {by} ({_n(x['tickets'])} tickets, medians {x['percentiles']}) | "
                f"{bold}{x['best_s']} s{bold} (median of {r['args']['repeat']}: {x['median_s']} s{cpu}) |"
            )
    one = rep["one_site_year_by_service"]
    lines.append(
        f"| one site, one year, by service ({_n(one['tickets'])} tickets, medians {one['percentiles']}) | "
        f"{one['best_s']} s |"
    )
    live = r.get("live")
    if live:
        lines += [
            f"| live overview: {live['sites']} sites pushing ({live['issue_rate_per_s']} tickets/s in all, "
            f"pulled every {r['args']['live_pull']} s) | {live['tickets_seen_on_overview']} of "
            f"{live['tickets_issued']} tickets shown; "
            f"issue → overview line p50 **{live['latency_p50_s']} s**, p99 {live['latency_p99_s']} s, max "
            f"{live['latency_max_s']} s; central process {live['central_cpu_share']} of a CPU |",
        ]
    return "\n".join(lines)


def write_docs(result: dict[str, Any]) -> None:
    import re

    path = ROOT / "docs" / "central.md"
    text = path.read_text(encoding="utf-8")
    new = re.sub(
        r"(<!-- bench-central:start -->\n).*?(\n<!-- bench-central:end -->)",
        lambda m: m.group(1) + docs_block(result) + m.group(2),
        text,
        count=1,
        flags=re.S,
    )
    path.write_text(new, encoding="utf-8")


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sites", type=int, default=200)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--tickets", type=int, default=150, help="mean tickets per site per day")
    parser.add_argument("--ingest-sites", type=int, default=10, help="sites ingested through the real path")
    parser.add_argument("--page-size", type=int, default=2000)
    parser.add_argument("--year", type=int, default=2026)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--live-sites", type=int, default=200)
    parser.add_argument("--live-seconds", type=float, default=30.0)
    parser.add_argument("--live-every", type=float, default=5.0, help="seconds between two tickets at one site")
    parser.add_argument("--live-pull", type=float, default=2.0, help="the central's pull interval for the live part")
    parser.add_argument("--db", default=str(ROOT / "var" / "bench-central.db"))
    parser.add_argument("--skip-live", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "central.json"))
    parser.add_argument("--docs", action="store_true", help="write the figures into docs/central.md")
    parser.add_argument("--docs-only", action="store_true", help="only rewrite docs/central.md from --out")
    args = parser.parse_args()
    if args.docs_only:
        write_docs(json.loads(Path(args.out).read_text(encoding="utf-8")))
        return

    db = Path(args.db)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    db.parent.mkdir(parents=True, exist_ok=True)
    config = parse_central_config(
        {
            "central": {"name": "Tỉnh mô phỏng"},
            "sites": [
                {"id": site_id(i), "name": f"Trung tâm PVHCC số {i + 1}", "token": tokens(i)} for i in range(args.sites)
            ],
        }
    )
    days = [dt.date(args.year, 1, 1) + dt.timedelta(days=i) for i in range(args.days)]
    result: dict[str, Any] = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_at_start": os.getloadavg(),
        },
        "args": vars(args),
        "command": " ".join([".venv/bin/python", "bench/bench_central.py", *sys.argv[1:]]),
    }
    print(f"1. ingest: {args.ingest_sites} sites × {args.days} days × ~{args.tickets} tickets", flush=True)
    store = CentralStore(db)
    result["ingest"] = ingest(store, args, days)
    print(f"2. province: {args.sites} sites", flush=True)
    result["province"] = replicate(store, args)
    store.close()
    print("3. reports", flush=True)
    result["reports"] = time_reports(db, config, args.year, args.repeat)
    if not args.skip_live:
        print(f"4. live overview: {args.live_sites} sites", flush=True)
        folder = db.parent / "bench-central-live"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        result["live"] = live_overview(args, folder)
    result["load_average_at_end"] = os.getloadavg()
    Path(args.out).write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("ingest", "province", "live") if k in result}, indent=2))
    print(f"written: {args.out}")
    if args.docs:
        write_docs(result)
        print("docs/central.md updated")


if __name__ == "__main__":
    main()
