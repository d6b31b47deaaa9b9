"""Counter plans: the office's actual plan (config.toml) and the variants a plan file describes.

A plan file (``motcua whatif --plan PLAN.toml``) lists variants; each changes the actual plan
and leaves the rest as it is::

    [[variants]]
    name = "Quầy 3 giúp Chứng thực"     # shown in the results
    priority_rule = "strict"             # optional: "strict" or "interleave"
    interleave = 2                       # optional
    clerks = 4                           # optional: at most 4 counters open at once

    [[variants.counters]]
    number = 3                           # an existing counter, or a new one
    services = { HT = "primary", CT = "normal" }
    hours = ["07:30-11:30", "13:30-17:00"]   # optional: when it is open (default: as recorded)
    shift_minutes = -30                  # optional: opens, pauses and closes 30 minutes earlier

    [[variants.counters]]
    number = 5
    closed = true                        # not open at all

Every mistake raises ``PlanError`` naming the key (``variants[0].counters[1].services.CT``).
The admin screen sends the same shape as JSON.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..config import LEVELS, Config
from ..errors import BadRequest

ACTUAL_NAME = "Kế hoạch hiện tại"
_SESSION = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
_VARIANT_KEYS = {"name", "priority_rule", "interleave", "clerks", "counters"}
_COUNTER_KEYS = {"number", "services", "hours", "closed", "shift_minutes"}
MAX_SHIFT = 180
MAX_VARIANTS = 20
MAX_COUNTERS = 200

Hours = tuple[tuple[dt.time, dt.time], ...]


class PlanError(BadRequest):
    key = "bad_plan"


def _fail(key: str, vi: str, en: str) -> PlanError:
    return PlanError(f"Kế hoạch không hợp lệ: {key}: {vi}", f"Invalid plan: {key}: {en}", key="bad_plan", field=key)


@dataclass(frozen=True)
class CounterPlan:
    number: int
    services: dict[str, str]
    hours: Hours | None = None  # None: open, paused and closed as on the recorded day
    closed: bool = False
    # Every opening, pause and closing moved by this many minutes (the same working time,
    # earlier or later): how a plan staggers counters.
    shift_minutes: int = 0


@dataclass(frozen=True)
class Plan:
    name: str
    counters: tuple[CounterPlan, ...]
    priority_rule: str
    interleave: int
    clerks: int | None = None

    def counter(self, number: int) -> CounterPlan | None:
        for c in self.counters:
            if c.number == number:
                return c
        return None

    def with_counter(self, changed: CounterPlan, name: str | None = None) -> Plan:
        counters = tuple(changed if c.number == changed.number else c for c in self.counters)
        if changed.number not in {c.number for c in self.counters}:
            counters += (changed,)
        return replace(self, counters=counters, name=name or self.name)

    def to_dict(self) -> dict[str, Any]:
        """The plan in the plan file's shape (and the admin screen's)."""
        out: dict[str, Any] = {"name": self.name, "priority_rule": self.priority_rule, "interleave": self.interleave}
        if self.clerks is not None:
            out["clerks"] = self.clerks
        out["counters"] = []
        for c in sorted(self.counters, key=lambda c: c.number):
            d: dict[str, Any] = {"number": c.number, "services": dict(c.services)}
            if c.hours is not None:
                d["hours"] = [format_session(s) for s in c.hours]
            if c.closed:
                d["closed"] = True
            if c.shift_minutes:
                d["shift_minutes"] = c.shift_minutes
            out["counters"].append(d)
        return out


def format_session(s: tuple[dt.time, dt.time]) -> str:
    return f"{s[0]:%H:%M}-{s[1]:%H:%M}"


def actual_plan(config: Config) -> Plan:
    return Plan(
        ACTUAL_NAME,
        tuple(CounterPlan(c.number, dict(c.services)) for c in config.counters),
        config.queue.priority_rule,
        config.queue.interleave,
    )


def _int(value: Any, key: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail(key, f"phải là số nguyên từ {low} đến {high}", f"must be a whole number from {low} to {high}")
    return value


def parse_hours(value: Any, key: str) -> Hours:
    if not isinstance(value, list) or len(value) > 6:
        raise _fail(key, 'phải là danh sách dạng ["07:30-11:30"]', 'must be a list like ["07:30-11:30"]')
    out = []
    for i, text in enumerate(value):
        m = _SESSION.match(text) if isinstance(text, str) else None
        if not m:
            raise _fail(f"{key}[{i}]", "phải có dạng HH:MM-HH:MM", "must look like HH:MM-HH:MM")
        h1, m1, h2, m2 = (int(x) for x in m.groups())
        if not (h1 < 24 and h2 < 24 and m1 < 60 and m2 < 60 and (h1, m1) < (h2, m2)):
            raise _fail(f"{key}[{i}]", "giờ không hợp lệ", "invalid hours")
        out.append((dt.time(h1, m1), dt.time(h2, m2)))
    out.sort()
    for a, b in zip(out, out[1:]):
        if b[0] < a[1]:
            raise _fail(key, "các khoảng giờ chồng lên nhau", "the sessions overlap")
    return tuple(out)


def _services(value: Any, key: str, config: Config) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _fail(key, 'phải là bảng dạng { CT = "primary" }', 'must be a table like { CT = "primary" }')
    codes = {s.code for s in config.services}
    out: dict[str, str] = {}
    for code, level in value.items():
        if code not in codes:
            raise _fail(f"{key}.{code}", "lĩnh vực không tồn tại", "no such service")
        if level not in LEVELS:
            raise _fail(
                f"{key}.{code}",
                "mức phải là primary, normal, backup hoặc appointment",
                "level must be primary, normal, backup or appointment",
            )
        out[code] = level
    return out


def parse_variant(data: Any, key: str, config: Config, base: Plan) -> Plan:
    if not isinstance(data, dict):
        raise _fail(key, "phải là một bảng", "must be a table")
    for k in data:
        if k not in _VARIANT_KEYS:
            raise _fail(f"{key}.{k}", "khóa không hợp lệ", "unknown key")
    name = data.get("name", "")
    if not isinstance(name, str) or not name.strip() or len(name) > 80:
        raise _fail(f"{key}.name", "cần một tên (tối đa 80 ký tự)", "needs a name (at most 80 characters)")
    plan = replace(base, name=name.strip())
    if "priority_rule" in data:
        if data["priority_rule"] not in ("strict", "interleave"):
            raise _fail(
                f"{key}.priority_rule", 'phải là "strict" hoặc "interleave"', 'must be "strict" or "interleave"'
            )
        plan = replace(plan, priority_rule=data["priority_rule"])
    if "interleave" in data:
        plan = replace(plan, interleave=_int(data["interleave"], f"{key}.interleave", 0, 100))
    if "clerks" in data:
        plan = replace(plan, clerks=_int(data["clerks"], f"{key}.clerks", 1, MAX_COUNTERS))
    counters = data.get("counters", [])
    if not isinstance(counters, list) or len(counters) > MAX_COUNTERS:
        raise _fail(f"{key}.counters", "phải là danh sách quầy", "must be a list of counters")
    seen: set[int] = set()
    for i, c in enumerate(counters):
        ck = f"{key}.counters[{i}]"
        if not isinstance(c, dict):
            raise _fail(ck, "phải là một bảng", "must be a table")
        for k in c:
            if k not in _COUNTER_KEYS:
                raise _fail(f"{ck}.{k}", "khóa không hợp lệ", "unknown key")
        if "number" not in c:
            raise _fail(f"{ck}.number", "thiếu số quầy", "the counter number is missing")
        number = _int(c["number"], f"{ck}.number", 1, 999)
        if number in seen:
            raise _fail(f"{ck}.number", f"quầy {number} bị trùng", f"counter {number} is a duplicate")
        seen.add(number)
        current = plan.counter(number)
        closed = c.get("closed", False)
        if not isinstance(closed, bool):
            raise _fail(f"{ck}.closed", "phải là true hoặc false", "must be true or false")
        if "services" in c:
            services = _services(c["services"], f"{ck}.services", config)
        elif current is not None:
            services = current.services
        else:
            raise _fail(f"{ck}.services", "quầy mới cần danh sách lĩnh vực", "a new counter needs its services")
        if not services and not closed:
            raise _fail(f"{ck}.services", "cần ít nhất một lĩnh vực", "at least one service is needed")
        hours = parse_hours(c["hours"], f"{ck}.hours") if "hours" in c else (current.hours if current else None)
        if current is None and hours is None and not closed:
            raise _fail(f"{ck}.hours", "quầy mới cần giờ mở", "a new counter needs its opening hours")
        shift = (
            _int(c["shift_minutes"], f"{ck}.shift_minutes", -MAX_SHIFT, MAX_SHIFT)
            if "shift_minutes" in c
            else (current.shift_minutes if current else 0)
        )
        plan = plan.with_counter(CounterPlan(number, services, hours, closed, shift))
    if all(c.closed for c in plan.counters):
        raise _fail(f"{key}.counters", "kế hoạch không còn quầy nào mở", "the plan leaves no counter open")
    return plan


def parse_plans(data: Any, config: Config, base: Plan | None = None) -> list[Plan]:
    """The variants of a plan file (a dict with ``variants``) or of the admin screen's JSON."""
    base = base or actual_plan(config)
    if not isinstance(data, dict):
        raise _fail("variants", "tệp kế hoạch phải là một bảng", "the plan file must be a table")
    for k in data:
        if k != "variants":
            raise _fail(k, "khóa không hợp lệ (chỉ có [[variants]])", "unknown key (only [[variants]])")
    variants = data.get("variants", [])
    if not isinstance(variants, list) or len(variants) > MAX_VARIANTS:
        raise _fail(
            "variants",
            f"phải là danh sách tối đa {MAX_VARIANTS} phương án",
            f"must be a list of at most {MAX_VARIANTS} variants",
        )
    plans = [parse_variant(v, f"variants[{i}]", config, base) for i, v in enumerate(variants)]
    names = [p.name for p in plans]
    for i, n in enumerate(names):
        if n in names[:i] or n == ACTUAL_NAME:
            raise _fail(f"variants[{i}].name", "tên bị trùng", "the name is a duplicate")
    return plans


def load_plan_file(path: str | Path, config: Config) -> list[Plan]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise PlanError(
            f"Không đọc được tệp kế hoạch {p}: {e.strerror}", f"Cannot read plan file {p}: {e.strerror}", key="bad_plan"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PlanError(
            f"{p.name}: lỗi cú pháp TOML: {e}", f"{p.name}: TOML syntax error: {e}", key="bad_plan"
        ) from None
    return parse_plans(data, config)
