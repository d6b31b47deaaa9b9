"""Crash test: under load — two kiosks, five clerks calling, serving and transferring tickets to
another service or counter — the server is killed with SIGKILL at random moments twelve times
and restarted each time on the same database, while an administrator edits number ranges
mid-day through the admin config API between kills. After every restart, from the database and
through the API: every ticket a kiosk got an answer for exists (same number, label and token),
no number was issued twice in the office day, every number lay in its issuing service's range
at the time it was issued, none was served twice, and every counter's state agrees with its
ticket's."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import Any

import pytest

from queue_server.config import load_config
from tests.support import KIOSK_TOKEN, ServerProcess, add_staff, http, login, write_config

KILLS = 12
COUNTERS = (1, 2, 3, 4, 5)
SERVICES = ("CT", "HT", "DD", "LD", "TKQ")
START_RANGES = {"CT": (1001, 1999), "HT": (2001, 2999), "DD": (3001, 3999), "LD": (4001, 4999), "TKQ": (5001, 5999)}
# The range edits made between kills, in turn: moves to a fresh block, moves back to a range the
# service used earlier today (its own labels there stay valid and are never reused), shrinks.
EDITS = (
    ("CT", (11001, 11999)),
    ("HT", (12001, 12999)),
    ("CT", (1001, 1999)),
    ("TKQ", (5001, 5400)),
    ("LD", (14001, 14999)),
    ("HT", (2001, 2999)),
    ("CT", (11001, 11999)),
    ("DD", (13001, 13999)),
    ("LD", (4001, 4999)),
    ("TKQ", (15001, 15999)),
    ("HT", (12001, 12999)),
    ("DD", (3001, 3999)),
)
STATE_AFTER = {
    "ticket_issued": "waiting",
    "ticket_called": "called",
    "ticket_recalled": "called",
    "ticket_started": "serving",
    "ticket_done": "done",
    "ticket_no_show": "no_show",
    "ticket_transferred": "waiting",
}


def call(method: str, url: str, body: dict[str, Any] | None = None, **kw: Any) -> tuple[int, dict[str, Any]] | None:
    """``http`` that returns None when the server is down or died mid-request."""
    try:
        status, answer, _ = http(method, url, body, timeout=5, **kw)
        return status, answer
    except (OSError, HTTPException, ValueError):
        return None


@dataclass
class Edit:
    """One range edit: sent and answered (monotonic times) — between the two either range held."""

    service: str
    old: tuple[int, int]
    new: tuple[int, int]
    sent: float
    answered: float


class Load:
    """Two kiosks and five clerks working flat out, recording every answer they get."""

    def __init__(self, server: ServerProcess, cookies: dict[int, str]):
        self.server = server
        self.cookies = cookies
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.issued: dict[str, dict[str, Any]] = {}  # request_id -> the ticket the kiosk was given
        self.sent: dict[str, float] = {}  # request_id -> when it was first sent
        self.answered: dict[str, float] = {}  # request_id -> when its answer came
        self.called: list[tuple[int, int]] = []  # (counter, ticket id) answers to Next
        self.transfers = {"service": 0, "counter": 0}  # transfers the server accepted
        self.threads = [threading.Thread(target=self.kiosk, args=(k,)) for k in range(2)]
        self.threads += [threading.Thread(target=self.clerk, args=(n,)) for n in COUNTERS]

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)

    def acknowledged(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            return dict(self.issued)

    def kiosk(self, k: int) -> None:
        rng = random.Random(k)
        i = 0
        while not self.stop.is_set():
            request_id = f"k{k}-{i}"
            body = {"service": rng.choice(SERVICES), "priority": rng.random() < 0.2, "request_id": request_id}
            with self.lock:
                self.sent[request_id] = time.monotonic()
            # A kiosk retries an unanswered request with the same request_id until it is
            # answered: it must then get the very ticket that was committed, or a new one.
            while not self.stop.is_set():
                answer = call("POST", self.server.base_url + "/api/tickets", body, token=KIOSK_TOKEN)
                if answer is not None:
                    break
                time.sleep(0.05)
            if answer is None:
                return
            status, ticket = answer
            if status in (200, 201):
                with self.lock:
                    self.issued[request_id] = ticket
                    self.answered[request_id] = time.monotonic()
            i += 1
            time.sleep(rng.uniform(0, 0.01))

    def clerk(self, n: int) -> None:
        rng = random.Random(100 + n)
        url = self.server.base_url + f"/api/counters/{n}/"
        while not self.stop.is_set():
            action = rng.choice(("next", "next", "next", "start", "done", "transfer", "transfer"))
            body: dict[str, Any] = {}
            if action == "transfer":
                if rng.random() < 0.5:
                    body = {"service": rng.choice(SERVICES)}
                else:
                    body = {"counter": rng.choice([c for c in COUNTERS if c != n])}
            answer = call("POST", url + action, body, cookie=self.cookies[n])
            if answer is None:
                time.sleep(0.05)
                continue
            status, view = answer
            with self.lock:
                if status == 200 and view.get("ticket") and action == "next":
                    self.called.append((n, view["ticket"]["id"]))
                if status == 200 and action == "transfer":
                    self.transfers["service" if "service" in body else "counter"] += 1
            time.sleep(rng.uniform(0, 0.02))


def edit_range(server: ServerProcess, admin: str, service: str, new: tuple[int, int]) -> tuple[int, int]:
    """Change ``service``'s range through the admin config API; returns the range it had."""
    status, config, _ = http("GET", server.base_url + "/api/admin/config", cookie=admin)
    assert status == 200, config
    services = config["editable"]["services"]
    entry = next(s for s in services if s["code"] == service)
    old = (entry["range"][0], entry["range"][1])
    entry["range"] = list(new)
    status, answer, _ = http("POST", server.base_url + "/api/admin/config", {"services": services}, cookie=admin)
    assert status == 200, answer
    return old


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_kill_minus_nine_under_load_with_transfers_and_range_edits_loses_and_doubles_nothing(tmp_path: Path) -> None:
    config_path = write_config(
        tmp_path, kiosks=[{"id": "sanh", "name": "Kiosk", "token": KIOSK_TOKEN, "printer": ""}], printers=[]
    )
    add_staff(config_path, {"boss": "admin", **{f"clerk{n}": "clerk" for n in COUNTERS}})
    server = ServerProcess(tmp_path, config_path).start()
    try:
        cookies = {n: login(server.base_url, f"clerk{n}", n) for n in COUNTERS}
        admin = login(server.base_url, "boss")
        rng = random.Random(6)
        edits: list[Edit] = []
        with Load(server, cookies) as load:
            for kill in range(KILLS):
                time.sleep(rng.uniform(0.2, 0.8))
                service, new = EDITS[kill % len(EDITS)]
                sent = time.monotonic()
                old = edit_range(server, admin, service, new)
                edits.append(Edit(service, old, new, sent, time.monotonic()))
                time.sleep(rng.uniform(0.2, 0.8))
                server.kill()
                acknowledged = load.acknowledged()  # every answer given before the kill
                time.sleep(rng.uniform(0, 0.2))
                server.start()
                check_database(server, load, acknowledged, edits)
                check_api(server, acknowledged, cookies[1], rng)
            time.sleep(0.5)
        assert len(load.issued) > 50 and len(load.called) > 20, (len(load.issued), len(load.called))
        assert load.transfers["service"] > 3 and load.transfers["counter"] > 3, load.transfers
        server.kill()
        server.start()  # one more restart: the state below is what the database gives back
        everything = load.acknowledged()
        check_database(server, load, everything, edits)
        check_api(server, everything, cookies[1], rng)
        check_served_once(server)
    finally:
        server.stop()


def open_database(server: ServerProcess) -> sqlite3.Connection:
    """A read-only look at the served database (no second writer), one snapshot until closed."""
    config = load_config(server.config_path)
    conn = sqlite3.connect(f"file:{config.resolve(config.server.database)}?mode=ro", uri=True, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("BEGIN")  # one snapshot for every query: the server keeps committing meanwhile
    return conn


def ranges_in_effect(edits: list[Edit], service: str, start: float, end: float) -> list[tuple[int, int]]:
    """Every range ``service`` may have had between ``start`` and ``end``: the one it had at
    ``start`` and the new one of each edit that began by ``end`` and had not been answered by
    ``start`` (the edits are made one at a time)."""
    current = START_RANGES[service]
    possible = []
    for e in edits:
        if e.service != service:
            continue
        if e.answered <= start:
            current = e.new
        elif e.sent <= end:
            possible.append(e.new)
    return [current, *possible]


def check_database(
    server: ServerProcess, load: Load, acknowledged: dict[str, dict[str, Any]], edits: list[Edit]
) -> None:
    conn = open_database(server)
    try:
        tickets = {r["id"]: dict(r) for r in conn.execute("SELECT * FROM tickets")}
        # Every ticket a kiosk was told about exists, with the number and token it was given.
        for request_id, answer in acknowledged.items():
            t = tickets.get(answer["id"])
            assert t is not None, f"{request_id}: ticket {answer['label']} was answered but is not in the database"
            assert (t["number"], t["label"], t["token"], t["request_id"], t["issued_service"]) == (
                answer["number"],
                answer["label"],
                answer["token"],
                request_id,
                answer["service"],
            )
        # One request id, one ticket — retries after a crash included.
        request_ids = [t["request_id"] for t in tickets.values() if t["request_id"]]
        assert len(request_ids) == len(set(request_ids))

        # No number issued twice in an office day, whatever the service (ranges never overlap a
        # label issued that day), and so no label twice either.
        dupes = conn.execute(
            "SELECT day, number, group_concat(label) FROM tickets GROUP BY day, number HAVING count(*) > 1"
        ).fetchall()
        assert not dupes, [tuple(r) for r in dupes]
        assert len({(t["day"], t["label"]) for t in tickets.values()}) == len(tickets)

        # Every number lay in its issuing service's range when it was issued.
        with load.lock:
            sent, answered = dict(load.sent), dict(load.answered)
        for t in tickets.values():
            start = sent[t["request_id"]]
            end = answered.get(t["request_id"], float("inf"))
            allowed = ranges_in_effect(edits, t["issued_service"], start, end)
            assert any(a <= t["number"] <= b for a, b in allowed), (t["label"], t["issued_service"], allowed)

        # Each ticket's row is the result of its last event.
        last = conn.execute(
            "SELECT ticket_id, kind FROM events WHERE seq IN "
            "(SELECT max(seq) FROM events WHERE ticket_id IS NOT NULL GROUP BY ticket_id)"
        ).fetchall()
        for tid, kind in last:
            if kind in STATE_AFTER:
                assert tickets[tid]["state"] == STATE_AFTER[kind], (tid, kind, tickets[tid]["state"])

        # Counters and tickets agree both ways.
        counters = {r["number"]: dict(r) for r in conn.execute("SELECT * FROM counters")}
        held = {c["ticket_id"]: n for n, c in counters.items() if c["ticket_id"] is not None}
        assert len(held) == len([c for c in counters.values() if c["ticket_id"] is not None])
        for tid, n in held.items():
            assert tickets[tid]["state"] in ("called", "serving") and tickets[tid]["counter"] == n, (n, tickets[tid])
        for t in tickets.values():
            if t["state"] in ("called", "serving"):
                assert held.get(t["id"]) == t["counter"], t
    finally:
        conn.close()


def check_api(server: ServerProcess, acknowledged: dict[str, dict[str, Any]], cookie: str, rng: random.Random) -> None:
    """What the restarted server answers agrees with the database and with what kiosks were told."""
    status, state, _ = http("GET", server.base_url + "/api/state", cookie=cookie)
    assert status == 200, state
    seen: set[int] = set()
    for c in state["counters"]:
        t = c["ticket"]
        if t is not None:
            assert t["id"] not in seen and t["counter"] == c["number"] and t["state"] in ("called", "serving")
            seen.add(t["id"])
    assert not seen & {t["id"] for t in state["waiting"]}
    # Numbering per service, as the engine rebuilt it, is the count the database holds for the
    # issuing service (transfers never move a number to another service). A kiosk's request
    # may commit while we look: the API's figure lies between two looks at the database.
    before = issued_per_service(server)
    status, state, _ = http("GET", server.base_url + "/api/state", cookie=cookie)
    after = issued_per_service(server)
    issued_now = {s["code"]: s["issued"] for s in state["services"]}
    for code in SERVICES:
        assert before.get(code, 0) <= issued_now[code] <= after.get(code, 0), (code, before, issued_now, after)
    # Acknowledged tickets answer on the phone page with the label the kiosk printed.
    answers = list(acknowledged.values())
    for answer in answers[-10:] + rng.sample(answers, min(10, len(answers))):
        status, body, _ = http("GET", server.base_url + f"/api/tickets/{answer['token']}")
        assert status == 200 and body["label"] == answer["label"], (answer["label"], status, body)


def issued_per_service(server: ServerProcess) -> dict[str, int]:
    """Tickets of the current office day per issuing service, as the database holds them."""
    conn = open_database(server)
    try:
        day = conn.execute("SELECT day FROM tickets ORDER BY id DESC LIMIT 1").fetchone()
        rows = conn.execute(
            "SELECT issued_service, count(*) FROM tickets WHERE day = ? GROUP BY 1", (day[0] if day else "",)
        )
        return {code: n for code, n in rows}
    finally:
        conn.close()


def check_served_once(server: ServerProcess) -> None:
    """None served twice: finished at most once each (a transferred ticket may be called and
    started again at its new counter), and by the counter that last called it."""
    conn = open_database(server)
    try:
        twice = conn.execute(
            "SELECT ticket_id, count(*), group_concat(counter) FROM events WHERE kind = 'ticket_done' "
            "GROUP BY ticket_id HAVING count(*) > 1"
        ).fetchall()
        assert not twice, [tuple(r) for r in twice]
        last_call = dict(
            conn.execute(
                "SELECT ticket_id, counter FROM events WHERE seq IN (SELECT max(seq) FROM events "
                "WHERE kind IN ('ticket_called', 'ticket_recalled') GROUP BY ticket_id)"
            ).fetchall()
        )
        for tid, counter in conn.execute("SELECT ticket_id, counter FROM events WHERE kind = 'ticket_done'"):
            assert last_call[tid] == counter, (tid, counter, last_call[tid])
    finally:
        conn.close()
