"""SQLite persistence: one write path, numbered migrations, durable commits.
(Over 400 lines: the numbered migrations are one list, appended to by each feature.)

Every command's events, the rows they change and the engine's meta state commit in one
``BEGIN IMMEDIATE`` transaction (``commit``) before any client hears of them, so after a
crash the database holds exactly what clients were told. WAL mode lets readers (reports,
status pages) run beside the writer; ``synchronous=FULL`` makes each commit durable.

The write connection belongs to one writer thread (see ``queue_server.office``): commits,
account and audit writes, and the report aggregation run there. No read shares it: request
handlers read through ``Office.read`` (a read-only connection of its own from ``reader()``,
in a reader thread, so a slow disk never blocks the event loop); reports, exports, backups
and the CLI open their own read-only connection with ``connect(path, readonly=True)``, off the
event loop. A rule decided under the office lock never reads the database there: it reads
first (``Office.read``) and re-checks under the lock from memory. A read-only connection sees
the last commit, never a transaction in progress.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import sqlite_utils

from . import sync_rows
from .config import Config
from .dblock import DatabaseLock
from .engine import TICKET_FIELDS, CounterStatus, Engine, Event, Ticket

# The tickets table's columns: every field of ``engine.Ticket`` (declared once there).
TICKET_COLUMNS = TICKET_FIELDS


def insert_tickets(columns: Iterable[str]) -> str:
    """An INSERT of these ticket columns, with named parameters (a row is a dict)."""
    names = list(columns)
    return "INSERT INTO tickets ({}) VALUES ({})".format(", ".join(names), ", ".join(f":{c}" for c in names))


# A ticket row is inserted once (its ``ticket_issued`` event) and updated after that: a
# second insert of the same id, token or number is an error, never a silent overwrite.
_INSERT_TICKET = insert_tickets(TICKET_COLUMNS)
_UPDATE_TICKET = "UPDATE tickets SET {} WHERE id = :id".format(", ".join(f"{c} = :{c}" for c in TICKET_COLUMNS[1:]))
_UPSERT_COUNTER = (
    "INSERT INTO counters (number, state, staff, ticket_id, pause_reason, since) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (number) DO UPDATE SET state = excluded.state, staff = excluded.staff, "
    "ticket_id = excluded.ticket_id, pause_reason = excluded.pause_reason, since = excluded.since"
)
# One command for ``Store.commit_batch``: its events, the engine meta after it, extra rows.
Command = tuple[list[Event], dict[str, Any], Callable[[sqlite3.Connection], None] | None]

_INSERT_EVENT = (
    "INSERT INTO events (at, day, kind, ticket_id, service, counter, staff, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def _m001_initial(db: sqlite_utils.Database) -> None:
    db.table("events").create(
        {
            "seq": int,
            "at": str,
            "day": str,
            "kind": str,
            "ticket_id": int,
            "service": str,
            "counter": int,
            "staff": str,
            "details": str,
        },
        pk="seq",
    )
    db.table("tickets").create(
        {
            "id": int,
            "day": str,
            "service": str,
            "number": int,
            "label": str,
            "priority": int,
            "token": str,
            "state": str,
            "issued_at": str,
            "queued_at": str,
            "front": int,
            "target_counter": int,
            "counter": int,
            "staff": str,
            "called_at": str,
            "started_at": str,
            "finished_at": str,
            "recalls": int,
            "transfers": int,
            "kiosk": str,
            "request_id": str,
            "people_ahead": int,
            "estimated_wait_s": int,
            "rating": int,
            "rated_at": str,
        },
        pk="id",
        not_null={"day", "service", "number", "label", "token", "state", "issued_at"},
    )
    db.table("tickets").create_index(["day", "service", "number"], unique=True)
    db.table("tickets").create_index(["token"], unique=True)
    db.table("tickets").create_index(["state"])
    db.table("events").create_index(["day"])
    db.table("events").create_index(["ticket_id"])
    db.table("counters").create(
        {"number": int, "state": str, "staff": str, "ticket_id": int, "pause_reason": str, "since": str},
        pk="number",
    )
    db.table("meta").create({"key": str, "value": str}, pk="key")
    db.table("users").create(
        {"username": str, "display_name": str, "role": str, "password_hash": str, "disabled": int, "created_at": str},
        pk="username",
    )
    db.table("audit").create({"id": int, "at": str, "username": str, "action": str, "details": str}, pk="id")


def _m002_print_jobs(db: sqlite_utils.Database) -> None:
    # One job per printed ticket (reprints add jobs). States: queued -> sent -> printed |
    # failed | stale (see queue_server.printing). Written in the same transaction as the
    # ticket it prints. ``info`` is the ticket as printed (printer.render.TicketInfo JSON),
    # frozen at issue time so a delivery after a restart prints what the kiosk showed.
    db.table("print_jobs").create(
        {
            "id": int,
            "ticket_id": int,
            "printer": str,
            "state": str,
            "created_at": str,
            "updated_at": str,
            "attempts": int,
            "error": str,
            "reprint_of": int,
            "requested_by": str,
            "info": str,
        },
        pk="id",
        not_null={"ticket_id", "printer", "state", "created_at", "updated_at", "attempts", "info"},
        defaults={"attempts": 0},
    )
    db.table("print_jobs").create_index(["state"])
    db.table("print_jobs").create_index(["ticket_id"])


_FACT_COLUMNS = (
    "day, id, service, counter, staff, state, transfers, issued_epoch, wait_s, service_s, estimated_wait_s, rating"
)
_FACT_VALUES = """NEW.day, NEW.id, NEW.service, NEW.counter, NEW.staff, NEW.state, NEW.transfers,
    CAST(strftime('%s', NEW.issued_at) AS INTEGER),
    CASE WHEN NEW.called_at IS NOT NULL
         THEN CAST(round((julianday(NEW.called_at) - julianday(NEW.issued_at)) * 86400) AS INTEGER) END,
    CASE WHEN NEW.state = 'done' AND NEW.started_at IS NOT NULL AND NEW.finished_at IS NOT NULL
         THEN CAST(round((julianday(NEW.finished_at) - julianday(NEW.started_at)) * 86400) AS INTEGER) END,
    NEW.estimated_wait_s, NEW.rating"""
# A transferred ticket keeps the waiting time of its first call: its row only keeps the latest.
_FACT_UPSERT = f"""INSERT INTO ticket_facts ({_FACT_COLUMNS}) VALUES ({_FACT_VALUES})
    ON CONFLICT (day, id) DO UPDATE SET service = excluded.service, counter = excluded.counter,
        staff = excluded.staff, state = excluded.state, transfers = excluded.transfers,
        wait_s = CASE WHEN excluded.transfers > 0 AND ticket_facts.wait_s IS NOT NULL
                      THEN ticket_facts.wait_s ELSE excluded.wait_s END,
        service_s = excluded.service_s, estimated_wait_s = excluded.estimated_wait_s, rating = excluded.rating;"""


def _m003_report_facts(db: sqlite_utils.Database) -> None:
    # Reports over a year (500,000 tickets) must take about a second. Parsing ISO times for
    # every row costs several seconds, so each ticket's figures are kept here as integers,
    # clustered by day (WITHOUT ROWID), by triggers on the tickets table: the write path
    # stays as it is and the facts commit in the same transaction as the ticket.
    conn = db.conn
    conn.execute("""CREATE TABLE ticket_facts (
        day TEXT NOT NULL, id INTEGER NOT NULL, service TEXT, counter INTEGER, staff TEXT, state TEXT,
        transfers INTEGER, issued_epoch INTEGER, wait_s INTEGER, service_s INTEGER,
        estimated_wait_s INTEGER, rating INTEGER, PRIMARY KEY (day, id)) WITHOUT ROWID""")
    for when in ("INSERT", "UPDATE"):
        conn.execute(
            f"CREATE TRIGGER ticket_facts_after_{when.lower()} AFTER {when} ON tickets BEGIN {_FACT_UPSERT} END"
        )
    conn.execute(f"INSERT INTO ticket_facts ({_FACT_COLUMNS}) SELECT {_FACT_VALUES.replace('NEW.', '')} FROM tickets")
    conn.execute("""UPDATE ticket_facts SET wait_s = (
            SELECT CAST(round((julianday(e.at) - julianday(t.issued_at)) * 86400) AS INTEGER)
            FROM events e JOIN tickets t ON t.id = e.ticket_id
            WHERE e.ticket_id = ticket_facts.id AND e.kind = 'ticket_called' ORDER BY e.seq LIMIT 1)
        WHERE transfers > 0""")
    # Day-by-day percentiles read these in order instead of sorting half a million rows.
    conn.execute("CREATE INDEX ticket_facts_day_wait ON ticket_facts (day, wait_s)")
    conn.execute("CREATE INDEX ticket_facts_day_service ON ticket_facts (day, service_s)")


# Numbered migrations: MIGRATIONS[i] brings the schema from user_version i to i + 1, each in
# one transaction. Append; never edit a released one.
def _m004_sessions(db: sqlite_utils.Database) -> None:
    # Server-side staff sessions: the signed cookie carries only the session id, so signing
    # out, disabling an account or changing its password ends its sessions at once.
    db.table("sessions").create({"id": str, "username": str, "created_at": str}, pk="id", not_null={"username"})
    db.table("sessions").create_index(["username"])


def _m005_appointments(db: sqlite_utils.Database) -> None:
    # Bookings (queue_server.appointments). name/phone/phone_last4/client are personal data:
    # blanked keep_days after the appointment (purged_at set), the rest kept for reports.
    # ``client`` is a hash of the booking device's address, for the per-address limit.
    db.table("appointments").create(
        {
            "code": str,
            "service": str,
            "date": str,
            "start": str,
            "end": str,
            "name": str,
            "phone": str,
            "phone_last4": str,
            "state": str,
            "created_at": str,
            "created_by": str,
            "client": str,
            "moved_at": str,
            "cancelled_at": str,
            "cancelled_by": str,
            "cancel_reason": str,
            "checked_in_at": str,
            "ticket_id": int,
            "purged_at": str,
        },
        pk="code",
        not_null={"service", "date", "start", "end", "state", "created_at"},
    )
    db.table("appointments").create_index(["service", "date", "start"])
    db.table("appointments").create_index(["phone"])
    db.table("appointments").create_index(["client"])
    db.table("appointments").create_index(["date"])
    db.table("appointment_closures").create(
        {"service": str, "date": str, "start": str, "closed_by": str, "closed_at": str}, pk=("service", "date", "start")
    )
    # Appointment tickets: booked, the booking code (staff only) and the slot's start.
    db.table("tickets").add_column("booked", int, not_null_default=0)
    db.table("tickets").add_column("appointment", str)
    db.table("tickets").add_column("slot_start", str)


def _m006_report_days(db: sqlite_utils.Database) -> None:
    # Daily report aggregates, so a year report reads thousands of rows instead of 500,000
    # (queue_server.report_days: the tables, the triggers that mark a day dirty, the rules).
    from . import report_days

    report_days.migrate(db.conn)


_FACT_COLUMNS_7 = _FACT_COLUMNS + ", closed_unstarted"
_FACT_VALUES_7 = _FACT_VALUES + ", NEW.closed_unstarted"
_FACT_UPSERT_7 = (
    _FACT_UPSERT.replace(f"({_FACT_COLUMNS})", f"({_FACT_COLUMNS_7})")
    .replace(f"VALUES ({_FACT_VALUES})", f"VALUES ({_FACT_VALUES_7})")
    .replace("rating = excluded.rating;", "rating = excluded.rating, closed_unstarted = excluded.closed_unstarted;")
)


def _m007_issuing_service(db: sqlite_utils.Database) -> None:
    # Numbering belongs to the service that issued a ticket, not to the one it was
    # transferred to: keep that service on the row (from the ticket's first event for old
    # rows). Next on a called, never started ticket is its own outcome (closed_unstarted).
    conn = db.conn
    if "issued_service" not in db["tickets"].columns_dict:  # (tests rebuild old schemas from new files)
        conn.execute("ALTER TABLE tickets ADD COLUMN issued_service TEXT")
        conn.execute("ALTER TABLE tickets ADD COLUMN closed_unstarted INTEGER NOT NULL DEFAULT 0")
    conn.execute("""UPDATE tickets SET issued_service = coalesce((
            SELECT e.service FROM events e WHERE e.ticket_id = tickets.id AND e.kind = 'ticket_issued'
            ORDER BY e.seq LIMIT 1), service)""")
    # A number is given once a day, whatever service gave it (ranges never share a number
    # given that day). A database written before this rule may hold a duplicate: keep it.
    conn.execute("DROP INDEX IF EXISTS idx_tickets_day_service_number")
    conn.execute("DROP INDEX IF EXISTS tickets_day_number")
    conn.execute("DROP INDEX IF EXISTS tickets_day_issued_service")
    duplicate = conn.execute("SELECT 1 FROM tickets GROUP BY day, number HAVING count(*) > 1 LIMIT 1").fetchone()
    unique = "" if duplicate else "UNIQUE "
    conn.execute(f"CREATE {unique}INDEX tickets_day_number ON tickets (day, number)")
    conn.execute("CREATE INDEX tickets_day_issued_service ON tickets (day, issued_service)")
    if "closed_unstarted" not in db["ticket_facts"].columns_dict:
        conn.execute("ALTER TABLE ticket_facts ADD COLUMN closed_unstarted INTEGER NOT NULL DEFAULT 0")
    for when in ("INSERT", "UPDATE"):
        conn.execute(f"DROP TRIGGER ticket_facts_after_{when.lower()}")
        conn.execute(
            f"CREATE TRIGGER ticket_facts_after_{when.lower()} AFTER {when} ON tickets BEGIN {_FACT_UPSERT_7} END"
        )
    conn.execute("INSERT INTO meta (key, value) VALUES ('engine', '{}') ON CONFLICT (key) DO NOTHING")


def _m008_dossiers(db: sqlite_utils.Database) -> None:
    # Dossiers (hồ sơ) linked to the visits that received and returned them (see
    # queue_server.dossiers). Dates are office-local "YYYY-MM-DD"; times ISO with offset.
    # ``due_date`` is the original appointment; ``new_due_date`` the one of an apology slip.
    db.table("dossiers").create(
        {
            "code": str,
            "procedure": str,
            "service": str,
            "status": str,
            "received_on": str,
            "received_at": str,
            "due_date": str,
            "new_due_date": str,
            "extend_reason": str,
            "extended_at": str,
            "ready_on": str,
            "returned_at": str,
            "ticket_id": int,
            "staff": str,
            "counter": int,
            "return_ticket_id": int,
            "updated_at": str,
        },
        pk="code",
        not_null={"status", "updated_at"},
    )
    for columns in (["status"], ["received_on"], ["due_date"], ["ticket_id"], ["return_ticket_id"]):
        db.table("dossiers").create_index(columns)
    # Every change to a dossier and every outcome a clerk recorded for a visit (guidance has
    # no dossier): who, when, which ticket, what.
    db.table("dossier_log").create(
        {
            "id": int,
            "at": str,
            "code": str,
            "action": str,
            "ticket_id": int,
            "staff": str,
            "counter": int,
            "details": str,
        },
        pk="id",
        not_null={"at", "action"},
    )
    db.table("dossier_log").create_index(["ticket_id"])
    db.table("dossier_log").create_index(["code"])


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _m001_initial,
    _m002_print_jobs,
    _m003_report_facts,
    _m004_sessions,
    _m005_appointments,
    _m006_report_days,
    _m007_issuing_service,
    _m008_dossiers,
    # Dossiers and bookings in the sync feed: their change log (queue_server.sync_rows).
    sync_rows.migrate,
]


def ticket_by_token(conn: sqlite3.Connection, token: str) -> Ticket | None:
    """One ticket by its status token (the unique index), on any connection."""
    conn.row_factory = sqlite3.Row
    try:
        row = conn.execute("SELECT * FROM tickets WHERE token = ?", (token,)).fetchone()
    finally:
        conn.row_factory = None
    return Ticket.from_dict(dict(row)) if row is not None else None


DEMO_MARK = "motcua demo database: recreated by every motcua demo"


def is_demo_database(path: str | Path) -> bool:
    """Whether ``path`` is a database ``motcua demo`` made (read-only look)."""
    try:
        conn = connect(path, readonly=True)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'demo'").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return False
    return row is not None and row[0] == DEMO_MARK


def connect(path: str | Path, *, readonly: bool = False) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves (BEGIN IMMEDIATE per write).
    if readonly:
        conn = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
    else:
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 5000")
    if not readonly:
        conn.execute("PRAGMA journal_mode = WAL")
        # FULL: a commit survives power loss, not only a process crash. The kiosk tells the
        # citizen a number only after this returns.
        conn.execute("PRAGMA synchronous = FULL")
    return conn


class Store:
    """The database, opened for writing by one process (``DatabaseLock``).

    The write connection belongs to the writer thread (``Office.writer``): ``commit`` and
    ``write`` run there. Staff accounts and sessions are small and read on every request, so
    the writer keeps a copy of them in memory, replaced after each committed write
    (``get_user``, ``users``, ``has_session``): the event loop reads them without touching a
    connection, and never sees an uncommitted row. Any other read opens its own read-only
    connection with ``reader()`` (``Office.read`` runs it off the event loop).
    """

    def __init__(self, path: str | Path, *, lock: bool = True):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Before the first connection: a second writer must not even migrate.
        self.lock = DatabaseLock(self.path) if lock else None
        try:
            self.conn = connect(self.path)
            self.db = sqlite_utils.Database(self.conn)
            self.migrate()
            self._load_accounts()
        except BaseException:
            if self.lock is not None:
                self.lock.release()
            raise

    def close(self) -> None:
        self.conn.close()
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    @contextlib.contextmanager
    def reader(self) -> Iterator[sqlite3.Connection]:
        """A read-only connection of its own (WAL: it sees the last commit, never a
        transaction in progress), closed on leaving the ``with`` block."""
        conn = connect(self.path, readonly=True)
        try:
            yield conn
        finally:
            conn.close()

    def _load_accounts(self) -> None:
        users = {r["username"]: r for r in self.db["users"].rows}
        sessions: set[tuple[str, str]] = set()
        if self.db["sessions"].exists():  # (a schema held back by a test has none)
            sessions = {(r[0], r[1]) for r in self.conn.execute("SELECT id, username FROM sessions")}
        # Replaced whole (one assignment each): readers on other threads see old or new.
        self._users, self._sessions = users, sessions

    def migrate(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        for i in range(version, len(MIGRATIONS)):
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                MIGRATIONS[i](self.db)
                self.conn.execute(f"PRAGMA user_version = {i + 1}")
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise

    # ------------------------------------------------------------------ the write path

    def commit(
        self,
        events: Iterable[Event],
        meta: dict[str, Any],
        extra: Callable[[sqlite3.Connection], None] | None = None,
    ) -> list[int]:
        """Write events, the rows they change, the engine meta and ``extra`` in one
        transaction. Returns each event's sequence number. On any error nothing is written
        and the error propagates."""
        [result] = self.commit_batch([(list(events), meta, extra)])
        if isinstance(result, BaseException):
            raise result
        return result

    def commit_batch(self, commands: list[Command]) -> list[list[int] | Exception]:
        """Group commit: the commands that arrived together, in order, in one transaction
        (one fsync). Each runs in its own savepoint: a command that fails changes nothing and
        gets its exception in the result list; the others commit. An error of the transaction
        itself (``BEGIN``, ``COMMIT``: disk full, I/O error, locked) propagates, and then
        nothing at all was written."""
        results: list[list[int] | Exception] = []
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            for events, meta, extra in commands:
                conn.execute("SAVEPOINT command")
                try:
                    seqs = self._write(conn, events, meta, extra)
                except Exception as exc:
                    conn.execute("ROLLBACK TO command")
                    conn.execute("RELEASE command")
                    results.append(exc)
                    continue
                conn.execute("RELEASE command")
                results.append(seqs)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return results

    def _write(
        self,
        conn: sqlite3.Connection,
        events: Iterable[Event],
        meta: dict[str, Any],
        extra: Callable[[sqlite3.Connection], None] | None,
    ) -> list[int]:
        """One command's rows, inside the caller's transaction."""
        seqs: list[int] = []
        for e in events:
            t = e.ticket
            seqs.append(
                conn.execute(
                    _INSERT_EVENT,
                    (
                        e.at.isoformat(),
                        meta["day"],
                        e.kind,
                        t["id"] if t else None,
                        t["service"] if t else None,
                        (e.counter or {}).get("number", t.get("counter") if t else None),
                        e.staff,
                        json.dumps(e.details, ensure_ascii=False) if e.details else None,
                    ),
                ).lastrowid
                or 0
            )
            if t is not None:
                if e.kind == "ticket_issued":
                    conn.execute(_INSERT_TICKET, t)
                elif conn.execute(_UPDATE_TICKET, t).rowcount != 1:
                    raise LookupError(f"event {e.kind} for ticket {t['id']}, which is not in the database")
            if e.counter is not None:
                c = e.counter
                conn.execute(
                    _UPSERT_COUNTER,
                    (c["number"], c["state"], c["staff"], c["ticket_id"], c["pause_reason"], c["since"]),
                )
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('engine', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (json.dumps(meta, ensure_ascii=False),),
        )
        if extra is not None:
            extra(conn)
        return seqs

    def write(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run ``fn`` in its own write transaction (for rows outside the engine: users, audit)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            changes = self.conn.total_changes
            result = fn(self.conn)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        if self.conn.total_changes != changes:
            self._load_accounts()
        return result

    # ------------------------------------------------------------------ loading

    def load_meta(self) -> dict[str, Any]:
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'engine'").fetchone()
        return json.loads(row[0]) if row else {}

    def load_counters(self) -> list[CounterStatus]:
        return [CounterStatus.from_dict(r) for r in self.db["counters"].rows]

    def load_tickets(self, day: str | None, held: Iterable[int] = ()) -> list[Ticket]:
        """Tickets of ``day``, plus earlier ones still waiting, called or served (what the
        engine keeps in memory), plus any a counter holds."""
        ids = [i for i in held if i is not None]
        where = "day = ? OR state IN ('waiting', 'called', 'serving')"
        where += f" OR id IN ({', '.join('?' * len(ids))})" if ids else ""
        return [Ticket.from_dict(r) for r in self.db["tickets"].rows_where(where, [day, *ids])]

    def load_engine(self, config: Config, now: dt.datetime) -> Engine:
        """The engine as the database holds it: what a restart rebuilds (equal, field by
        field, to the engine that committed those rows)."""
        meta = self.load_meta()
        counters = self.load_counters()
        tickets = self.load_tickets(meta.get("day"), [c.ticket_id for c in counters if c.ticket_id])
        engine = Engine(config, now, tickets=tickets, counters=counters, meta=meta)
        engine.next_id = max(engine.next_id, self.max_ticket_id() + 1)
        return engine

    def last_seq(self) -> int:
        row = self.conn.execute("SELECT max(seq) FROM events").fetchone()
        return row[0] or 0

    def max_ticket_id(self) -> int:
        row = self.conn.execute("SELECT max(id) FROM tickets").fetchone()
        return row[0] or 0

    # ------------------------------------------------------------------ users

    def get_user(self, username: str) -> dict[str, Any] | None:
        """The account as last committed (from memory: safe on the event loop)."""
        user = self._users.get(username)
        return dict(user) if user is not None else None

    def users(self) -> list[dict[str, Any]]:
        return [dict(self._users[name]) for name in sorted(self._users)]

    def has_session(self, sid: str, username: str) -> bool:
        return (sid, username) in self._sessions

    def mark_demo(self) -> None:
        """Mark this database as made by ``motcua demo`` (the only kind it may recreate)."""
        self.write(
            lambda c: c.execute(
                "INSERT INTO meta (key, value) VALUES ('demo', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (DEMO_MARK,),
            )
        )

    def audit(self, at: str, username: str | None, action: str, details: dict[str, Any]) -> None:
        self.write(
            lambda c: c.execute(
                "INSERT INTO audit (at, username, action, details) VALUES (?, ?, ?, ?)",
                (at, username, action, json.dumps(details, ensure_ascii=False)),
            )
        )
