"""The what-if routes over real HTTP (a real server process on a recorded day): bad plans and
empty ranges are refused at once with a clear 4xx in Vietnamese and English, starting
nothing; a good run reports its progress and ends with the figures and the agreement."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import tomlkit

from queue_server.config import load_config
from queue_server.store import Store
from queue_server.whatif.synthetic import record_day
from tests.support import ServerProcess, add_staff, http, login
from tests.test_whatif import DAY, WARD


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("whatif-api")
    path = folder / "config.toml"
    path.write_text(tomlkit.dumps(WARD), encoding="utf-8")
    config = load_config(path)
    store = Store(config.resolve(config.server.database))
    try:
        record_day(store, config, DAY, tickets=80, seed=5)
    finally:
        store.close()
    add_staff(path, {"boss": "admin"})
    with ServerProcess(folder, path) as proc:
        yield proc


@pytest.fixture(scope="module")
def admin(server: ServerProcess) -> str:
    return login(server.base_url, "boss")


def no_run_started(server: ServerProcess, admin: str) -> bool:
    """No run was ever started on this server (run ids count from 1)."""
    status, body, _ = http("GET", server.base_url + "/api/whatif/runs/1", cookie=admin)
    return status == 404 and body["error"] == "whatif_not_found"


@pytest.mark.parametrize(
    "variant, key",
    [
        (
            {"name": "x", "counters": [{"number": 1, "services": {"CT": "chief"}}]},
            "variants[0].counters[0].services.CT",
        ),
        ({"name": "x", "counters": [{"number": 2, "hours": "07:30-11:30"}]}, "variants[0].counters[0].hours"),
        ({"name": "x", "clerks": 0}, "variants[0].clerks"),
        ({"name": "x", "priority_rule": "fifo"}, "variants[0].priority_rule"),
    ],
)
def test_a_bad_plan_is_a_400_naming_the_key_in_both_languages_and_starts_nothing(
    server: ServerProcess, admin: str, variant: dict[str, Any], key: str
) -> None:
    status, body, _ = http(
        "POST", server.base_url + "/api/whatif/runs", {"from": "01/12/2026", "variants": [variant]}, cookie=admin
    )
    assert status == 400, body
    assert body["error"] == "bad_plan" and body["details"]["field"] == key
    assert key in body["message"] and body["message"].startswith("Kế hoạch không hợp lệ")
    assert key in body["message_en"] and body["message_en"].startswith("Invalid plan")
    assert no_run_started(server, admin)


def test_a_range_without_a_recorded_day_is_a_404_before_any_run(server: ServerProcess, admin: str) -> None:
    status, body, _ = http(
        "POST", server.base_url + "/api/whatif/runs", {"from": "01/01/2025", "to": "05/01/2025"}, cookie=admin
    )
    assert status == 404, body
    assert body["error"] == "no_recorded_days"
    assert "01/01/2025" in body["message"] and "No recorded day" in body["message_en"]
    assert no_run_started(server, admin)


def test_a_run_over_http_reports_progress_and_ends_with_the_agreement(server: ServerProcess, admin: str) -> None:
    variant = {"name": "Đóng quầy 2", "counters": [{"number": 2, "closed": True}]}
    status, body, _ = http(
        "POST",
        server.base_url + "/api/whatif/runs",
        {"from": "2026-12-01", "seeds": 2, "variants": [variant]},
        cookie=admin,
    )
    assert status == 202, body
    url = server.base_url + body["status_url"]
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + 120  # a generous bound on a shared machine, not a timing check
    while time.monotonic() < deadline:
        status, run, _ = http("GET", url, cookie=admin)
        assert status == 200, run
        seen.append(run)
        if run["state"] != "running":
            break
        time.sleep(0.05)
    assert run["state"] == "done", run
    assert all(0 <= r["progress"] <= 1 for r in seen) and run["progress"] == 1
    assert [s["kind"] for s in run["result"]["scenarios"]] == ["actual", "replay", "variant"]
    assert run["agreement_text"][0].startswith("Kiểm chứng / validation (01/12/2026")
    status, again, _ = http(
        "POST", server.base_url + "/api/whatif/runs", {"from": "2026-12-01", "seeds": 1}, cookie=admin
    )
    assert status == 202, again  # the first one is over: another may start
