"""The print-agent wire protocol, both ends: ``printer.agent`` (the ``motcua-printer``
program) and the server's agent link (``queue_server.printing.agent_link``) build and read
messages only through this module.

Version
-------
``VERSION`` 1. The agent offers the WebSocket subprotocol ``SUBPROTOCOL``
(``motcua-printer.v1``) in its handshake; the server accepts it when offered. An agent that
offers no subprotocol (older agents) is spoken to in version 1 too. A later version gets a
new subprotocol name, so both ends always know which messages the other understands.

Messages (JSON text frames on ``ws(s)://HOST:PORT/ws/printer``)
----------------------------------------------------------------
The agent connects with the header ``Authorization: Bearer TOKEN``; a bad token is refused at
the handshake (HTTP 403).

server → agent, once after connecting::

    {"type": "hello", "printer_id": "kiosk-1", "width_px": 384}

server → agent, one ticket to print::

    {"type": "job", "job_id": 17, "ticket": {TicketInfo fields}, "width_px": 384 | null}

agent → server, once per job, after trying it::

    {"type": "result", "job_id": 17,
     "outcome": "printed" | "failed_before_send" | "failed_partial", "error": str | null}

agent → server, right after connecting and then every few seconds::

    {"type": "status", "online": bool, "paper": "ok" | "low" | "out" | "unknown",
     "error": str | null}

Reading is lenient where the rule allows it and strict where it matters: a status with an
unknown ``paper`` reads as ``"unknown"`` and a non-boolean ``online`` as offline, but a
result without an integer ``job_id`` or with an unknown ``outcome`` is refused
(``ProtocolError``) and logged by the caller, never guessed. A job's ``ticket`` is passed on
as it came: the agent answers a bad ticket with ``failed_before_send``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

VERSION = 1
SUBPROTOCOL = f"motcua-printer.v{VERSION}"
PATH = "/ws/printer"

Outcome = Literal["printed", "failed_before_send", "failed_partial"]
Paper = Literal["ok", "low", "out", "unknown"]
OUTCOMES: tuple[Outcome, ...] = ("printed", "failed_before_send", "failed_partial")
PAPERS: tuple[Paper, ...] = ("ok", "low", "out", "unknown")


class ProtocolError(ValueError):
    """A message that cannot be read as any message of this protocol version."""


@dataclass(frozen=True)
class Hello:
    printer_id: str
    width_px: int | None

    def to_json(self) -> dict[str, Any]:
        return {"type": "hello", "printer_id": self.printer_id, "width_px": self.width_px}


@dataclass(frozen=True)
class Job:
    job_id: int
    ticket: Any  # TicketInfo JSON; checked by the agent (a bad one is failed_before_send)
    width_px: Any = None  # int | None; as it came, checked by the agent like the ticket

    def to_json(self) -> dict[str, Any]:
        return {"type": "job", "job_id": self.job_id, "ticket": self.ticket, "width_px": self.width_px}


@dataclass(frozen=True)
class Result:
    job_id: int
    outcome: Outcome
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"type": "result", "job_id": self.job_id, "outcome": self.outcome, "error": self.error}


@dataclass(frozen=True)
class Status:
    online: bool
    paper: Paper
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"type": "status", "online": self.online, "paper": self.paper, "error": self.error}


ServerMessage = Hello | Job
AgentMessage = Result | Status


def encode(message: ServerMessage | AgentMessage) -> str:
    """The text frame for ``message``."""
    return json.dumps(message.to_json(), ensure_ascii=False)


def _object(raw: str | bytes) -> tuple[str, dict[str, Any]]:
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise ProtocolError("not JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError("not a JSON object")
    kind = data.get("type")
    return (kind if isinstance(kind, str) else repr(kind)), data


def _integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def read_server_message(raw: str | bytes) -> ServerMessage:
    """What the agent receives. Raises ``ProtocolError`` for anything else."""
    kind, data = _object(raw)
    if kind == "hello":
        width = _integer(data.get("width_px"))
        return Hello(printer_id=str(data.get("printer_id")), width_px=width if width and width > 0 else None)
    if kind == "job":
        job_id = _integer(data.get("job_id"))
        if job_id is None:
            raise ProtocolError("a job without an integer job_id")
        # width_px is passed on as it came (the agent refuses a bad one for that job only).
        return Job(job_id=job_id, ticket=data.get("ticket"), width_px=data.get("width_px"))
    raise ProtocolError(f"unknown message type {kind!r}")


def read_agent_message(raw: str | bytes) -> AgentMessage:
    """What the server receives. Raises ``ProtocolError`` for anything else."""
    kind, data = _object(raw)
    if kind == "status":
        paper = data.get("paper")
        return Status(
            online=data.get("online") is True,
            paper=paper if paper in PAPERS else "unknown",
            error=_text(data.get("error")),
        )
    if kind == "result":
        job_id, outcome = _integer(data.get("job_id")), data.get("outcome")
        if job_id is None or outcome not in OUTCOMES:
            raise ProtocolError("a result without an integer job_id and a known outcome")
        return Result(job_id=job_id, outcome=outcome, error=_text(data.get("error")))
    raise ProtocolError(f"unknown message type {kind!r}")
