"""What an edit of config.toml changed, in words for the audit log ("Dòng chữ chạy: “…” →
“…”", "Thêm quầy 6"), so the log says what actually changed, not which sections the form
sent. Device tokens are never written out: only that one changed."""

from __future__ import annotations

import dataclasses
from typing import Any

from .config import Config

# (field, Vietnamese name) shown for each kind of item; fields not listed are compared too,
# under their own name.
_NAMES = {
    "office": {
        "name": "Tên cơ quan",
        "name_en": "Tên cơ quan (tiếng Anh)",
        "ticker": "Dòng chữ chạy",
        "ticker_en": "Dòng chữ chạy (tiếng Anh)",
    },
    "services": {
        "name": "tên",
        "name_en": "tên tiếng Anh",
        "range": "dãy số",
        "prefix": "chữ đầu",
        "daily_cap": "giới hạn/ngày",
        "service_minutes": "phút/người",
    },
    "counters": {"name": "tên", "name_en": "tên tiếng Anh", "services": "lĩnh vực"},
    "kiosks": {"name": "tên", "token": "mã thiết bị", "printer": "máy in"},
    "printers": {"url": "địa chỉ", "width": "độ rộng", "profile": "mẫu máy in", "footer": "dòng cuối vé"},
}
_ITEM = {
    "services": ("lĩnh vực", "code"),
    "counters": ("quầy", "number"),
    "kiosks": ("kiosk", "id"),
    "printers": ("máy in", "id"),
}
_SECRET = {"token", "agent_token"}


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f"“{value}”" if value else "(trống)"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        return "–".join(str(v) for v in value) if len(value) == 2 else ", ".join(str(v) for v in value)
    return str(value)


def _field_changes(before: Any, after: Any, names: dict[str, str]) -> list[str]:
    out = []
    for f in dataclasses.fields(before):
        old, new = getattr(before, f.name), getattr(after, f.name)
        if old == new or dataclasses.is_dataclass(old):
            continue
        label = names.get(f.name, f.name)
        out.append(f"{label} đổi" if f.name in _SECRET else f"{label}: {_show(old)} → {_show(new)}")
    return out


def describe_changes(before: Config, after: Config) -> list[str]:
    """Each change from ``before`` to ``after``, one sentence each, in the order of the file."""
    changes = [f"{c}" for c in _field_changes(before.office, after.office, _NAMES["office"])]
    for section, (word, key) in _ITEM.items():
        old = {getattr(item, key): item for item in getattr(before, section)}
        new = {getattr(item, key): item for item in getattr(after, section)}
        for k in new.keys() - old.keys():
            changes.append(f"Thêm {word} {k}")
        for k in old.keys() - new.keys():
            changes.append(f"Bỏ {word} {k}")
        for k in old.keys() & new.keys():
            changes += [f"{word.capitalize()} {k}: {c}" for c in _field_changes(old[k], new[k], _NAMES[section])]
    for section in ("queue", "rating", "display", "keypad", "alerts", "backup"):
        if hasattr(before, section):
            changes += [f"{section}.{c}" for c in _field_changes(getattr(before, section), getattr(after, section), {})]
    return changes
