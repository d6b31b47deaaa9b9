"""Editing config.toml from the admin screen, keeping its comments and layout.

The file stays the one source of the office's structure. An edit is applied to the tomlkit
document (so every comment, blank line and key order the IT person wrote survives), the
result is validated with the same ``config.parse_text`` the server starts with, and only a valid
document is written — atomically (temporary file + rename), with the previous file kept as
``config.toml.bak``. The caller then hands the new ``Config`` to ``Office.reload_config``.

``apply_changes`` takes the form the admin screen sends::

    {"office": {"ticker": "…", "ticker_en": "…"},
     "services": [{"code": "CT", "name": "Chứng thực", "range": [1001, 1999], …}, …],
     "counters": [{"number": 1, "name": "…", "services": {"CT": "primary"}}, …],
     "kiosks": […], "printers": […]}

Each list, when present, is the whole new list: entries are matched to the existing
``[[tables]]`` by their key (code, number, id) and updated in place; new ones are appended;
missing ones removed. A key sent as ``null`` is removed from its table (back to the default).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import ConvertError, TOMLKitError
from tomlkit.items import AoT, Comment, InlineTable, Table, Whitespace

from .config import Config, Counter, Kiosk, Office, Printer, Service, restart_only_keys
from .config import parse_text as validate_text
from .errors import BadRequest, ConfigError

# The lists the admin screen edits, with the key that identifies an entry.
LISTS = {"services": "code", "counters": "number", "kiosks": "id", "printers": "id"}
OFFICE_KEYS = ("name", "name_en", "ticker", "ticker_en")


def read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def parse_text(text: str) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(text)
    except TOMLKitError as e:
        raise ConfigError(
            f"config.toml: lỗi cú pháp TOML: {e}", f"config.toml: TOML syntax error: {e}", key="config"
        ) from None


def editable(config: Config) -> dict[str, Any]:
    """The parts of the config the admin screen's form shows, as plain data."""

    def plain(items: list[Any]) -> list[dict[str, Any]]:
        return [dataclasses.asdict(i) for i in items]

    return {
        "office": {k: getattr(config.office, k) for k in OFFICE_KEYS},
        "services": plain(config.services),
        "counters": plain(config.counters),
        "kiosks": plain(config.kiosks),
        "printers": plain(config.printers),
    }


def _value(v: Any) -> Any:
    """Counters' ``services`` and other tables are written inline, like the sample file."""
    if isinstance(v, dict):
        t = tomlkit.inline_table()
        t.update(v)
        return t
    return v


def _defaults(name: str) -> dict[str, Any]:
    """Default values of a list entry's optional keys: not written when the file lacks them,
    so saving the form does not fill the file with ``prefix = ""`` lines."""
    cls = {"services": Service, "counters": Counter, "kiosks": Kiosk, "printers": Printer}.get(name, Office)
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:  # a nested table such as a service's booking
            value = f.default_factory()
            out[f.name] = dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value  # type: ignore[arg-type]
    return out


def _update_table(table: Table | InlineTable, values: dict[str, Any], defaults: dict[str, Any]) -> None:
    for k, v in values.items():
        if v is None:
            if k in table:
                del table[k]
        elif k not in table:
            if k not in defaults or defaults[k] != v:
                table[k] = _value(v)
        elif isinstance(v, dict) and isinstance(table[k], (Table, InlineTable)):
            # A nested table (a service's booking, its windows, a counter's services) is
            # updated in place, so its header, layout and comments stay and keys left at
            # their defaults stay unwritten; a value sent is the whole new table: keys it
            # lacks are removed (an inline table losing keys is written afresh, tidier than
            # tomlkit's deletion inside the braces).
            inner = table[k]
            gone = [x for x in inner if x not in v]
            if gone and isinstance(inner, InlineTable):
                table[k] = _value(v)
                continue
            nested = defaults.get(k)
            _update_table(inner, v, nested if isinstance(nested, dict) else {})
            for x in gone:
                del inner[x]
        elif table[k] != v:
            table[k] = _value(v)


def _sync_list(doc: tomlkit.TOMLDocument, name: str, entries: Any) -> None:
    key = LISTS[name]
    if not isinstance(entries, list) or not all(isinstance(e, dict) and key in e for e in entries):
        raise BadRequest(
            f"“{name}” phải là danh sách, mỗi mục có “{key}”.",
            f"“{name}” must be a list of tables, each with “{key}”.",
            key="bad_field",
            field=name,
        )
    for i, e in enumerate(entries):
        if isinstance(e[key], bool) or not isinstance(e[key], (str, int)):
            where = f"{name}[{i}].{key}"
            raise BadRequest(
                f"“{where}” phải là chữ hoặc số nguyên.",
                f"“{where}” must be text or a whole number.",
                key="bad_field",
                field=where,
            )
    wanted = {e[key]: e for e in entries}
    if len(wanted) != len(entries):
        raise BadRequest(f"“{name}”: “{key}” bị trùng.", f"“{name}”: duplicate “{key}”.", key="bad_field", field=name)
    aot = doc.get(name)
    if aot is None and not entries:
        return
    if not isinstance(aot, AoT):
        aot = tomlkit.aot()
        if name in doc:
            del doc[name]
        doc.append(name, aot)
    existing = list(aot)
    for i in reversed(range(len(existing))):
        if existing[i].get(key) not in wanted:
            # Comments after a table's last key stand before the next header: keep them there.
            tail = _take_trailing_trivia(existing[i])
            if i > 0:
                _give_trailing_trivia(existing[i - 1], tail)
            del aot[i]
    present = {t.get(key): t for t in aot}
    defaults = _defaults(name)
    for k, values in wanted.items():
        if k in present:
            _update_table(present[k], values, defaults)
        else:
            table = tomlkit.table()
            _update_table(table, values, defaults)
            tail = []
            if len(aot):
                tail = _take_trailing_trivia(aot[-1])
                aot[-1].value.body.append((None, Whitespace("\n")))  # a blank line between the tables
            aot.append(table)
            _give_trailing_trivia(table, tail)


def _take_trailing_trivia(table: Table) -> list[Any]:
    """Remove and return the comments and blank lines after ``table``'s last key."""
    body = table.value.body
    i = len(body)
    while i > 0 and body[i - 1][0] is None and isinstance(body[i - 1][1], (Comment, Whitespace)):
        i -= 1
    tail = body[i:]
    del body[i:]
    return tail


def _give_trailing_trivia(table: Table, tail: list[Any]) -> None:
    body = table.value.body
    trailing_blank = bool(body) and body[-1][0] is None and isinstance(body[-1][1], Whitespace)
    if trailing_blank and tail and isinstance(tail[0][1], Whitespace):
        tail = tail[1:]
    body.extend(tail)


def apply_changes(doc: tomlkit.TOMLDocument, changes: dict[str, Any]) -> list[str]:
    """Apply the admin screen's edit to ``doc`` in place; returns the sections changed."""
    unknown = set(changes) - {"office", *LISTS}
    if unknown:
        raise BadRequest(
            f"Không sửa được: {', '.join(sorted(unknown))}.",
            f"Cannot edit: {', '.join(sorted(unknown))}.",
            key="bad_field",
        )
    touched = []
    office = changes.get("office")
    if office is not None:
        if not isinstance(office, dict) or set(office) - set(OFFICE_KEYS):
            raise BadRequest(
                "“office” chỉ sửa được tên và dòng chữ chạy.",
                "“office”: only names and ticker.",
                key="bad_field",
                field="office",
            )
        touched.append("office")
    for name in LISTS:
        if name in changes:
            touched.append(name)
    for name in touched:
        try:
            if name == "office":
                _update_table(doc["office"], office, _defaults("office"))  # type: ignore[arg-type]
            else:
                _sync_list(doc, name, changes[name])
        except ConvertError:  # a null inside a list or table: TOML has no null
            raise BadRequest(
                f"“{name}” có giá trị không ghi được vào config.toml (null).",
                f"“{name}” holds a value config.toml cannot hold (null).",
                key="bad_field",
                field=name,
            ) from None
    return touched


def check_restart_only(current: Config, doc: tomlkit.TOMLDocument) -> None:
    """Refuse a web edit that changes a restart-only setting (declared ``restart=True`` in
    ``queue_server.config``: where the server listens, its database, key, cookies, proxies,
    the folders of backups and clips), naming it. Checked before anything else in the edited
    document, so the answer names the real reason. Besides being read only at start, these
    settings must not be pointed elsewhere from an admin's browser."""
    data = doc.unwrap()
    for section, name, default in restart_only_keys():
        table = data.get(section)
        after = table.get(name, default) if isinstance(table, dict) else default
        before = getattr(getattr(current, section), name)
        if before != after:
            key = f"{section}.{name}"
            raise BadRequest(
                f"“{key}” chỉ đổi được khi khởi động lại (máy chủ đang chạy với {before!r}, bản sửa ghi "
                f"{after!r}): sửa trong tệp config.toml trên máy chủ rồi khởi động lại motcua, không sửa "
                "qua trang quản trị.",
                f"“{key}” is restart-only (the server runs with {before!r}, the edit says {after!r}): "
                "change it in config.toml on the server and restart motcua, not from the web.",
                key="restart_only",
                field=key,
            )


class PendingWrite:
    """A validated document written beside the config file, waiting to replace it: the
    caller commits it after the live reload succeeded, or discards it."""

    def __init__(self, path: Path, text: str):
        self.path = path
        self.tmp = path.with_name(path.name + ".new")
        self.tmp.write_text(text, encoding="utf-8")

    def commit(self) -> None:
        if self.path.exists():
            backup = self.path.with_name(self.path.name + ".bak")
            backup.write_bytes(self.path.read_bytes())
        os.replace(self.tmp, self.path)

    def discard(self) -> None:
        self.tmp.unlink(missing_ok=True)


def prepare(path: Path, doc: tomlkit.TOMLDocument) -> tuple[Config, PendingWrite]:
    """Validate ``doc`` and stage it for writing to ``path``: the text written is the text
    validated, read back as the server reads config.toml at start (``config.parse_text``)."""
    text = tomlkit.dumps(doc)
    config = validate_text(text, path)
    return config, PendingWrite(path, text)
