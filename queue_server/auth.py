"""Who may do what: staff accounts, sessions, device tokens and login throttling.

- Staff sign in with a password (scrypt hash from the standard library, random salt). The
  session lives in the ``sessions`` table; Starlette's signed cookie (HttpOnly,
  SameSite=Strict, Secure behind HTTPS) carries its random id. Session and account are
  re-read on every request, so signing out, disabling the account or changing its password
  ends the session at once, also for a copied cookie.
- Clerks act for the counter they signed on at; admins for any counter.
- Kiosks and print agents send their device token as ``Authorization: Bearer TOKEN``.
- The hall display and ticket status are public and read-only. Rating tablets send their
  device token (``[[rating_tablets]]``) and rate only for their own counter.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from starlette.requests import HTTPConnection

from .config import Config, Kiosk, Printer, RatingTablet
from .errors import BadRequest, Conflict, Forbidden, NotFound, TooManyRequests, Unauthorized
from .store import Store

ROLES = ("clerk", "admin")


class Accounts(Protocol):
    """Where sessions and accounts are looked up (from memory): ``Office``, or a ``Store``."""

    def get_user(self, username: str) -> dict[str, Any] | None: ...

    def has_session(self, sid: str, username: str) -> bool: ...


# scrypt cost: ~50 ms on a modest PC; slows guessing, still fine for a sign-in.
_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P)
    b64 = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))


# What validate_username accepts, as a pattern (Python's \w is a letter, a digit or "_"):
# the add-account form's schema.
USERNAME = r"^\s*[\w.\-]+\s*$"


def validate_username(name: str) -> str:
    name = name.strip()
    if not (1 <= len(name) <= 40) or not all(ch.isalnum() or ch in "._-" for ch in name):
        raise BadRequest(
            "Tên đăng nhập: 1-40 ký tự chữ, số, dấu . _ -", "Username: 1-40 letters, digits, . _ -", key="bad_username"
        )
    return name


def validate_password(password: str) -> str:
    if not 8 <= len(password) <= 200:
        raise BadRequest("Mật khẩu cần từ 8 đến 200 ký tự.", "Password needs 8 to 200 characters.", key="bad_password")
    return password


def add_user(store: Store, username: str, password: str, role: str, display_name: str = "") -> None:
    username = validate_username(username)
    validate_password(password)
    if role not in ROLES:
        raise BadRequest("Vai trò phải là clerk hoặc admin.", "Role must be clerk or admin.", key="bad_role")
    if store.get_user(username) is not None:
        raise Conflict(f"Tài khoản {username} đã tồn tại.", f"User {username} already exists.", key="user_exists")
    row = {
        "username": username,
        "display_name": display_name or username,
        "role": role,
        "password_hash": hash_password(password),
        "disabled": 0,
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
    }
    store.write(
        lambda c: c.execute(
            "INSERT INTO users (username, display_name, role, password_hash, disabled, created_at) "
            "VALUES (:username, :display_name, :role, :password_hash, :disabled, :created_at)",
            row,
        )
    )


def set_disabled(store: Store, username: str, disabled: bool) -> None:
    if store.get_user(username) is None:
        raise NotFound(f"Không có tài khoản {username}.", f"No user {username}.", key="user_not_found")

    def write(c: Any) -> None:
        c.execute("UPDATE users SET disabled = ? WHERE username = ?", (int(disabled), username))
        if disabled:
            c.execute("DELETE FROM sessions WHERE username = ?", (username,))

    store.write(write)


def set_password(store: Store, username: str, password: str) -> None:
    """A new password ends every session of the account (a stolen cookie stops working)."""
    validate_password(password)
    if store.get_user(username) is None:
        raise NotFound(f"Không có tài khoản {username}.", f"No user {username}.", key="user_not_found")
    digest = hash_password(password)

    def write(c: Any) -> None:
        c.execute("UPDATE users SET password_hash = ? WHERE username = ?", (digest, username))
        c.execute("DELETE FROM sessions WHERE username = ?", (username,))

    store.write(write)


def start_session(store: Store, username: str) -> str:
    """Record a new session; returns its id for the signed cookie."""
    sid = secrets.token_urlsafe(24)
    at = dt.datetime.now(dt.UTC).isoformat()
    store.write(
        lambda c: c.execute("INSERT INTO sessions (id, username, created_at) VALUES (?, ?, ?)", (sid, username, at))
    )
    return sid


def end_session(store: Store, sid: str) -> None:
    store.write(lambda c: c.execute("DELETE FROM sessions WHERE id = ?", (sid,)))


_dummy_hash: str | None = None


def dummy_hash() -> str:
    """A real scrypt hash of a random password: checking a sign-in for a missing or disabled
    account against it costs what a real check costs, so timing does not tell which
    usernames exist."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hash_password(secrets.token_urlsafe(16))
    return _dummy_hash


def check_login(user: dict[str, Any] | None, password: str) -> bool:
    """Whether ``password`` signs ``user`` in; the same scrypt work whether or not the
    account exists or is enabled."""
    ok = verify_password(password, user["password_hash"] if user is not None else dummy_hash())
    return ok and user is not None and not user["disabled"]


class LoginThrottle:
    """Failed sign-ins within ``window`` seconds: at most ``per_user`` for one username (from
    any address, so rotating addresses cannot guess one account's password) and
    ``per_address`` from one client address (any usernames). Past either, sign-in answers
    429 until the window has passed.

    The table is bounded: entries expire ``window`` seconds after their last failure, and
    beyond ``max_keys`` the least recently failing are forgotten first."""

    def __init__(
        self,
        per_user: int = 5,
        per_address: int = 20,
        window: float = 60.0,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.limits = {"user": per_user, "address": per_address}
        self.window = window
        self.max_keys = max_keys
        self.clock = clock
        self.failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()

    def _keys(self, username: str, address: str) -> list[tuple[str, str]]:
        return [("user", username), ("address", address)]

    def _recent(self, key: tuple[str, str], now: float) -> deque[float] | None:
        q = self.failures.get(key)
        if q is None:
            return None
        while q and now - q[0] > self.window:
            q.popleft()
        if not q:
            del self.failures[key]
            return None
        return q

    def check(self, username: str, address: str) -> None:
        now = self.clock()
        for key in self._keys(username, address):
            q = self._recent(key, now)
            if q is not None and len(q) >= self.limits[key[0]]:
                raise TooManyRequests(
                    "Đăng nhập sai quá nhiều lần: hãy đợi một phút.",
                    "Too many failed sign-ins: wait a minute.",
                    key="too_many_logins",
                )

    def failed(self, username: str, address: str) -> None:
        now = self.clock()
        for key in self._keys(username, address):
            q = self._recent(key, now) or deque(maxlen=max(self.limits.values()))
            q.append(now)
            self.failures[key] = q
            self.failures.move_to_end(key)
        self._expire(now)

    def succeeded(self, username: str, address: str) -> None:
        self.failures.pop(("user", username), None)

    def _expire(self, now: float) -> None:
        # Oldest last-failure first (move_to_end on every failure keeps that order).
        while self.failures:
            key, q = next(iter(self.failures.items()))
            if len(self.failures) <= self.max_keys and q and now - q[-1] <= self.window:
                break
            del self.failures[key]

    def __len__(self) -> int:
        return len(self.failures)


def current_user(conn: HTTPConnection, store: Accounts) -> dict[str, Any] | None:
    """The signed-in, enabled staff account of this request, or None."""
    if "session" not in conn.scope:
        return None
    username, sid = conn.session.get("user"), conn.session.get("sid")
    if not username or not isinstance(sid, str):
        return None
    return session_user(store, username, sid)


def session_user(store: Accounts, username: str, sid: str) -> dict[str, Any] | None:
    """The enabled account of session ``sid`` if that session still exists, else None."""
    if not store.has_session(sid, username):
        return None
    user = store.get_user(username)
    if user is None or user["disabled"]:
        return None
    return user


def require_user(conn: HTTPConnection, store: Accounts, role: str | None = None) -> dict[str, Any]:
    user = current_user(conn, store)
    if user is None:
        raise Unauthorized("Hãy đăng nhập.", "Please sign in.", key="login_required")
    if role == "admin" and user["role"] != "admin":
        raise Forbidden("Chỉ quản trị viên được làm việc này.", "Only an administrator may do this.", key="admin_only")
    return user


def require_counter(conn: HTTPConnection, store: Accounts, counter: int) -> dict[str, Any]:
    """The user acting for ``counter``: its signed-on clerk, or an admin."""
    user = require_user(conn, store)
    if user["role"] == "admin":
        return user
    if conn.session.get("counter") != counter:
        raise Forbidden(
            f"Bạn không đăng nhập tại quầy {counter}.",
            f"You are not signed on at counter {counter}.",
            key="wrong_counter",
        )
    return user


def bearer_token(conn: HTTPConnection) -> str | None:
    header = conn.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


T = TypeVar("T")


def _match(token: str | None, candidates: list[tuple[str, T]]) -> T | None:
    if not token:
        return None
    for expected, item in candidates:
        if expected and hmac.compare_digest(token.encode(), expected.encode()):
            return item
    return None


def require_kiosk(conn: HTTPConnection, config: Config) -> Kiosk:
    kiosk = _match(bearer_token(conn), [(k.token, k) for k in config.kiosks])
    if kiosk is None:
        raise Unauthorized(
            "Thiết bị chưa được cấp phép (mã kiosk sai hoặc thiếu).",
            "Unknown device: missing or wrong kiosk token.",
            key="device_token_required",
        )
    return kiosk


def require_rating_tablet(conn: HTTPConnection, config: Config, counter: int) -> RatingTablet:
    """The rating tablet sending this request, which must be counter ``counter``'s."""
    tablet: RatingTablet | None = _match(bearer_token(conn), [(r.token, r) for r in config.rating_tablets])
    if tablet is None:
        raise Unauthorized(
            "Thiết bị đánh giá chưa được cấp phép (mã thiết bị sai hoặc thiếu).",
            "Unknown device: missing or wrong rating tablet token.",
            key="device_token_required",
        )
    if tablet.counter != counter:
        raise Forbidden(
            f"Máy đánh giá này thuộc quầy {tablet.counter}, không phải quầy {counter}.",
            f"This rating tablet belongs to counter {tablet.counter}, not counter {counter}.",
            key="wrong_counter",
        )
    return tablet


def printer_for_agent(token: str | None, config: Config) -> Printer | None:
    return _match(token, [(p.agent_token, p) for p in config.printers])
