"""JSON answers encoded through their declarations.

A handler returns ``Answer(data, status_code=…)`` (``data``: dicts, lists, dataclasses, as
before). When the answer is sent, the type the OpenAPI document declares for that route,
method and status (``schemas.ref`` in the operation, collected once per app by ``declare``)
converts the data with msgspec and msgspec.json encodes the result: the answer has the
declared fields in the declared types.

Nothing is dropped silently: a key the declaration lacks (or data that does not fit it, or an
answer on a route with no declaration) is logged as an error and the data goes out as it
is, encoded without a declaration, so a screen still gets every field. Under tests
(``MOTCUA_STRICT_ANSWERS=1``, set by ``tests/conftest.py``) the same is a 500, and so is an
answer whose declaration changed a value (say a time written another way), so the suites
fail on a declaration that lacks a field or says it differently.
"""

from __future__ import annotations

import logging
import os
import types
from collections.abc import Iterator, Mapping
from typing import Any

import msgspec
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from .schemas import Ref

log = logging.getLogger("motcua.answers")

STRICT_ENV = "MOTCUA_STRICT_ANSWERS"
_encoder = msgspec.json.Encoder()
# (endpoint, method, status) -> the declared type of that answer.
Declarations = dict[tuple[Any, str, int], Any]


class UndeclaredAnswer(Exception):
    """An answer its declaration does not describe (raised in strict mode only)."""


def _strict() -> bool:
    return os.environ.get(STRICT_ENV) == "1"


def _declared(schema: Any) -> Any:
    """The Python type behind a response schema: a ``Ref``'s declaration, or a list of one."""
    if isinstance(schema, Ref):
        return schema.declared
    if isinstance(schema, Mapping) and schema.get("type") == "array" and isinstance(schema.get("items"), Ref):
        return types.GenericAlias(list, (schema["items"].declared,))
    return None


def declare(routes: list[BaseRoute], doc: Mapping[str, Any]) -> Declarations:
    """Each HTTP route's JSON answers, by (endpoint, method, status), from the document."""
    found: Declarations = {}
    for route in routes:
        if not isinstance(route, Route):
            continue
        for method, op in doc["paths"].get(route.path, {}).items():
            for status, response in op.get("responses", {}).items():
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                declared = _declared(schema)
                if declared is None:
                    continue
                key = (route.endpoint, method.upper(), int(status))
                if found.setdefault(key, declared) is not declared:
                    raise TypeError(f"{route.path} {method}: one endpoint, two declarations for {status}")
    return found


_FIELDS: dict[type, tuple[frozenset[str], dict[str, str]]] = {}


def _fields(kept: msgspec.Struct) -> tuple[frozenset[str], dict[str, str]]:
    """A Struct's keys as encoded, and the attribute behind each one (cached by type)."""
    cls = type(kept)
    if cls not in _FIELDS:
        names = dict(zip(kept.__struct_encode_fields__, kept.__struct_fields__, strict=True))
        _FIELDS[cls] = frozenset(names), names
    return _FIELDS[cls]


_NESTED = (dict, list, tuple)


def dropped(given: Any, kept: Any) -> list[str]:
    """The keys of ``given`` (the handler's data) missing from ``kept`` (its conversion), as
    paths ("$.ticket.staff"). On the hot paths (every kiosk ticket, every counter action):
    a set comparison per object, and a step down only into nested objects and lists."""
    return [f"${path}" for path in _dropped(given, kept)]


def _dropped(given: Any, kept: Any) -> list[str]:
    lost: list[str] = []
    if type(given) is dict:
        if isinstance(kept, msgspec.Struct):
            keys, attrs = _fields(kept)
            if not given.keys() <= keys:
                lost += [f".{k}" for k in given if k not in keys]
            for key, value in given.items():
                if type(value) in _NESTED and key in keys:
                    lost += [f".{key}{p}" for p in _dropped(value, getattr(kept, attrs[key]))]
        elif isinstance(kept, dict):
            for key, value in given.items():
                name = key if key in kept else str(key)
                if name not in kept:
                    lost.append(f".{key}")
                elif type(value) in _NESTED:
                    lost += [f".{key}{p}" for p in _dropped(value, kept[name])]
    elif type(given) in _NESTED and isinstance(kept, list | tuple):
        for i, (a, b) in enumerate(zip(given, kept, strict=False)):
            if type(a) in _NESTED:
                lost += [f"[{i}]{p}" for p in _dropped(a, b)]
    return lost


def changed(plain: Any, typed: Any, where: str = "$") -> Iterator[str]:
    """Where the JSON ``typed`` (decoded) says something else than ``plain``: a key left
    out, or another value (a key ``typed`` adds, a declared default, is no change)."""
    if isinstance(plain, dict) and isinstance(typed, dict):
        for key, value in plain.items():
            if key not in typed:
                yield f"{where}.{key} (left out)"
            else:
                yield from changed(value, typed[key], f"{where}.{key}")
    elif isinstance(plain, list) and isinstance(typed, list) and len(plain) == len(typed):
        for i, (a, b) in enumerate(zip(plain, typed, strict=True)):
            yield from changed(a, b, f"{where}[{i}]")
    elif plain != typed:
        yield f"{where} ({plain!r} became {typed!r})"


def encode(data: Any, declared: Any, where: str) -> bytes:
    """``data`` as ``declared`` describes it, as JSON; see the module's docstring when it
    does not fit."""
    if declared is None:
        problem = "no declared answer"
    else:
        try:
            typed = msgspec.convert(data, declared, strict=False, from_attributes=True)
        except msgspec.ValidationError as error:
            problem = f"does not fit {declared}: {error}"
        else:
            lost = dropped(data, typed)
            if not lost:
                body = _encoder.encode(typed)
                if not _strict():
                    return body
                # Under tests, also: the answer says what the data said, value for value.
                lost = list(changed(msgspec.json.decode(_encoder.encode(data)), msgspec.json.decode(body)))
                if not lost:
                    return body
            problem = f"{declared} lacks or changes {', '.join(lost)}"
    log.error("answer of %s: %s", where, problem)
    if _strict():
        raise UndeclaredAnswer(f"answer of {where}: {problem}")
    return _encoder.encode(data)


class Answer(Response):
    """A JSON answer, encoded when sent through the route's declaration (see the module)."""

    media_type = "application/json"

    def __init__(self, content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None) -> None:
        self.content = content
        super().__init__(b"", status_code, headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = "GET" if scope.get("method") == "HEAD" else scope.get("method", "GET")
        table: Declarations = getattr(scope["app"].state, "answers", {})
        declared = table.get((scope.get("endpoint"), method, self.status_code))
        self.body = encode(self.content, declared, f"{method} {scope.get('path')} {self.status_code}")
        length = str(len(self.body)).encode("latin-1")
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self.raw_headers.append((b"content-length", length))
        await super().__call__(scope, receive, send)
