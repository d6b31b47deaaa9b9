"""The site side of the central roll-up: a read-only, token-protected event feed and signed
offline bundles (docs/central.md).
(Over 400 lines: the feed, its allow-lists and the bundle that carries the same answer stay together.)

``GET /api/sync/events?after=SEQ&limit=N`` answers ``{site, office_day_tz, events,
next_after, more, tickets, counters, snapshot_seq}``: the office's events after ``SEQ`` in
order, and once each the tickets and counters they touched *as they are now* (so the central
converges on the current state whatever it missed), each ticket with its report figures.
``snapshot_seq`` is the last event that snapshot includes: the central never lets an older
snapshot overwrite a newer one.

No personal data leaves the office. Every row is copied through an allow-list, so a field
added later (an appointment's name or phone, a dossier's owner) stays home until someone
adds it here on purpose: no status tokens, kiosk request ids, passwords or sessions. Staff
appear by account name and display name only.

A bundle (``motcua export``) is the same answer, every event after ``--since``, written as
one gzip file and signed with HMAC-SHA256 keyed by the sync token, which the central also
holds: it finds the site by the key that verifies the signature.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import hashlib
import hmac
import json
import sqlite3
import time
from collections import defaultdict, deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
from msgspec import Struct
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import auth
from .config import Config
from .engine import SYNCED_TICKET_FIELDS, CounterStatus, Ticket
from .errors import BadRequest, MotcuaError, NotFound, TooManyRequests, Unauthorized
from .openapi import operation, query_param
from .schemas import ref, view
from .store import connect
from .sync_rows import SyncedDossier, SyncedSlot, read_rows

DEFAULT_LIMIT = 1000
MAX_LIMIT = 5000
BUNDLE_FORMAT = "motcua-sync-bundle"
BUNDLE_VERSION = 1

# What may leave the office. Anything not listed here stays home.
TICKET_FIELDS = SYNCED_TICKET_FIELDS  # marked on engine.Ticket
COUNTER_FIELDS = tuple(f.name for f in dataclasses.fields(CounterStatus))


class Event(Struct, kw_only=True):
    """One event as it leaves the office: the events table's columns (``details`` only with
    the keys in ``DETAIL_FIELDS``)."""

    seq: int
    at: str
    day: str | None = None
    kind: str
    ticket_id: int | None = None
    service: str | None = None
    counter: int | None = None
    staff: str | None = None
    details: dict[str, Any] | None = None


EVENT_FIELDS = Event.__struct_fields__[:-1]
if TYPE_CHECKING:

    class SyncedTicket(Struct): ...

else:
    SyncedTicket = view("SyncedTicket", Ticket, SYNCED_TICKET_FIELDS)


class Page(Struct, kw_only=True):
    """One page of /api/sync/events (and of an exported bundle)."""

    site: dict[str, Any]
    office_day_tz: str
    events: list[Event]
    next_after: int
    more: bool
    tickets: list[SyncedTicket] = []
    counters: list[CounterStatus] = []
    snapshot_seq: int = 0
    # Only when asked with rows_after (queue_server.sync_rows):
    dossiers: list[SyncedDossier] = []
    slots: list[SyncedSlot] = []
    rows_after: int | None = None
    rows_next: int | None = None
    rows_more: bool = False


DETAIL_FIELDS = (
    "automatic",
    "closed_without_start",
    "recalls",
    "level",
    "reason",
    "day",
    "previous",
    "service",
    "open",
    "cap",
    "from_service",
    "to_service",
    "from_counter",
    "to_counter",
    "counter",
)
STAFF_FIELDS = ("username", "display_name")


def _pick(row: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {k: row[k] for k in fields if k in row}


def _details(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    kept = {k: v for k, v in data.items() if k in DETAIL_FIELDS and isinstance(v, (str, int, float, bool, type(None)))}
    return kept or None


def site_info(config: Config, conn: sqlite3.Connection) -> dict[str, Any]:
    """What the central needs to label the figures: names of services, counters and staff."""
    office = config.office
    staff = [
        dict(zip(STAFF_FIELDS, r)) for r in conn.execute("SELECT username, display_name FROM users ORDER BY username")
    ]
    return {
        "name": office.name,
        "name_en": office.name_en,
        "timezone": office.timezone,
        "day_starts_at": office.day_starts_at,
        "rating_levels": config.rating.levels,
        # What a ticket closed without start counts as here ("served" or "absent").
        "closed_without_start": config.queue.closed_without_start,
        "satisfied_levels": config.rating.satisfied_levels,
        "procedures": [{"code": p.code, "name": p.name, "service": p.service} for p in config.procedures],
        "services": [{"code": s.code, "name": s.name, "name_en": s.name_en} for s in config.services],
        "counters": [
            {"number": c.number, "name": c.name, "name_en": c.name_en, "services": sorted(c.services)}
            for c in config.counters
        ],
        "staff": staff,
    }


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


def read_page(
    conn: sqlite3.Connection, config: Config, after: int, limit: int | None, rows_after: int | None = None
) -> dict[str, Any]:
    """The events after ``after`` (at most ``limit``; None: all), read in one transaction so
    the events, tickets and counters agree; with ``rows_after``, also the dossiers and
    booking slots changed after that row cursor (``queue_server.sync_rows``)."""
    conn.execute("BEGIN")
    try:
        snapshot_seq = conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
        sql = (
            "SELECT seq, at, day, kind, ticket_id, service, counter, staff, details FROM events "
            "WHERE seq > ? ORDER BY seq"
        )
        rows = conn.execute(
            sql + (" LIMIT ?" if limit is not None else ""), (after, limit) if limit is not None else (after,)
        ).fetchall()
        ticket_ids = sorted({r[4] for r in rows if r[4] is not None})
        counter_numbers = sorted({r[6] for r in rows if r[6] is not None})
        tickets = _rows_by_id(conn, "tickets", "id", ticket_ids)
        counters = _rows_by_id(conn, "counters", "number", counter_numbers)
        facts = _facts(conn, ticket_ids)
        info = site_info(config, conn)
        changed = read_rows(conn, config, rows_after, limit) if rows_after is not None else None
    finally:
        conn.execute("COMMIT")
    events = []
    for r in rows:
        e = dict(zip(EVENT_FIELDS, r[:8]))
        e["details"] = _details(r[8])
        events.append(e)
    ticket_rows = []
    for t in tickets.values():
        ticket = _pick(t, TICKET_FIELDS)
        ticket["priority"] = bool(ticket.get("priority"))
        ticket["front"] = bool(ticket.get("front"))
        if "closed_unstarted" in ticket:
            ticket["closed_unstarted"] = bool(ticket["closed_unstarted"])
        ticket.update(facts.get(t["id"], {}))
        ticket_rows.append(ticket)
    next_after = rows[-1][0] if rows else max(after, 0)
    page = {
        "site": info,
        "office_day_tz": config.office.timezone,
        "after": after,
        "events": events,
        "tickets": ticket_rows,
        "counters": [_pick(c, COUNTER_FIELDS) for c in counters.values()],
        "next_after": next_after,
        "more": next_after < snapshot_seq,
        "snapshot_seq": snapshot_seq,
    }
    if changed is not None:
        page.update(changed)
        page["more"] = page["more"] or changed["rows_more"]
    return page


def _rows_by_id(conn: sqlite3.Connection, table: str, key: str, ids: list[int]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        cur = conn.execute(f"SELECT * FROM {table} WHERE {key} IN ({', '.join('?' * len(chunk))})", chunk)
        names = [d[0] for d in cur.description]
        for row in cur:
            d = dict(zip(names, row))
            out[d[key]] = d
    return out


def _facts(conn: sqlite3.Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Each ticket's report figures as the office's own reports count them (waiting time of
    the first call for a transferred ticket), so the central's figures equal the office's."""
    if not ids or not _has_table(conn, "ticket_facts"):
        return {}
    out: dict[int, dict[str, Any]] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        for tid, wait_s, service_s in conn.execute(
            f"SELECT id, wait_s, service_s FROM ticket_facts WHERE id IN ({', '.join('?' * len(chunk))})", chunk
        ):
            out[tid] = {"wait_s": wait_s, "service_s": service_s}
    return out


# --------------------------------------------------------------------------- the endpoint


class RateLimit:
    """At most ``per_minute`` requests per client address in any sliding minute."""

    def __init__(self) -> None:
        self.hits: dict[str, deque[float]] = defaultdict(deque)

    def check(self, address: str, per_minute: int) -> None:
        now = time.monotonic()
        q = self.hits[address]
        while q and now - q[0] > 60:
            q.popleft()
        if len(q) >= per_minute:
            raise TooManyRequests(
                "Quá nhiều yêu cầu đồng bộ: hãy đợi một phút.",
                "Too many sync requests: wait a minute.",
                key="sync_rate_limited",
            )
        q.append(now)


def check_token(request: Request, config: Config) -> None:
    sync = config.sync
    if not sync.token:
        raise NotFound(
            "Văn phòng này chưa bật đồng bộ ([sync] token).",
            "Sync is off at this office ([sync] token).",
            key="sync_off",
        )
    token = auth.bearer_token(request)
    valid = [t for t in (sync.token, sync.previous_token) if t]
    if not token or not any(hmac.compare_digest(token.encode(), t.encode()) for t in valid):
        raise Unauthorized("Mã đồng bộ sai hoặc thiếu.", "Missing or wrong sync token.", key="sync_token_required")


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise BadRequest(
            f"{name}: phải là số nguyên từ {low} đến {high}.",
            f"{name}: must be a whole number from {low} to {high}.",
            key="bad_param",
        )
    return value


async def sync_events(request: Request) -> Response:
    office = request.app.state.office
    config: Config = office.config
    _limiter(request).check(request.client.host if request.client else "?", config.sync.requests_per_minute)
    check_token(request, config)
    after = _int_param(request, "after", 0, 0, 2**62)
    limit = _int_param(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    # The dossiers' and bookings' row cursor: without it (an older central), no rows.
    rows_after = _int_param(request, "rows_after", 0, 0, 2**62) if request.query_params.get("rows_after") else None
    path = office.database_path

    def read() -> dict[str, Any]:
        conn = connect(path, readonly=True)
        try:
            return read_page(conn, config, after, limit, rows_after)
        finally:
            conn.close()

    page = await asyncio.to_thread(read)
    body = json.dumps(page, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    headers = {"Cache-Control": "no-store", "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", "").lower():
        body = gzip.compress(body, compresslevel=5)
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type="application/json", headers=headers)


def _limiter(request: Request) -> RateLimit:
    state = request.app.state
    limiter = getattr(state, "sync_rate", None)
    if limiter is None:
        limiter = state.sync_rate = RateLimit()
    return limiter


routes = [Route("/api/sync/events", sync_events)]

openapi_paths: dict[str, Any] = {
    "/api/sync/events": {
        "get": operation(
            "Events after a cursor, with the tickets and counters they touched, for the central overview "
            "(read-only; gzip when accepted; no personal data; see docs/central.md)",
            ref(Page),
            errors=(400, 401, 404, 429),
            security=[{"device": []}],
            who="the central (`[sync] token`)",
            params=[
                query_param("after", {"type": "integer", "minimum": 0}, "Last sequence number already received"),
                query_param(
                    "rows_after",
                    {"type": "integer", "minimum": 0},
                    "Last dossier/booking change already received: the answer then has dossiers and slots",
                ),
                query_param(
                    "limit",
                    {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                    f"Most events in the answer (default {DEFAULT_LIMIT})",
                ),
            ],
        )
    },
}


# --------------------------------------------------------------------------- bundles


def sign(key: str, payload: bytes) -> str:
    return hmac.new(key.encode(), payload, hashlib.sha256).hexdigest()


def write_bundle(config: Config, since: int, output: str | Path) -> dict[str, Any]:
    """``motcua export``: every event after ``since`` in one signed gzip file. Returns a
    summary (events, first and last sequence numbers)."""
    if not config.sync.token:
        raise BadRequest(
            "Cần đặt [sync] token trong config.toml trước khi xuất (khóa ký gói dữ liệu).",
            "Set [sync] token in config.toml first: it signs the bundle.",
            key="sync_off",
        )
    if since < 0:
        raise BadRequest("--since không được âm.", "--since must not be negative.", key="bad_param")
    path = config.resolve(config.server.database)
    if not path.is_file():
        raise BadRequest(f"Không có cơ sở dữ liệu {path}.", f"No database at {path}.", key="no_database")
    conn = connect(path, readonly=True)
    try:
        page = read_page(conn, config, since, None, 0)
    finally:
        conn.close()
    payload = json.dumps(page, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    header = {"format": BUNDLE_FORMAT, "version": BUNDLE_VERSION, "signature": sign(config.sync.token, payload)}
    out = Path(output)
    tmp = out.with_name(out.name + ".tmp")
    with gzip.open(tmp, "wb") as f:
        f.write(json.dumps(header).encode() + b"\n" + payload)
    tmp.replace(out)
    return {"events": len(page["events"]), "after": since, "next_after": page["next_after"], "path": str(out)}


def read_bundle(path: str | Path, keys: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """Open a bundle and check its signature against each candidate ``{site_id: token}``.
    Returns the site whose token signed it and the page. Raises a clear error otherwise."""
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
        head, _, payload = data.partition(b"\n")
        header = json.loads(head)
    except (OSError, EOFError, ValueError) as e:
        raise BadRequest(
            f"Không đọc được gói dữ liệu {path}: {e}", f"Cannot read bundle {path}: {e}", key="bad_bundle"
        ) from None
    if not isinstance(header, dict) or header.get("format") != BUNDLE_FORMAT or header.get("version") != BUNDLE_VERSION:
        raise BadRequest("Tệp không phải gói đồng bộ motcua.", "Not a motcua sync bundle.", key="bad_bundle")
    signature = str(header.get("signature", ""))
    for site_id, token in keys.items():
        if token and hmac.compare_digest(sign(token, payload), signature):
            try:
                page = msgspec.json.decode(payload)
            except msgspec.DecodeError:
                break
            return site_id, page
    raise MotcuaError(
        "Chữ ký gói dữ liệu không khớp với mã đồng bộ của văn phòng nào trong central.toml.",
        "The bundle's signature matches no site's sync token in central.toml.",
        key="bad_signature",
    )
