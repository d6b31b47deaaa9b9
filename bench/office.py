"""The office under test: a bench config written from scratch (no test helpers), the real
server started as a subprocess, staff accounts, and the kiosk and clerk traffic."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import tomlkit

from clients import HttpConn, Screens, call_latencies, ms, pct, wait_received

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("CT", "HT", "DD", "LD", "TKQ")
SERVICE_NAMES = {
    "CT": ("Chứng thực", "Certification"),
    "HT": ("Hộ tịch", "Civil status"),
    "DD": ("Đất đai – Xây dựng", "Land and construction"),
    "LD": ("Lao động – Thương binh và Xã hội", "Labour and social affairs"),
    "TKQ": ("Trả kết quả", "Results"),
}
KIOSK_TOKEN = "bench-kiosk-token-0123456789"
PASSWORD = "bench-password-123"


def kiosk_token(k: int) -> str:
    return f"{KIOSK_TOKEN}-{k}"


def bench_config(folder: Path, counters: int, kiosks: int, printer_port: int | None) -> Path:
    """A centre of ``counters`` counters and ``kiosks`` kiosks, open all hours; with
    ``printer_port`` every kiosk prints to the fake port-9100 printer there (bench/fake_printer.py)."""
    data: dict[str, Any] = {
        "office": {
            "name": "Trung tâm Phục vụ hành chính công (bench)",
            "name_en": "Service centre (bench)",
            "timezone": "Asia/Ho_Chi_Minh",
            "day_starts_at": "03:00",
            "enforce_hours": False,
        },
        "server": {"host": "127.0.0.1", "port": 8000, "database": "bench.db", "public_url": "", "https": False},
        "queue": {"priority_rule": "interleave", "interleave": 2, "priority_enabled": True, "max_recalls": 2},
        "rating": {"levels": 4},
        "display": {"dialect": "north"},
        # Wide number ranges: a bench day issues thousands of tickets per service.
        "services": [
            {
                "code": code,
                "name": SERVICE_NAMES[code][0],
                "name_en": SERVICE_NAMES[code][1],
                "range": [10000 * (i + 1), 10000 * (i + 1) + 9999],
                "service_minutes": 5 + i,
            }
            for i, code in enumerate(SERVICES)
        ],
        "counters": [
            {
                "number": n,
                "name": f"Quầy {n}",
                "name_en": f"Counter {n}",
                "services": {
                    code: ("primary" if i == n % len(SERVICES) else "normal") for i, code in enumerate(SERVICES)
                },
            }
            for n in range(1, counters + 1)
        ],
        # kiosk0 has no printer: it loads the queue before a measurement.
        "kiosks": [
            {
                "id": f"kiosk{k}",
                "name": f"Kiosk {k}",
                "token": kiosk_token(k),
                "printer": f"printer{k}" if printer_port and k else "",
            }
            for k in range(kiosks + 1)
        ],
        "printers": [
            {"id": f"printer{k}", "url": f"tcp://127.0.0.1:{printer_port}", "width": 576} for k in range(1, kiosks + 1)
        ]
        if printer_port
        else [],
    }
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
        [
            sys.executable,
            "-m",
            "queue_server.cli",
            "--config",
            str(config_path),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=folder,
        stdout=open(folder / "server.log", "ab"),
        stderr=subprocess.STDOUT,
        env=env,
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
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/login",
        method="POST",
        data=json.dumps({"username": user, "password": PASSWORD, "counter": counter}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.headers["set-cookie"].split(";", 1)[0]


async def issue_tickets(port: int, kiosks: int, count: int, start: int, *, printing: bool = True) -> dict[str, Any]:
    latencies: list[float] = []
    next_index = iter(range(start, start + count))
    failures: dict[int, int] = {}

    async def kiosk(k: int) -> None:
        token = kiosk_token(k + 1 if printing else 0)
        conn = await HttpConn(port, f"Authorization: Bearer {token}\r\n").open()
        try:
            for i in next_index:
                body = json.dumps(
                    {"service": SERVICES[i % len(SERVICES)], "priority": i % 10 == 0, "request_id": f"r{i}"}
                ).encode()
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
    return {
        "tickets": count,
        "kiosks": kiosks,
        "seconds": round(wall, 3),
        "throughput_per_s": round(count / wall, 1),
        "p50_ms": ms(pct(latencies, 50)),
        "p99_ms": ms(pct(latencies, 99)),
        "failures": failures,
        "bench_client_cpu_s": round(time.process_time() - cpu0, 3),
    }


async def run_calls_ours(
    port: int, cookies: list[str], schedule: list[list[float]], screens: Screens
) -> dict[str, Any]:
    sent: dict[int, float] = {}
    errors: dict[int, int] = {}

    async def clerk(n: int, cookie: str, sleeps: list[float]) -> None:
        conn = await HttpConn(port, f"Cookie: {cookie}\r\n").open()
        try:
            for pause in sleeps:
                await asyncio.sleep(pause)
                stamp: list[float] = []
                status, body = await conn.post(
                    f"/api/counters/{n}/next", b"{}", on_sent=lambda stamp=stamp: stamp.append(time.perf_counter())
                )
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
    return {
        "calls": len(sent),
        "samples": len(lat),
        "expected_samples": len(sent) * screens.displays,
        "seconds": round(time.perf_counter() - t0, 2),
        "p50_ms": ms(pct(lat, 50)),
        "p99_ms": ms(pct(lat, 99)),
        "max_ms": ms(max(lat, default=float("nan"))),
        "errors": errors,
        "bench_client_cpu_s": round(time.process_time() - cpu0, 3),
    }


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
