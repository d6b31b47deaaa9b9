"""A screen survives a failed start: when its translations cannot be loaded (the server not up
yet, a Wi-Fi hiccup) it says so on the screen and retries by itself, then works normally."""

from __future__ import annotations

from typing import Any

from tests.browser import CHROMIUM_ARGS, browser, wait_online_mark  # noqa: F401
from tests.support import ServerProcess


def test_hall_display_shows_the_problem_and_recovers_when_the_catalogue_loads_again(
    browser: Any, server: ServerProcess
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 720}, locale="vi-VN", bypass_csp=True)
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        failed: list[str] = []

        def fail_twice(route: Any) -> None:
            if len(failed) < 2:
                failed.append(route.request.url)
                route.fulfill(status=503, body="down")
            else:
                route.continue_()

        page.route("**/static/i18n/vi.json", fail_twice)
        page.goto(server.base_url + "/display")
        problem = page.locator("[data-testid=start-problem]")
        problem.wait_for(state="visible")
        assert "thử lại" in problem.inner_text() and "retrying" in problem.inner_text()
        problem.wait_for(state="detached")  # loaded on a later attempt, without a reload
        assert len(failed) == 2
        wait_online_mark(page, online=True)
        assert page.evaluate("document.documentElement.lang") == "vi"
    finally:
        context.close()
