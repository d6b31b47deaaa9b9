"""The request bodies of the core API, declared once as msgspec ``Struct``s.

From each declaration come: the validation of the body (``parse``), the bilingual 400 that
names the field (``bad_field``), and the body's JSON Schema in the OpenAPI document
(``components``, used by ``queue_server.openapi``). A field that may be left out or sent as
``null`` is ``X | None = None``; ``current`` tells three cases apart (``UNSET``: not sent, so
any ticket; ``None``: the screen shows none; a ticket id), which ``expected`` turns into the
engine's argument (``Unsaid.ANY`` for not sent).

Unknown keys are ignored, as before: old screens may send more than a newer server reads.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, TypeVar

import msgspec
from msgspec import UNSET as UNSET
from msgspec import Meta, Struct
from msgspec import UnsetType as UnsetType

from .engine import Expected, Unsaid
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
Count = Annotated[int, Meta(ge=0, le=MAX_INT)]
Positive = Annotated[int, Meta(ge=1, le=MAX_INT)]


class Body(Struct, kw_only=True):
    """Base of every request body."""


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


class Transfer(Body):
    service: Code | None = None
    counter: Positive | None = None


class Pause(Body):
    reason: Reason


class Rating(Body):
    ticket_id: Positive
    level: Annotated[int, Meta(ge=1, le=5)]  # up to the office's rating.levels (3, 4 or 5)


class ServiceChange(Body):
    open: bool | None = None
    cap: Count | None | UnsetType = UNSET


class Empty(Body):
    pass


BODIES: tuple[type[Body], ...] = (
    IssueTicket,
    Login,
    OpenCounter,
    NextTicket,
    CallNumber,
    Transfer,
    Pause,
    Rating,
    ServiceChange,
    Empty,
)
B = TypeVar("B", bound=Body)


def expected(current: int | None | UnsetType) -> Expected:
    """The engine's ``expected`` argument: ``Unsaid.ANY`` when the screen did not say."""
    return Unsaid.ANY if isinstance(current, UnsetType) else current


def components() -> dict[str, Any]:
    """The JSON Schemas of every body, for the OpenAPI document's ``components.schemas``."""
    _, schemas = msgspec.json.schema_components(BODIES, ref_template="#/components/schemas/{name}")
    return schemas


def ref(body: type[Body]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{body.__name__}"}


def parse(data: dict[str, Any], body: type[B]) -> B:
    """A JSON object (``api.read_json``'s) as ``body``, or a 400 naming the field. A whole
    number written as 3.0 is 3 (JSON does not tell them apart)."""
    data = {k: int(v) if isinstance(v, float) and v.is_integer() and abs(v) <= MAX_INT else v for k, v in data.items()}
    try:
        return msgspec.convert(data, body)
    except msgspec.ValidationError as error:
        raise bad_field(str(error)) from None


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
        vi, en = "không được để trống", "must not be empty"
    elif "matching regex" in message:
        vi, en = "chứa ký tự không hợp lệ hoặc chỉ có khoảng trắng", "contains an invalid character or only spaces"
    elif m := re.match(r"Expected `(\w+)", message):
        vi, en = _TYPES.get(m.group(1), ("có kiểu không đúng", "has the wrong type"))
    else:
        vi, en = "không hợp lệ", "is not valid"
    name = field or "body"
    return BadRequest(f"Trường “{name}” {vi}.", f"Field “{name}” {en}.", key="bad_field", field=name)
