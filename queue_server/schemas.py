"""The request and response bodies of the core API, declared once as msgspec ``Struct``s
(or, for a ticket and a counter, views of the engine's own dataclasses).
(Over 400 lines: every core body's declaration sits here with the one parser and its messages.)

From each request body's declaration come: the validation of the body (``parse``), the
bilingual 400 that names the field (``bad_field``), and the body's JSON Schema in the OpenAPI
document. Every schema in the document is such a declaration: an operation names its bodies
with ``ref`` and ``components`` collects the JSON Schemas of all the declarations a document
refers to (feature modules declare theirs next to their routes, the same way). A field that may be left out or sent as
``null`` is ``X | None = None``; ``current`` tells three cases apart (``UNSET``: not sent, so
any ticket; ``None``: the screen shows none; a ticket id), which ``expected`` turns into the
engine's argument (``Unsaid.ANY`` for not sent).

Unknown keys are ignored, as before: old screens may send more than a newer server reads.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import typing
from collections.abc import Iterator
from typing import Annotated, Any, ClassVar, Literal, TypeVar

import msgspec
from msgspec import UNSET as UNSET
from msgspec import Meta, Struct
from msgspec import UnsetType as UnsetType

from .engine import (
    PUBLIC_TICKET_FIELDS,
    STAFF_ONLY_TICKET_FIELDS,
    CounterState,
    CounterStatus,
    Expected,
    Ticket,
    Unsaid,
)
from .errors import BadRequest

# Largest whole number accepted anywhere in a body: larger is surely a mistake.
MAX_INT = 1_000_000_000
_NO_NUL = "^[^\\x00]*$"  # a NUL byte would be cut off in SQLite and logs

Code = Annotated[str, Meta(max_length=16, pattern=_NO_NUL)]
Name = Annotated[str, Meta(max_length=40, pattern=_NO_NUL)]
RequestId = Annotated[str, Meta(max_length=64, pattern=_NO_NUL)]
Text = Annotated[str, Meta(max_length=200, pattern=_NO_NUL)]
Label = Annotated[str, Meta(max_length=12, pattern=_NO_NUL)]
# A pause reason: something besides spaces (the engine strips them), at most 200 characters.
Reason = Annotated[str, Meta(min_length=1, max_length=200, pattern="^[^\\x00]*[^\\s\\x00][^\\x00]*$")]
# Forms a string must have, with what a refusal says (``bad_field``).
_TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
_LAST4 = r"^[0-9]{4}$"
FORMS = {
    _TIME: ("phải có dạng HH:MM", "must look like HH:MM"),
    _LAST4: ("phải là 4 chữ số", "must be 4 digits"),
}
# A calendar day, YYYY-MM-DD (a real day: msgspec checks it).
Day = Annotated[dt.date, Meta(description="YYYY-MM-DD")]
Time = Annotated[str, Meta(pattern=_TIME, description="HH:MM, local time")]
Last4 = Annotated[str, Meta(pattern=_LAST4, description="The phone number's last 4 digits")]
Count = Annotated[int, Meta(ge=0, le=MAX_INT)]
Positive = Annotated[int, Meta(ge=1, le=MAX_INT)]


class Body(Struct, kw_only=True):
    """Base of every request body. ``error_keys`` gives a field its own error key in a refusal
    (``bad_field`` otherwise); ``across`` states a rule across fields in the document."""

    error_keys: ClassVar[dict[str, str]] = {}
    # A rule across fields, in JSON Schema words, added to the body's schema (the handler,
    # or the engine, checks it: msgspec checks one field at a time).
    across: ClassVar[dict[str, Any]] = {}


class IssueTicket(Body):
    service: Code
    priority: bool | None = None
    request_id: RequestId | None = None


class Login(Body):
    username: Name
    password: Text
    counter: Positive | None = None


class OpenCounter(Body):
    staff: Name | None = None


class NextTicket(Body):
    current: Positive | None | UnsetType = UNSET


class CallNumber(Body):
    number: Count | Label
    current: Positive | None | UnsetType = UNSET


def present(*names: str) -> dict[str, Any]:
    """``across``: at least one of these fields, not null."""
    return {"anyOf": [{"required": [n], "properties": {n: {"not": {"type": "null"}}}} for n in names]}


class Transfer(Body):
    across = present("service", "counter")

    service: Code | None = None
    counter: Positive | None = None


class Pause(Body):
    reason: Reason


class Rating(Body):
    ticket_id: Positive
    level: Annotated[int, Meta(ge=1, le=5)]  # up to the office's rating.levels (3, 4 or 5)


class ServiceChange(Body):
    across = {"anyOf": [{"required": ["open"], "properties": {"open": {"type": "boolean"}}}, {"required": ["cap"]}]}

    open: bool | None = None
    cap: Count | None | UnsetType = UNSET


class Empty(Body):
    pass


# --------------------------------------------------------------------------- answers


# A time as the engine's ``to_dict`` writes it (``datetime.isoformat``), kept as written: an
# answer carries the same text as the WebSocket messages (msgspec would write UTC as "Z").
Stamp = Annotated[str, Meta(extra_json_schema={"format": "date-time"})]


def _as_written(hint: Any) -> Any:
    """``hint``, with a datetime as the ``Stamp`` text ``to_dict`` makes of it."""
    if hint is dt.datetime:
        return Stamp
    if set(typing.get_args(hint)) == {dt.datetime, type(None)}:
        return Stamp | None
    return hint


def view(name: str, of: type, fields: tuple[str, ...]) -> type[Struct]:
    """The declaration of a view of the dataclass ``of`` as its ``to_dict`` writes it: its
    ``fields``, with their types (times as ``Stamp``) and defaults (a field without a default
    is always present)."""
    hints = {k: _as_written(v) for k, v in typing.get_type_hints(of).items()}
    spec: list[Any] = [
        (f.name, hints[f.name]) if f.default is dataclasses.MISSING else (f.name, hints[f.name], f.default)
        for f in dataclasses.fields(of)
        if f.name in fields
    ]
    return msgspec.defstruct(name, spec, kw_only=True, module=__name__)


if typing.TYPE_CHECKING:

    class PublicTicket(Struct): ...

    class Counter(Struct): ...

    class StaffTicket(PublicTicket): ...

else:
    # A ticket as anyone may see it (hall screens, status page, kiosk): ``engine.Ticket``'s
    # fields but the staff-only ones. ``Ticket`` in the document.
    PublicTicket = view("Ticket", Ticket, PUBLIC_TICKET_FIELDS)
    # A counter as the clerk's screen gets it: ``engine.CounterStatus.to_dict``.
    Counter = view("Counter", CounterStatus, tuple(f.name for f in dataclasses.fields(CounterStatus)))
    # A ticket as staff screens get it in the snapshot: the public ticket and the staff-only
    # fields (left out, or null, for the public).
    _hints = {k: _as_written(v) for k, v in typing.get_type_hints(Ticket).items()}
    StaffTicket = msgspec.defstruct(
        "StaffTicket",
        [
            (f.name, _hints[f.name] | None, None)
            for f in dataclasses.fields(Ticket)
            if f.name in STAFF_ONLY_TICKET_FIELDS
        ],
        bases=(PublicTicket,),
        kw_only=True,
        module=__name__,
    )


class TicketStatus(PublicTicket, kw_only=True):
    """A ticket's status page: the public ticket, where it stands and whose it is."""

    service_name: str = ""
    service_name_en: str = ""
    office_name: str = ""
    office_name_en: str = ""


class Error(Struct, kw_only=True):
    """Every refusal: a stable key and the message in Vietnamese and English."""

    error: Annotated[str, Meta(description="Stable key, e.g. cap_reached")]
    message: Annotated[str, Meta(description="Vietnamese message for the user")]
    message_en: str
    details: dict[str, Any] = {}


class Ok(Struct, kw_only=True):
    ok: Literal[True]


class Health(Struct, kw_only=True):
    ok: bool
    seq: int = 0
    day: str = ""
    screens: int = 0
    dropped_screens: int = 0
    commits: dict[str, int] = {}


class CounterView(Struct, kw_only=True):
    """A clerk's counter after a command: the counter and its current ticket."""

    counter: Counter
    ticket: PublicTicket | None
    seq: int


class TicketAnswer(Struct, kw_only=True):
    ticket: PublicTicket


class ServiceSummary(Struct, kw_only=True):
    """A service as the screens show it (``Office.services_summary``)."""

    code: str
    waiting: int
    estimated_wait_s: int
    open: bool
    cap: int | None
    name: str = ""
    name_en: str = ""
    available: bool = True
    reason: Annotated[str | None, Meta(description="Why no ticket can be issued now (a key)")] = None
    issued: int = 0
    average_service_s: int = 0
    next: Annotated[list[str], Meta(description="The labels of the next tickets to be called")] = []
    longest_wait_s: int = 0
    waiting_priority: int = 0
    estimated_wait_priority_s: int = 0
    counters: Annotated[list[int], Meta(description="The counters its tickets are called to")] = []


class Services(Struct, kw_only=True):
    services: list[ServiceSummary]


class LastDone(Struct, kw_only=True):
    """The ticket a counter finished last (what its rating tablet asks about)."""

    id: int
    label: str
    rated: bool
    finished_at: Stamp


class CounterEntry(Struct, kw_only=True):
    """A counter as the screens show it (``Office.snapshot``)."""

    number: int
    state: CounterState
    ticket: Annotated[StaffTicket | None, Meta(description="Staff-only fields for staff only")] = None
    name: str = ""
    name_en: str = ""
    services: Annotated[dict[str, str], Meta(description="service code -> level at this counter")] = {}
    pause_reason: str = ""
    since: Stamp | None = None
    served_today: int = 0
    average_service_s: float | None = None
    last_done: LastDone | None = None
    staff: Annotated[str | None, Meta(description="The account signed on (staff view only)")] = None


class LatestCall(Struct, kw_only=True):
    label: str
    service: str
    counter: int | None
    at: Stamp
    state: str
    booked: bool = False


class SnapshotOffice(Struct, kw_only=True):
    """The office settings every screen needs."""

    name: str
    name_en: str
    ticker: str
    ticker_en: str
    timezone: str
    day: str
    open_now: bool
    priority_enabled: bool
    rating_levels: int
    rating_timeout_s: float
    max_recalls: int
    voice: str
    chime: bool
    dialect: str
    speech_voice: str
    keypad: dict[str, Any]
    kiosk_printers: Annotated[dict[str, str | None], Meta(description="kiosk id -> its printer id")]


class Snapshot(Struct, kw_only=True):
    """The office's state, as the screens get it (staff see more: who holds each counter,
    the waiting list and the no-shows)."""

    v: int
    type: Literal["snapshot"]
    seq: int
    now: Stamp
    office: SnapshotOffice
    services: list[ServiceSummary]
    counters: list[CounterEntry]
    latest_calls: list[LatestCall]
    printers: Annotated[list[dict[str, Any]], Meta(description="Each printer's state (printing on)")] = []
    appointments: Annotated[dict[str, Any] | None, Meta(description="Today's booking counts")] = None
    waiting: Annotated[list[PublicTicket], Meta(description="Staff only")] = []
    no_shows: Annotated[list[PublicTicket], Meta(description="Staff only")] = []


class PrintState(Struct, kw_only=True):
    """A ticket's printing, as the kiosk says it (``printing.jobs.KIOSK_STATE``, or none)."""

    state: str
    printer: str | None = None
    error: str | None = None
    job_id: int | None = None


class Issued(Struct, kw_only=True):
    """A ticket just issued (or issued before with the same ``request_id``)."""

    id: int
    number: int
    label: str
    service: str
    people_ahead: int
    estimated_wait_s: int
    token: Annotated[str, Meta(min_length=16)]
    status_url: str
    print: PrintState
    ticket: PublicTicket | None = None
    service_name: str = ""
    service_name_en: str = ""
    priority: bool = False
    issued_at: str | None = None


class SignedIn(Struct, kw_only=True):
    user: str
    role: str
    display_name: str = ""
    counter: int | None = None


class Rated(Struct, kw_only=True):
    ok: bool
    ticket_id: int = 0
    level: int = 0


class Summary(Struct, kw_only=True):
    """A time's summary in reports, in seconds (none without data)."""

    count: int
    mean: float | None
    median: float | None
    p90: float | None
    max: float | None


class Document(Struct, kw_only=True):
    openapi: str
    paths: dict[str, Any]


B = TypeVar("B", bound=Body)


def expected(current: int | None | UnsetType) -> Expected:
    """The engine's ``expected`` argument: ``Unsaid.ANY`` when the screen did not say."""
    return Unsaid.ANY if isinstance(current, UnsetType) else current


class Ref(dict[str, str]):
    """``{"$ref": …}`` to the JSON Schema of ``declared`` (a ``Struct`` or a dataclass) in the
    document's ``components.schemas``; the document's ``components`` are collected from these."""

    def __init__(self, declared: type) -> None:
        super().__init__({"$ref": f"#/components/schemas/{declared.__name__}"})
        self.declared = declared


def ref(declared: type) -> Ref:
    return Ref(declared)


def _refs(node: Any) -> Iterator[type]:
    if isinstance(node, Ref):
        yield node.declared
    if isinstance(node, dict):
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def components(doc: Any) -> dict[str, Any]:
    """The JSON Schemas of every declaration ``doc`` refers to (and those they use), for the
    OpenAPI document's ``components.schemas``."""
    declared: dict[str, type] = {}
    for t in _refs(doc):
        if declared.setdefault(t.__name__, t) is not t:
            raise TypeError(f"two declarations named {t.__name__}: {t} and {declared[t.__name__]}")
    _, schemas = msgspec.json.schema_components(
        [declared[name] for name in sorted(declared)], ref_template="#/components/schemas/{name}"
    )
    for name, t in declared.items():
        if isinstance(t, type) and issubclass(t, Body) and t.across:
            schemas[name] = {**schemas[name], **t.across}
    return schemas


def encode(data: Any, declared: type) -> dict[str, Any]:
    """``data`` (a row, a dict) as the answer ``declared`` describes: its fields only, in its
    types (a stored 0/1 as a boolean), ready for JSON."""
    answer: dict[str, Any] = msgspec.to_builtins(msgspec.convert(data, declared, strict=False))
    return answer


def parse(data: dict[str, Any], body: type[B]) -> B:
    """A JSON object (``api.read_json``'s) as ``body``, or a 400 naming the field. A whole
    number written as 3.0 is 3 (JSON does not tell them apart)."""
    data = {k: int(v) if isinstance(v, float) and v.is_integer() and abs(v) <= MAX_INT else v for k, v in data.items()}
    try:
        return msgspec.convert(data, body)
    except msgspec.ValidationError as error:
        refusal = bad_field(str(error))
        field = refusal.details.get("field", "")
        if field in body.error_keys:
            refusal.key = body.error_keys[field]
        raise refusal from None


_INVALID_TEXT = ("chứa ký tự không hợp lệ hoặc chỉ có khoảng trắng", "contains an invalid character or only spaces")
_TYPES = {
    "str": ("phải là chuỗi", "must be a string"),
    "int": ("phải là số nguyên", "must be a whole number"),
    "bool": ("phải là true hoặc false", "must be true or false"),
    "object": ("phải là một đối tượng", "must be an object"),
    "array": ("phải là một danh sách", "must be a list"),
}


def bad_field(message: str) -> BadRequest:
    """msgspec's validation message as our bilingual 400 naming the field."""
    where = re.search(r" - at `\$\.?(.*)`$", message)
    field = where.group(1) if where else ""
    missing = re.match(r"Object missing required field `(\w+)`", message)
    if missing:
        field = f"{field}.{missing.group(1)}" if field else missing.group(1)
        vi, en = "là bắt buộc", "is required"
    elif m := re.match(r"Expected `str` of length <= (\d+)", message):
        vi, en = f"dài quá {m.group(1)} ký tự", f"is longer than {m.group(1)} characters"
    elif m := re.match(r"Expected `int` >= (-?\d+)", message):
        vi, en = f"phải từ {m.group(1)} trở lên", f"must be {m.group(1)} or more"
    elif m := re.match(r"Expected `int` <= (-?\d+)", message):
        vi, en = f"không được lớn hơn {m.group(1)}", f"must be at most {m.group(1)}"
    elif m := re.match(r"Expected `str` of length >= (\d+)", message):
        n = int(m.group(1))
        vi, en = (
            ("không được để trống", "must not be empty")
            if n == 1
            else (f"cần ít nhất {n} ký tự", f"needs {n} characters or more")
        )
    elif m := re.match(r"Expected `array` of length >= (\d+)", message):
        vi, en = f"cần ít nhất {m.group(1)} mục", f"needs {m.group(1)} items or more"
    elif m := re.match(r"Expected `array` of length <= (\d+)", message):
        vi, en = f"có quá {m.group(1)} mục", f"has more than {m.group(1)} items"
    elif unknown := re.match(r"Object contains unknown field `(\w+)`", message):
        field = f"{field}.{unknown.group(1)}" if field else unknown.group(1)
        vi, en = "không sửa được ở đây", "cannot be changed here"
    elif message.startswith("Invalid RFC3339 encoded date"):
        vi, en = "phải là một ngày có thật, dạng YYYY-MM-DD", "must be a real day, as YYYY-MM-DD"
    elif m := re.match(r"Expected `str` matching regex '(.*)'", message):
        vi, en = FORMS.get(m.group(1), _INVALID_TEXT)
    elif m := re.match(r"Expected `(\w+)", message):
        vi, en = _TYPES.get(m.group(1), ("có kiểu không đúng", "has the wrong type"))
    else:
        vi, en = "không hợp lệ", "is not valid"
    name = field or "body"
    return BadRequest(f"Trường “{name}” {vi}.", f"Field “{name}” {en}.", key="bad_field", field=name)
