"""The `motcua` command line, run as the IT person would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomlkit

from tests.support import ROOT, sample_data, write_config


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


def test_check_config_accepts_an_office_and_names_the_bad_key(tmp_path: Path):
    good = write_config(tmp_path)
    ok = motcua("--config", str(good), "check-config", cwd=tmp_path)
    assert ok.returncode == 0 and "OK" in ok.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text(tomlkit.dumps(sample_data(queue={"priority_rule": "random"})), encoding="utf-8")
    result = motcua("--config", str(bad), "check-config", cwd=tmp_path)
    assert result.returncode == 2
    assert "queue.priority_rule" in result.stderr and "Traceback" not in result.stderr


def test_check_config_refuses_an_unknown_printer_profile_and_a_missing_connection_library(tmp_path: Path):
    """docs/printing.md: an unknown profile or a connection whose library is missing is
    refused at start (check-config runs the same check), naming the key."""
    for name in "abcd":
        (tmp_path / name).mkdir()
    profile = write_config(
        tmp_path / "a", printers=[{"id": "may-in-sanh", "url": "tcp://127.0.0.1:9100", "profile": "NOPE-123"}]
    )
    result = motcua("--config", str(profile), "check-config", cwd=tmp_path)
    assert result.returncode == 2 and "printers[0].profile" in result.stderr and "NOPE-123" in result.stderr
    known = write_config(
        tmp_path / "b", printers=[{"id": "may-in-sanh", "url": "tcp://127.0.0.1:9100", "profile": "POS-5890"}]
    )
    assert motcua("--config", str(known), "check-config", cwd=tmp_path).returncode == 0
    try:
        import cups  # noqa: F401

        pytest.skip("pycups is installed here: a cups:// printer is usable")
    except ImportError:
        pass
    cups_url = write_config(tmp_path / "c", printers=[{"id": "may-in-sanh", "url": "cups://POS58"}])
    result = motcua("--config", str(cups_url), "check-config", cwd=tmp_path)
    assert result.returncode == 2 and "printers[0].url" in result.stderr and "pycups" in result.stderr
    # Driven by a print agent on another PC: the library is that PC's business.
    agent = write_config(
        tmp_path / "d", printers=[{"id": "may-in-sanh", "url": "cups://POS58", "agent_token": "agent-token-123456"}]
    )
    assert motcua("--config", str(agent), "check-config", cwd=tmp_path).returncode == 0


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
