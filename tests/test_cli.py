"""The `motcua` command line, run as the IT person would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT, write_config


def motcua(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "queue_server.cli", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_check_config_accepts_the_sample_and_names_the_bad_key(tmp_path: Path):
    ok = motcua("--config", str(ROOT / "config.toml"), "check-config", cwd=tmp_path)
    assert ok.returncode == 0 and "OK" in ok.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text(
        (ROOT / "config.toml")
        .read_text(encoding="utf-8")
        .replace('priority_rule = "interleave"', 'priority_rule = "random"')
    )
    result = motcua("--config", str(bad), "check-config", cwd=tmp_path)
    assert result.returncode == 2
    assert "queue.priority_rule" in result.stderr and "Traceback" not in result.stderr


def test_user_add_list_disable_with_password_from_stdin(tmp_path: Path):
    config = write_config(tmp_path)
    add = motcua(
        "--config",
        str(config),
        "user",
        "add",
        "lan",
        "--role",
        "admin",
        "--password-stdin",
        cwd=tmp_path,
        stdin="mat-khau-an-toan\n",
    )
    assert add.returncode == 0, add.stderr
    again = motcua(
        "--config", str(config), "user", "add", "lan", "--password-stdin", cwd=tmp_path, stdin="mat-khau-an-toan\n"
    )
    assert again.returncode == 2 and "lan" in again.stderr
    short = motcua("--config", str(config), "user", "add", "minh", "--password-stdin", cwd=tmp_path, stdin="123\n")
    assert short.returncode == 2 and "8" in short.stderr
    assert motcua("--config", str(config), "user", "disable", "lan", cwd=tmp_path).returncode == 0
    listing = motcua("--config", str(config), "user", "list", cwd=tmp_path)
    assert "lan" in listing.stdout and "admin" in listing.stdout and "disabled" in listing.stdout
    import sqlite3

    with sqlite3.connect(tmp_path / "var" / "motcua.db") as conn:
        stored = conn.execute("SELECT password_hash FROM users WHERE username = 'lan'").fetchone()[0]
    assert stored.startswith("scrypt$") and "mat-khau" not in stored
