"""An appointment as an iCalendar event: the confirmation page's "Add to calendar" (.ics)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from .appointments import parse_time, public_view, slot_datetime
from .config import Config


def ics(config: Config, found: dict[str, Any], now: dt.datetime) -> str:
    """An iCalendar event for "Add to calendar" (RFC 5545; times in UTC)."""
    view = public_view(config, found)
    day = dt.date.fromisoformat(found["date"])
    start = slot_datetime(config, day, parse_time(found["start"])).astimezone(dt.UTC)
    end = slot_datetime(config, day, parse_time(found["end"])).astimezone(dt.UTC)

    def esc(text: str) -> str:
        return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")

    fmt = "%Y%m%dT%H%M%SZ"
    counters = ", ".join(c["name"] for c in view["counters"])
    description = f"Mã lịch hẹn: {view['code_display']}. {counters}."
    if view["papers"]:
        description += f" Giấy tờ cần mang: {view['papers']}"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//motcua//appointments//VI",
        "CALSCALE:GREGORIAN",
        "BEGIN:VEVENT",
        f"UID:{found['code']}@motcua",
        f"DTSTAMP:{now.astimezone(dt.UTC).strftime(fmt)}",
        f"DTSTART:{start.strftime(fmt)}",
        f"DTEND:{end.strftime(fmt)}",
        f"SUMMARY:{esc('Lịch hẹn ' + view['service_name'] + ' – ' + view['code_display'])}",
        f"LOCATION:{esc(config.office.name)}",
        f"DESCRIPTION:{esc(description)}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"


def _fold(line: str) -> str:
    """RFC 5545 lines are at most 75 octets; longer ones continue after CRLF + space."""
    out, current = [], b""
    for ch in line:
        enc = ch.encode()
        if len(current) + len(enc) > 74:
            out.append(current.decode())
            current = b" "
        current += enc
    out.append(current.decode())
    return "\r\n".join(out)
