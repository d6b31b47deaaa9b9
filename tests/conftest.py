"""Shared fixtures: a fresh store, the sample office config, a real server subprocess."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ServerProcess, add_staff, write_config


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A real motcua server (uvicorn, subprocess) on a free port, on the sample office, with
    staff: clerk1..clerk5 (clerks) and boss (admin), all with tests.support.PASSWORD."""
    config_path = write_config(tmp_path)
    add_staff(config_path, {**{f"clerk{i}": "clerk" for i in range(1, 6)}, "boss": "admin"})
    proc = ServerProcess(tmp_path, config_path)
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()
