"""The central, served by ``motcua central``, believes X-Forwarded-For and -Proto only from
``central.trusted_proxies`` (none by default), like an office: rotating forwarded addresses
cannot dodge its per-address sign-in limit, and a forged scheme does not pass its origin check."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import tomlkit

from tests.support import ROOT, free_port

SITE = {"id": "a", "name": "Phường A", "token": "dong-bo-phuong-a-0123456789"}


@contextlib.contextmanager
def central(folder: Path, **settings: Any) -> Iterator[str]:
    """A central on a free port of 127.0.0.1 with ``settings`` under [central]; its base URL."""
    path = folder / "central.toml"
    path.write_text(
        tomlkit.dumps({"central": {"database": "var/central.db", **settings}, "sites": [SITE]}), encoding="utf-8"
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = folder / "central.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "queue_server.cli", "central", "--config", str(path)]
            + ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            cwd=folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log_path.read_text(errors="replace")[-2000:]
            assert time.monotonic() < deadline, "the central did not start"
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(base + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            time.sleep(0.05)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def sign_in(base: str, username: str, headers: dict[str, str]) -> int:
    req = urllib.request.Request(
        base + "/api/login",
        data=b'{"username": "%s", "password": "wrong-password"}' % username.encode(),
        method="POST",
        headers={"Content-Type": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def test_forwarded_headers_count_only_from_a_trusted_proxy(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    with central(tmp_path / "plain") as base:
        # 22 accounts from "22 addresses": all one client to the central, limited after 20.
        statuses = [sign_in(base, f"nobody{i}", {"X-Forwarded-For": f"10.9.8.{i}"}) for i in range(22)]
        assert statuses[:20] == [401] * 20 and set(statuses[20:]) == {429}, statuses
        # A forged scheme does not make an https page this server's own.
        https_page = {"X-Forwarded-Proto": "https", "Origin": base.replace("http:", "https:")}
        assert sign_in(base, "boss", {**https_page, "X-Forwarded-For": "10.9.9.9"}) == 403

    (tmp_path / "proxied").mkdir()
    with central(tmp_path / "proxied", trusted_proxies=["127.0.0.1"]) as base:
        # Behind a trusted proxy each forwarded address is a client of its own…
        statuses = [sign_in(base, f"nobody{i}", {"X-Forwarded-For": f"10.9.8.{i}"}) for i in range(22)]
        assert statuses == [401] * 22, statuses
        # …and the https page the proxy serves may sign in (401: wrong password, not 403).
        https_page = {"X-Forwarded-Proto": "https", "Origin": base.replace("http:", "https:")}
        assert sign_in(base, "boss", {**https_page, "X-Forwarded-For": "10.9.9.9"}) == 401
