"""The central's own admin accounts and sessions, in the central's database: a site's staff
cannot sign in here, and a central admin has no account at any site. Passwords use the
same scrypt hashing as the offices (``queue_server.auth``)."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from typing import Any

from starlette.requests import HTTPConnection

from .. import auth
from ..errors import Conflict, NotFound
from .store import CentralStore


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def get_user(store: CentralStore, username: str) -> dict[str, Any] | None:
    cur = store.conn.execute(
        "SELECT username, display_name, password_hash, disabled FROM users WHERE username = ?", (username,)
    )
    row = cur.fetchone()
    return dict(zip(("username", "display_name", "password_hash", "disabled"), row)) if row else None


def add_user(store: CentralStore, username: str, password: str, display_name: str = "") -> None:
    username = auth.validate_username(username)
    auth.validate_password(password)
    if get_user(store, username) is not None:
        raise Conflict(f"Tài khoản {username} đã tồn tại.", f"User {username} already exists.", key="user_exists")
    digest = auth.hash_password(password)
    store.write(
        lambda c: c.execute(
            "INSERT INTO users (username, display_name, password_hash, disabled, created_at) VALUES (?, ?, ?, 0, ?)",
            (username, display_name or username, digest, _now()),
        )
    )


def set_password(store: CentralStore, username: str, password: str) -> None:
    auth.validate_password(password)
    if get_user(store, username) is None:
        raise NotFound(f"Không có tài khoản {username}.", f"No user {username}.", key="user_not_found")
    digest = auth.hash_password(password)

    def write(c: Any) -> None:
        c.execute("UPDATE users SET password_hash = ? WHERE username = ?", (digest, username))
        c.execute("DELETE FROM sessions WHERE username = ?", (username,))

    store.write(write)


def set_disabled(store: CentralStore, username: str, disabled: bool) -> None:
    if get_user(store, username) is None:
        raise NotFound(f"Không có tài khoản {username}.", f"No user {username}.", key="user_not_found")

    def write(c: Any) -> None:
        c.execute("UPDATE users SET disabled = ? WHERE username = ?", (int(disabled), username))
        if disabled:
            c.execute("DELETE FROM sessions WHERE username = ?", (username,))

    store.write(write)


def users(store: CentralStore) -> list[dict[str, Any]]:
    cur = store.conn.execute("SELECT username, display_name, disabled FROM users ORDER BY username")
    return [dict(zip(("username", "display_name", "disabled"), r)) for r in cur]


def check_password(store: CentralStore, username: str, password: str) -> dict[str, Any] | None:
    """The account ``password`` signs in, or None; the same scrypt work for a missing or
    disabled account (``auth.check_login``), so timing does not tell which usernames exist."""
    user = get_user(store, username)
    return user if auth.check_login(user, password) else None


def start_session(store: CentralStore, username: str) -> str:
    sid = secrets.token_urlsafe(24)
    store.write(
        lambda c: c.execute("INSERT INTO sessions (id, username, created_at) VALUES (?, ?, ?)", (sid, username, _now()))
    )
    return sid


def end_session(store: CentralStore, sid: str) -> None:
    store.write(lambda c: c.execute("DELETE FROM sessions WHERE id = ?", (sid,)))


async def current_user(conn: HTTPConnection, store: CentralStore) -> dict[str, Any] | None:
    """The signed-in account of this request, or None. The lookup runs in a thread, on a
    read-only connection of its own (it sees the last commit), never on the event loop."""
    if "session" not in conn.scope:
        return None
    username, sid = conn.session.get("user"), conn.session.get("sid")
    if not isinstance(username, str) or not isinstance(sid, str):
        return None
    return await asyncio.to_thread(session_user, store, username, sid)


def session_user(store: CentralStore, username: str, sid: str) -> dict[str, Any] | None:
    """The active account ``username`` when ``sid`` is one of its sessions (a committed read)."""
    db = store.reader()
    try:
        row = db.execute("SELECT 1 FROM sessions WHERE id = ? AND username = ?", (sid, username)).fetchone()
        if row is None:
            return None
        found = db.execute(
            "SELECT username, display_name, disabled FROM users WHERE username = ?", (username,)
        ).fetchone()
    finally:
        db.close()
    if found is None or found[2]:
        return None
    return {"username": found[0], "display_name": found[1]}
