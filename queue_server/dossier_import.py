"""Importing the province's export: which dossiers are ready, returned or withdrawn.

The province's one-stop software exports a CSV with, per dossier, its code, status and the
date it was finished. Column names and status words differ between provinces, so both are
matched loosely (case, accents and punctuation ignored):

- code: ``code``, ``Mã hồ sơ``, ``Số hồ sơ``, ``ma_ho_so``
- status: ``status``, ``Trạng thái``, ``Tình trạng``
- finished date: ``finished``, ``finished_date``, ``Ngày hoàn thành``, ``Ngày có kết quả``,
  ``Ngày trả kết quả`` (dd/mm/yyyy or yyyy-mm-dd, a time after it is ignored)

Status words: *ready* (``ready``, ``Đã có kết quả``, ``Hoàn thành``, ``Đã giải quyết``,
``Chờ trả kết quả``), *returned* (``returned``, ``Đã trả``, ``Đã trả kết quả``),
*withdrawn* (``withdrawn``, ``Rút hồ sơ``, ``Đã rút``), and in progress (``received``,
``Đang giải quyết``, ``Đang xử lý``, ``Mới tiếp nhận``, ``Chờ bổ sung``), which changes nothing.

The import is idempotent: a row only changes a dossier whose state differs from it, so the
same file applied twice changes nothing the second time. A file with a bad row is refused
whole (the line is named) and changes nothing; so is one that lists a code twice with
different statuses or dates (applied twice, it would change that dossier both times). Codes motcua does not know are listed, not
created: the dossier was received elsewhere.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import sqlite3
import unicodedata
from dataclasses import dataclass
from typing import Any

from . import dossiers
from .dossiers import OPEN, Status
from .errors import BadRequest

MAX_ROWS = 200_000

_HEADERS = {
    "code": ("code", "ma", "ma_ho_so", "so_ho_so", "ma_hs", "dossier", "dossier_code"),
    "status": ("status", "trang_thai", "tinh_trang", "trang_thai_ho_so"),
    "finished": (
        "finished",
        "finished_date",
        "finished_on",
        "ngay_hoan_thanh",
        "ngay_co_ket_qua",
        "ngay_tra_ket_qua",
        "ngay_ket_thuc",
        "ngay_giai_quyet",
    ),
}
_STATUS = {
    "ready": (
        "ready",
        "da_co_ket_qua",
        "co_ket_qua",
        "hoan_thanh",
        "da_hoan_thanh",
        "da_giai_quyet",
        "cho_tra_ket_qua",
        "da_xu_ly",
    ),
    "returned": ("returned", "da_tra", "da_tra_ket_qua", "tra_ket_qua"),
    "withdrawn": ("withdrawn", "rut_ho_so", "da_rut", "da_rut_ho_so", "cong_dan_rut"),
    "received": (
        "received",
        "in_progress",
        "dang_giai_quyet",
        "dang_xu_ly",
        "moi_tiep_nhan",
        "tiep_nhan",
        "cho_bo_sung",
        "papers",
        "bo_sung",
    ),
}


def _key(text: str) -> str:
    """ "Ngày có kết quả" → "ngay_co_ket_qua"."""
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


_HEADER_OF = {alias: name for name, aliases in _HEADERS.items() for alias in aliases}
_STATUS_OF = {alias: name for name, aliases in _STATUS.items() for alias in aliases}


@dataclass(frozen=True)
class Row:
    line: int
    code: str
    status: str
    finished: dt.date | None


def _bad(line: int, vi: str, en: str) -> BadRequest:
    return BadRequest(
        f"Dòng {line}: {vi}. Chưa nhập gì.", f"Line {line}: {en}. Nothing was imported.", key="bad_import", line=line
    )


def parse(text: str, today: dt.date | None = None) -> list[Row]:
    """The rows of the province's CSV ``text``; a finished date after ``today`` is refused
    like a bad date (staff cannot mark a result ready in the future either)."""
    text = text.lstrip("\ufeff")
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise BadRequest("Tệp trống.", "The file is empty.", key="bad_import") from None
    columns = {_HEADER_OF.get(_key(h)): i for i, h in enumerate(header) if _HEADER_OF.get(_key(h))}
    missing = [n for n in ("code", "status") if n not in columns]
    if missing:
        raise BadRequest(
            f"Thiếu cột: {', '.join(missing)} (cần mã hồ sơ, trạng thái, ngày hoàn thành).",
            f"Missing column(s): {', '.join(missing)} (code, status and finished date are needed).",
            key="bad_import",
        )
    rows: list[Row] = []
    first_of: dict[str, Row] = {}
    for line, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        if len(rows) >= MAX_ROWS:
            raise _bad(line, f"quá {MAX_ROWS} dòng", f"more than {MAX_ROWS} rows")

        def cell(name: str, values: list[str] = values) -> str:
            i = columns.get(name)
            return values[i].strip() if i is not None and i < len(values) else ""

        code = dossiers.normalize_code(cell("code"))
        if not code:
            raise _bad(line, "thiếu mã hồ sơ", "no dossier code")
        status = _STATUS_OF.get(_key(cell("status")))
        if status is None:
            raise _bad(line, f"trạng thái “{cell('status')}” không rõ", f"unknown status “{cell('status')}”")
        finished = None
        raw = cell("finished")
        if raw:
            try:
                finished = dossiers.parse_day(raw.split()[0].split("T")[0], "finished")
            except BadRequest:
                raise _bad(
                    line, f"ngày “{raw}” không đúng dạng dd/mm/yyyy", f"date “{raw}” is not dd/mm/yyyy"
                ) from None
        elif status in ("ready", "returned"):
            raise _bad(line, "thiếu ngày hoàn thành", "no finished date")
        if finished is not None and today is not None and finished > today:
            raise _bad(
                line,
                f"ngày hoàn thành {dossiers.vn_date(finished)} sau hôm nay",
                f"finished date {dossiers.vn_date(finished)} is after today",
            )
        row = Row(line, code, status, finished)
        earlier = first_of.setdefault(code, row)
        if (earlier.status, earlier.finished) != (status, finished):
            # Applying both would leave the later one, and a second import would change the
            # dossier twice again: which row is right is for the province's software to say.
            raise _bad(
                line,
                f"mã hồ sơ {code} đã có ở dòng {earlier.line} với trạng thái hoặc ngày khác",
                f"dossier {code} is already on line {earlier.line} with another status or date",
            )
        rows.append(row)
    return rows


def apply(conn: sqlite3.Connection, rows: list[Row], *, at: str, staff: str | None) -> dict[str, Any]:
    """Apply ``rows`` inside the caller's transaction. Returns what changed."""
    changed: list[dict[str, Any]] = []
    unknown: list[str] = []
    unchanged = 0
    for row in rows:
        d = dossiers.get(conn, row.code)
        if d is None:
            unknown.append(row.code)
            continue
        before = d["status"]
        new = _target(d, row)
        if new is None:
            unchanged += 1
            continue
        new["updated_at"] = at
        dossiers._save(conn, new)
        dossiers.log(
            conn,
            at,
            "imported",
            row.code,
            staff=staff,
            status=new["status"],
            previous=before,
            ready_on=new["ready_on"],
            line=row.line,
        )
        changed.append({"code": row.code, "from": before, "to": new["status"], "ready_on": new["ready_on"]})
    return {"changed": changed, "unchanged": unchanged, "unknown": unknown, "rows": len(rows)}


def _target(d: dict[str, Any], row: Row) -> dict[str, Any] | None:
    """The dossier after ``row``, or None when the row changes nothing."""
    finished = row.finished.isoformat() if row.finished else None
    if row.status == "ready":
        if d["status"] in OPEN or (d["status"] == Status.READY and d["ready_on"] != finished):
            return d | {"status": Status.READY, "ready_on": finished}
        return None
    if row.status == "returned":
        if d["status"] in (Status.RETURNED, Status.WITHDRAWN):
            return None
        return d | {"status": Status.RETURNED, "ready_on": d["ready_on"] or finished, "returned_at": finished}
    if row.status == "withdrawn":
        return d | {"status": Status.WITHDRAWN} if d["status"] in OPEN else None
    return None
