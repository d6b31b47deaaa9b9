"""The central roll-up end to end: two real office servers and the central on 127.0.0.1.

Tickets are issued and served at both offices; one office is stopped, misses a pull and is
restarted; the central catches up in pages and its reports equal each office's own report
exactly (and the combined one their sum). Pulling again and importing a bundle twice change
nothing. The overview's lines come from the pulled rows with an injected clock."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomlkit

from queue_server.central.config import load_central_config
from queue_server.central.overview import site_row
from queue_server.central.reports import build_central_report
from queue_server.central.store import CentralStore
from tests.support import KIOSK_TOKEN, ROOT, ServerProcess, add_staff, http, login, write_config

TOKENS = {"a": "dong-bo-phuong-a-0123456789", "b": "dong-bo-phuong-b-9876543210"}
NAMES = {"a": "Phường A", "b": "Phường B"}
BYS = ("day", "service", "counter", "staff", "hour")


# Site b counts a ticket closed without start as absent, a as served (the default).
UNSTARTED = {"a": "served", "b": "absent"}


def start_site(folder: Path, site: str) -> ServerProcess:
    folder.mkdir()
    path = write_config(
        folder,
        sync={"token": TOKENS[site]},
        office={"name": NAMES[site]},
        queue={"closed_without_start": UNSTARTED.get(site, "served")},
    )
    add_staff(path, {"clerk1": "clerk", "clerk2": "clerk", "boss": "admin"})
    return ServerProcess(folder, path).start()


def write_central(folder: Path, sites: dict[str, ServerProcess], **central: Any) -> Path:
    data = {
        "central": {"name": "Tỉnh thử nghiệm", "database": "var/central.db", "page_size": 7, **central},
        "sites": [
            {"id": sid, "name": NAMES[sid], "url": proc.base_url, "token": TOKENS[sid]} for sid, proc in sites.items()
        ],
    }
    path = folder / "central.toml"
    path.write_text(tomlkit.dumps(data), encoding="utf-8")
    return path


def motcua(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "queue_server.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        input=stdin,
        timeout=120,
    )


def work(site: ServerProcess, tickets: list[str], rate: int | None = None) -> None:
    """Issue ``tickets`` (service codes) and serve them at counters 1 (clerk1) and 3 (clerk2);
    the last one called at counter 1 is a no-show, and one whose label ends in 2 is closed by
    Next without being started ("closed without start")."""
    kiosk = site.base_url + "/api/tickets"
    for code in tickets:
        status, body, _ = http("POST", kiosk, {"service": code}, token=KIOSK_TOKEN)
        assert status == 201, body
    for clerk, counter in (("clerk1", 1), ("clerk2", 3)):
        cookie = login(site.base_url, clerk, counter)
        base = f"{site.base_url}/api/counters/{counter}"
        http("POST", base + "/open", {}, cookie=cookie)
        while True:
            status, body, _ = http("POST", base + "/next", {}, cookie=cookie)
            assert status in (200, 409), body
            if status == 409 or body["ticket"] is None:
                break
            ticket = body["ticket"]
            if clerk == "clerk1" and ticket["label"].endswith("3"):
                assert http("POST", base + "/no-show", {}, cookie=cookie)[0] == 200
                continue
            if clerk == "clerk1" and ticket["label"].endswith("2"):
                continue  # the next Next closes it unstarted
            assert http("POST", base + "/start", {}, cookie=cookie)[0] == 200
            assert http("POST", base + "/done", {}, cookie=cookie)[0] == 200
            if rate:
                tablet = f"danh-gia-quay-{counter}-doi-ma-nay"  # the sample config's rating tablet tokens
                rating = {"ticket_id": ticket["id"], "level": rate}
                status, body, _ = http("POST", base + "/rating", rating, token=tablet)
                assert status == 200, body


def site_report(site: ServerProcess, day: str, by: str, end: str | None = None) -> dict[str, Any]:
    cookie = login(site.base_url, "boss")
    status, body, _ = http("GET", f"{site.base_url}/api/reports?from={day}&to={end or day}&by={by}", cookie=cookie)
    assert status == 200, body
    return body


def central_report(config: Path, day: str, by: str, site: str | None = None) -> dict[str, Any]:
    args = ["--config", str(config), "report", "--from", day, "--to", day, "--by", by, "--format", "json"]
    done = motcua(*args, *(["--site", site] if site else []))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def snapshot(db: Path) -> dict[str, list[Any]]:
    """Everything the central keeps, except when it last heard from each site."""
    conn = sqlite3.connect(db)
    try:
        out = {
            t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2, 3").fetchall()
            for t in ("facts", "daily", "live_tickets", "counters", "other_events")
        }
        out["sites"] = conn.execute("SELECT id, cursor, snapshot_seq, info, day FROM sites ORDER BY id").fetchall()
        return out
    finally:
        conn.close()


@pytest.fixture
def province(tmp_path: Path) -> Iterator[tuple[dict[str, ServerProcess], Path]]:
    sites = {sid: start_site(tmp_path / sid, sid) for sid in ("a", "b")}
    try:
        yield sites, write_central(tmp_path, sites)
    finally:
        for proc in sites.values():
            proc.stop()


def test_central_catches_up_and_its_reports_equal_the_sites_own(
    province: tuple[dict[str, ServerProcess], Path], tmp_path: Path
) -> None:
    sites, central = province
    a, b = sites["a"], sites["b"]
    work(a, ["CT", "CT", "HT", "CT", "TKQ"], rate=4)
    work(b, ["HT", "CT", "CT"], rate=3)
    first = motcua("--config", str(central), "central", "pull")
    assert first.returncode == 0, first.stderr
    assert "catching up" in first.stderr  # page_size 7: several pages, with progress

    # Site A goes dark; B keeps working; the pull of A fails and is recorded.
    a.stop()
    work(b, ["CT", "LD"], rate=4)
    missed = motcua("--config", str(central), "central", "pull")
    assert missed.returncode == 1 and "a:" in missed.stderr
    row = CentralStore(tmp_path / "var" / "central.db").site_row("a")
    assert row["last_error"] and "Cannot reach site a" in row["last_error"]

    # A comes back (same database, same port) and works on; the central catches up.
    a.start()
    work(a, ["CT", "HT", "HT", "DD"], rate=2)
    caught = motcua("--config", str(central), "central", "pull")
    assert caught.returncode == 0, caught.stderr
    day = http("GET", a.base_url + "/healthz")[1]["day"]
    first = dt.date.fromisoformat(day).replace(day=1)
    last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    config = load_central_config(central)
    db = tmp_path / "var" / "central.db"

    # The day alone (daily aggregates) and its whole month (the monthly roll-up).
    for start, end in ((day, day), (first.isoformat(), last.isoformat())):
        for by in BYS:
            own = {sid: site_report(proc, start, by, end) for sid, proc in sites.items()}
            for sid in sites:
                mine = build_central_report(
                    str(db), config, dt.date.fromisoformat(start), dt.date.fromisoformat(end), by, [sid]
                )
                for part in ("rows", "total", "staff", "charts", "rating_levels", "office", "closed_without_start"):
                    assert mine[part] == own[sid][part], (start, by, sid, part)
            combined = build_central_report(
                str(db), config, dt.date.fromisoformat(start), dt.date.fromisoformat(end), by
            )
            for figure in (
                "issued",
                "served",
                "no_show",
                "closed_unstarted",
                "cancelled",
                "expired",
                "transferred",
                "rated",
            ):
                assert combined["total"][figure] == sum(own[s]["total"][figure] for s in sites), (by, figure)
            assert combined["total"]["waiting"]["count"] == sum(own[s]["total"]["waiting"]["count"] for s in sites)
    # The command line reads the same.
    assert central_report(central, day, "staff", "b")["rows"] == site_report(b, day, "staff")["rows"]
    by_site = central_report(central, day, "site")
    assert [(r["key"], r["label"], r["issued"]) for r in by_site["rows"]] == [
        ("a", "Phường A", 9),
        ("b", "Phường B", 5),
    ]
    assert by_site["total"]["issued"] == 14
    # Closed without start: each site's own count, counted as served at a, absent at b.
    unstarted = {sid: site_report(proc, day, "day")["total"]["closed_unstarted"] for sid, proc in sites.items()}
    assert unstarted["a"] >= 1 and unstarted["b"] >= 1
    assert [r["closed_unstarted"] for r in by_site["rows"]] == [unstarted["a"], unstarted["b"]]
    assert by_site["closed_without_start"] == "mixed"
    assert [central_report(central, day, "site", sid)["closed_without_start"] for sid in sites] == ["served", "absent"]
    csv_out = motcua("--config", str(central), "report", "--from", day, "--to", day, "--by", "site", "--format", "csv")
    assert csv_out.returncode == 0 and "theo cài đặt của từng điểm" in csv_out.stdout, csv_out.stderr

    # Past EXACT_LIMIT tickets, medians come from per-minute histograms: counts stay exact.
    coarse = build_central_report(
        str(db), config, dt.date.fromisoformat(day), dt.date.fromisoformat(day), "site", exact_limit=0
    )
    assert coarse["percentiles"] == "minute" and by_site["percentiles"] == "exact"
    for fine_row, coarse_row in zip(by_site["rows"], coarse["rows"]):
        assert {k: v for k, v in coarse_row.items() if k not in ("waiting", "service")} == {
            k: v for k, v in fine_row.items() if k not in ("waiting", "service")
        }
        for what in ("waiting", "service"):
            assert coarse_row[what]["mean"] == fine_row[what]["mean"]
            assert coarse_row[what]["max"] == fine_row[what]["max"]
            if fine_row[what]["count"]:
                assert abs(coarse_row[what]["median"] - fine_row[what]["median"]) <= 60

    # Pulling again changes nothing.
    before = snapshot(db)
    again = motcua("--config", str(central), "central", "pull")
    assert again.returncode == 0 and snapshot(db) == before

    # A bundle of A from the start overlaps everything pulled: it changes nothing, twice.
    bundle = tmp_path / "a.motcua"
    exported = motcua("--config", str(a.config_path), "export", "--since", "0", "--output", str(bundle))
    assert exported.returncode == 0, exported.stderr
    for _ in range(2):
        done = motcua("central", "--config", str(central), "import", str(bundle))
        assert done.returncode == 0, done.stderr
        assert snapshot(db) == before

    # A central that only ever sees bundles: importing twice changes nothing, and its
    # figures for A equal A's own.
    usb = tmp_path / "usb"
    usb.mkdir()
    offline = usb / "central.toml"
    offline.write_text(
        tomlkit.dumps(
            {
                "central": {"database": "var/central.db"},
                "sites": [{"id": "a", "name": NAMES["a"], "token": TOKENS["a"]}],
            }
        ),
        encoding="utf-8",
    )
    assert motcua("central", "--config", str(offline), "import", str(bundle)).returncode == 0
    once = snapshot(usb / "var" / "central.db")
    assert motcua("central", "--config", str(offline), "import", str(bundle)).returncode == 0
    assert snapshot(usb / "var" / "central.db") == once
    assert central_report(offline, day, "service")["rows"] == site_report(a, day, "service")["rows"]

    # A bundle signed with another office's token is refused with a clear message.
    foreign = usb / "central-b.toml"
    foreign.write_text(
        tomlkit.dumps(
            {"central": {"database": "var/other.db"}, "sites": [{"id": "b", "name": NAMES["b"], "token": TOKENS["b"]}]}
        ),
        encoding="utf-8",
    )
    refused = motcua("central", "--config", str(foreign), "import", str(bundle))
    assert refused.returncode == 2 and "signature" in refused.stderr and "Traceback" not in refused.stderr


def test_a_wrong_token_in_central_toml_gets_401_and_is_shown(
    province: tuple[dict[str, ServerProcess], Path], tmp_path: Path
) -> None:
    sites, _ = province
    status, body, _ = http("GET", sites["a"].base_url + "/api/sync/events?after=0", token=TOKENS["b"])
    assert status == 401 and body["error"] == "sync_token_required"
    path = tmp_path / "wrong.toml"
    path.write_text(
        tomlkit.dumps(
            {
                "central": {"database": "var/wrong.db"},
                "sites": [{"id": "a", "name": "A", "url": sites["a"].base_url, "token": "khong-phai-ma-cua-a-000"}],
            }
        ),
        encoding="utf-8",
    )
    done = motcua("--config", str(path), "central", "pull")
    assert done.returncode == 1 and "401" in done.stderr
    assert "401" in CentralStore(tmp_path / "var" / "wrong.db").site_row("a")["last_error"]


def test_overview_line_says_since_when_a_site_is_silent(tmp_path: Path) -> None:
    path = tmp_path / "central.toml"
    path.write_text(
        tomlkit.dumps(
            {"central": {"silent_after_seconds": 120}, "sites": [{"id": "a", "name": "Phường A", "token": TOKENS["a"]}]}
        ),
        encoding="utf-8",
    )
    config = load_central_config(path)
    store = CentralStore(tmp_path / "central.db")
    heard = dt.datetime(2026, 11, 23, 3, 42, tzinfo=dt.UTC)  # 10:42 in Hà Nội
    ticket = {
        "id": 1,
        "day": "2026-11-23",
        "service": "CT",
        "number": 1001,
        "label": "1001",
        "priority": False,
        "state": "waiting",
        "issued_at": "2026-11-23T03:30:00+00:00",
        "queued_at": "2026-11-23T03:30:00+00:00",
    }
    store.ingest(
        "a",
        {
            "site": {"name": "Phường A", "rating_levels": 4},
            "office_day_tz": "Asia/Ho_Chi_Minh",
            "after": 0,
            "next_after": 1,
            "snapshot_seq": 1,
            "more": False,
            "events": [
                {"seq": 1, "at": ticket["issued_at"], "day": "2026-11-23", "kind": "ticket_issued", "ticket_id": 1}
            ],
            "tickets": [ticket],
        },
        heard,
    )
    live = site_row(config, store, "a", heard + dt.timedelta(seconds=60))
    assert not live["silent"] and live["waiting"] == 1 and live["longest_wait_s"] == 13 * 60
    silent = site_row(config, store, "a", heard + dt.timedelta(minutes=5))
    assert silent["silent"] and silent["status"] == "mất liên lạc từ 10:42"
    assert silent["status_en"] == "out of contact since 10:42"
    store.close()


def test_docs_list_every_central_setting_and_the_sample_loads() -> None:
    import re

    from queue_server.central.config import markdown_table

    text = (ROOT / "docs" / "central.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- central-table:start -->\n(.*?)\n<!-- central-table:end -->", text, re.S)
    assert block and block.group(1) == markdown_table()
    sample = load_central_config(ROOT / "central.toml")
    assert len(sample.sites) >= 2 and len({s.token for s in sample.sites}) == len(sample.sites)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"token": "ngan"}, "sites[0].token"),
        ({"id": "Có Dấu"}, "sites[0].id"),
        ({"url": "ftp://x"}, "sites[0].url"),
        ({"pull_interval_seconds": 0.5}, "sites[0].pull_interval_seconds"),
    ],
)
def test_a_wrong_central_toml_names_the_key(tmp_path: Path, change: dict[str, Any], key: str) -> None:
    from queue_server.errors import ConfigError

    site = {"id": "a", "name": "A", "url": "http://127.0.0.1:1", "token": TOKENS["a"], **change}
    path = tmp_path / "central.toml"
    path.write_text(tomlkit.dumps({"sites": [site]}), encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_central_config(path)
    assert e.value.key == key


SITE_A = f"[[sites]]\nid = 'a'\nname = 'A'\ntoken = '{TOKENS['a']}'"


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("[central]\nport = 70000", "central.port"),
        ("[central]\npull_interval_seconds = nan", "central.pull_interval_seconds"),
        ("[central]\npage_size = 0", "central.page_size"),
        ("[central]\nsilent_after_seconds = -5", "central.silent_after_seconds"),
        ("[central]\ntimeout_seconds = inf", "central.timeout_seconds"),
        ("[central]\npull_interval_seconds = 1e308", "central.pull_interval_seconds"),
        (
            f"{SITE_A}\npull_interval_seconds = 1e308",
            "sites[0].pull_interval_seconds",
        ),
        (
            f"{SITE_A}\npull_interval_seconds = -1",
            "sites[0].pull_interval_seconds",
        ),
    ],
)
@pytest.mark.parametrize("command", [("central",), ("check-config",)])
def test_a_central_number_out_of_bounds_stops_the_cli_naming_the_key(
    tmp_path: Path, line: str, key: str, command: tuple[str, ...]
) -> None:
    path = tmp_path / "central.toml"
    path.write_text(line + "\n", encoding="utf-8")
    args = ("central", "--config", str(path)) if command == ("central",) else ("--config", str(path), "check-config")
    done = motcua(*args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"Lỗi: {key}: phải là" in done.stderr and f"Error: {key}: must be" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "var").exists()


def test_check_config_accepts_a_good_central_toml(tmp_path: Path) -> None:
    path = tmp_path / "central.toml"
    path.write_text(
        tomlkit.dumps({"central": {"port": 8101}, "sites": [{"id": "a", "name": "A", "token": TOKENS["a"]}]})
    )
    done = motcua("--config", str(path), "check-config")
    assert done.returncode == 0 and "1 điểm/sites" in done.stdout, done.stderr


def test_two_sites_with_one_token_are_refused(tmp_path: Path) -> None:
    from queue_server.errors import ConfigError

    path = tmp_path / "central.toml"
    path.write_text(
        tomlkit.dumps(
            {"sites": [{"id": "a", "name": "A", "token": TOKENS["a"]}, {"id": "b", "name": "B", "token": TOKENS["a"]}]}
        ),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as e:
        load_central_config(path)
    assert e.value.key == "sites[1].token"


def test_a_central_database_from_before_closed_unstarted_gets_the_column(tmp_path: Path) -> None:
    db = tmp_path / "central.db"
    CentralStore(db).close()
    conn = sqlite3.connect(db)
    for table in ("facts", "daily", "monthly"):
        conn.execute(f"ALTER TABLE {table} DROP COLUMN closed_unstarted")
    conn.commit()
    conn.close()
    store = CentralStore(db)
    ticket = {"id": 1, "day": "2026-11-23", "service": "CT", "state": "done", "closed_unstarted": True}
    ticket.update(issued_at="2026-11-23T08:00:00+07:00", called_at="2026-11-23T08:05:00+07:00")
    page = {
        "after": 0,
        "next_after": 1,
        "snapshot_seq": 1,
        "events": [{"seq": 1, "kind": "ticket_done", "ticket_id": 1}],
    }
    store.ingest("a", {**page, "tickets": [ticket]}, dt.datetime.now(dt.UTC))
    assert store.conn.execute("SELECT closed_unstarted FROM daily WHERE dim = 'site'").fetchall() == [(1,)]
    store.close()


def test_an_office_whose_log_went_back_is_flagged(tmp_path: Path) -> None:
    """A site restored from an older backup (here: a fresh database) has fewer events than
    the central's cursor: the central says so instead of silently missing its new events."""
    site = start_site(tmp_path / "a", "a")
    try:
        central = write_central(tmp_path, {"a": site})
        work(site, ["CT", "CT", "HT"])
        assert motcua("--config", str(central), "central", "pull").returncode == 0
        site.stop()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{tmp_path / 'a' / 'var' / 'motcua.db'}{suffix}").unlink(missing_ok=True)
        add_staff(site.config_path, {"clerk1": "clerk", "clerk2": "clerk"})
        site.start()
        work(site, ["CT"])
        assert motcua("--config", str(central), "central", "pull").returncode == 0
        error = CentralStore(tmp_path / "var" / "central.db").site_row("a")["last_error"]
        assert "restored or replaced" in error and "khôi phục" in error
    finally:
        site.stop()
