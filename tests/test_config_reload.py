"""Config changes are complete and atomic (issue #9, point 5), through the public interfaces:
a real server edited from the admin routes, and ``motcua check-config`` on files.

Every number in config.toml is finite and inside the bounds its declaration gives; a bad
value, a cross-field fault or a restart-only setting is refused with a 4xx naming the key,
config.toml keeps its bytes, and the office keeps running on the old values.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomlkit

from queue_server.config import describe, parse_config
from queue_server.errors import ConfigError
from tests.support import KIOSK_TOKEN, ROOT, ServerProcess, add_staff, http, login, sample_data, write_config

# (dotted path in the file, bad value, the key the answer must name)
BAD_VALUES: list[tuple[str, Any, str]] = [
    ("services.0.service_minutes", math.nan, "services[0].service_minutes"),
    ("services.0.service_minutes", math.inf, "services[0].service_minutes"),
    ("services.0.service_minutes", 1e308, "services[0].service_minutes"),
    ("services.0.service_minutes", -3, "services[0].service_minutes"),
    ("services.1.daily_cap", -1, "services[1].daily_cap"),
    ("services.1.daily_cap", 10**12, "services[1].daily_cap"),
    ("services.1.range", [2001, 10**9], "services[1].range"),
    ("services.1.range", [2999, 2001], "services[1].range"),
    ("services.1.range", [1500, 2999], "services[1].range"),  # overlaps CT's 1001-1999
    ("services.0.booking.walk_in_share", math.nan, "services[0].booking.walk_in_share"),
    ("services.0.booking.capacity", 0, "services[0].booking.capacity"),
    ("queue.interleave", 1e308, "queue.interleave"),  # a whole number expected
    ("queue.max_recalls", -1, "queue.max_recalls"),
    ("rating.timeout_seconds", 10**9, "rating.timeout_seconds"),
    ("rating.satisfied_levels", 4, "rating.satisfied_levels"),  # not below rating.levels (4)
    ("display.latest_calls", 0, "display.latest_calls"),
    ("printers.0.timeout", math.nan, "printers[0].timeout"),
    ("printers.0.stale_after", -60, "printers[0].stale_after"),
    ("alerts.long_wait_minutes", 10**7, "alerts.long_wait_minutes"),
    ("appointments.keep_days", 0, "appointments.keep_days"),
    ("sync.requests_per_minute", -5, "sync.requests_per_minute"),
    ("counters.0.number", 5000, "counters[0].number"),
    ("counters.0.services", {"ZZ": "primary"}, "counters[0].services.ZZ"),  # no such service
    ("kiosks.0.printer", "nowhere", "kiosks[0].printer"),  # no such printer
    ("office.hours.mon", ["07:30-11:30", "11:00-12:00"], "office.hours.mon[1]"),  # sessions overlap
    ("services.0.booking.windows.tue", ["08:00-10:00", "09:00-11:00"], "services[0].booking.windows.tue[1]"),
]
# Read when the server starts: refused from the web, whatever the value.
RESTART_ONLY: list[tuple[str, Any, str]] = [
    ("server.port", 8001, "server.port"),
    ("server.database", "var/other.db", "server.database"),
    ("server.public_url", "http://192.168.1.10:8000", "server.public_url"),
    ("server.max_body_bytes", 65536, "server.max_body_bytes"),
    ("server.secret_file", "var/other.key", "server.secret_file"),
    ("display.clips_dir", "/tmp", "display.clips_dir"),
    ("backup.dir", "/tmp", "backup.dir"),
]


def changed(text: str, dotted: str, value: Any) -> str:
    """``text`` (a config.toml) with the setting at ``dotted`` ("services.0.range") set."""
    doc = tomlkit.parse(text)
    *path, last = dotted.split(".")
    target: Any = doc
    for part in path:
        target = target[int(part)] if part.isdigit() else target.setdefault(part, tomlkit.table())
    target[last] = value
    return tomlkit.dumps(doc)


class Office:
    def __init__(self, server: ServerProcess, cookie: str):
        self.server, self.cookie, self.url = server, cookie, server.base_url

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        status, data, _ = http(method, self.url + path, body, cookie=self.cookie)
        return status, data

    def services(self) -> list[dict[str, Any]]:
        status, state, _ = http("GET", self.url + "/api/state")
        assert status == 200, state
        return [{k: s[k] for k in ("code", "issued", "cap", "available")} for s in state["services"]]

    def still_works(self, before: list[dict[str, Any]]) -> None:
        """The office runs on the old values: the same services, and a kiosk ticket is issued
        inside CT's old range with a finite estimate."""
        assert self.services() == before
        status, ticket, _ = http("POST", self.url + "/api/tickets", {"service": "CT"}, token=KIOSK_TOKEN)
        assert status == 201, ticket
        assert 1001 <= ticket["number"] <= 1999
        assert math.isfinite(ticket["estimated_wait_s"])
        assert self.services() == [dict(s, issued=s["issued"] + 1) if s["code"] == "CT" else s for s in before]


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Office]:
    folder = tmp_path_factory.mktemp("office")
    path = write_config(folder)
    add_staff(path, {"boss": "admin"})
    with ServerProcess(folder, path) as server:
        yield Office(server, login(server.base_url, "boss"))


def assert_refused(office: Office, path: str, body: dict[str, Any], key: str, error: str | None = None) -> None:
    config = office.server.config_path
    before = config.read_bytes()
    services = office.services()
    status, answer = office.call("POST", path, body)
    assert 400 <= status < 500, answer
    if error is not None:
        assert answer["error"] == error, answer
    assert key in answer["message"] and key in answer["message_en"], answer
    assert config.read_bytes() == before
    assert not config.with_name("config.toml.new").exists()
    office.still_works(services)


@pytest.mark.parametrize("dotted,value,key", BAD_VALUES, ids=[f"{d}={v!r}" for d, v, _ in BAD_VALUES])
def test_the_text_editor_refuses_a_bad_number_naming_the_key(office: Office, dotted: str, value: Any, key: str):
    text = changed(office.server.config_path.read_text(encoding="utf-8"), dotted, value)
    assert_refused(office, "/api/admin/config/text", {"text": text}, key)


@pytest.mark.parametrize(
    "field,value",
    [
        ("service_minutes", math.nan),
        ("service_minutes", math.inf),
        ("service_minutes", 1e308),
        ("service_minutes", 0),
        ("daily_cap", -10),
        ("range", [1001, 1e308]),
    ],
)
def test_the_form_refuses_a_bad_number_naming_the_key(office: Office, field: str, value: Any):
    # The body as JSON text: Python's json writes nan and inf as NaN and Infinity, which the
    # server's JSON parser reads; the answer must still be a 4xx naming the key.
    status, current = office.call("GET", "/api/admin/config")
    assert status == 200
    services = current["editable"]["services"]
    services[0][field] = value
    json.dumps(services)  # encodable
    assert_refused(office, "/api/admin/config", {"services": services}, f"services[0].{field}")


def test_the_form_refuses_overlapping_ranges_and_a_counter_of_no_service(office: Office):
    status, current = office.call("GET", "/api/admin/config")
    services = current["editable"]["services"]
    services.append({"code": "XX", "name": "Mới", "range": [2500, 2600]})  # inside HT's 2001-2999
    assert_refused(office, "/api/admin/config", {"services": services}, "services[5].range")
    counters = current["editable"]["counters"]
    counters[0]["services"] = {"ZZ": "primary"}
    assert_refused(office, "/api/admin/config", {"counters": counters}, "counters[0].services.ZZ")


@pytest.mark.parametrize("dotted,value,key", RESTART_ONLY, ids=[d for d, _, _ in RESTART_ONLY])
def test_restart_only_settings_are_refused_from_the_web(office: Office, dotted: str, value: Any, key: str):
    text = changed(office.server.config_path.read_text(encoding="utf-8"), dotted, value)
    assert_refused(office, "/api/admin/config/text", {"text": text}, key, error="restart_only")
    status, answer = office.call("POST", "/api/admin/config/text", {"text": text})
    assert "khởi động lại" in answer["message"] and "restart" in answer["message_en"]


def test_a_live_edit_is_seen_by_every_route(office: Office):
    """One live config: a kiosk added from the admin screen is known to /api/kiosk and may
    issue tickets at once (the routes read the office's config, not a start-up copy)."""
    status, current = office.call("GET", "/api/admin/config")
    kiosks = current["editable"]["kiosks"] + [{"id": "tang-2", "token": "kiosk-tang-hai-ma-moi", "printer": ""}]
    status, answer = office.call("POST", "/api/admin/config", {"kiosks": kiosks})
    assert status == 200, answer
    status, kiosk, _ = http("GET", office.url + "/api/kiosk", token="kiosk-tang-hai-ma-moi")
    assert status == 200 and kiosk["id"] == "tang-2", kiosk
    status, ticket, _ = http("POST", office.url + "/api/tickets", {"service": "HT"}, token="kiosk-tang-hai-ma-moi")
    assert status == 201, ticket
    # And a valid edit still lands: the ticker follows at once.
    text = changed(office.server.config_path.read_text(encoding="utf-8"), "office.ticker", "Nghỉ trưa 11:30.")
    status, answer = office.call("POST", "/api/admin/config/text", {"text": text})
    assert status == 200, answer
    assert http("GET", office.url + "/api/state")[1]["office"]["ticker"] == "Nghỉ trưa 11:30."


def test_a_mid_day_range_edit_over_a_number_issued_today_is_refused(office: Office):
    """CT has issued numbers from 1001 today: moving CT to 6001-6999 and giving 1001-1999 to a
    new service would issue CT's labels a second time, so the whole edit is refused."""
    status, current = office.call("GET", "/api/admin/config")
    http("POST", office.url + "/api/tickets", {"service": "CT"}, token=KIOSK_TOKEN)
    services = current["editable"]["services"]
    services[0]["range"] = [6001, 6999]
    services.append({"code": "XX", "name": "Mới", "range": [1001, 1999]})
    assert_refused(office, "/api/admin/config", {"services": services}, "services[5].range", "range_overlaps_issued")


def numeric_settings() -> list[tuple[str, str]]:
    """(README key, the key an error names) of every number setting in the declaration."""
    out = []
    for key, kind, _, _ in describe():
        if kind.split(",")[0] in ("int", "float") or kind.startswith("list, "):
            if key.startswith("[["):
                table, name = key[2:].split("]] ")
                out.append((key, f"{table}[0].{name}"))
            else:
                out.append((key, key))
    return out


def test_every_number_setting_declares_its_bounds():
    """The README table shows each number's bounds: none is left unbounded."""
    numbers = [(key, kind) for key, kind, _, _ in describe() if kind.split(",")[0] in ("int", "float")]
    assert len(numbers) > 25
    assert all("–" in kind for _, kind in numbers), [k for k, kind in numbers if "–" not in kind]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 1e308, -1, 10**18])
@pytest.mark.parametrize("key,named", numeric_settings())
def test_every_number_setting_refuses_values_out_of_bounds(key: str, named: str, value: float):
    data = sample_data()
    path = named.replace("[0]", ".0").split(".")
    target: Any = data
    for part in path[:-1]:
        target = target[int(part)] if part.isdigit() else target.setdefault(part, {})
    target[path[-1]] = [value, value] if isinstance(target.get(path[-1]), list) or "range" in path[-1] else value
    with pytest.raises(ConfigError) as e:
        parse_config(data)
    assert named in e.value.message and named in e.value.message_en, (key, e.value.message_en)


def motcua(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "queue_server.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


@pytest.mark.parametrize(
    "dotted,value,key",
    [b for b in BAD_VALUES if isinstance(b[1], float) or b[2].endswith((".range", ".printer"))],
    ids=lambda v: repr(v) if not isinstance(v, str) else v,
)
def test_check_config_names_the_key_of_a_bad_number(tmp_path: Path, dotted: str, value: Any, key: str):
    path = write_config(tmp_path)
    path.write_text(changed(path.read_text(encoding="utf-8"), dotted, value), encoding="utf-8")
    result = motcua("--config", str(path), "check-config", cwd=tmp_path)
    assert result.returncode != 0
    assert key in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert "Lỗi" in result.stderr and "Error" in result.stderr


def test_check_config_reads_nan_written_by_hand(tmp_path: Path):
    path = write_config(tmp_path)
    text = path.read_text(encoding="utf-8")
    assert "service_minutes = 5\n" in text
    path.write_text(text.replace("service_minutes = 5\n", "service_minutes = nan\n", 1), encoding="utf-8")
    result = motcua("--config", str(path), "check-config", cwd=tmp_path)
    assert result.returncode == 2
    assert "services[0].service_minutes" in result.stderr and "nan" in result.stderr, result.stderr
