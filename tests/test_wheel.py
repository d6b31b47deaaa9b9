"""A wheel built from pyproject.toml carries everything: installed in a fresh virtual
environment, `motcua serve` works from any folder, screens and voice clips included."""

from __future__ import annotations

import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.support import ROOT, ServerProcess, write_config


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work / "dist"), str(ROOT)],
        check=True,
        timeout=300,
        cwd=work,
    )
    (wheel,) = (work / "dist").glob("motcua-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)], check=True, timeout=600)
    return venv


def test_the_installed_wheel_serves_the_office_from_another_folder(fresh_venv: Path, tmp_path: Path):
    elsewhere = tmp_path / "office"
    elsewhere.mkdir()
    config = write_config(elsewhere)
    motcua = fresh_venv / "bin" / "motcua"
    assert motcua.exists()
    check = subprocess.run(
        [str(motcua), "--config", str(config), "check-config"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stderr

    class WheelServer(ServerProcess):
        def start(self, timeout: float = 20.0) -> ServerProcess:  # run the installed script, not the tree
            import os

            log = open(self.log_path, "ab")
            env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
            self.proc = subprocess.Popen(
                [
                    str(motcua),
                    "--config",
                    str(self.config_path),
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                cwd=tmp_path,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
            log.close()
            return super()._wait(timeout)

    with WheelServer(elsewhere, config) as server:
        with urllib.request.urlopen(server.base_url + "/healthz", timeout=5) as r:
            assert r.status == 200
        with urllib.request.urlopen(server.base_url + "/audio/clips/chime.wav", timeout=5) as r:
            assert r.read(4) == b"RIFF"
        with urllib.request.urlopen(server.base_url + "/static/js/announcer.js", timeout=5) as r:
            assert b"Announcer" in r.read()
    assert (elsewhere / "var" / "motcua.db").exists(), "the database lives beside the config"
    site = next((fresh_venv / "lib").glob("python*/site-packages"))
    assert (site / "queue_server" / "engine.py").exists()
    (record,) = site.glob("motcua-*.dist-info/RECORD")
    assert not [line for line in record.read_text().splitlines() if line.startswith("tests/")]
    assert shutil.which("motcua", path=str(fresh_venv / "bin"))
    assert list((site / "printer" / "fonts").glob("*.ttf")), "the ticket font ships in the wheel"
