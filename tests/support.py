"""Test support: the sample office as a config, and a real motcua server in a subprocess.

``ServerProcess`` starts ``python -m queue_server.cli serve`` on a free port with its own
config and SQLite file under a temp folder, waits for ``/healthz``, and can be stopped,
killed with SIGKILL and restarted on the same database — as the crash tests need.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import tomlkit

from queue_server import auth
from queue_server.config import Config, parse_config
from queue_server.store import Store

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CONFIG = ROOT / "config.toml"  # the sample shipped to offices (tests check it is valid)
# The office the tests run on: the tests' own file, so editing the sample breaks nothing.
TEST_OFFICE = Path(__file__).resolve().parent / "office.toml"
KIOSK_TOKEN = "kiosk-sanh-doi-ma-nay"
# Every state-changing request must say it sends JSON (else 415): the default for TestClients.
JSON_HEADERS = {"Content-Type": "application/json"}
PASSWORD = "mat-khau-123"


def sample_data(**sections: dict[str, Any]) -> dict[str, Any]:
    """The tests' office (tests/office.toml) as a dict, with ``sections`` merged over it, e.g.
    ``sample_data(office={"enforce_hours": False})``."""
    data = tomllib.loads(TEST_OFFICE.read_text(encoding="utf-8"))
    for name, values in sections.items():
        if isinstance(values, dict) and isinstance(data.get(name), dict):
            data[name] = {**data[name], **values}
        else:
            data[name] = values
    if "counters" in sections and "rating_tablets" not in sections:
        # The sample's tablets belong to its counters: keep those of counters still there.
        numbers = {c.get("number") for c in data["counters"] if isinstance(c, dict)}
        data["rating_tablets"] = [t for t in data.get("rating_tablets", []) if t["counter"] in numbers]
    return data


def office_config(tmp_path: Path | None = None, **sections: dict[str, Any]) -> Config:
    data = sample_data(**sections)
    return parse_config(data, (tmp_path / "config.toml") if tmp_path else None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(folder: Path, **sections: dict[str, Any]) -> Path:
    """A config.toml in ``folder`` (hours not enforced unless asked: tests run at any hour)."""
    office = {"enforce_hours": False, **sections.pop("office", {})}
    data = sample_data(office=office, **sections)
    printers = data.get("printers") or []
    for p in printers:
        if p["url"].startswith("png://"):
            p["url"] = f"png://{folder / 'var' / 'tickets'}"
    path = folder / "config.toml"
    path.write_text(tomlkit.dumps(data), encoding="utf-8")
    return path


def add_staff(config_path: Path, users: dict[str, str]) -> None:
    """Create staff accounts {username: role} with PASSWORD, before the server starts."""
    from queue_server.config import load_config

    config = load_config(config_path)
    store = Store(config.resolve(config.server.database))
    try:
        for name, role in users.items():
            if store.get_user(name) is None:
                auth.add_user(store, name, PASSWORD, role)
    finally:
        store.close()


class ServerProcess:
    def __init__(
        self,
        folder: Path,
        config_path: Path | None = None,
        port: int | None = None,
        env: dict[str, str] | None = None,
        log_level: str = "warning",
    ):
        self.folder = folder
        self.config_path = config_path or write_config(folder)
        self.port = port or free_port()
        self.env = env or {}
        self.log_level = log_level
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = folder / "server.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self, timeout: float = 20.0) -> ServerProcess:
        log = open(self.log_path, "ab")
        env = {**os.environ, "PYTHONPATH": str(ROOT), **self.env}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "queue_server.cli",
                "--config",
                str(self.config_path),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                self.log_level,
            ],
            cwd=self.folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        log.close()
        return self._wait(timeout)

    def _wait(self, timeout: float) -> ServerProcess:
        """Wait for /healthz to answer (or the process to die)."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text(errors='replace')[-2000:]}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(self.base_url + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return self
            time.sleep(0.05)
        self.kill()
        raise RuntimeError("server did not start in time")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a power cut or a crash."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def http(
    method: str,
    url: str,
    body: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    cookie: str | None = None,
    timeout: float = 10.0,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """A plain HTTP call with urllib: (status, JSON body, headers)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if cookie:
        req.add_header("Cookie", cookie)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"{}"), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}"), dict(e.headers)


def login(base_url: str, username: str, counter: int | None = None) -> str:
    """Sign in; returns the Cookie header value for later requests."""
    status, body, headers = http(
        "POST", base_url + "/api/login", {"username": username, "password": PASSWORD, "counter": counter}
    )
    assert status == 200, body
    cookie = headers.get("set-cookie") or headers.get("Set-Cookie") or ""
    return cookie.split(";", 1)[0]


def count_scrypt(monkeypatch: Any) -> list[tuple[int, int, int]]:
    """From now on, every ``hashlib.scrypt`` call's ``(n, r, p)`` is appended to the returned
    list (the dummy hash for missing accounts is made first, so it is not counted)."""
    calls: list[tuple[int, int, int]] = []
    real = hashlib.scrypt

    def counting(password: bytes, *, salt: bytes, n: int, r: int, p: int, **kw: Any) -> bytes:
        calls.append((n, r, p))
        return real(password, salt=salt, n=n, r=r, p=p, **kw)

    auth.dummy_hash()
    monkeypatch.setattr(hashlib, "scrypt", counting)
    return calls


def office_today(timezone: str = "Asia/Ho_Chi_Minh", day_starts_at: str = "03:00") -> dt.date:
    """The office day now, as the server counts it (tests/office.toml: a new office day starts
    at 03:00 local time, so from 00:00 to 03:00 it is still the calendar's yesterday)."""
    local = dt.datetime.now(ZoneInfo(timezone))
    if local.time() < dt.time.fromisoformat(day_starts_at):
        return local.date() - dt.timedelta(days=1)
    return local.date()
