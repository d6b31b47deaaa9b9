"""Group commit: commands that arrive together share one transaction; each is durable before
it is answered; a command failing inside a batch changes nothing and the others commit."""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from queue_server.errors import Unavailable
from queue_server.hub import Hub
from queue_server.office import Office, Outcome
from queue_server.store import Store
from tests.support import KIOSK_TOKEN, ServerProcess, http, office_config

KIOSKS = 8
PER_KIOSK = 10


def test_tickets_issued_together_share_transactions_and_each_is_durable_when_answered(server: ServerProcess) -> None:
    """Eight kiosks at once through the real server: every 201 is already in the database
    (read on a separate connection the moment the answer arrives), and /healthz shows fewer
    transactions than commands."""
    before = http("GET", server.base_url + "/healthz")[1]["commits"]
    db = server.folder / "var" / "motcua.db"
    missing: list[Any] = []
    labels: list[str] = []
    lock = threading.Lock()

    def kiosk(k: int) -> None:
        reader = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            for i in range(PER_KIOSK):
                status, body, _ = http(
                    "POST",
                    server.base_url + "/api/tickets",
                    {"service": "CT", "request_id": f"k{k}-{i}"},
                    token=KIOSK_TOKEN,
                )
                assert status == 201, body
                row = reader.execute("SELECT label FROM tickets WHERE id = ?", (body["id"],)).fetchone()
                with lock:
                    labels.append(body["label"])
                    if row is None or row[0] != body["label"]:
                        missing.append(body)
        finally:
            reader.close()

    threads = [threading.Thread(target=kiosk, args=(k,)) for k in range(KIOSKS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not missing, "a ticket was answered before it was committed"
    assert len(set(labels)) == KIOSKS * PER_KIOSK
    after = http("GET", server.base_url + "/healthz")[1]["commits"]
    commands = after["commands"] - before["commands"]
    transactions = after["transactions"] - before["transactions"]
    assert commands == KIOSKS * PER_KIOSK
    assert transactions < commands, after


def _office(tmp_path: Path) -> Office:
    config = office_config(tmp_path, office={"enforce_hours": False})
    return Office(config, Store(tmp_path / "office.db"), hub=Hub())


def issue(service: str = "CT") -> Any:
    return lambda engine, now: Outcome(*engine.issue(now, service=service, token=secrets.token_urlsafe(16)))


def test_a_command_failing_inside_a_batch_changes_nothing_and_the_others_commit(tmp_path: Path) -> None:
    office = _office(tmp_path)
    published: list[dict[str, Any]] = []
    office.after_commit.append(lambda events, seqs: published.extend(e.ticket for e in events if e.ticket))

    def broken(conn: sqlite3.Connection, events: Any) -> None:
        conn.execute("INSERT INTO no_such_table VALUES (1)")

    async def scenario() -> list[Any]:
        # Hold the writer so that the next commands queue up and go as one batch.
        gate = threading.Event()
        office.writer.submit(gate.wait)
        first = asyncio.ensure_future(office.execute_outcome(issue()))
        await asyncio.sleep(0.05)
        rest = [
            asyncio.ensure_future(office.execute_outcome(issue("HT"))),
            asyncio.ensure_future(office.execute_outcome(issue("HT"), extra=broken)),
            asyncio.ensure_future(office.execute_outcome(issue("LD"))),
        ]
        await asyncio.sleep(0.05)
        gate.set()
        return await asyncio.gather(first, *rest, return_exceptions=True)

    before = office.commit_counts()
    first, ok_before, failed, ok_after = asyncio.run(scenario())
    assert isinstance(failed, Unavailable)
    assert office.commit_counts()["transactions"] - before["transactions"] == 2  # [first], [the other three]
    conn = sqlite3.connect(tmp_path / "office.db")
    rows = {r[0]: r[1] for r in conn.execute("SELECT id, label FROM tickets")}
    events = [r[0] for r in conn.execute("SELECT ticket_id FROM events WHERE kind = 'ticket_issued'")]
    conn.close()
    assert set(rows) == {first.id, ok_before.id, ok_after.id}
    assert sorted(events) == sorted(rows)
    # The failed ticket was never told to anyone, and memory holds what the database holds.
    assert sorted(t["id"] for t in published) == sorted(rows)
    assert sorted(office.engine.tickets) == sorted(rows)
    office.close()
    office.store.close()


def test_a_failed_transaction_fails_every_command_of_the_batch_and_the_engine_follows_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    office = _office(tmp_path)
    # Where the engine is rebuilt from: the writer thread, never the event loop.
    load_threads: list[str] = []
    real_load = office.store.load_engine

    def load_engine(*args: Any) -> Any:
        load_threads.append(threading.current_thread().name)
        return real_load(*args)

    monkeypatch.setattr(office.store, "load_engine", load_engine)

    async def scenario() -> list[Any]:
        await office.execute_outcome(issue())
        real = office.store.commit_batch

        def disk_full(commands: Any) -> Any:
            raise sqlite3.OperationalError("database or disk is full")

        monkeypatch.setattr(office.store, "commit_batch", disk_full)
        results = await asyncio.gather(*(office.execute_outcome(issue()) for _ in range(3)), return_exceptions=True)
        monkeypatch.setattr(office.store, "commit_batch", real)
        results.append(await office.execute_outcome(issue()))
        return results

    *failed, ok = asyncio.run(scenario())
    assert all(isinstance(r, Unavailable) for r in failed)
    assert sorted(office.engine.tickets) == [1, ok.id] and ok.label == "1002"
    assert load_threads and all(name.startswith("motcua-writer") for name in load_threads), load_threads
    office.close()
    office.store.close()
