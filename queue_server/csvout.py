"""CSV files that open correctly where leaders open them.

Excel with Vietnamese regional settings (the usual office PC) reads a CSV with its *list
separator*, ";", and its *decimal separator*, ",": a comma-separated file lands in one
column and "4.5" becomes a date or a text. So the default dialect, ``excel``, writes ";"
between fields, "4,5" for decimals, and a UTF-8 byte order mark so Excel shows the
Vietnamese letters. ``comma`` is the plain RFC 4180 form for other programs (LibreOffice
asks, Python, Google Sheets): "," between fields, "4.5", UTF-8 without a BOM.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

DIALECTS = ("excel", "comma")
DEFAULT_DIALECT = "excel"


def _cell(value: Any, dialect: str) -> Any:
    if value is None:
        return ""
    if isinstance(value, float) and dialect == "excel":
        return repr(value).replace(".", ",") if value == value else ""
    return value


def csv_bytes(headers: Sequence[Any], rows: Iterable[Sequence[Any]], dialect: str = DEFAULT_DIALECT) -> bytes:
    """The table as CSV bytes in ``dialect`` ("excel" or "comma"); ValueError for another."""
    if dialect not in DIALECTS:
        raise ValueError(f"CSV dialect must be one of {DIALECTS}, not {dialect!r}")
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";" if dialect == "excel" else ",", lineterminator="\r\n")
    w.writerow(headers)
    for row in rows:
        w.writerow([_cell(v, dialect) for v in row])
    text = buf.getvalue()
    return (("\ufeff" + text) if dialect == "excel" else text).encode("utf-8")
