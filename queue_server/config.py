"""The office described by config.toml, read once, typed and validated.
(Over 400 lines: every setting is declared here once, with its validation and README row.)

Every setting is declared once below (name, type, default, help). ``load_config`` rejects an
unknown key, a wrong type, a duplicate code or an overlapping number range with a
``ConfigError`` naming the key (``services[2].range``), so a typo stops the server at start
instead of surprising a clerk at noon.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import math
import re
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ConfigError
from .speech import LETTER_NAMES
from .workdays import MAX_WORKING_DAYS

# The narrowest ticket printer.render draws (its MIN_WIDTH_PX; a test keeps the two equal).
# Not imported from there: importing the printer package loads python-escpos, and the pure
# engine imports this module.
MIN_TICKET_WIDTH_PX = 200

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LEVELS = ("primary", "normal", "backup", "appointment")
_CODE = re.compile(r"^[A-Z][A-Z0-9_]{0,15}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SESSION = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


def _help(
    text: str,
    default: Any = dataclasses.MISSING,
    *,
    lo: float | None = None,
    hi: float | None = None,
    restart: bool = False,
    **kw: Any,
) -> Any:
    """A setting's declaration: its help text (the README row) and, for a number (or a list
    of numbers), the bounds ``lo``..``hi`` every value must lie in; ``restart``: read at start
    only, so the web cannot change it (README: restart-only)."""
    meta: dict[str, Any] = {"help": text, "restart": restart}
    if lo is not None or hi is not None:
        meta["bounds"] = (lo, hi)
    if default is dataclasses.MISSING and "default_factory" not in kw:
        return field(metadata=meta, **kw)
    return field(default=default, metadata=meta, **kw)


@dataclass(frozen=True)
class Hours:
    mon: list[str] = _help("Opening sessions on Monday", default_factory=list)
    tue: list[str] = _help("Opening sessions on Tuesday", default_factory=list)
    wed: list[str] = _help("Opening sessions on Wednesday", default_factory=list)
    thu: list[str] = _help("Opening sessions on Thursday", default_factory=list)
    fri: list[str] = _help("Opening sessions on Friday", default_factory=list)
    sat: list[str] = _help("Opening sessions on Saturday", default_factory=list)
    sun: list[str] = _help("Opening sessions on Sunday", default_factory=list)

    def sessions(self, weekday: int) -> list[tuple[dt.time, dt.time]]:
        """The (start, end) sessions of a weekday (0 = Monday)."""
        out = []
        for text in getattr(self, WEEKDAYS[weekday]):
            m = _SESSION.match(text)
            assert m  # validated at load
            h1, m1, h2, m2 = (int(x) for x in m.groups())
            out.append((dt.time(h1, m1), dt.time(h2, m2)))
        return out


@dataclass(frozen=True)
class Office:
    name: str = _help("Office name shown on every screen and ticket")
    name_en: str = _help("Office name in English", "")
    timezone: str = _help("IANA time zone of the office", "Asia/Ho_Chi_Minh")
    day_starts_at: str = _help("Local time (HH:MM) when a new office day starts", "03:00")
    enforce_hours: bool = _help("Refuse tickets outside opening hours", True)
    ticker: str = _help("Line scrolling at the bottom of the hall display", "")
    ticker_en: str = _help("Ticker line in English", "")
    hours: Hours = _help("Opening hours per weekday", default_factory=Hours)
    closed_days: list[str] = _help(
        'Dates the office is closed, "YYYY-MM-DD" (Tết, public holidays): '
        "no kiosk tickets and no booking on those days",
        default_factory=list,
    )

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def closed_dates(self) -> frozenset[dt.date]:
        """``closed_days`` as dates (validated at load)."""
        return frozenset(dt.date.fromisoformat(d) for d in self.closed_days)

    def is_closed_day(self, day: dt.date | str) -> bool:
        """Whether the office is closed all day on ``day`` (a date or "YYYY-MM-DD")."""
        return (day if isinstance(day, str) else day.isoformat()) in self.closed_days

    @property
    def day_start(self) -> dt.time:
        return dt.time.fromisoformat(self.day_starts_at)


@dataclass(frozen=True)
class Server:
    host: str = _help("Address to listen on (0.0.0.0 for the whole LAN)", "127.0.0.1", restart=True)
    port: int = _help("TCP port", 8000, lo=1, hi=65535, restart=True)
    database: str = _help("SQLite file, relative to config.toml", "var/motcua.db", restart=True)
    public_url: str = _help("Base URL citizens' phones use (for ticket QR codes)", "", restart=True)
    https: bool = _help("Served behind HTTPS: cookies get the Secure flag", False, restart=True)
    secret_file: str = _help("File holding the cookie signing key (created if missing)", "var/secret.key", restart=True)
    max_body_bytes: int = _help("Largest accepted request body", 262144, lo=1024, hi=16_777_216, restart=True)
    trusted_proxies: list[str] = _help(
        "Reverse proxies (IP addresses or networks) whose X-Forwarded-For and "
        "X-Forwarded-Proto headers are believed; none by default",
        default_factory=list,
        restart=True,
    )
    allowed_origins: list[str] = _help(
        "Other origins (scheme://host:port) whose pages may send changes; "
        "this server's own address and public_url always may",
        default_factory=list,
        restart=True,
    )


@dataclass(frozen=True)
class Queue:
    priority_rule: str = _help('"strict" or "interleave"', "interleave")
    interleave: int = _help(
        "With interleave: at most this many normal tickets between two priority ones", 2, lo=0, hi=50
    )
    priority_enabled: bool = _help("Offer the priority path on the kiosk", True)
    max_recalls: int = _help("Next on a ticket recalled this often marks it no-show", 2, lo=0, hi=20)
    closed_without_start: str = _help(
        'Next on a called ticket never started: "served" (service time from the call) or "absent" (a no-show); '
        "either way the ticket is marked closed_unstarted (docs/reports.md)",
        "served",
    )


@dataclass(frozen=True)
class Rating:
    levels: int = _help("Satisfaction levels on the rating tablet (3, 4 or 5)", 4, lo=3, hi=5)
    satisfied_levels: int = _help(
        "How many of the highest levels count as satisfied in the satisfaction rate", 2, lo=1, hi=4
    )
    timeout_seconds: int = _help("How long the tablet waits for a rating", 60, lo=5, hi=3600)


@dataclass(frozen=True)
class Display:
    dialect: str = _help('"north" (linh, nghìn) or "south" (lẻ, ngàn)', "north")
    clips_dir: str = _help("Folder of the office's own voice clips, relative to config.toml", "var/clips", restart=True)
    latest_calls: int = _help("How many recent calls the display lists", 8, lo=1, hi=50)
    voice: str = _help('"clips" (bundled/own recordings), "webspeech" (a local browser voice) or "off"', "clips")
    chime: bool = _help("Play the chime before each call (also when the voice is off)", True)
    speech_voice: str = _help('With voice = "webspeech": the browser voice name to use (e.g. "Microsoft An")', "")
    recall_phrase: str = _help(
        "What a recall says before the number (one clip, docs/voice.md)", "Xin mời lại công dân có số thứ tự"
    )


@dataclass(frozen=True)
class Booking:
    open: bool = _help("Citizens may book appointments for this service (/book)", False)
    windows: dict[str, list[str]] = _help(
        'Booking windows per weekday inside opening hours, e.g. { mon = ["08:00-11:00"] }', default_factory=dict
    )
    slot_minutes: int = _help("Length of one appointment slot in minutes", 15, lo=5, hi=240)
    capacity: int = _help("Citizens the counters serve per slot", 3, lo=1, hi=1000)
    walk_in_share: float = _help("Share of each slot's capacity kept for walk-ins (0 to 0.9)", 0.0, lo=0, hi=0.9)
    days_ahead: int = _help("How many days ahead booking opens", 14, lo=1, hi=366)
    early_minutes: int = _help("Check-in at the kiosk opens this many minutes before the slot", 30, lo=0, hi=240)
    late_minutes: int = _help(
        "Check-in closes this many minutes after the slot starts (then: a walk-in ticket)", 15, lo=0, hi=240
    )
    papers: str = _help("Papers to bring, shown on the confirmation", "")
    papers_en: str = _help("Papers to bring, in English", "")
    prefix: str = _help("Letter printed before appointment ticket numbers ('' : the service's prefix)", "")
    range: list[int] = _help(
        "Own number range for appointment tickets, not overlapping any other, e.g. [6001, 6999] ([]: the service's)",
        default_factory=list,
        lo=0,
        hi=999_999,
    )

    def window_times(self, weekday: int) -> list[tuple[dt.time, dt.time]]:
        out = []
        for text in self.windows.get(WEEKDAYS[weekday], []):
            m = _SESSION.match(text)
            assert m  # validated at load
            h1, m1, h2, m2 = (int(x) for x in m.groups())
            out.append((dt.time(h1, m1), dt.time(h2, m2)))
        return out


@dataclass(frozen=True)
class Service:
    code: str = _help("Short code, capital letters (e.g. CT)")
    name: str = _help("Vietnamese name")
    range: list[int] = _help("First and last ticket number, e.g. [1001, 1999]", lo=0, hi=999_999)
    name_en: str = _help("English name", "")
    prefix: str = _help("Optional letter printed before the number", "")
    daily_cap: int = _help("Most tickets a day (0: no cap)", 0, lo=0, hi=999_999)
    service_minutes: float = _help("Expected minutes per citizen before today's average exists", 5.0, lo=0.1, hi=600)
    booking: Booking = _help("Appointments for this service (see docs/appointments.md)", default_factory=Booking)

    @property
    def first(self) -> int:
        return self.range[0]

    @property
    def last(self) -> int:
        return self.range[1]


@dataclass(frozen=True)
class Counter:
    number: int = _help("Counter number, said aloud by the display", lo=1, hi=999)
    name: str = _help("Vietnamese name")
    services: dict[str, str] = _help(
        "Service code -> level (primary, normal, backup; appointment: only that service's appointment tickets)"
    )
    name_en: str = _help("English name", "")
    printer: str = _help("Printer id for slips printed at this counter (apology slips; '' for none)", "")


@dataclass(frozen=True)
class Kiosk:
    id: str = _help("Kiosk id, used in its URL")
    token: str = _help("Device token the kiosk sends")
    name: str = _help("Name", "")
    printer: str = _help("Printer id that prints this kiosk's tickets ('' for none)", "")


@dataclass(frozen=True)
class RatingTablet:
    counter: int = _help("Counter number whose citizens this tablet asks for a rating", lo=1, hi=999)
    token: str = _help("Device token the tablet sends (set up once with /rate/N?token=…)")
    name: str = _help("Name", "")


@dataclass(frozen=True)
class Printer:
    id: str = _help("Printer id")
    url: str = _help(
        "Connection URL (usb://, tcp://, serial://, file://, cups://, win32://, png://); file:// only "
        "a printer device, png:// only a folder inside the folder of config.toml or of the database"
    )
    width: int = _help("Dots per line: 384 for 58 mm, 576 for 80 mm", 576, lo=MIN_TICKET_WIDTH_PX, hi=4096)
    profile: str = _help("python-escpos printer profile name ('' for default)", "")
    kanji_off: bool = _help("Send FS . first (Chinese printers starting in Kanji mode)", False)
    timeout: float = _help("Seconds to wait for the printer", 5.0, lo=0.1, hi=300)
    stale_after: int = _help("Seconds after which an unsent job is dropped", 60, lo=1, hi=86_400)
    agent_token: str = _help("If set, a print agent with this token drives the printer", "")
    footer: str = _help("Last line of the ticket", "Xin cảm ơn!")


@dataclass(frozen=True)
class Sync:
    token: str = _help(
        'Bearer token the central sends to pull this office\'s events ("" : sync off); see docs/central.md', ""
    )
    previous_token: str = _help("The token before a rotation, still accepted until the central is updated", "")
    requests_per_minute: int = _help("Most sync requests a minute (429 beyond)", 120, lo=1, hi=100_000)


# Actions a clerk station key may do (display/js/counter.js), and the default map for a USB
# numeric keypad used as the call keypad: KeyboardEvent.code -> action.
KEYPAD_ACTIONS = ("next", "recall", "start", "done", "no-show", "transfer", "call", "pause")
KEYPAD_DEFAULT = {
    "NumpadEnter": "next",
    "NumpadAdd": "recall",
    "NumpadMultiply": "start",
    "NumpadSubtract": "done",
    "NumpadDecimal": "no-show",
    "NumpadDivide": "pause",
}


@dataclass(frozen=True)
class Keypad:
    keys: dict[str, str] = _help(
        "USB numeric keypad at the clerk station: key code -> action (docs/screens.md)",
        default_factory=lambda: dict(KEYPAD_DEFAULT),
    )
    digits_call: bool = _help("Numpad digits then the next key call that number", True)


@dataclass(frozen=True)
class Procedure:
    service: str = _help("Service code the procedure (thủ tục) belongs to")
    code: str = _help("Short procedure code, unique in the office (e.g. CT01)")
    name: str = _help("Vietnamese name of the procedure")
    days: int = _help("Legal processing time in working days (0: the same day)", lo=0, hi=MAX_WORKING_DAYS)
    papers: list[str] = _help("Papers the citizen brings", default_factory=list)
    name_en: str = _help("English name", "")


@dataclass(frozen=True)
class Dossiers:
    code_pattern: str = _help(
        "Regular expression a whole dossier code must match (a mistyped or misscanned code is refused)",
        r"^\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}-\d{6}-\d{4}$",
    )
    code_description: str = _help(
        "The code's shape in words, shown when a code is refused",
        "mã cơ quan, ngày nhận (yymmdd) và số thứ tự, ví dụ 000.00.21.H40-261203-0001",
    )
    code_description_en: str = _help(
        "The code's shape in English",
        "agency code, date received (yymmdd) and sequence, e.g. 000.00.21.H40-261203-0001",
    )
    return_service: str = _help(
        "Service code of result-return tickets (kiosk \"Nhận kết quả\"; '' : the dossier's own service)", ""
    )
    require_outcome: bool = _help("A ticket can be finished only after the clerk recorded the visit's outcome", False)
    procedures_csv: str = _help(
        "CSV file of more procedures (service,code,name,days,papers), relative to config.toml; '' for none", ""
    )


@dataclass(frozen=True)
class Alerts:
    long_wait_minutes: int = _help("Alert on the admin monitor when a ticket waits longer than this", 30, lo=1, hi=1440)


@dataclass(frozen=True)
class Appointments:
    rule: str = _help('Inside its slot, a checked-in appointment goes first: "strict" or "interleave"', "interleave")
    interleave: int = _help(
        "With interleave: at most this many walk-ins called between two appointments", 2, lo=0, hi=50
    )
    keep_days: int = _help(
        "Names and phone numbers are deleted this many days after the appointment", 30, lo=1, hi=3650
    )
    max_per_phone: int = _help("Upcoming bookings one phone number may hold at once", 2, lo=1, hi=100)
    max_per_address: int = _help("Bookings one client address may make per day on /book", 10, lo=1, hi=10_000)


@dataclass(frozen=True)
class Backup:
    dir: str = _help("Folder for database backups, relative to config.toml", "var/backups", restart=True)
    keep: int = _help("How many backups to keep (oldest removed first)", 14, lo=1, hi=3650)
    daily_at: str = _help('Local time (HH:MM) of the automatic daily backup; "" for none', "12:15", restart=True)


@dataclass(frozen=True)
class Config:
    office: Office = _help("The office")
    services: list[Service] = _help("Services (lĩnh vực)")
    counters: list[Counter] = _help("Counters (quầy)")
    server: Server = _help("HTTP server", default_factory=Server)
    queue: Queue = _help("Queue rules", default_factory=Queue)
    rating: Rating = _help("Satisfaction rating", default_factory=Rating)
    display: Display = _help("Hall display and voice", default_factory=Display)
    kiosks: list[Kiosk] = _help("Kiosks", default_factory=list)
    rating_tablets: list[RatingTablet] = _help("Rating tablets, one per counter", default_factory=list)
    printers: list[Printer] = _help("Ticket printers", default_factory=list)
    backup: Backup = _help("Database backups", default_factory=Backup)
    alerts: Alerts = _help("Admin monitor alerts", default_factory=Alerts)
    keypad: Keypad = _help("Call keypad at the clerk station", default_factory=Keypad)
    appointments: Appointments = _help("Appointment booking, office-wide", default_factory=Appointments)
    sync: Sync = _help("Sync with a central (province or commune overview)", default_factory=Sync)
    procedures: list[Procedure] = _help("Procedures (thủ tục) per service", default_factory=list)
    dossiers: Dossiers = _help("Dossiers (hồ sơ) and results", default_factory=Dossiers)
    path: Path | None = field(default=None, compare=False)

    def service(self, code: str) -> Service:
        for s in self.services:
            if s.code == code:
                return s
        raise KeyError(code)

    def counter(self, number: int) -> Counter:
        for c in self.counters:
            if c.number == number:
                return c
        raise KeyError(number)

    def resolve(self, relative: str) -> Path:
        """A path from the config, relative to the config file's folder."""
        p = Path(relative)
        if p.is_absolute() or self.path is None:
            return p
        return self.path.parent / p


_TYPE_NAMES = {
    str: ("chữ", "a string"),
    int: ("số nguyên", "a whole number"),
    float: ("một số", "a number"),
    bool: ("true hoặc false", "true or false"),
}


def _type_name(tp: Any, lang: int) -> str:
    """The expected type in words: ``lang`` 0 for Vietnamese, 1 for English."""
    names = _TYPE_NAMES.get(tp)
    return names[lang] if names else getattr(tp, "__name__", str(tp))


def _convert(tp: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: phải là một bảng [..]", f"{key}: must be a table", key=key)
        return _build(tp, value, key)
    if origin is list:
        (item,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(f"{key}: phải là một danh sách", f"{key}: must be a list", key=key)
        return [_convert(item, v, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        kt, vt = typing.get_args(tp)
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: phải là một bảng", f"{key}: must be a table", key=key)
        return {_convert(kt, k, key): _convert(vt, v, f"{key}.{k}") for k, v in value.items()}
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is bool and isinstance(value, bool):
        return value
    if tp in (int, float, str) and isinstance(value, tp) and not isinstance(value, bool):
        return value
    raise ConfigError(
        f"{key}: phải là {_type_name(tp, 0)}, không phải {value!r}",
        f"{key}: must be {_type_name(tp, 1)}, not {value!r}",
        key=key,
    )


def _build(cls: Any, data: dict[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "path"}
    for name in data:
        if name not in fields:
            where = f"{prefix}.{name}" if prefix else name
            raise ConfigError(f"Khóa không hợp lệ: {where}", f"Unknown key: {where}", key=where)
    kwargs = {}
    for name, f in fields.items():
        where = f"{prefix}.{name}" if prefix else name
        if name in data:
            kwargs[name] = _convert(hints[name], data[name], where)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"Thiếu khóa bắt buộc: {where}", f"Missing required key: {where}", key=where)
    return cls(**kwargs)


def _fail(key: str, vi: str, en: str) -> ConfigError:
    return ConfigError(f"{key}: {vi}", f"{key}: {en}", key=key)


def _number(x: float, vi: bool = False) -> str:
    text = f"{x:g}" if isinstance(x, float) else str(x)
    return text.replace(".", ",") if vi else text


def _check_number(key: str, value: Any, bounds: tuple[float | None, float | None]) -> None:
    lo, hi = bounds
    if isinstance(value, float) and not math.isfinite(value):
        ok = False
    else:
        ok = (lo is None or value >= lo) and (hi is None or value <= hi)
    if not ok:
        if lo is not None and hi is not None:
            vi, en = f"từ {_number(lo, True)} đến {_number(hi, True)}", f"from {_number(lo)} to {_number(hi)}"
        elif lo is not None:
            vi, en = f"ít nhất là {_number(lo, True)}", f"at least {_number(lo)}"
        else:
            vi, en = f"nhiều nhất là {_number(hi, True)}", f"at most {_number(hi)}"  # type: ignore[arg-type]
        raise _fail(
            key,
            f"phải là một số hữu hạn {vi}, không phải {value!r}",
            f"must be a finite number {en}, not {value!r}",
        )


def _check_bounds(obj: Any, prefix: str) -> None:
    """Every number of ``obj`` (a settings dataclass) finite and inside its declared bounds:
    no nan, inf, 1e308 or negative count reaches the engine."""
    for f in dataclasses.fields(obj):
        if f.name == "path":
            continue
        value, key = getattr(obj, f.name), f"{prefix}{f.name}"
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            if dataclasses.is_dataclass(item):
                _check_bounds(item, f"{key}[{i}]." if isinstance(value, list) else f"{key}.")
            elif isinstance(item, (int, float)) and not isinstance(item, bool):
                _check_number(key, item, f.metadata.get("bounds", (None, None)))


def _validate(cfg: Config) -> None:
    _check_bounds(cfg, "")
    try:
        cfg.office.tz
    except (ZoneInfoNotFoundError, ValueError):
        raise _fail("office.timezone", "múi giờ không tồn tại", "unknown time zone") from None
    try:
        cfg.office.day_start
    except ValueError:
        raise _fail("office.day_starts_at", "phải có dạng HH:MM", "must look like HH:MM") from None
    for day in WEEKDAYS:
        for i, text in enumerate(getattr(cfg.office.hours, day)):
            m = _SESSION.match(text)
            key = f"office.hours.{day}[{i}]"
            if not m:
                raise _fail(key, "phải có dạng HH:MM-HH:MM", "must look like HH:MM-HH:MM")
            h1, m1, h2, m2 = (int(x) for x in m.groups())
            if not (h1 < 24 and h2 < 24 and m1 < 60 and m2 < 60 and (h1, m1) < (h2, m2)):
                raise _fail(key, "giờ không hợp lệ", "invalid hours")
        _no_overlap(f"office.hours.{day}", cfg.office.hours.sessions(WEEKDAYS.index(day)))
    seen_days: dict[str, int] = {}
    for i, text in enumerate(cfg.office.closed_days):
        key = f"office.closed_days[{i}]"
        try:
            if not _DATE.match(text):
                raise ValueError(text)
            dt.date.fromisoformat(text)
        except ValueError:
            raise _fail(
                key,
                'phải là một ngày có dạng "YYYY-MM-DD" (ví dụ "2027-02-06")',
                'must be a date written "YYYY-MM-DD" (e.g. "2027-02-06")',
            ) from None
        if text in seen_days:
            raise _fail(
                key,
                f"trùng với office.closed_days[{seen_days[text]}]",
                f"duplicates office.closed_days[{seen_days[text]}]",
            )
        seen_days[text] = i
    for i, proxy in enumerate(cfg.server.trusted_proxies):
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise _fail(
                f"server.trusted_proxies[{i}]",
                "phải là địa chỉ IP hoặc mạng (127.0.0.1, 10.0.0.0/8)",
                "must be an IP address or network (127.0.0.1, 10.0.0.0/8)",
            ) from None
    for i, origin in enumerate(cfg.server.allowed_origins):
        if not re.fullmatch(r"https?://[A-Za-z0-9.\-\[\]:]+", origin):
            raise _fail(
                f"server.allowed_origins[{i}]",
                "phải có dạng http(s)://máy[:cổng], không có đường dẫn",
                "must look like http(s)://host[:port], without a path",
            )
    if cfg.queue.priority_rule not in ("strict", "interleave"):
        raise _fail("queue.priority_rule", 'phải là "strict" hoặc "interleave"', 'must be "strict" or "interleave"')
    if cfg.queue.closed_without_start not in ("served", "absent"):
        raise _fail("queue.closed_without_start", 'phải là "served" hoặc "absent"', 'must be "served" or "absent"')
    if cfg.display.dialect not in ("north", "south"):
        raise _fail("display.dialect", 'phải là "north" hoặc "south"', 'must be "north" or "south"')
    if cfg.backup.daily_at:
        try:
            dt.time.fromisoformat(cfg.backup.daily_at)
        except ValueError:
            raise _fail("backup.daily_at", 'phải có dạng HH:MM hoặc ""', 'must look like HH:MM or ""') from None
    for key in ("token", "previous_token"):
        if 0 < len(getattr(cfg.sync, key)) < 16:
            raise _fail(
                f"sync.{key}", "cần ít nhất 16 ký tự (hoặc để trống)", "needs at least 16 characters (or empty)"
            )
    for code, action in cfg.keypad.keys.items():
        if action not in KEYPAD_ACTIONS:
            raise _fail(
                f"keypad.keys.{code}",
                f"việc phải là một trong {', '.join(KEYPAD_ACTIONS)}",
                f"action must be one of {', '.join(KEYPAD_ACTIONS)}",
            )
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,31}", code):
            raise _fail(
                f"keypad.keys.{code}",
                'phải là mã phím như "NumpadEnter", "Numpad0", "F2"',
                'must be a key code such as "NumpadEnter", "Numpad0", "F2"',
            )
    if not cfg.display.recall_phrase.strip() or len(cfg.display.recall_phrase) > 120:
        raise _fail("display.recall_phrase", "phải có từ 1 đến 120 ký tự", "must be 1 to 120 characters")
    if cfg.display.voice not in ("clips", "webspeech", "off"):
        raise _fail("display.voice", 'phải là "clips", "webspeech" hoặc "off"', 'must be "clips", "webspeech" or "off"')
    if not cfg.services:
        raise _fail("services", "cần ít nhất một lĩnh vực", "at least one service is needed")
    if not cfg.counters:
        raise _fail("counters", "cần ít nhất một quầy", "at least one counter is needed")

    codes: dict[str, int] = {}
    for i, s in enumerate(cfg.services):
        key = f"services[{i}]"
        if not _CODE.match(s.code):
            raise _fail(
                f"{key}.code",
                "chỉ gồm chữ in hoa, số, dấu _ (bắt đầu bằng chữ)",
                "capital letters, digits and _ only, starting with a letter",
            )
        if s.code in codes:
            raise _fail(
                f"{key}.code",
                f"mã {s.code} bị trùng với services[{codes[s.code]}]",
                f"code {s.code} duplicates services[{codes[s.code]}]",
            )
        codes[s.code] = i
        if len(s.range) != 2 or not 0 <= s.range[0] <= s.range[1] <= 999_999:
            raise _fail(
                f"{key}.range",
                "phải là [đầu, cuối] với 0 ≤ đầu ≤ cuối ≤ 999999",
                "must be [first, last] with 0 ≤ first ≤ last ≤ 999999",
            )
        if s.prefix and not (len(s.prefix) == 1 and s.prefix in LETTER_NAMES):
            raise _fail(
                f"{key}.prefix",
                "phải là một chữ cái in hoa tiếng Việt (A, B, Đ…)",
                "must be one capital letter the voice can read (A, B, Đ…)",
            )
    _validate_booking(cfg)
    for i, a in enumerate(cfg.services):
        for j in range(i):
            b = cfg.services[j]
            if a.first <= b.last and b.first <= a.last:
                raise _fail(
                    f"services[{i}].range",
                    f"trùng khoảng số với services[{j}] ({b.code})",
                    f"overlaps the number range of services[{j}] ({b.code})",
                )

    numbers: dict[int, int] = {}
    for i, c in enumerate(cfg.counters):
        key = f"counters[{i}]"
        if c.number in numbers:
            raise _fail(f"{key}.number", f"quầy {c.number} bị trùng", f"counter {c.number} is a duplicate")
        numbers[c.number] = i
        if not c.services:
            raise _fail(f"{key}.services", "cần ít nhất một lĩnh vực", "at least one service is needed")
        for code, level in c.services.items():
            if code not in codes:
                raise _fail(f"{key}.services.{code}", "lĩnh vực không tồn tại", "no such service")
            if level not in LEVELS:
                raise _fail(
                    f"{key}.services.{code}",
                    "mức phải là primary, normal, backup hoặc appointment",
                    "level must be primary, normal, backup or appointment",
                )

    printer_ids = set()
    for i, p in enumerate(cfg.printers):
        if p.id in printer_ids:
            raise _fail(f"printers[{i}].id", "bị trùng", "is a duplicate")
        printer_ids.add(p.id)
        if p.width % 8:
            raise _fail(
                f"printers[{i}].width", "phải là bội số của 8 (384 hoặc 576)", "must be a multiple of 8 (384 or 576)"
            )
        _validate_printer_url(cfg, f"printers[{i}].url", p.url)
        _validate_printer_setup(f"printers[{i}]", p)
    kiosk_ids: set[str] = set()
    tokens: set[str] = set()
    for i, k in enumerate(cfg.kiosks):
        if k.id in kiosk_ids:
            raise _fail(f"kiosks[{i}].id", "bị trùng", "is a duplicate")
        kiosk_ids.add(k.id)
        if len(k.token) < 12:
            raise _fail(f"kiosks[{i}].token", "cần ít nhất 12 ký tự", "needs at least 12 characters")
        if k.token in tokens:
            raise _fail(f"kiosks[{i}].token", "bị trùng", "is a duplicate")
        tokens.add(k.token)
        if k.printer and k.printer not in printer_ids:
            raise _fail(f"kiosks[{i}].printer", "máy in không tồn tại", "no such printer")
    for i, p in enumerate(cfg.printers):
        if p.agent_token:
            if len(p.agent_token) < 12:
                raise _fail(f"printers[{i}].agent_token", "cần ít nhất 12 ký tự", "needs at least 12 characters")
            if p.agent_token in tokens:
                raise _fail(f"printers[{i}].agent_token", "bị trùng", "is a duplicate")
            tokens.add(p.agent_token)
    counter_numbers = {c.number for c in cfg.counters}
    for i, r in enumerate(cfg.rating_tablets):
        if r.counter not in counter_numbers:
            raise _fail(f"rating_tablets[{i}].counter", "quầy không tồn tại", "no such counter")
        if len(r.token) < 12:
            raise _fail(f"rating_tablets[{i}].token", "cần ít nhất 12 ký tự", "needs at least 12 characters")
        if r.token in tokens:
            raise _fail(f"rating_tablets[{i}].token", "bị trùng", "is a duplicate")
        tokens.add(r.token)


def _no_overlap(key: str, spans: list[tuple[dt.time, dt.time]]) -> None:
    """Sessions (or booking windows) of one day may not overlap: a slot would be offered twice."""
    for i, (start, end) in enumerate(spans):
        for j in range(i):
            if start < spans[j][1] and spans[j][0] < end:
                raise _fail(f"{key}[{i}]", f"trùng giờ với {key}[{j}]", f"overlaps {key}[{j}]")


def _minutes(t: dt.time) -> int:
    return t.hour * 60 + t.minute


def _validate_booking(cfg: Config) -> None:
    a = cfg.appointments
    if a.rule not in ("strict", "interleave"):
        raise _fail("appointments.rule", 'phải là "strict" hoặc "interleave"', 'must be "strict" or "interleave"')
    ranges = [(s.first, s.last, f"services[{i}]") for i, s in enumerate(cfg.services)]
    for i, s in enumerate(cfg.services):
        b, key = s.booking, f"services[{i}].booking"
        if b.prefix and not (len(b.prefix) == 1 and b.prefix in LETTER_NAMES):
            raise _fail(
                f"{key}.prefix",
                "phải là một chữ cái in hoa tiếng Việt (A, B, Đ…)",
                "must be one capital letter the voice can read (A, B, Đ…)",
            )
        if b.range:
            if len(b.range) != 2 or not 0 <= b.range[0] <= b.range[1] <= 999_999:
                raise _fail(
                    f"{key}.range",
                    "phải là [đầu, cuối] với 0 ≤ đầu ≤ cuối ≤ 999999",
                    "must be [first, last] with 0 ≤ first ≤ last ≤ 999999",
                )
            for first, last, other in ranges:
                if b.range[0] <= last and first <= b.range[1]:
                    raise _fail(f"{key}.range", f"trùng khoảng số với {other}", f"overlaps the number range of {other}")
            ranges.append((b.range[0], b.range[1], key))
        for day, windows in b.windows.items():
            if day not in WEEKDAYS:
                raise _fail(
                    f"{key}.windows.{day}",
                    "phải là mon, tue, wed, thu, fri, sat hoặc sun",
                    "must be mon, tue, wed, thu, fri, sat or sun",
                )
            sessions = cfg.office.hours.sessions(WEEKDAYS.index(day))
            for j, text in enumerate(windows):
                wkey = f"{key}.windows.{day}[{j}]"
                m = _SESSION.match(text)
                if not m:
                    raise _fail(wkey, "phải có dạng HH:MM-HH:MM", "must look like HH:MM-HH:MM")
                h1, m1, h2, m2 = (int(x) for x in m.groups())
                if not (h1 < 24 and h2 < 24 and m1 < 60 and m2 < 60 and (h1, m1) < (h2, m2)):
                    raise _fail(wkey, "giờ không hợp lệ", "invalid hours")
                start, end = dt.time(h1, m1), dt.time(h2, m2)
                if not any(a1 <= start and end <= b1 for a1, b1 in sessions):
                    raise _fail(
                        wkey,
                        "phải nằm trong giờ làm việc (office.hours)",
                        "must lie inside the opening hours (office.hours)",
                    )
                if _minutes(end) - _minutes(start) < b.slot_minutes:
                    raise _fail(
                        wkey, "ngắn hơn một khung giờ hẹn (slot_minutes)", "is shorter than one slot (slot_minutes)"
                    )
            _no_overlap(f"{key}.windows.{day}", b.window_times(WEEKDAYS.index(day)))
        if b.open and not b.windows:
            raise _fail(
                f"{key}.windows",
                "cần ít nhất một khung giờ khi mở đặt lịch",
                "at least one window is needed when booking is open",
            )


def data_folders(cfg: Config) -> list[Path]:
    """Where png:// printers may write: the folder of config.toml and that of the database."""
    folders = [cfg.resolve(cfg.server.database).parent.resolve()]
    if cfg.path is not None:
        folders.append(cfg.path.parent.resolve())
    return folders


def _validate_printer_url(cfg: Config, key: str, url: str) -> None:
    """A known scheme and a well-formed URL; file:// only a printer device, png:// only a
    folder inside a data folder (the web can edit printers)."""
    from printer.connect import PrinterConfigError, parse_printer_url  # not at import: engine stays light

    try:
        parsed = parse_printer_url(url)
    except PrinterConfigError as e:
        raise _fail(key, f"địa chỉ máy in không hợp lệ ({e.vi})", f"invalid printer URL ({e})") from None
    if parsed.scheme == "png":
        inside = cfg.resolve(parsed.target).resolve()
        folders = data_folders(cfg)
        if not any(inside == f or f in inside.parents for f in folders):
            where = " / ".join(str(f) for f in folders)
            raise _fail(
                key,
                f"thư mục png:// phải nằm trong thư mục dữ liệu ({where})",
                f"a png:// folder must be inside the data folder ({where})",
            )


def _validate_printer_setup(key: str, p: Printer) -> None:
    """An unknown profile, or a connection library this server lacks for a printer it drives
    itself (an agent's printer is driven by the other PC), stops the start naming the key."""
    from printer.connect import PrinterConfigError, check_printer, check_profile

    try:
        check_profile(p.profile or None)
    except PrinterConfigError as e:
        raise _fail(f"{key}.profile", f"máy in không dùng được ({e.vi})", f"printer cannot work ({e})") from None
    try:
        check_printer(p.url, here=not p.agent_token)
    except PrinterConfigError as e:
        raise _fail(f"{key}.url", f"máy in không dùng được ({e.vi})", f"printer cannot work ({e})") from None


def parse_config(data: dict[str, Any], path: Path | None = None) -> Config:
    from . import procedures

    cfg: Config = _build(Config, data, "")
    cfg = procedures.with_csv(dataclasses.replace(cfg, path=path))
    _validate(cfg)
    procedures.validate(cfg)
    return cfg


def load_config(path: str | Path) -> Config:
    """Read and validate config.toml; raise ConfigError naming the key at fault."""
    p = Path(path).resolve()
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(
            f"Không đọc được tệp cấu hình {p}: {e.strerror}", f"Cannot read config file {p}: {e.strerror}", key="config"
        ) from None
    return parse_text(text, p)


def parse_text(text: str, path: Path) -> Config:
    """config.toml's text, for the file at ``path``, as a validated Config: the one check
    behind the server's start, ``motcua check-config`` and every edit from the admin screen
    (which validates the very text it is about to write)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(
            f"{path.name}: lỗi cú pháp TOML: {e}", f"{path.name}: TOML syntax error: {e}", key="config"
        ) from None
    return parse_config(data, path)


def restart_only_keys() -> list[tuple[str, str, Any]]:
    """(section, name, default) of every setting declared ``restart=True``: read when the
    server starts (where it listens, its files, its cookies), so a live edit may not change them."""
    out = []
    hints = typing.get_type_hints(Config)
    for section in dataclasses.fields(Config):
        cls = hints[section.name]
        if not dataclasses.is_dataclass(cls):
            continue
        for f in dataclasses.fields(cls):
            if f.metadata.get("restart"):
                default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[operator]
                out.append((section.name, f.name, default))
    return out


def describe(root: Any = Config) -> list[tuple[str, str, str, str]]:
    """(key, type and bounds, default, help) for every setting of ``root`` (default: Config,
    the README's configuration table; central.toml's for docs/central.md). A restart-only
    setting (``restart_only_keys``) is marked *(restart-only)*."""
    rows: list[tuple[str, str, str, str]] = []

    def walk(cls: Any, prefix: str) -> None:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if f.name == "path":
                continue
            tp = hints[f.name]
            key = f"{prefix}{f.name}"
            inner = typing.get_args(tp)[0] if typing.get_origin(tp) is list else None
            if dataclasses.is_dataclass(tp):
                walk(tp, key + ".")
            elif inner is not None and dataclasses.is_dataclass(inner):
                walk(inner, f"[[{key}]] ")
            else:
                if f.default is not dataclasses.MISSING:
                    default = repr(f.default)
                elif f.default_factory is not dataclasses.MISSING:
                    default = repr(f.default_factory())
                else:
                    default = ""
                kind = getattr(tp, "__name__", str(tp))
                if "bounds" in f.metadata:
                    lo, hi = f.metadata["bounds"]
                    kind += f", {_number(lo)}–{_number(hi)}"
                text = f.metadata.get("help", "")
                if f.metadata.get("restart"):
                    text += " *(restart-only)*"
                rows.append((key, kind, default, text))

    walk(root, "")
    return rows


def markdown_table() -> str:
    """The README's configuration table (tests/test_readme.py keeps README in step)."""
    return describe_table(Config)


def describe_table(root: Any) -> str:
    lines = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    for key, tp, default, text in describe(root):
        lines.append(f"| `{key}` | {tp} | {f'`{default}`' if default else 'required'} | {text} |")
    return "\n".join(lines)
