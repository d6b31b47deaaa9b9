"""Procedures (thủ tục hành chính) per service, and the settings of dossier tracking.

Procedures are declared in config.toml as ``[[procedures]]`` tables, or listed in a CSV file
named by ``dossiers.procedures_csv`` (offices keep these lists in spreadsheets). The CSV has
a header row with the columns ``service,code,name,days,papers`` (``name_en`` optional);
``papers`` lists the papers separated by ``;``. UTF-8, with or without a BOM (Excel's
"CSV UTF-8"), comma or semicolon separated. A CSV row with the code of a ``[[procedures]]``
table is refused as a duplicate, like two tables with the same code.

``validate`` checks them with the rest of the config at start (the key or CSV line at fault
is named), so a typo never reaches the counter.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import re
from typing import TYPE_CHECKING

from .errors import ConfigError
from .workdays import MAX_WORKING_DAYS

if TYPE_CHECKING:
    from .config import Config, Procedure

log = logging.getLogger("motcua.config")
_PROC_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
CSV_COLUMNS = ("service", "code", "name", "days", "papers")
MAX_CSV_BYTES = 2_000_000


def _fail(key: str, vi: str, en: str) -> ConfigError:
    return ConfigError(f"{key}: {vi}", f"{key}: {en}", key=key)


def parse_csv(text: str, where: str = "procedures.csv") -> list[Procedure]:
    """Procedures from CSV text (see the module docstring). Raises ConfigError naming the line."""
    from .config import Procedure

    text = text.lstrip("\ufeff")
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    # With ";" as the separator, papers split by ";" arrive as extra fields: kept as papers.
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter, restkey="_more")
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in CSV_COLUMNS if c not in header and c != "papers"]
    if missing:
        raise _fail(
            where,
            f"thiếu cột {', '.join(missing)} (cần: {','.join(CSV_COLUMNS)})",
            f"missing column(s) {', '.join(missing)} (needed: {','.join(CSV_COLUMNS)})",
        )
    out: list[Procedure] = []
    for line, raw in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items() if isinstance(v, str)}
        if not any(row.values()):
            continue
        key = f"{where}:{line}"
        try:
            days = int(row.get("days", ""))
        except ValueError:
            days = -1
        if not 0 <= days <= MAX_WORKING_DAYS:
            raise _fail(
                key,
                f"số ngày làm việc “{row.get('days', '')}” không phải số nguyên từ 0 đến {MAX_WORKING_DAYS}",
                f"working days “{row.get('days', '')}” is not a whole number from 0 to {MAX_WORKING_DAYS}",
            )
        more = raw.get("_more") or []
        text_papers = ";".join([row.get("papers", ""), *(m for m in more if isinstance(m, str))])
        papers = [p.strip() for p in re.split(r"[;\n|]", text_papers) if p.strip()]
        out.append(
            Procedure(
                service=row.get("service", ""),
                code=row.get("code", ""),
                name=row.get("name", ""),
                days=days,
                papers=papers,
                name_en=row.get("name_en", ""),
            )
        )
    return out


def with_csv(cfg: Config) -> Config:
    """``cfg`` with the procedures of ``dossiers.procedures_csv`` appended, and without those
    of services the office does not have (a service removed from the list, e.g. from the
    admin screen, takes its procedures with it; a warning is logged)."""
    name = cfg.dossiers.procedures_csv
    if name:
        cfg = _read_csv(cfg, name)
    services = {s.code for s in cfg.services}
    kept = [p for p in cfg.procedures if p.service in services]
    if len(kept) != len(cfg.procedures):
        dropped = sorted({p.service for p in cfg.procedures if p.service not in services})
        log.warning("procedures of unknown services ignored: %s", ", ".join(dropped))
        cfg = dataclasses.replace(cfg, procedures=kept)
    if cfg.dossiers.return_service and cfg.dossiers.return_service not in services:
        log.warning(
            "dossiers.return_service %s is not a service; result-return tickets use the dossier's service",
            cfg.dossiers.return_service,
        )
        cfg = dataclasses.replace(cfg, dossiers=dataclasses.replace(cfg.dossiers, return_service=""))
    return cfg


def _read_csv(cfg: Config, name: str) -> Config:
    path = cfg.resolve(name)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise _fail(
            "dossiers.procedures_csv", f"không đọc được {path}: {e.strerror}", f"cannot read {path}: {e.strerror}"
        ) from None
    if len(data) > MAX_CSV_BYTES:
        raise _fail("dossiers.procedures_csv", "tệp quá lớn", "file too large")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _fail("dossiers.procedures_csv", "tệp phải là CSV UTF-8", "the file must be UTF-8 CSV") from None
    return dataclasses.replace(cfg, procedures=[*cfg.procedures, *parse_csv(text, path.name)])


def validate(cfg: Config) -> None:
    services = {s.code for s in cfg.services}
    seen: dict[str, int] = {}
    for i, p in enumerate(cfg.procedures):
        key = f"procedures[{i}]"
        if p.service not in services:
            raise _fail(f"{key}.service", f"lĩnh vực “{p.service}” không tồn tại", f"no service “{p.service}”")
        if not _PROC_CODE.match(p.code):
            raise _fail(
                f"{key}.code",
                "chỉ gồm chữ, số, dấu . _ - (tối đa 32 ký tự)",
                "letters, digits, . _ - only (at most 32 characters)",
            )
        if p.code in seen:
            raise _fail(
                f"{key}.code",
                f"mã {p.code} bị trùng với procedures[{seen[p.code]}]",
                f"code {p.code} duplicates procedures[{seen[p.code]}]",
            )
        seen[p.code] = i
        if not p.name.strip():
            raise _fail(f"{key}.name", "không được để trống", "must not be empty")
    d = cfg.dossiers
    try:
        re.compile(d.code_pattern)
    except re.error as e:
        raise _fail(
            "dossiers.code_pattern", f"biểu thức chính quy sai: {e}", f"invalid regular expression: {e}"
        ) from None
    if d.return_service and d.return_service not in services:
        raise _fail("dossiers.return_service", "lĩnh vực không tồn tại", "no such service")
    if not 1 <= cfg.rating.satisfied_levels < cfg.rating.levels:
        raise _fail(
            "rating.satisfied_levels",
            "phải từ 1 đến số mức đánh giá − 1",
            "must be 1 to the number of rating levels − 1",
        )
    printers = {p.id for p in cfg.printers}
    for i, c in enumerate(cfg.counters):
        if c.printer and c.printer not in printers:
            raise _fail(f"counters[{i}].printer", "máy in không tồn tại", "no such printer")


def procedure(cfg: Config, code: str) -> Procedure | None:
    for p in cfg.procedures:
        if p.code == code:
            return p
    return None


def for_service(cfg: Config, service: str) -> list[Procedure]:
    return [p for p in cfg.procedures if p.service == service]
