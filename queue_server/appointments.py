"""Appointments: slots, booking codes, the booking table and its rules — without HTTP.
(Over 400 lines: the booking rules — slots, capacity, limits, codes, check-in windows — are one concept.)

A service with ``[services.booking] open = true`` offers slots of ``slot_minutes`` inside its
weekday ``windows``. Each slot takes ``capacity × (1 − walk_in_share)`` bookings, rounded
down. A booking holds the minimum personal data (a name and a phone number, Decree
13/2023/NĐ-CP); ``purge_personal_data`` blanks them ``appointments.keep_days`` after the
appointment, keeping the anonymous row for the reports.

Every write here runs in the office's writer thread (``Office.in_writer``) inside one
``BEGIN IMMEDIATE`` transaction, so "count the slot's bookings, then insert" cannot race:
fifty phones asking for the last seat of a slot get exactly one seat between them.
Check-in is a queue command (``Engine.check_in``); its row update rides in the same commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
import secrets
import sqlite3
from dataclasses import dataclass
from typing import Any

from .config import Config, Service
from .errors import BadRequest, Conflict, NotFound, TooManyRequests

# No look-alikes: no 0/O, 1/I/L. 31 symbols, 6 of them: about 887 million codes.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 6
_CODE_IN_TEXT = re.compile(r"([" + ALPHABET + r"]{3})-?([" + ALPHABET + r"]{3})")
_PHONE = re.compile(r"^0\d{9,10}$")
# What may stand between a phone number's digits (removed by ``normalize_phone``).
_SEPARATOR = r"[\s.\-()]"
# The booking form's schema states exactly what ``normalize_phone`` and ``clean_name`` accept
# (Python regular expressions, as msgspec checks them): a number 0…, 84… or +84… with 9 or 10
# digits after the prefix, separators anywhere; a name with 2 visible characters or more and
# no control character but white space.
PHONE = rf"^{_SEPARATOR}*(?:\+{_SEPARATOR}*8{_SEPARATOR}*4|8{_SEPARATOR}*4|0)(?:{_SEPARATOR}*\d){{9,10}}{_SEPARATOR}*$"
_ANY = r"[^\x00-\x08\x0e-\x1b]"
_VISIBLE = r"[^\s\x00-\x1f]"
NAME = f"^{_ANY}*{_VISIBLE}{_ANY}*{_VISIBLE}{_ANY}*$"
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
# How long a finished slot stays bookable in the list: never; slots that started are gone.
ACTIVE = "booked"
STATES = ("booked", "checked_in", "cancelled")


# ---------------------------------------------------------------------- codes, phones, names


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def show_code(code: str) -> str:
    """``K7M2QX`` as people read it: ``K7M-2QX``."""
    return f"{code[:3]}-{code[3:]}"


def parse_code(text: str) -> str | None:
    """The booking code in what a person typed or a scanner read (``k7m-2qx``, ``K7M 2QX``, a
    URL ending in the code); None when there is none."""
    cleaned = re.sub(r"[\s]", "", text.upper())
    found = _CODE_IN_TEXT.findall(cleaned)
    if not found:
        return None
    a, b = found[-1]
    return f"{a}{b}"


def normalize_phone(text: str) -> str | None:
    """A Vietnamese phone number as 0xxxxxxxxx (10 digits, 11 for landlines), or None."""
    digits = re.sub(_SEPARATOR, "", text)
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    elif digits.startswith("84") and len(digits) in (11, 12):
        digits = "0" + digits[2:]
    return digits if _PHONE.match(digits) else None


def clean_name(text: str) -> str | None:
    name = " ".join(text.split())
    if not 2 <= len(name) <= 100 or any(ord(ch) < 32 for ch in name):
        return None
    return name


def address_key(secret: str, address: str) -> str:
    """The client address, hashed with the office secret: enough to count bookings per
    address, without keeping the address itself."""
    return hashlib.sha256(f"{secret}|{address}".encode()).hexdigest()[:24]


# ---------------------------------------------------------------------- slots


@dataclass(frozen=True)
class Slot:
    start: dt.time
    end: dt.time

    @property
    def key(self) -> str:
        return self.start.strftime("%H:%M")


def bookable(service: Service) -> int:
    """Bookings one slot takes: capacity less the walk-in share, rounded down."""
    b = service.booking
    return max(0, math.floor(b.capacity * (1 - b.walk_in_share) + 1e-9))


def day_slots(service: Service, day: dt.date) -> list[Slot]:
    """Every slot of ``service`` on ``day``'s weekday (no check of closed days)."""
    b = service.booking
    out = []
    step = dt.timedelta(minutes=b.slot_minutes)
    for start, end in b.window_times(day.weekday()):
        t = dt.datetime.combine(day, start)
        stop = dt.datetime.combine(day, end)
        while t + step <= stop:
            out.append(Slot(t.time(), (t + step).time()))
            t += step
    return out


def local_today(config: Config, now: dt.datetime) -> dt.date:
    return now.astimezone(config.office.tz).date()


def slot_datetime(config: Config, day: dt.date, t: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, t, tzinfo=config.office.tz)


def find_service(config: Config, code: str) -> Service:
    try:
        svc = config.service(code)
    except KeyError:
        raise NotFound(f"Không có lĩnh vực {code}.", f"No service {code}.", key="service_not_found") from None
    if not svc.booking.open:
        raise Conflict(
            f"Lĩnh vực {svc.name} không nhận đặt lịch hẹn.",
            f"{svc.name_en or svc.code} takes no appointments.",
            key="booking_closed",
        )
    return svc


def parse_day(text: str | None) -> dt.date:
    try:
        if text is None or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError:
        raise BadRequest(
            "Ngày phải có dạng YYYY-MM-DD.", "The date must look like YYYY-MM-DD.", key="bad_field", field="date"
        ) from None


def parse_time(text: str | None) -> dt.time:
    m = _HHMM.match(text or "")
    if not m:
        raise BadRequest("Giờ phải có dạng HH:MM.", "The time must look like HH:MM.", key="bad_field", field="start")
    return dt.time(int(m.group(1)), int(m.group(2)))


def check_day(config: Config, service: Service, day: dt.date, now: dt.datetime) -> None:
    """Refuse a day nobody can book: past, closed, too far ahead."""
    today = local_today(config, now)
    if day < today:
        raise Conflict("Không thể đặt lịch cho ngày đã qua.", "That day is in the past.", key="day_past")
    if config.office.is_closed_day(day):
        raise Conflict("Cơ quan nghỉ vào ngày này.", "The office is closed on that day.", key="closed_day")
    last = today + dt.timedelta(days=service.booking.days_ahead)
    if day > last:
        raise Conflict(
            f"Chỉ đặt lịch trước tối đa {service.booking.days_ahead} ngày.",
            f"Booking opens {service.booking.days_ahead} days ahead at most.",
            key="too_far_ahead",
            last_day=last.isoformat(),
        )


def open_days(config: Config, service: Service, now: dt.datetime) -> list[str]:
    """The next days with at least one slot (the /book page's day list)."""
    today = local_today(config, now)
    out = []
    for i in range(service.booking.days_ahead + 1):
        day = today + dt.timedelta(days=i)
        if config.office.is_closed_day(day):
            continue
        if any(slot_datetime(config, day, s.start) > now for s in day_slots(service, day)):
            out.append(day.isoformat())
    return out


def slots_view(
    conn: sqlite3.Connection, config: Config, service: Service, day: dt.date, now: dt.datetime
) -> list[dict[str, Any]]:
    """The slots of a day still ahead, each with its capacity and free seats."""
    counts = dict(
        conn.execute(
            "SELECT start, count(*) FROM appointments WHERE service = ? AND date = ? AND state != 'cancelled' "
            "GROUP BY start",
            (service.code, day.isoformat()),
        ).fetchall()
    )
    closed = {
        r[0]
        for r in conn.execute(
            "SELECT start FROM appointment_closures WHERE service = ? AND date = ?", (service.code, day.isoformat())
        )
    }
    cap = bookable(service)
    out = []
    for s in day_slots(service, day):
        if slot_datetime(config, day, s.start) <= now:
            continue
        booked = counts.get(s.key, 0)
        is_closed = s.key in closed
        out.append(
            {
                "start": s.key,
                "end": s.end.strftime("%H:%M"),
                "capacity": cap,
                "booked": booked,
                "free": 0 if is_closed else max(0, cap - booked),
                "closed": is_closed,
            }
        )
    return out


def next_free(
    conn: sqlite3.Connection, config: Config, service: Service, after: dt.datetime, now: dt.datetime, limit: int = 3
) -> list[dict[str, str]]:
    """The first free slots after ``after`` (what a 409 slot_full offers instead)."""
    out: list[dict[str, str]] = []
    today = local_today(config, now)
    for i in range(service.booking.days_ahead + 1):
        day = today + dt.timedelta(days=i)
        if config.office.is_closed_day(day):
            continue
        for s in slots_view(conn, config, service, day, now):
            if s["free"] > 0 and slot_datetime(config, day, parse_time(s["start"])) > after:
                out.append({"date": day.isoformat(), "start": s["start"], "end": s["end"]})
                if len(out) >= limit:
                    return out
    return out


# ---------------------------------------------------------------------- the table


def row(conn: sqlite3.Connection, code: str) -> dict[str, Any] | None:
    cur = conn.execute("SELECT * FROM appointments WHERE code = ?", (code,))
    found = cur.fetchone()
    if found is None:
        return None
    return dict(zip([d[0] for d in cur.description], found))


def get(conn: sqlite3.Connection, code: str) -> dict[str, Any]:
    found = row(conn, code)
    if found is None:
        raise NotFound(
            "Không tìm thấy lịch hẹn với mã này.", "No appointment with this code.", key="appointment_not_found"
        )
    return found


@dataclass(frozen=True)
class Request:
    service: str
    date: dt.date
    start: dt.time
    name: str
    phone: str
    staff: str | None = None  # who booked for the citizen; None on /book
    client: str | None = None  # hashed client address (public bookings)


def _slot_of(config: Config, service: Service, day: dt.date, start: dt.time, now: dt.datetime) -> Slot:
    check_day(config, service, day, now)
    for s in day_slots(service, day):
        if s.start == start:
            if slot_datetime(config, day, s.start) <= now:
                raise Conflict("Khung giờ này đã qua.", "That slot has already started.", key="slot_past")
            return s
    raise NotFound("Không có khung giờ hẹn này.", "No such slot.", key="slot_not_found")


def _take_seat(
    conn: sqlite3.Connection, config: Config, service: Service, day: dt.date, slot: Slot, now: dt.datetime
) -> None:
    """Refuse (409 slot_full, with the next free slots) when the slot has no free seat.
    Called inside the booking's write transaction."""
    closed = conn.execute(
        "SELECT 1 FROM appointment_closures WHERE service = ? AND date = ? AND start = ?",
        (service.code, day.isoformat(), slot.key),
    ).fetchone()
    booked = conn.execute(
        "SELECT count(*) FROM appointments WHERE service = ? AND date = ? AND start = ? AND state != 'cancelled'",
        (service.code, day.isoformat(), slot.key),
    ).fetchone()[0]
    if closed or booked >= bookable(service):
        # A slot an admin closed takes no booking either: the same key (clients offer next_free),
        # the message says why.
        raise Conflict(
            "Khung giờ này tạm đóng. Mời chọn khung giờ khác."
            if closed
            else "Khung giờ này đã hết chỗ. Mời chọn khung giờ khác.",
            "This slot is closed. Please pick another." if closed else "This slot is full. Please pick another.",
            key="slot_full",
            next_free=next_free(conn, config, service, slot_datetime(config, day, slot.start), now),
        )


def _missed(config: Config, service: str, day: str, start: str, now: dt.datetime) -> bool:
    """Whether check-in for a booking has closed (it is over: absent in the reports)."""
    try:
        late = config.service(service).booking.late_minutes
    except KeyError:
        late = 0
    return now > slot_datetime(config, dt.date.fromisoformat(day), parse_time(start)) + dt.timedelta(minutes=late)


def _one_a_day(
    conn: sqlite3.Connection,
    config: Config,
    phone: str | None,
    service: str,
    day: dt.date,
    now: dt.datetime,
    code: str = "",
) -> None:
    """One booking per phone number, service and day (``code``: the booking being moved); a
    booking missed earlier that day (its check-in closed) does not count."""
    rows = conn.execute(
        "SELECT start FROM appointments WHERE phone = ? AND service = ? AND date = ? AND state = 'booked' AND code != ?",
        (phone, service, day.isoformat(), code),
    ).fetchall()
    if any(not _missed(config, service, day.isoformat(), start, now) for (start,) in rows):
        raise Conflict(
            "Số điện thoại này đã có lịch hẹn cho lĩnh vực này trong ngày đó.",
            "This phone number already has an appointment for this service on that day.",
            key="already_booked",
        )


def book(conn: sqlite3.Connection, config: Config, req: Request, now: dt.datetime) -> dict[str, Any]:
    """Insert a booking (caller runs this in one write transaction). Public bookings obey
    the per-phone and per-address limits; staff bookings only the slot's capacity."""
    service = find_service(config, req.service)
    slot = _slot_of(config, service, req.date, req.start, now)
    today = local_today(config, now).isoformat()
    limits = config.appointments
    if req.staff is None:
        held = sum(
            1
            for service_code, day, start in conn.execute(
                "SELECT service, date, start FROM appointments WHERE phone = ? AND state = 'booked' AND date >= ?",
                (req.phone, today),
            )
            if not _missed(config, service_code, day, start, now)
        )
        if held >= limits.max_per_phone:
            raise Conflict(
                f"Số điện thoại này đã có {held} lịch hẹn chưa đến (tối đa {limits.max_per_phone}).",
                f"This phone number already holds {held} upcoming appointments (at most {limits.max_per_phone}).",
                key="phone_limit",
            )
        if req.client is not None:
            # "Per day" is the office's day: created_at keeps the clock's offset (UTC on a real
            # server), so its first 10 characters would change day at 07:00 in Hà Nội.
            made = sum(
                1
                for (at,) in conn.execute(
                    "SELECT created_at FROM appointments WHERE client = ? AND created_by IS NULL", (req.client,)
                )
                if local_today(config, dt.datetime.fromisoformat(at)).isoformat() == today
            )
            if made >= limits.max_per_address:
                raise TooManyRequests(
                    "Thiết bị này đã đặt quá nhiều lịch hẹn hôm nay. Mời thử lại vào ngày mai.",
                    "Too many bookings from this device today. Please try again tomorrow.",
                    key="address_limit",
                )
    _one_a_day(conn, config, req.phone, service.code, req.date, now)
    _take_seat(conn, config, service, req.date, slot, now)
    code = new_code()
    while conn.execute("SELECT 1 FROM appointments WHERE code = ?", (code,)).fetchone():
        code = new_code()
    conn.execute(
        "INSERT INTO appointments (code, service, date, start, end, name, phone, phone_last4, state, created_at, "
        "created_by, client) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'booked', ?, ?, ?)",
        (
            code,
            service.code,
            req.date.isoformat(),
            slot.key,
            slot.end.strftime("%H:%M"),
            req.name,
            req.phone,
            req.phone[-4:],
            now.isoformat(),
            req.staff,
            req.client,
        ),
    )
    return get(conn, code)


def check_owner(found: dict[str, Any], phone_last4: str | None) -> None:
    if not phone_last4 or not re.fullmatch(r"\d{4}", phone_last4):
        raise BadRequest(
            "Hãy nhập 4 số cuối của số điện thoại đã đặt lịch.",
            "Enter the last 4 digits of the phone number used to book.",
            key="bad_field",
            field="phone_last4",
        )
    if found["phone_last4"] is None or not secrets.compare_digest(found["phone_last4"], phone_last4):
        raise Conflict(
            "4 số cuối điện thoại không khớp với lịch hẹn.",
            "The last 4 phone digits do not match this appointment.",
            key="phone_mismatch",
        )


def _must_be_booked(found: dict[str, Any]) -> None:
    if found["state"] != ACTIVE:
        vi = {"cancelled": "đã bị hủy", "checked_in": "đã được xác nhận tại kiosk"}.get(found["state"], found["state"])
        raise Conflict(
            f"Lịch hẹn này {vi}.",
            f"This appointment is {found['state'].replace('_', ' ')}.",
            key=f"appointment_{found['state']}",
        )


def _must_not_be_over(config: Config, found: dict[str, Any], now: dt.datetime) -> None:
    """The citizen moves or cancels only until check-in closes: afterwards the appointment is
    over (absent in the reports), and a late cancel or move would rewrite that."""
    if _missed(config, found["service"], found["date"], found["start"], now):
        raise Conflict(
            "Lịch hẹn này đã qua giờ: không thể đổi giờ hoặc hủy nữa.",
            "This appointment's time has passed: it can no longer be moved or cancelled.",
            key="appointment_past",
        )


def cancel(
    conn: sqlite3.Connection,
    config: Config,
    code: str,
    now: dt.datetime,
    *,
    phone_last4: str | None = None,
    staff: str | None = None,
    reason: str = "",
) -> dict[str, Any]:
    """Cancel a booking: by its citizen (``phone_last4``) until check-in closes, or by staff."""
    found = get(conn, code)
    if staff is None:
        check_owner(found, phone_last4)
    _must_be_booked(found)
    if staff is None:
        _must_not_be_over(config, found, now)
    conn.execute(
        "UPDATE appointments SET state = 'cancelled', cancelled_at = ?, cancelled_by = ?, cancel_reason = ? "
        "WHERE code = ?",
        (now.isoformat(), staff, reason or None, code),
    )
    return get(conn, code)


def move(
    conn: sqlite3.Connection,
    config: Config,
    code: str,
    phone_last4: str | None,
    day: dt.date,
    start: dt.time,
    now: dt.datetime,
) -> dict[str, Any]:
    """Move a booking to another slot of its service; it keeps its code."""
    found = get(conn, code)
    check_owner(found, phone_last4)
    _must_be_booked(found)
    _must_not_be_over(config, found, now)
    service = find_service(config, found["service"])
    slot = _slot_of(config, service, day, start, now)
    if found["date"] == day.isoformat() and found["start"] == slot.key:
        return found
    _one_a_day(conn, config, found["phone"], service.code, day, now, code)
    _take_seat(conn, config, service, day, slot, now)
    conn.execute(
        "UPDATE appointments SET date = ?, start = ?, end = ?, moved_at = ? WHERE code = ?",
        (day.isoformat(), slot.key, slot.end.strftime("%H:%M"), now.isoformat(), code),
    )
    return get(conn, code)


def close_slot(
    conn: sqlite3.Connection,
    config: Config,
    service_code: str,
    day: dt.date,
    start: dt.time,
    closed: bool,
    staff: str,
    now: dt.datetime,
) -> None:
    try:
        service = config.service(service_code)
    except KeyError:
        raise NotFound(
            f"Không có lĩnh vực {service_code}.", f"No service {service_code}.", key="service_not_found"
        ) from None
    if not any(s.start == start for s in day_slots(service, day)):
        raise NotFound("Không có khung giờ hẹn này.", "No such slot.", key="slot_not_found")
    key = start.strftime("%H:%M")
    if closed:
        conn.execute(
            "INSERT OR IGNORE INTO appointment_closures (service, date, start, closed_by, closed_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (service.code, day.isoformat(), key, staff, now.isoformat()),
        )
    else:
        conn.execute(
            "DELETE FROM appointment_closures WHERE service = ? AND date = ? AND start = ?",
            (service.code, day.isoformat(), key),
        )


def mark_checked_in(conn: sqlite3.Connection, code: str, ticket_id: int, now: dt.datetime) -> None:
    conn.execute(
        "UPDATE appointments SET state = 'checked_in', checked_in_at = ?, ticket_id = ? "
        "WHERE code = ? AND state = 'booked'",
        (now.isoformat(), ticket_id, code),
    )


def purge_personal_data(conn: sqlite3.Connection, config: Config, now: dt.datetime) -> int:
    """Blank the name, phone, client address and staff-typed cancel reason (free text that may
    name the citizen) of appointments more than ``appointments.keep_days`` days old. Returns
    how many rows were cleared."""
    cutoff = (local_today(config, now) - dt.timedelta(days=config.appointments.keep_days)).isoformat()
    cur = conn.execute(
        "UPDATE appointments SET name = NULL, phone = NULL, phone_last4 = NULL, client = NULL, "
        "cancel_reason = NULL, purged_at = ? WHERE date < ? AND purged_at IS NULL",
        (now.isoformat(), cutoff),
    )
    return cur.rowcount


# ---------------------------------------------------------------------- views


def counters_for(config: Config, service: str) -> list[dict[str, Any]]:
    return [
        {"number": c.number, "name": c.name, "name_en": c.name_en}
        for c in config.counters
        if c.services.get(service) in ("primary", "normal", "appointment")
    ]


def public_view(config: Config, found: dict[str, Any]) -> dict[str, Any]:
    """What anyone holding the code may see: never the name or the phone number."""
    svc = config.service(found["service"]) if found["service"] in {s.code for s in config.services} else None
    day = dt.date.fromisoformat(found["date"])
    start = slot_datetime(config, day, parse_time(found["start"]))
    b = svc.booking if svc else None
    return {
        "code": found["code"],
        "code_display": show_code(found["code"]),
        "service": found["service"],
        "service_name": svc.name if svc else found["service"],
        "service_name_en": (svc.name_en or svc.name) if svc else found["service"],
        "date": found["date"],
        "start": found["start"],
        "end": found["end"],
        "state": found["state"],
        "counters": counters_for(config, found["service"]),
        "papers": b.papers if b else "",
        "papers_en": b.papers_en if b else "",
        "check_in_from": (start - dt.timedelta(minutes=b.early_minutes)).isoformat() if b else None,
        "check_in_until": (start + dt.timedelta(minutes=b.late_minutes)).isoformat() if b else None,
        "office_name": config.office.name,
        "office_name_en": config.office.name_en,
    }


def staff_view(config: Config, found: dict[str, Any]) -> dict[str, Any]:
    view = public_view(config, found)
    view.update(
        {
            k: found[k]
            for k in (
                "name",
                "phone",
                "created_at",
                "created_by",
                "cancelled_at",
                "cancelled_by",
                "cancel_reason",
                "checked_in_at",
                "ticket_id",
            )
        }
    )
    return view
