"""The central's live overview in Chromium: a real office server and a real ``motcua central``
on 127.0.0.1; the overview line changes when a ticket is issued at the office (pushed over
the WebSocket, no reload), a click opens the read-only monitor, and a stopped office shows
"mất liên lạc từ HH:MM". Central accounts are not office accounts."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomlkit

from tests.browser import browser, screenshot  # noqa: F401  (fixture)
from tests.support import (
    KIOSK_TOKEN,
    PASSWORD,
    ROOT,
    ServerProcess,
    add_staff,
    free_port,
    http,
    office_today,
    write_config,
)

TOKEN = "dong-bo-phuong-a-0123456789"
CENTRAL_PASSWORD = "mat-khau-tong-hop-1"


class CentralProcess:
    def __init__(self, config: Path):
        self.config = config
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> CentralProcess:
        log = open(self.config.parent / "central.log", "ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "queue_server.cli",
                "central",
                "--config",
                str(self.config),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            cwd=self.config.parent,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, (self.config.parent / "central.log").read_text()
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(self.base_url + "/healthz", timeout=1):
                    return self
            time.sleep(0.05)
        raise RuntimeError("central did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=15)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[ServerProcess, CentralProcess]]:
    (tmp_path / "a").mkdir()
    path = write_config(tmp_path / "a", sync={"token": TOKEN}, office={"name": "Phường A"})
    add_staff(path, {"clerk1": "clerk", "boss": "admin"})
    site = ServerProcess(tmp_path / "a", path).start()
    config = tmp_path / "central.toml"
    config.write_text(
        tomlkit.dumps(
            {
                "central": {"name": "Tỉnh thử nghiệm", "pull_interval_seconds": 1, "silent_after_seconds": 3},
                "sites": [{"id": "a", "name": "Phường A", "url": site.base_url, "token": TOKEN}],
            }
        ),
        encoding="utf-8",
    )
    added = subprocess.run(
        [
            sys.executable,
            "-m",
            "queue_server.cli",
            "central",
            "--config",
            str(config),
            "user",
            "add",
            "tonghop",
            "--display-name",
            "Sở Nội vụ",
            "--password-stdin",
        ],
        input=CENTRAL_PASSWORD + "\n",
        text=True,
        capture_output=True,
        cwd=ROOT,
        timeout=60,
    )
    assert added.returncode == 0, added.stderr
    central = CentralProcess(config).start()
    try:
        yield site, central
    finally:
        central.stop()
        site.stop()


def test_overview_updates_live_and_opens_the_site_monitor(
    browser: Any, setup: tuple[ServerProcess, CentralProcess]
) -> None:  # noqa: F811
    site, central = setup
    # An office's admin is nobody at the central.
    status, body, _ = http("POST", central.base_url + "/api/login", {"username": "boss", "password": PASSWORD})
    assert status == 401 and body["error"] == "bad_login"
    assert http("GET", central.base_url + "/api/central/overview")[0] == 401

    # bypass_csp: Playwright's wait_for_function evaluates strings, which the page's CSP forbids.
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh", bypass_csp=True
    )
    context.set_default_timeout(15000)
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(central.base_url + "/")
        page.fill("#login input[name=username]", "tonghop")
        page.fill("#login input[name=password]", CENTRAL_PASSWORD)
        page.click("#login button[type=submit]")
        page.wait_for_selector("#main", state="visible")
        row = page.locator("tr[data-site=a]")
        row.wait_for()
        page.wait_for_function("document.querySelector('#live').textContent === 'Trực tuyến'")
        page.evaluate("window.__sameDocument = true")
        assert row.locator("td.waiting").inner_text() == "0"

        for code in ("CT", "CT", "HT"):
            assert http("POST", site.base_url + "/api/tickets", {"service": code}, token=KIOSK_TOKEN)[0] == 201
        page.wait_for_function("document.querySelector('tr[data-site=a] td.waiting').textContent === '3'")
        assert page.evaluate("window.__sameDocument") is True  # pushed, not reloaded
        assert row.get_attribute("class") in (None, "")
        screenshot(page, "central-overview")

        row.locator("a").click()
        page.wait_for_url("**/site/a")
        page.wait_for_selector("#services tr[data-service=CT]")
        assert page.locator("#services tr[data-service=CT] td.waiting").inner_text() == "2"
        assert "1001" in page.locator("#services tr[data-service=CT]").inner_text()
        assert page.locator("h1#site-name").inner_text() == "Phường A"

        page.goto(central.base_url + "/")
        # Every report kind on the page: the groupings follow the kind, the table its columns.
        page.wait_for_selector("#main", state="visible")
        today = office_today().strftime("%d/%m/%Y")  # the site's office day (starts at 03:00)
        page.fill("#report input[name=from]", today)
        page.fill("#report input[name=to]", today)
        page.select_option("#report select[name=kind]", "dossiers")
        assert page.evaluate("document.querySelector('#report option[value=procedure]').hidden") is False
        assert page.evaluate("document.querySelector('#report option[value=hour]').hidden") is True
        page.select_option("#report select[name=by]", "procedure")
        page.click("#report button[type=submit]")
        page.wait_for_function("document.querySelector('#report-table th')?.textContent === 'Thủ tục'")
        assert "Tỷ lệ đúng hạn" in page.locator("#report-table thead").inner_text()
        assert page.locator("#report-table tbody tr").last.locator("td").first.inner_text() == "Tổng cộng"
        page.select_option("#report select[name=kind]", "tickets")
        assert page.locator("#report select[name=by]").input_value() == "site"
        page.click("#report button[type=submit]")
        page.wait_for_function("document.querySelector('#report-table th')?.textContent === 'Điểm một cửa'")
        assert "Phường A" in page.locator("#report-table tbody").inner_text()
        assert "Chưa bắt đầu" in page.locator("#report-table thead").inner_text()
        site.stop()
        page.wait_for_function(
            "document.querySelector('tr[data-site=a] td.heard').textContent.startsWith('mất liên lạc từ ')"
        )
        assert "silent" in (row.get_attribute("class") or "")
        screenshot(page, "central-overview-silent")
    finally:
        context.close()
    assert not errors, errors
