"""Printers' state, sans I/O: how each printer is driven, what it last said about itself,
and what the public may be told of its trouble (``queue_server.printing.jobs`` uses it)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from ..config import Printer

# How a printer is driven: by this server, by a print agent (motcua-printer), or png://.
Mode = Literal["server", "agent", "virtual"]


@dataclass
class PrinterState:
    id: str
    mode: Mode
    online: bool | None = None  # None: not known yet
    paper: str = "unknown"
    error: str | None = None
    checked_at: dt.datetime | None = None
    last_success_at: dt.datetime | None = None
    last_error_at: dt.datetime | None = None
    agent_connected: bool | None = None  # None for printers without an agent

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for k in ("checked_at", "last_success_at", "last_error_at"):
            d[k] = d[k].isoformat() if d[k] else None
        return d

    @property
    def problem(self) -> str | None:
        """Why a job would wait or fail now, in one line; None when the printer looks fine."""
        if self.agent_connected is False:
            return "print agent not connected"
        if self.paper == "out":
            return self.error or "printer is out of paper"
        if self.online is False:
            return self.error or "printer offline"
        return None


def mode_of(p: Printer) -> Mode:
    return "agent" if p.agent_token else "virtual" if p.url.startswith("png://") else "server"


def public_error(error: str | None) -> str | None:
    """An error for the public audience (hall screens, phones): what kind of trouble, without
    device addresses or paths."""
    if not error:
        return None
    if "paper" in error:
        return "printer is out of paper"
    if "agent" in error:
        return "print agent not connected"
    return "printer error"


def status_changes(online: bool, paper: str, error: str | None, now: dt.datetime) -> dict[str, Any]:
    """A printer's state after it (or its agent) answered a status query."""
    changes: dict[str, Any] = {"online": online, "paper": paper, "checked_at": now}
    if online and paper != "out":
        # "did not answer the status request" is normal for many printers: not an error.
        changes["error"] = None
    else:
        changes.update(error=error, last_error_at=now)
    return changes
