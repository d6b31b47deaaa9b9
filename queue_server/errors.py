"""Every error motcua raises on purpose.

The tree::

    MotcuaError                      base; carries an HTTP status and a message key
    ├── BadRequest (400)             malformed input: wrong type, missing field, bad JSON
    │   └── ConfigError              config.toml is wrong (raised at start, names the key)
    ├── Unauthorized (401)           no session or device token, or a wrong one
    ├── Forbidden (403)              signed in, but not allowed to do this
    ├── NotFound (404)               no such ticket, counter, service, user
    ├── Conflict (409)               a legal request the current state refuses
    │   ├── InvalidTransition        a ticket or counter move the state machine forbids
    │   └── StaleCheck               the state changed between a read and its check; retry
    ├── PayloadTooLarge (413)
    ├── TooManyRequests (429)
    └── Unavailable (503)            storage failed; nothing was changed

Each error has a ``key`` (stable, for programs), a Vietnamese ``message`` and an English
``message_en``. One handler in ``queue_server.app`` turns them into JSON
``{"error": key, "message": ..., "message_en": ...}``. Messages are written for the person
at the counter or the kiosk, not for the developer.
"""

from __future__ import annotations

from typing import Any


class MotcuaError(Exception):
    status = 400
    key = "error"

    def __init__(self, message: str, message_en: str, *, key: str | None = None, **details: Any):
        super().__init__(message_en)
        self.message = message
        self.message_en = message_en
        if key is not None:
            self.key = key
        self.details = details

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.key, "message": self.message, "message_en": self.message_en}
        if self.details:
            body["details"] = self.details
        return body


class BadRequest(MotcuaError):
    status = 400
    key = "bad_request"


class ConfigError(BadRequest):
    key = "config_error"


class Unauthorized(MotcuaError):
    status = 401
    key = "unauthorized"


class Forbidden(MotcuaError):
    status = 403
    key = "forbidden"


class NotFound(MotcuaError):
    status = 404
    key = "not_found"


class Conflict(MotcuaError):
    status = 409
    key = "conflict"


class StaleCheck(Conflict):
    """A check read facts for one state, and the state changed before it ran: read again."""

    key = "state_changed"


class InvalidTransition(Conflict):
    key = "invalid_transition"


class PayloadTooLarge(MotcuaError):
    status = 413
    key = "payload_too_large"


class TooManyRequests(MotcuaError):
    status = 429
    key = "too_many_requests"


class Unavailable(MotcuaError):
    status = 503
    key = "unavailable"
