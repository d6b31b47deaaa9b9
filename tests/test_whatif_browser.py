"""The what-if screen (/admin/whatif) in Chromium: an admin picks a recorded day, closes a
counter in the plan grid, runs the replay with its progress shown, reads the side-by-side
results and downloads them as XLSX."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomlkit

from queue_server.config import load_config
from queue_server.store import Store
from queue_server.whatif.synthetic import record_day
from tests.browser import browser, screens, screenshot  # noqa: F401  (fixtures)
from tests.support import PASSWORD, ServerProcess, add_staff
from tests.test_whatif import DAY, WARD


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    path = tmp_path / "config.toml"
    path.write_text(tomlkit.dumps(WARD), encoding="utf-8")
    config = load_config(path)
    store = Store(config.resolve(config.server.database))
    try:
        record_day(store, config, DAY, tickets=120, seed=11)
        record_day(store, config, DAY + dt.timedelta(days=1), tickets=100, seed=12)
    finally:
        store.close()
    add_staff(path, {"boss": "admin", "clerk1": "clerk"})
    proc = ServerProcess(tmp_path, path)
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def sign_in(page: Any, user: str) -> None:
    page.wait_for_selector("#login-form", state="visible")
    page.fill("#login-username", user)
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")


def test_an_admin_compares_a_plan_with_the_actual_day_and_exports_it(screens: Any) -> None:
    page = screens.open("/admin/whatif", 1440, 1000, wait_online=False)
    sign_in(page, "boss")
    page.wait_for_selector("#app", state="visible")
    # The recorded days are offered in dd/mm/yyyy, newest first (the list comes after sign-in).
    page.wait_for_selector("#from option", state="attached")
    assert page.locator("#from option").all_inner_texts()[:2] == ["02/12/2026", "01/12/2026"]
    # "Cả tuần": the recorded days of the chosen day's week (Monday to Sunday), here Tuesday
    # and Wednesday from the newest day, Wednesday.
    page.click("#one-week")
    assert (page.input_value("#from"), page.input_value("#to")) == ("2026-12-01", "2026-12-02")
    page.select_option("#from", DAY.isoformat())
    page.click("#one-day")
    assert page.input_value("#to") == DAY.isoformat()
    page.fill("#seeds", "4")
    page.fill("#variant-name", "Đóng quầy 2")
    page.locator('#grid tr[data-counter="2"] input.closed').check()
    page.click("#run")
    page.wait_for_selector("#results", state="visible", timeout=60000)
    rows = page.locator("#summary tbody tr")
    assert rows.count() == 3
    names = [rows.nth(i).locator("td").first.inner_text() for i in range(3)]
    assert names == ["Thực tế đã ghi nhận", "Kế hoạch hiện tại", "Đóng quầy 2"]
    agreement = page.locator("#agreement").inner_text()
    assert "Kiểm chứng / validation (01/12/2026" in agreement
    # Three charts drawn side by side.
    for chart in ("#chart-waits", "#chart-queue", "#chart-util"):
        box = page.locator(chart).bounding_box()
        assert box and box["width"] > 200 and box["height"] > 150
    page.locator("#results").scroll_into_view_if_needed()
    screenshot(page, "whatif")
    with page.expect_download() as download:
        page.click("#export")
    data = Path(download.value.path()).read_bytes()
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data))
    assert "Thời gian chờ" in book.sheetnames
    assert download.value.suggested_filename == "mo-phong-2026-12-01-2026-12-01.xlsx"


def test_a_clerk_is_told_the_screen_is_for_admins(screens: Any) -> None:
    page = screens.open("/admin/whatif", 1280, 800, wait_online=False)
    sign_in(page, "clerk1")
    page.wait_for_selector("#forbidden", state="visible")
    assert page.locator("#app").is_hidden()


def test_an_admin_asks_for_the_three_best_plans_by_a_weighted_mix(screens: Any) -> None:
    page = screens.open("/admin/whatif", 1440, 1000, wait_online=False)
    sign_in(page, "boss")
    page.wait_for_selector("#app", state="visible")
    page.fill("#seeds", "1")
    page.check("#recommend")
    page.select_option("#objective", "mix")
    page.fill("#weight", "0.8")
    page.fill("#budget", "2")
    with page.expect_request(lambda r: r.url.endswith("/api/whatif/runs") and r.method == "POST") as sent:
        page.click("#run")
    body = json.loads(sent.value.post_data or "{}")
    assert (body["recommend"], body["objective"], body["weight"]) == (True, "mix", 0.8)
    page.wait_for_selector("#recommendation", state="visible", timeout=60000)
    rows = page.locator("#rec-table tbody tr")
    assert rows.count() >= 2  # the best plans found, then the actual plan
    assert rows.last.locator("td").nth(1).inner_text() == "Không đổi"
