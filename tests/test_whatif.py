"""Staffing what-if: replays of recorded days through the engine (queue_server.whatif).

The days are recorded through the real engine and store (``whatif.synthetic``) into a real
SQLite file; the replay must agree with what was measured, follow the same rules as a live
server, and move the right way when a plan changes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tomlkit

from queue_server.config import Config, parse_config
from queue_server.engine import Engine
from queue_server.store import Store, connect
from queue_server.whatif import export, runner
from queue_server.whatif.plan import PlanError, actual_plan, parse_plans
from queue_server.whatif.record import Arrival, CounterChange, RecordedDay, Visit, read_day
from queue_server.whatif.search import allowed_services, balance, neighbours, p90
from queue_server.whatif.sim import replay
from queue_server.whatif.synthetic import record_day

ROOT = Path(__file__).resolve().parent.parent
DAY = dt.date(2026, 12, 1)  # a Tuesday
WEEKDAY_HOURS = ["07:30-11:30", "13:30-17:00"]

# A ward office of its own (not the sample config.toml): five counters, five services.
WARD: dict[str, Any] = {
    "office": {
        "name": "UBND phường Thử nghiệm",
        "timezone": "Asia/Ho_Chi_Minh",
        "hours": {d: WEEKDAY_HOURS for d in ("mon", "tue", "wed", "thu", "fri")} | {"sat": ["07:30-11:30"]},
    },
    "server": {"database": "var/motcua.db"},
    "services": [
        {"code": "CT", "name": "Chứng thực", "range": [1001, 1999], "service_minutes": 5},
        {"code": "HT", "name": "Hộ tịch", "range": [2001, 2999], "service_minutes": 10},
        {"code": "DD", "name": "Đất đai", "range": [3001, 3999], "service_minutes": 15},
        {"code": "LD", "name": "Lao động", "range": [4001, 4999], "service_minutes": 10},
        {"code": "TKQ", "name": "Trả kết quả", "range": [5001, 5999], "service_minutes": 3},
    ],
    "counters": [
        {"number": 1, "name": "Quầy 1", "services": {"CT": "primary", "TKQ": "backup"}},
        {"number": 2, "name": "Quầy 2", "services": {"CT": "primary", "HT": "backup"}},
        {"number": 3, "name": "Quầy 3", "services": {"HT": "primary", "CT": "backup"}},
        {"number": 4, "name": "Quầy 4", "services": {"DD": "primary", "LD": "normal"}},
        {"number": 5, "name": "Quầy 5", "services": {"TKQ": "primary", "LD": "normal", "CT": "backup"}},
    ],
}


# A ward's usual mix: certification the busiest, land files the fewest.
MIX = {"CT": 5.0, "HT": 2.0, "DD": 1.0, "LD": 1.0, "TKQ": 2.0}


def ward(tmp_path: Path) -> Config:
    path = tmp_path / "config.toml"
    path.write_text(tomlkit.dumps(WARD), encoding="utf-8")
    return parse_config(WARD, path)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, Path]:
    """A realistic recorded Tuesday (150 citizens) and a busier Wednesday (260)."""
    folder = tmp_path_factory.mktemp("whatif")
    config = ward(folder)
    db = config.resolve(config.server.database)
    store = Store(db)
    try:
        record_day(store, config, DAY, tickets=150, seed=7, mix=MIX)
        record_day(store, config, DAY + dt.timedelta(days=1), tickets=260, seed=8, mix=MIX)
    finally:
        store.close()
    return config, db


def run(
    config: Config, db: Path, *, days: int = 1, variants: list[Any] | None = None, seeds: int = 8, **kw: Any
) -> dict[str, Any]:
    conn = connect(db, readonly=True)
    try:
        plans = parse_plans({"variants": variants or []}, config)
        return runner.run(
            conn, config, runner.Request(DAY, DAY + dt.timedelta(days=days - 1), plans, seeds=seeds, **kw)
        )
    finally:
        conn.close()


# ------------------------------------------------------------------ validation


def test_replaying_the_actual_plan_reproduces_the_measured_waits(recorded: tuple[Config, Path]):
    config, db = recorded
    result = run(config, db, days=2)
    rows = result["agreement"]["rows"]
    assert {r["service"] for r in rows} == {"CT", "HT", "DD", "LD", "TKQ"}
    for r in rows:
        assert r["agrees"], r
        assert abs(r["replay_mean_min"] - r["actual_mean_min"]) <= max(0.15 * r["actual_mean_min"], 1.0)
    assert result["agreement"]["all_agree"]
    actual, replayed = result["scenarios"][0], result["scenarios"][1]
    assert actual["kind"] == "actual" and replayed["kind"] == "replay"
    assert actual["overall"]["called"] == 150 + 260 - actual["overall"]["never_called"]
    # Every citizen of every seed is replayed.
    assert replayed["overall"]["called"] + replayed["overall"]["never_called"] == 410 * 8
    lines = export.agreement_lines(result)
    assert lines[0].startswith("Kiểm chứng / validation (01/12/2026–02/12/2026, 2 ngày/days, 410 số/tickets")


def test_the_recorded_day_is_read_back_with_every_visit(recorded: tuple[Config, Path]):
    config, db = recorded
    conn = connect(db, readonly=True)
    day = read_day(conn, DAY.isoformat())
    conn.close()
    assert len(day.arrivals) == 150
    # Everyone was called, except any still waiting when the counters closed.
    unserved = [a for a in day.arrivals if not a.visits]
    assert len(unserved) < 15 and all(a.first_wait_s is None for a in unserved)
    transferred = [a for a in day.arrivals if any(v.outcome == "transferred" for v in a.visits)]
    assert transferred and all(len(a.visits) >= 2 for a in transferred)
    assert {ch.kind for ch in day.counter_changes} >= {"open", "close"}
    assert all(v.busy_s > 0 for a in day.arrivals for v in a.visits)


# ------------------------------------------------------------------ plans move the right way


def test_closing_a_counter_does_not_lower_the_p90_wait(recorded: tuple[Config, Path]):
    config, db = recorded
    result = run(config, db, variants=[{"name": "Đóng quầy 2", "counters": [{"number": 2, "closed": True}]}])
    base, closed = result["scenarios"][1], result["scenarios"][2]
    assert closed["overall"]["p90_min"] >= base["overall"]["p90_min"]
    assert closed["overall"]["mean_min"] > base["overall"]["mean_min"]
    assert "2" not in closed["utilisation"]


def test_a_backup_level_for_the_busiest_service_does_not_raise_its_p90_wait(recorded: tuple[Config, Path]):
    config, db = recorded
    base = run(config, db)["scenarios"][0]
    busiest = max(base["services"], key=lambda code: base["services"][code]["called"])
    assert busiest == "CT"
    levels = {"DD": "primary", "LD": "normal", "CT": "backup"}
    # Over both days: the busy Wednesday is when certification queues.
    result = run(
        config, db, days=2, variants=[{"name": "Quầy 4 giúp CT", "counters": [{"number": 4, "services": levels}]}]
    )
    before, after = result["scenarios"][1]["services"]["CT"], result["scenarios"][2]["services"]["CT"]
    assert after["p90_min"] <= before["p90_min"]
    assert after["mean_min"] <= before["mean_min"]


def test_fewer_clerks_than_counters_keeps_the_rest_closed(recorded: tuple[Config, Path]):
    config, db = recorded
    result = run(config, db, variants=[{"name": "Ba cán bộ", "clerks": 3}])
    base, three = result["scenarios"][1], result["scenarios"][2]
    assert three["overall"]["mean_min"] > base["overall"]["mean_min"]
    assert len([u for u in three["utilisation"].values() if u]) <= 5


# ------------------------------------------------------------------ the plan file


@pytest.mark.parametrize(
    "variant, key",
    [
        (
            {"name": "x", "counters": [{"number": 1, "services": {"CT": "chief"}}]},
            "variants[0].counters[0].services.CT",
        ),
        (
            {"name": "x", "counters": [{"number": 1, "services": {"XX": "primary"}}]},
            "variants[0].counters[0].services.XX",
        ),
        ({"name": "x", "counters": [{"number": 1, "hours": ["7:30-11:30"]}]}, "variants[0].counters[0].hours[0]"),
        ({"name": "x", "counters": [{"number": 1, "hours": ["11:30-07:30"]}]}, "variants[0].counters[0].hours[0]"),
        ({"name": "x", "counters": [{"number": 9, "services": {"CT": "primary"}}]}, "variants[0].counters[0].hours"),
        ({"name": "x", "counters": [{"number": 1, "colour": "red"}]}, "variants[0].counters[0].colour"),
        ({"name": "x", "counters": [{"number": 1}, {"number": 1}]}, "variants[0].counters[1].number"),
        ({"name": "x", "priority_rule": "fifo"}, "variants[0].priority_rule"),
        ({"name": "x", "clerks": 0}, "variants[0].clerks"),
        ({"name": "x", "interleave": True}, "variants[0].interleave"),
        ({"name": ""}, "variants[0].name"),
        ({"name": "x", "counters": [{"number": n, "closed": True} for n in range(1, 6)]}, "variants[0].counters"),
    ],
)
def test_a_bad_plan_is_refused_naming_the_key(tmp_path: Path, variant: dict[str, Any], key: str):
    config = ward(tmp_path)
    with pytest.raises(PlanError) as e:
        parse_plans({"variants": [variant]}, config)
    assert e.value.details["field"] == key
    assert key in e.value.message and key in e.value.message_en


def test_a_new_counter_needs_services_and_hours_and_then_serves(recorded: tuple[Config, Path]):
    config, db = recorded
    result = run(
        config,
        db,
        variants=[
            {
                "name": "Quầy 6 mới",
                "counters": [
                    {
                        "number": 6,
                        "services": {"CT": "primary", "HT": "normal"},
                        "hours": ["07:30-11:30", "13:30-17:00"],
                    }
                ],
            }
        ],
    )
    extra = result["scenarios"][2]
    assert extra["utilisation"]["6"] > 0
    assert extra["overall"]["mean_min"] <= result["scenarios"][1]["overall"]["mean_min"]


# ------------------------------------------------------------------ recommend


def test_recommend_returns_three_plans_within_the_allowed_changes(recorded: tuple[Config, Path]):
    config, db = recorded
    ticks = iter(range(10_000))
    conn = connect(db, readonly=True)
    try:
        result = runner.run(
            conn,
            config,
            runner.Request(DAY, DAY, [], seeds=2, recommend=True, budget_s=12),
            clock=lambda: float(next(ticks)),
        )  # one "second" per evaluation: bounded
    finally:
        conn.close()
    plans = result["recommendation"]["plans"]
    assert len(plans) == 4 and plans[-1]["base"]
    assert [p["score"] for p in plans[:3]] == sorted(p["score"] for p in plans[:3])
    base = actual_plan(config)
    for p in plans[:3]:
        for c in p["plan"]["counters"]:
            assert set(c["services"]) <= set(base.counter(c["number"]).services)  # type: ignore[union-attr]
            assert abs(c.get("shift_minutes", 0)) <= 90
        assert p["changes"] != "Không đổi"
    assert plans[0]["score"] <= plans[-1]["score"]


@pytest.mark.parametrize("objective, weight", [("balance", 0.5), ("mix", 0.3)])
def test_recommend_judges_by_the_objective_the_user_picks(recorded: tuple[Config, Path], objective: str, weight: float):
    config, db = recorded
    ticks = iter(range(10_000))
    conn = connect(db, readonly=True)
    try:
        result = runner.run(
            conn,
            config,
            runner.Request(DAY, DAY, [], seeds=2, recommend=True, objective=objective, weight=weight, budget_s=8),
            clock=lambda: float(next(ticks)),
        )
    finally:
        conn.close()
    rec = result["recommendation"]
    assert (rec["objective"], rec["weight"]) == (objective, weight)
    base = rec["plans"][-1]["figures"]
    for p in rec["plans"]:
        f = p["figures"]
        if objective == "balance":
            expected = balance(f)
        else:
            expected = weight * p90(f) / max(p90(base), 0.1) + (1 - weight) * balance(f) / max(balance(base), 0.01)
        assert p["score"] == round(expected, 4)
    found = [p["score"] for p in rec["plans"] if not p.get("base")]
    assert found and found == sorted(found)


def test_cli_recommend_prints_the_three_best_plans(recorded: tuple[Config, Path]):
    config, _ = recorded
    assert config.path is not None
    done = motcua(
        config.path,
        "whatif",
        "--from",
        "01/12/2026",
        "--seeds",
        "1",
        "--recommend",
        "--objective",
        "balance",
        "--budget",
        "10",
    )
    assert done.returncode == 0, done.stderr.decode()
    err = done.stderr.decode().splitlines()
    head = err.index("Đề xuất / recommendation (tiêu chí/objective balance, 1 lần/seeds):")
    shown = [line.split(":")[0].strip() for line in err[head + 1 :]]
    # The best plans found within the budget (three, on any but a starved machine), then the actual plan.
    assert shown[0] == "Đề xuất 1" and shown[-1] == "Kế hoạch hiện tại"
    assert "Không đổi — chờ P90" in err[-1]
    assert json.loads(done.stdout)["recommendation"]["objective"] == "balance"


def test_neighbours_change_one_thing_at_a_time(tmp_path: Path):
    base = actual_plan(ward(tmp_path))
    options = neighbours(base, allowed_services(base))
    assert len(options) == sum(2 * len(c.services) + 2 for c in base.counters)
    for p in options:
        changed = [c for c in p.counters if c != base.counter(c.number)]
        assert len(changed) == 1


# ------------------------------------------------------------------ CLI


def motcua(config_path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "queue_server.cli", "--config", str(config_path), *args],
        capture_output=True,
        timeout=120,
        cwd=ROOT,
    )


def test_cli_prints_the_agreement_and_writes_json_csv_and_xlsx(recorded: tuple[Config, Path], tmp_path: Path):
    config, db = recorded
    assert config.path is not None
    plan = tmp_path / "plan.toml"
    plan.write_text(
        '[[variants]]\nname = "Đóng quầy 3"\n[[variants.counters]]\nnumber = 3\nclosed = true\n', encoding="utf-8"
    )
    done = motcua(config.path, "whatif", "--from", "01/12/2026", "--plan", str(plan), "--seeds", "3")
    assert done.returncode == 0, done.stderr.decode()
    err = done.stderr.decode()
    assert "Kiểm chứng / validation (01/12/2026" in err and "khớp/agrees" in err
    result = json.loads(done.stdout)
    assert [s["name"] for s in result["scenarios"]] == ["Thực tế đã ghi nhận", "Kế hoạch hiện tại", "Đóng quầy 3"]
    done = motcua(config.path, "whatif", "--from", "2026-12-01", "--seeds", "2", "--format", "csv")
    assert done.returncode == 0
    text = done.stdout.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("Kịch bản;Loại;Lĩnh vực")  # Excel in Vietnamese
    # Then, after an empty line each, utilisation per counter and the queue every quarter hour.
    waits, util, queue = text.split("\r\n\r\n")
    assert util.splitlines()[0] == "Kịch bản;" + ";".join(f"Quầy {n} (%)" for n in range(1, 6))
    assert [line.split(";")[0] for line in util.splitlines()[1:]] == ["Thực tế đã ghi nhận", "Kế hoạch hiện tại"]
    assert queue.splitlines()[0] == "Giờ;Thực tế đã ghi nhận;Kế hoạch hiện tại"
    assert queue.splitlines()[1].startswith("07:")
    done = motcua(
        config.path, "whatif", "--from", "2026-12-01", "--seeds", "2", "--format", "csv", "--csv-dialect", "comma"
    )
    assert done.stdout.decode("utf-8").splitlines()[0].startswith("Kịch bản,Loại,Lĩnh vực")
    out = tmp_path / "kq.xlsx"
    done = motcua(
        config.path, "whatif", "--from", "01/12/2026", "--seeds", "2", "--format", "xlsx", "--output", str(out)
    )
    assert done.returncode == 0
    from openpyxl import load_workbook

    book = load_workbook(out)
    assert book.sheetnames == ["Thời gian chờ", "Kiểm chứng", "Công suất quầy", "Hàng chờ theo giờ", "Giải thích"]
    assert book["Hàng chờ theo giờ"]._charts and book["Công suất quầy"]._charts


def test_cli_refuses_a_bad_plan_file_and_a_day_without_data(recorded: tuple[Config, Path], tmp_path: Path):
    config, _ = recorded
    assert config.path is not None
    plan = tmp_path / "plan.toml"
    plan.write_text(
        '[[variants]]\nname = "x"\n[[variants.counters]]\nnumber = 1\nservices = { CT = "boss" }\n', encoding="utf-8"
    )
    done = motcua(config.path, "whatif", "--from", "01/12/2026", "--plan", str(plan))
    assert done.returncode == 2
    err = done.stderr.decode()
    assert "variants[0].counters[0].services.CT" in err and "Traceback" not in err
    done = motcua(config.path, "whatif", "--from", "01/01/2025")
    assert done.returncode == 2 and "No recorded day" in done.stderr.decode()
    done = motcua(config.path, "whatif", "--from", "31/02/2026")
    assert done.returncode == 2 and "Traceback" not in done.stderr.decode()


def test_a_day_config_toml_lists_as_closed_since_is_still_replayed(recorded: tuple[Config, Path]):
    # An office that opened on a day its config.toml now lists as a holiday: the recorded
    # citizens were all served, so the replay takes them as they came.
    config, db = recorded
    closed = dataclasses.replace(config, office=dataclasses.replace(config.office, closed_days=[DAY.isoformat()]))
    result = run(closed, db, seeds=2)
    assert result["scenarios"][1]["overall"]["called"] + result["scenarios"][1]["overall"]["never_called"] == 300
    assert {r["service"] for r in result["agreement"]["rows"]} == {"CT", "HT", "DD", "LD", "TKQ"}


def test_an_appointment_is_replayed_as_a_check_in_with_its_precedence(tmp_path: Path):
    # A citizen checked in at 08:05 for an 08:30 appointment; a walk-in came at 08:10; the one
    # counter opened at 08:15. The engine calls an appointment before its slot only after the
    # walk-ins (as it did on the day): the walk-in first, though it came later.
    config = ward(tmp_path)
    tz = config.office.tz

    def at(hh: int, mm: int) -> dt.datetime:
        return dt.datetime.combine(DAY, dt.time(hh, mm), tz)

    served = (Visit("CT", 1, 300.0, "done"),)
    day = RecordedDay(
        DAY.isoformat(),
        (
            Arrival(1, at(8, 5), "CT", False, served, slot_start=at(8, 30)),
            Arrival(2, at(8, 10), "CT", False, served),
        ),
        (CounterChange(at(8, 15), 1, "open"),),
        {},
        at(8, 0),
        at(9, 0),
    )
    trace = replay(day, config, actual_plan(config))
    # 1001 is the appointment's number (it came first), 1002 the walk-in's.
    assert [(counter, label) for _, counter, label in trace.calls] == [(1, "1002"), (1, "1001")]


def test_an_appointment_is_read_back_with_its_slot(tmp_path: Path):
    config = ward(tmp_path)
    tz = config.office.tz
    slot = dt.datetime.combine(DAY, dt.time(8, 30), tz)
    now = dt.datetime.combine(DAY, dt.time(8, 5), tz)
    store = Store(tmp_path / "day.db")
    engine = Engine(config, now, meta={"next_id": 1})
    events = engine.check_in(now, service="CT", code="HEN001", slot_start=slot, token="t1")[1]
    events += engine.issue(now + dt.timedelta(minutes=5), service="HT", token="t2", priority=True)[1]
    store.commit(events, engine.meta())
    store.close()
    conn = connect(tmp_path / "day.db", readonly=True)
    day = read_day(conn, DAY.isoformat())
    conn.close()
    assert [(a.service, a.priority, a.slot_start) for a in day.arrivals] == [("CT", False, slot), ("HT", True, None)]


def test_the_replay_is_deterministic_for_a_seed(recorded: tuple[Config, Path]):
    config, db = recorded
    conn = connect(db, readonly=True)
    day = read_day(conn, DAY.isoformat())
    conn.close()
    plan = parse_plans({"variants": [{"name": "v", "counters": [{"number": 2, "closed": True}]}]}, config)[0]
    a = replay(day, config, plan, seed=3)
    b = replay(day, config, plan, seed=3)
    assert a.calls == b.calls and a.first_waits == b.first_waits
