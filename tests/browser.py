"""Playwright helpers for the screen tests: one headless Debian Chromium per test module,
one browser context per screen (so a clerk's cookie never leaks into the hall display), and
screenshots into ``docs/screenshots/``.

Import the fixtures into a test module (``from tests.browser import browser, screens``).
Without ``/usr/bin/chromium`` (or without the playwright package) the tests are skipped
and pytest's ``-ra`` summary prints why. Playwright's own browser download is never used.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import PASSWORD, ROOT, ServerProcess, http, login

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    # The hall display plays calls without a tap, as in the kiosk setup docs/voice.md gives.
    "--autoplay-policy=no-user-gesture-required",
]
SCREENSHOTS = ROOT / "docs" / "screenshots"

# Makes Web Audio behave as in a browser without the autoplay flag: every AudioContext
# starts suspended and resumes only after a tap. (Chromium's own
# --autoplay-policy=document-user-activation-required does not block headless pages
# reliably: some runs start the context running.)
BLOCK_AUTOPLAY = """
let tapped = false;
window.addEventListener("pointerdown", () => { tapped = true; }, true);
const RealAudioContext = window.AudioContext;
window.AudioContext = class extends RealAudioContext {
  #blocked = true;
  get state() { return this.#blocked ? "suspended" : super.state; }
  async resume() {
    if (!tapped) return;
    this.#blocked = false;
    await super.resume();
    this.dispatchEvent(new Event("statechange"));
  }
};
"""

# Recorded in every page before its scripts run: the Announcer's events (it dispatches
# them on window too), vibration requests, and a flag a reload would wipe.
INIT_SCRIPT = """
window.__announces = [];
for (const type of ["announce-start", "announce-end"]) {
  window.addEventListener(type, (e) => window.__announces.push({type: type.slice(9), at: performance.now(), ...e.detail}));
}
window.__vibrations = [];
navigator.vibrate = (pattern) => { window.__vibrations.push(pattern); return true; };
window.__sameDocument = true;
"""


# Module scope, not session: while Playwright's sync API is running it keeps an asyncio
# loop current in this thread, and later test modules calling asyncio.run() would fail.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch_chromium()


def launch_chromium(extra_args: tuple[str, ...] = ()) -> Iterator[Any]:
    """Debian's Chromium through Playwright with CHROMIUM_ARGS and ``extra_args``, closed
    after use (a fixture yields from it); the test is skipped without it."""
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Debian's Chromium at {CHROMIUM}; it is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser tests need the playwright Python package (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *extra_args])
        try:
            yield chromium
        finally:
            chromium.close()


class Screens:
    """Opens screens of one running server, each in its own browser context."""

    def __init__(self, browser: Any, server: ServerProcess):
        self.browser = browser
        self.server = server
        self.contexts: list[Any] = []
        self.errors: list[str] = []

    def open(self, path: str, width: int, height: int, *, wait_online: bool = True, init_script: str = "") -> Any:
        # bypass_csp: Playwright's wait_for_function evaluates strings, which the server's
        # Content-Security-Policy forbids; tests/test_headers.py runs every screen under the policy.
        context = self.browser.new_context(
            viewport={"width": width, "height": height}, locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh", bypass_csp=True
        )
        context.set_default_timeout(5000)
        context.add_init_script(INIT_SCRIPT + init_script)
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: self.errors.append(f"{path}: {error}"))
        page.goto(self.server.base_url + path)
        if wait_online:
            wait_online_mark(page, online=True)
        return page

    def sign_on(self, page: Any, username: str) -> None:
        """Sign a clerk on through the counter page's own form."""
        page.wait_for_selector("#signon-form", state="visible")
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        page.click("#signon-button")
        page.wait_for_selector("#desk", state="visible")
        # The page reconnects to get the staff stream; wait until it has the snapshot.
        page.wait_for_function("window.motcua.live.online && window.motcua.live.state.waiting !== null")

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def screens(browser: Any, server: ServerProcess) -> Iterator[Screens]:
    s = Screens(browser, server)
    try:
        yield s
    finally:
        s.close()
    assert not s.errors, f"uncaught errors in pages: {s.errors}"


def wait_online_mark(page: Any, *, online: bool, timeout: float = 5000) -> None:
    """Wait until the page's live connection is up (mark hidden) or down (mark shown)."""
    page.wait_for_function(f"document.documentElement.dataset.online === '{str(online).lower()}'", timeout=timeout)
    mark = page.locator("[data-testid=offline-mark]")
    if online:
        assert mark.is_hidden()
    else:
        assert mark.is_visible()


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def admin_state(server: ServerProcess) -> dict[str, Any]:
    """The staff snapshot of ``/api/state`` (signed in as the admin ``boss``)."""
    cookie = login(server.base_url, "boss")
    status, body, _ = http("GET", server.base_url + "/api/state", cookie=cookie)
    assert status == 200, body
    return body


def eventually(check: Any, timeout: float = 5.0, interval: float = 0.05) -> Any:
    """Poll ``check()`` until it returns something truthy; its last value on timeout."""
    deadline = time.monotonic() + timeout
    value = check()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = check()
    return value
