"""Shared fixtures: a fresh store, the sample office config, a real server subprocess."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ServerProcess, add_staff, write_config

# Every JSON answer must fit its declared response Struct, key for key (queue_server.answers):
# under tests a misfit is a 500, so the suites fail on a declaration that lacks a field. Set
# before any server starts, so servers in subprocesses inherit it.
os.environ.setdefault("MOTCUA_STRICT_ANSWERS", "1")


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the slow tiers so ``make test-fast`` can leave them out: ``browser`` (Chromium
    through Playwright: the screens' modules, any test using the ``browser``/``screens``
    fixtures, or marked by hand) and ``wheel`` (builds and installs the wheel)."""
    for item in items:
        module = item.module.__name__ if item.module else ""
        if (
            {"browser", "screens"} & set(getattr(item, "fixturenames", ()))
            or module.startswith("tests.test_screens")
            or module.endswith("_browser")
        ):
            item.add_marker(pytest.mark.browser)
        if module == "tests.test_wheel":
            item.add_marker(pytest.mark.wheel)
