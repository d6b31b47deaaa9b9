"""Sign-in and the life of a session: the same scrypt work for a missing account, a bounded
login throttle that forgets, and staff WebSockets that end with their session (sign-out,
disabled account, new password, counter closed or taken over) and with a flood (1008)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from queue_server import auth
from queue_server.app import create_app
from queue_server.config import load_config
from queue_server.errors import TooManyRequests
from queue_server.store import Store
from queue_server.ws import MessageBudget, ResyncGate
from tests.support import JSON_HEADERS, PASSWORD, ServerProcess, add_staff, count_scrypt, http, login, write_config

STAFF = {"clerk1": "clerk", "clerk2": "clerk", "clerk3": "clerk", "clerk4": "clerk", "clerk5": "clerk", "boss": "admin"}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("sessions")
    config_path = write_config(folder)
    add_staff(config_path, STAFF)
    proc = ServerProcess(folder, config_path).start()
    try:
        yield proc
    finally:
        proc.stop()


# ---------------------------------------------------------------------------- sign-in


def test_a_missing_or_disabled_account_costs_the_same_scrypt_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_path = write_config(tmp_path)
    add_staff(config_path, {"clerk1": "clerk", "gone": "clerk"})
    config = load_config(config_path)
    store = Store(config.resolve(config.server.database))
    auth.set_disabled(store, "gone", True)
    store.close()
    calls = count_scrypt(monkeypatch)
    with TestClient(create_app(config, printing=False), headers=JSON_HEADERS) as client:
        for username in ("clerk1", "nobody-here", "gone"):
            calls.clear()
            r = client.post("/api/login", json={"username": username, "password": "wrong-password"})
            assert r.status_code == 401 and r.json()["error"] == "bad_login"
            assert calls == [(2**14, 8, 1)], (username, calls)


def test_the_login_throttle_is_bounded_and_forgets() -> None:
    now = [1000.0]
    throttle = auth.LoginThrottle(max_keys=1000, clock=lambda: now[0])
    for i in range(20_000):
        throttle.failed(f"user{i}", f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
    assert len(throttle) <= 1000
    now[0] += 61
    throttle.failed("last", "10.0.0.1")
    assert len(throttle) == 2  # everything older than the window is gone
    throttle.check("user19999", "10.0.78.31")  # forgotten: allowed again


def test_the_login_throttle_counts_per_user_and_per_address() -> None:
    now = [0.0]
    throttle = auth.LoginThrottle(per_user=5, per_address=20, clock=lambda: now[0])
    for i in range(5):
        throttle.failed("boss", f"10.0.0.{i}")
    with pytest.raises(TooManyRequests):
        throttle.check("boss", "10.0.0.99")  # rotating addresses do not help
    throttle.check("clerk1", "10.0.0.99")
    for i in range(19):
        throttle.failed(f"guess{i}", "10.0.0.50")
    throttle.check("clerk1", "10.0.0.50")  # 19: still fine
    throttle.failed("guess19", "10.0.0.50")
    with pytest.raises(TooManyRequests):
        throttle.check("clerk1", "10.0.0.50")  # 20 from one address, any names
    now[0] += 61
    throttle.check("boss", "10.0.0.50")


# ---------------------------------------------------------------------------- limits (pure)


def test_message_budget_allows_a_burst_then_a_steady_rate() -> None:
    now = [0.0]
    budget = MessageBudget(burst=3, rate=1.0, clock=lambda: now[0])
    assert [budget.take() for _ in range(4)] == [True, True, True, False]
    now[0] += 1.0
    assert [budget.take(), budget.take()] == [True, False]


def test_resyncs_within_the_interval_coalesce_into_one() -> None:
    now = [0.0]
    gate = ResyncGate(interval=1.0, clock=lambda: now[0])
    assert gate.request() == "now"
    assert [gate.request() for _ in range(5)] == ["later", "merged", "merged", "merged", "merged"]
    assert gate.delay() == 1.0
    now[0] += 1.0
    gate.sent()
    now[0] += 1.0
    assert gate.request() == "now"


# ---------------------------------------------------------------------------- WebSockets


async def _flood(url: str, count: int) -> tuple[int, int | None]:
    """Send ``count`` resyncs without reading, then read: (snapshots received, close code)."""
    snapshots, code = 0, None
    async with ws_connect(url, proxy=None, max_size=None) as ws:
        for _ in range(count):
            try:
                await ws.send(json.dumps({"type": "resync"}))
            except ConnectionClosed:
                break
        try:
            while True:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
                snapshots += msg.get("type") == "snapshot"
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd else None
    return snapshots, code


def test_a_resync_flood_gets_one_coalesced_snapshot_and_is_closed_with_1008(srv: ServerProcess) -> None:
    snapshots, code = asyncio.run(_flood(srv.ws_url, 200))
    assert code == 1008
    assert 1 <= snapshots <= 3  # the first one, one answered at once, at most one coalesced
    assert http("GET", srv.base_url + "/healthz")[0] == 200


def test_many_screens_share_one_built_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(write_config(tmp_path))
    # A stopped clock: the cached snapshot stays fresh however slowly the screens connect.
    at = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)
    with TestClient(create_app(config, clock=lambda: at, printing=False)) as client:
        office = client.app.state.office  # type: ignore[attr-defined]
        built: list[str] = []
        build = office.snapshot

        def counting(audience: str = "public") -> dict[str, Any]:
            built.append(audience)
            return build(audience)  # type: ignore[no-any-return]

        monkeypatch.setattr(office, "snapshot", counting)
        texts = []
        for _ in range(5):
            with client.websocket_connect("/ws") as ws:
                texts.append(ws.receive_text())
                ws.send_text(json.dumps({"type": "resync"}))
                texts.append(ws.receive_text())
        assert len(texts) == 10 and len(set(texts)) == 1
        assert len(built) <= 1, built  # ten snapshots sent, at most one built


async def _closed_within(url: str, cookie: str, origin: str, action: Any, timeout: float = 2.0) -> int | None:
    """Open a staff stream, run ``action()`` (in a thread), and return the close code the
    stream gets within ``timeout`` seconds (None if it stays open)."""
    async with ws_connect(url, proxy=None, additional_headers={"Cookie": cookie, "Origin": origin}) as ws:
        first = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert first["type"] == "snapshot" and "waiting" in first  # the staff view
        await asyncio.to_thread(action)
        try:
            while True:
                await asyncio.wait_for(ws.recv(), timeout)
        except ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd else None
        except TimeoutError:
            return None


def test_staff_streams_end_with_their_session(srv: ServerProcess) -> None:
    base, url = srv.base_url, srv.ws_url
    boss = login(base, "boss")

    def staff_stream_after(cookie: str, action: Any) -> int | None:
        return asyncio.run(_closed_within(url, cookie, base, action))

    clerk = login(base, "clerk1")
    assert staff_stream_after(clerk, lambda: http("POST", base + "/api/logout", {}, cookie=clerk)) == 1008

    clerk = login(base, "clerk2")
    assert (
        staff_stream_after(
            clerk, lambda: http("POST", base + "/api/admin/users/clerk2/disabled", {"disabled": True}, cookie=boss)
        )
        == 1008
    )
    http("POST", base + "/api/admin/users/clerk2/disabled", {"disabled": False}, cookie=boss)

    clerk = login(base, "clerk3")
    assert (
        staff_stream_after(
            clerk, lambda: http("POST", base + "/api/admin/users/clerk3/password", {"password": PASSWORD}, cookie=boss)
        )
        == 1008
    )

    # Closing the clerk's counter (an admin does it) ends the clerk's streams.
    clerk = login(base, "clerk4", 4)
    assert staff_stream_after(clerk, lambda: http("POST", base + "/api/counters/4/close", {}, cookie=boss)) == 1008

    # A stream whose session is fine stays open.
    clerk = login(base, "clerk5")
    assert staff_stream_after(clerk, lambda: http("GET", base + "/api/me", cookie=clerk)) is None


def test_a_counter_taken_over_ends_the_previous_clerks_streams(srv: ServerProcess) -> None:
    base = srv.base_url
    first = login(base, "clerk1", 5)

    def take_over() -> None:
        boss = login(base, "boss")
        assert http("POST", base + "/api/counters/5/close", {}, cookie=boss)[0] == 200
        login(base, "clerk2", 5)

    assert asyncio.run(_closed_within(srv.ws_url, first, base, take_over)) == 1008


def test_a_resync_rechecks_the_session(srv: ServerProcess) -> None:
    cookie = login(srv.base_url, "clerk3")
    config = load_config(srv.config_path)

    async def scenario() -> int | None:
        async with ws_connect(
            srv.ws_url, proxy=None, additional_headers={"Cookie": cookie, "Origin": srv.base_url}
        ) as ws:
            await ws.recv()
            # Signed out behind the server's back (a plain SQLite write: the server holds the
            # database's lock, so no motcua writer may open it), then a resync.
            with sqlite3.connect(config.resolve(config.server.database)) as conn:
                conn.execute("DELETE FROM sessions WHERE username = 'clerk3'")
            # The server re-reads accounts and sessions after its next account write: a sign-in.
            login(srv.base_url, "boss")
            await ws.send(json.dumps({"type": "resync"}))
            try:
                while True:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 3))
                    assert "waiting" not in msg, "a staff snapshot after the session ended"
            except ConnectionClosed as exc:
                return exc.rcvd.code if exc.rcvd else None

    assert asyncio.run(scenario()) == 1008
