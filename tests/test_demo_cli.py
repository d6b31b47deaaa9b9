"""`make demo` as a new user runs it: it prints an admin and a clerk login that work, its
port can be chosen (so it runs beside `make run`), and `motcua user --demo` adds accounts to
the demo's database, not to var/motcua.db."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.support import ROOT, free_port, http, write_config


def motcua(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "queue_server.cli", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_the_demo_prints_working_logins_on_a_chosen_port_and_user_add_reaches_its_database(tmp_path: Path):
    config = write_config(tmp_path)
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "queue_server.cli",
            "--config",
            str(config),
            "demo",
            "--port",
            str(port),
            "--speed",
            "60",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None
        banner = [proc.stdout.readline() for _ in range(4)]
        text = "".join(banner)
        assert f"http://127.0.0.1:{port}/" in text
        assert "admin / demo-pass" in text and "demo1" in text
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if http("GET", base + "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        # The printed admin opens the reports on the demo data.
        status, me, headers = http("POST", base + "/api/login", {"username": "admin", "password": "demo-pass"})
        assert status == 200 and me["role"] == "admin"
        cookie = (headers.get("set-cookie") or headers.get("Set-Cookie") or "").split(";", 1)[0]
        status, report, _ = http("GET", base + "/api/reports?by=service", cookie=cookie)
        assert status == 200, report
        status, _, _ = http("POST", base + "/api/login", {"username": "demo1", "password": "demo-pass"})
        assert status == 200

        # While the demo runs it holds its database: a writing command is refused, naming it.
        refused = motcua(
            "--config",
            str(config),
            "user",
            "--demo",
            "add",
            "lan",
            "--role",
            "admin",
            "--password-stdin",
            cwd=tmp_path,
            stdin="mat-khau-lan-1\n",
        )
        assert refused.returncode == 2 and "demo.db" in refused.stderr, refused.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    # Stopped, the demo's database takes the account (and the office's own does not).
    added = motcua(
        "--config",
        str(config),
        "user",
        "--demo",
        "add",
        "lan",
        "--role",
        "admin",
        "--password-stdin",
        cwd=tmp_path,
        stdin="mat-khau-lan-1\n",
    )
    assert added.returncode == 0, added.stderr
    listed = motcua("--config", str(config), "user", "--demo", "list", cwd=tmp_path)
    assert "lan" in listed.stdout
    own = motcua("--config", str(config), "user", "list", cwd=tmp_path)
    assert "lan" not in own.stdout


def test_make_demo_and_make_run_take_a_port():
    makefile = (ROOT / "Makefile").read_text()
    assert "demo $(if $(PORT),--port $(PORT))" in makefile
    assert "serve $(if $(PORT),--port $(PORT))" in makefile
