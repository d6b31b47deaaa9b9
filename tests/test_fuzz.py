"""Bad input. Schemathesis fuzzes every operation of ``/api/openapi.json`` on a live server
(``MOTCUA_FUZZ_EXAMPLES`` cases each, 20 by default; ``make fuzz`` runs 500): no 5xx, and
every response matches its documented status and schema. Then hand-written cases: each gets
a clear 4xx ``{error, message, message_en}`` and writes nothing."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from queue_server import features, openapi
from queue_server.config import load_config
from tests.support import KIOSK_TOKEN, ServerProcess, add_staff, http, login, write_config

EXAMPLES = int(os.environ.get("MOTCUA_FUZZ_EXAMPLES", "20"))


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("fuzz")
    config_path = write_config(folder)
    add_staff(config_path, {"clerk1": "clerk", "clerk2": "clerk", "boss": "admin"})
    proc = ServerProcess(folder, config_path).start()
    # Signed in before the fuzzer runs: its wrong passwords from 127.0.0.1 trip the login
    # throttle's per-address limit (20 a minute) for the rest of that minute.
    proc.cookies = {
        (name, counter): login(proc.base_url, name, counter)  # type: ignore[attr-defined]
        for name, counter in (("boss", 1), ("boss", None), ("clerk2", 3))
    }
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def credentials(live: ServerProcess) -> dict[str, str]:
    """Kiosk token and an admin session, so authenticated paths are exercised too; a few
    tickets and an open counter give the fuzzer something to act on."""
    for i in range(5):
        http("POST", live.base_url + "/api/tickets", {"service": "CT", "request_id": f"seed{i}"}, token=KIOSK_TOKEN)
    cookie = live.cookies[("boss", 1)]  # type: ignore[attr-defined]
    return {"Authorization": f"Bearer {KIOSK_TOKEN}", "Cookie": cookie}


# Operation labels ("POST /api/tickets"), from the same document the server serves.
LABELS = [
    r.ok().label
    for r in schemathesis.openapi.from_dict(openapi.document(features.openapi_paths())).get_all_operations()
]


# Positive mode: a request the document allows must never be refused as bad input (400).
# The operations below are the exceptions, each for a rule the document cannot state (the
# handler checks it and refuses with a clear 400); every other operation is held to its schema.
NOT_STATED = {
    # The whole new config.toml is checked as one (queue_server.config).
    "POST /api/admin/config": "a config that holds together",
    "POST /api/admin/config/text": "valid TOML and a config that holds together",
    "POST /api/voice/pack": "a ZIP of voice clips inside the base64",
    "POST /api/dossiers/import": "the province's CSV export",
    "POST /api/whatif/runs": "from before to within 31 days; each variant checked as a plan file's",
    # A dossier code has the office's own shape (dossiers.code_pattern in config.toml).
    "GET /api/dossiers/{code}": "the office's dossier code pattern",
    "POST /api/dossiers/ready": "the office's dossier code pattern",
    "POST /api/dossiers/{code}/ready": "the office's dossier code pattern",
    "POST /api/dossiers/{code}/extend": "the office's dossier code pattern",
    "POST /api/dossiers/{code}/withdraw": "the office's dossier code pattern",
    "POST /api/dossiers/{code}/check-in": "the office's dossier code pattern",
    "POST /api/dossiers/{code}/apology/print": "the office's dossier code pattern",
    "POST /api/counters/{n}/dossiers": "the office's dossier code pattern",
    # Report ranges: from before to, at most 3 years (two parameters).
    **{
        f"GET /api/reports{kind}{export}": "from before to, at most 3 years"
        for kind in ("", "/appointments", "/dossiers", "/satisfaction")
        for export in ("", "/export")
    },
}


@pytest.fixture(scope="module")
def live_schema(live: ServerProcess) -> Any:
    """The schema as the live server publishes it."""
    return schemathesis.openapi.from_url(live.base_url + "/api/openapi.json")


def fuzz(
    live_schema: Any,
    label: str,
    examples: int,
    headers: dict[str, str] | None,
    mode: GenerationMode = GenerationMode.POSITIVE,
) -> None:
    operation = live_schema.find_operation_by_label(label)

    @given(case=operation.as_strategy(mode))
    @settings(
        max_examples=examples, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
    )
    def run(case: Any) -> None:
        # Everything is checked: no 5xx, status codes, content types, headers and bodies as
        # documented, auth enforced, and (but for NOT_STATED) schema-valid data accepted.
        # In negative mode the "violation" may be a missing session cookie, which the
        # credentials header puts back: there, only "no 5xx, answers as documented" holds.
        excluded = [positive_data_acceptance] if label in NOT_STATED else []
        if mode is GenerationMode.NEGATIVE:
            excluded.append(negative_data_rejection)
        case.call_and_validate(headers=headers, timeout=10, excluded_checks=excluded)

    run()


@pytest.mark.parametrize("label", LABELS)
def test_every_operation_answers_within_its_schema(live_schema: Any, credentials: dict[str, str], label: str) -> None:
    fuzz(live_schema, label, EXAMPLES, credentials)


def test_the_exceptions_to_positive_mode_are_operations_of_the_document() -> None:
    assert set(NOT_STATED) <= set(LABELS)


@pytest.mark.parametrize("label", LABELS)
def test_every_operation_answers_within_its_schema_without_credentials(live_schema: Any, label: str) -> None:
    fuzz(live_schema, label, max(EXAMPLES // 4, 5), None)


WRITES = [label for label in LABELS if not label.startswith("GET") and label != "POST /api/logout"]


@pytest.mark.parametrize("label", WRITES)
def test_schema_violating_requests_are_refused_within_the_schema(
    live_schema: Any, credentials: dict[str, str], label: str
) -> None:
    """Negative mode: wrong types, missing required fields, bad path values."""
    fuzz(live_schema, label, EXAMPLES, credentials, GenerationMode.NEGATIVE)


# --------------------------------------------------------------------------- by hand


def db_fingerprint(live: ServerProcess) -> tuple[Any, ...]:
    config = load_config(live.config_path)
    conn = sqlite3.connect(f"file:{config.resolve(config.server.database)}?mode=ro", uri=True)
    try:
        return tuple(
            conn.execute(q).fetchone()
            for q in (
                "SELECT count(*), max(seq) FROM events",
                "SELECT count(*), group_concat(state || ':' || coalesce(counter, '') || ':' || service) FROM tickets",
                "SELECT group_concat(number || state || coalesce(ticket_id, '')) FROM counters",
                "SELECT count(*) FROM users",
                "SELECT value FROM meta WHERE key = 'engine'",
            )
        )
    finally:
        conn.close()


@pytest.fixture(scope="module")
def clerk(live: ServerProcess) -> str:
    http("POST", live.base_url + "/api/tickets", {"service": "HT", "request_id": "hand"}, token=KIOSK_TOKEN)
    cookie = live.cookies[("clerk2", 3)]  # type: ignore[attr-defined]
    assert http("POST", live.base_url + "/api/counters/3/next", {}, cookie=cookie)[0] == 200
    return cookie


WEIRD_STRINGS = [
    "",
    " ",
    "\x00",
    "CT\x00",
    "C\u0422",
    "CT\u200b",
    "\u202eTC",
    "ＣＴ",
    "ct",
    "CT ",
    "🎫",
    "e\u0301" * 50,
    "\ud7ff",
    "x" * 5000,
    "../../etc/passwd",
    "<script>",
    "' OR 1=1 --",
]
WEIRD_NUMBERS: list[Any] = [-1, 0, 2**31, 2**63, 10**30, -(10**30), 1.5, float("1e300"), True, "1", None, [], {}]

TICKET_BODIES: list[Any] = (
    [{"service": s} for s in WEIRD_STRINGS]
    + [{"service": n} for n in WEIRD_NUMBERS if n is not None]
    + [{"service": "CT", "priority": v} for v in ("yes", 1, 0, [], "true")]
    + [{"service": "CT", "request_id": v} for v in (5, "x" * 65, "r\x00", [], {})]
    + [{}, {"priority": True}, {"service": "ZZ"}]
)


def assert_clean_4xx(status: int, body: dict[str, Any], what: Any) -> None:
    assert 400 <= status < 500, (what, status, body)
    assert set(body) >= {"error", "message", "message_en"}, (what, body)
    assert isinstance(body["message"], str) and body["message"] and body["message_en"]


@pytest.mark.parametrize("body", TICKET_BODIES, ids=range(len(TICKET_BODIES)))
def test_bad_ticket_requests_are_refused_and_write_nothing(live: ServerProcess, body: Any) -> None:
    before = db_fingerprint(live)
    status, answer, _ = http("POST", live.base_url + "/api/tickets", body, token=KIOSK_TOKEN)
    assert_clean_4xx(status, answer, body)
    assert db_fingerprint(live) == before


RAW_BODIES = [
    b'{"service": ',
    b"\xff\xfe{}",
    b"[1, 2]",
    b'"CT"',
    b"null",
    b"42",
    b'{"service": "CT",}',
    b'{"service": "CT", "priority": NaN}',
    b'{"service": "CT", "priority": Infinity}',
    b"[" * 10_000,
    b'{"a":' * 5000,
    b'{"service": "C\\u0000T"}',
    b'{"service": "\\ud800"}',
    b"\x00\x00\x00\x00",
    b"service=CT",
    b'{"service": "CT"}' + b" " * 270_000,
]


def _is_object(raw: bytes) -> bool:
    import json

    try:
        data = json.loads(raw)
        json.dumps(data, ensure_ascii=False).encode()
    except (ValueError, UnicodeError, RecursionError):
        return False
    return isinstance(data, dict)


# /api/services/CT ignores fields it does not know, so only truly malformed bodies there.
MALFORMED = [
    (path, raw)
    for path in ("/api/tickets", "/api/counters/3/pause", "/api/login", "/api/services/CT", "/api/counters/1/rating")
    for raw in RAW_BODIES
    if not (path == "/api/services/CT" and _is_object(raw))
]


@pytest.mark.parametrize(("path", "raw"), MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_bodies_are_refused_and_write_nothing(live: ServerProcess, clerk: str, raw: bytes, path: str) -> None:
    import urllib.error
    import urllib.request

    before = db_fingerprint(live)
    req = urllib.request.Request(live.base_url + path, data=raw, method="POST")
    req.add_header("Content-Type", "application/json")
    req.add_header("Authorization", f"Bearer {KIOSK_TOKEN}")
    req.add_header("Cookie", live.cookies[("boss", None)] if "services" in path else clerk)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, text = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read()
    import json

    assert_clean_4xx(status, json.loads(text), (path, raw[:40]))
    assert db_fingerprint(live) == before


COUNTER_CASES: list[tuple[str, Any]] = [
    ("/api/counters/99/next", {}),
    ("/api/counters/0/next", {}),
    ("/api/counters/-1/next", {}),
    ("/api/counters/99999999999999999999/next", {}),
    ("/api/counters/3.0/next", {}),
    ("/api/counters/%E2%91%A2/next", {}),  # ③
    ("/api/counters/3/next", {"current": "x"}),
    ("/api/counters/3/next", {"current": -5}),
    ("/api/counters/3/next", {"current": 10**20}),
    ("/api/counters/3/call", {}),
    ("/api/counters/3/call", {"number": -1}),
    ("/api/counters/3/call", {"number": 10**30}),
    ("/api/counters/3/call", {"number": "x" * 13}),
    ("/api/counters/3/call", {"number": "99999"}),
    ("/api/counters/3/call", {"number": [1]}),
    ("/api/counters/3/call", {"number": "20\x0001"}),
    ("/api/counters/3/transfer", {}),
    ("/api/counters/3/transfer", {"service": "ZZ"}),
    ("/api/counters/3/transfer", {"service": "C\u0422"}),
    ("/api/counters/3/transfer", {"counter": 99}),
    ("/api/counters/3/transfer", {"counter": 3}),
    ("/api/counters/3/transfer", {"counter": -2}),
    ("/api/counters/3/transfer", {"counter": "1"}),
    ("/api/counters/3/pause", {"reason": ""}),
    ("/api/counters/3/pause", {"reason": "   "}),
    ("/api/counters/3/pause", {"reason": "a\x00b"}),
    ("/api/counters/3/pause", {"reason": "x" * 201}),
    ("/api/counters/3/pause", {"reason": 5}),
    ("/api/counters/3/resume", {}),
    ("/api/counters/3/nope", {}),
    ("/api/tickets/0/requeue", {}),
    ("/api/tickets/-1/requeue", {}),
    ("/api/tickets/99999999/requeue", {}),
    ("/api/tickets/1e3/requeue", {}),
    ("/api/counters/3/rating", {"ticket_id": 1, "level": 99}),
    ("/api/counters/3/rating", {"ticket_id": -1, "level": 1}),
    ("/api/counters/3/rating", {"ticket_id": 10**30, "level": 1}),
    ("/api/counters/3/rating", {"ticket_id": "1", "level": "1"}),
    ("/api/counters/99/rating", {"ticket_id": 1, "level": 1}),
]


@pytest.mark.parametrize(("path", "body"), COUNTER_CASES, ids=range(len(COUNTER_CASES)))
def test_bad_counter_requests_are_refused_and_write_nothing(
    live: ServerProcess, clerk: str, path: str, body: Any
) -> None:
    before = db_fingerprint(live)
    status, answer, _ = http("POST", live.base_url + path, body, cookie=clerk)
    assert_clean_4xx(status, answer, (path, body))
    assert db_fingerprint(live) == before


ADMIN_CASES: list[tuple[str, Any]] = [
    ("/api/services/ZZ", {"open": False}),
    ("/api/services/C%00T", {"open": False}),
    ("/api/services/%F0%9F%8E%AB", {"open": False}),
    ("/api/services/CT", {"open": "no"}),
    ("/api/services/CT", {"open": 0}),
    ("/api/services/CT", {"cap": -1}),
    ("/api/services/CT", {"cap": 10**20}),
    ("/api/services/CT", {"cap": 2.5}),
    ("/api/services/CT", {"cap": "10"}),
    ("/api/tickets/99999999/cancel", {}),
]


@pytest.mark.parametrize(("path", "body"), ADMIN_CASES, ids=range(len(ADMIN_CASES)))
def test_bad_admin_requests_are_refused_and_write_nothing(live: ServerProcess, path: str, body: Any) -> None:
    cookie = live.cookies[("boss", None)]  # type: ignore[attr-defined]
    before = db_fingerprint(live)
    status, answer, _ = http("POST", live.base_url + path, body, cookie=cookie)
    assert_clean_4xx(status, answer, (path, body))
    assert db_fingerprint(live) == before


LOGIN_CASES: list[Any] = [
    {"username": "boss"},
    {"password": "x"},
    {"username": 1, "password": "x"},
    {"username": "b\x00oss", "password": "mat-khau-123"},
    {"username": "bóss", "password": "mat-khau-123"},
    {"username": "\u202essob", "password": "x"},
    {"username": "x" * 41, "password": "x"},
    {"username": "boss", "password": "x" * 201},
    {"username": "clerk1", "password": "mat-khau-123", "counter": 99},
    {"username": "clerk1", "password": "mat-khau-123", "counter": -1},
    {"username": "clerk1", "password": "mat-khau-123", "counter": "1"},
]


@pytest.mark.parametrize("body", LOGIN_CASES, ids=range(len(LOGIN_CASES)))
def test_bad_sign_ins_are_refused_and_write_nothing(live: ServerProcess, body: Any) -> None:
    before = db_fingerprint(live)
    status, answer, headers = http("POST", live.base_url + "/api/login", body)
    assert_clean_4xx(status, answer, body)
    assert db_fingerprint(live) == before


def test_unicode_is_kept_exactly_where_free_text_is_allowed(live: ServerProcess, clerk: str, tmp_path: Path) -> None:
    reason = "Họp giao ban 🗓️ — e\u0301 \u202e ＣＴ"
    status, body, _ = http("POST", live.base_url + "/api/counters/3/pause", {"reason": reason}, cookie=clerk)
    if status == 409:  # holds a ticket: finish it first
        http("POST", live.base_url + "/api/counters/3/done", {}, cookie=clerk)
        status, body, _ = http("POST", live.base_url + "/api/counters/3/pause", {"reason": reason}, cookie=clerk)
    assert status == 200, body
    assert body["counter"]["pause_reason"] == reason.strip()
    assert http("POST", live.base_url + "/api/counters/3/resume", {}, cookie=clerk)[0] == 200
