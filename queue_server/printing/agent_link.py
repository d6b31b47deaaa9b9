"""The server's end of the print-agent link (``/ws/printer``): the connected agents, sending
a job and waiting for its result, and reading what agents send. The messages are
``printer.protocol``'s, the same module ``printer.agent`` speaks on the other end.

A newer connection with the same token replaces an older one (an agent reconnecting over a
half-dead link). Results are matched by ``job_id``, not by connection: an agent that
reconnects sends the result of the job it was printing on its new connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from printer import protocol

from ..config import Printer
from .jobs import NO_CONFIRMATION, Delivery, Job

log = logging.getLogger("motcua.printing")

# An agent that neither answers a job nor disconnects within this long: no confirmation.
RESULT_TIMEOUT = 30.0


@dataclass(eq=False)
class AgentLink:
    """One connected print agent."""

    websocket: WebSocket
    token: str = ""  # the agent_token it connected with: a rotated token cuts the link
    closed: asyncio.Event = field(default_factory=asyncio.Event)


class AgentLinks:
    """Every connected agent, one per printer.

    ``on_status(printer_id, status)`` is called for each status message and
    ``on_connected(printer_id, connected)`` when a printer's agent comes or goes;
    ``on_unmatched(printer_id, result)`` gets results nobody is waiting for (a late result);
    ``is_ours(printer_id, job_id)`` tells whether a result may settle a waiting job.
    """

    def __init__(
        self,
        *,
        on_status: Callable[[str, protocol.Status], None],
        on_connected: Callable[[str, bool], None],
        on_unmatched: Callable[[str, protocol.Result], Awaitable[None]],
        is_ours: Callable[[str, int], bool],
    ) -> None:
        self._on_status = on_status
        self._on_connected = on_connected
        self._on_unmatched = on_unmatched
        self._is_ours = is_ours
        self._links: dict[str, AgentLink] = {}
        self._waiting: dict[int, asyncio.Future[tuple[Delivery, str | None]]] = {}

    def connected(self, printer_id: str) -> bool:
        return printer_id in self._links

    async def close_all(self) -> None:
        for link in list(self._links.values()):
            with contextlib.suppress(Exception):
                await link.websocket.close(code=1012)

    async def revoke(self, printers: list[Printer]) -> None:
        """Close every link whose printer is gone or whose ``agent_token`` changed since it
        connected (a token rotated from the admin screen locks the old agent out at once)."""
        tokens = {p.id: p.agent_token for p in printers}
        for printer_id, link in list(self._links.items()):
            if tokens.get(printer_id) != link.token:
                with contextlib.suppress(Exception):
                    await link.websocket.close(code=1008, reason="agent token changed")

    async def serve(self, websocket: WebSocket, printer: Printer) -> None:
        """Talk to one accepted agent connection until it closes."""
        link = AgentLink(websocket, printer.agent_token)
        old = self._links.get(printer.id)
        self._links[printer.id] = link
        if old is not None:
            with contextlib.suppress(Exception):
                await old.websocket.close(code=1000, reason="replaced by a newer connection")
        try:
            await websocket.send_text(protocol.encode(protocol.Hello(printer.id, printer.width)))
            self._on_connected(printer.id, True)
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                await self._receive(printer.id, message.get("text") or "")
        except (WebSocketDisconnect, ConnectionError, RuntimeError):
            pass
        finally:
            link.closed.set()
            if self._links.get(printer.id) is link:
                del self._links[printer.id]
                self._on_connected(printer.id, False)

    async def _receive(self, printer_id: str, text: str) -> None:
        try:
            message = protocol.read_agent_message(text)
        except protocol.ProtocolError as error:
            log.warning("printer %s: ignoring a message (%s): %.200r", printer_id, error, text)
            return
        if isinstance(message, protocol.Status):
            self._on_status(printer_id, message)
            return
        future = self._waiting.get(message.job_id)
        if future is not None and not future.done() and self._is_ours(printer_id, message.job_id):
            future.set_result((message.outcome, message.error))
        else:
            await self._on_unmatched(printer_id, message)

    async def send(self, p: Printer, job: Job) -> tuple[Delivery, str | None]:
        """Hand ``job`` (already ``sent``) to the printer's agent and wait for its result:
        (outcome, error), outcome ``no_confirmation`` when the agent went away or said
        nothing within ``RESULT_TIMEOUT``."""
        link = self._links.get(p.id)
        if link is None:
            return "failed_before_send", "print agent not connected"
        delivery = job.delivery_id
        future: asyncio.Future[tuple[Delivery, str | None]] = asyncio.get_running_loop().create_future()
        self._waiting[delivery] = future
        closed = asyncio.create_task(link.closed.wait())
        either: set[asyncio.Future[Any]] = {future, closed}
        try:
            await link.websocket.send_text(protocol.encode(protocol.Job(delivery, job.info, p.width)))
            await asyncio.wait(either, timeout=RESULT_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        except Exception as error:  # the connection broke while sending: it may have got there
            log.warning("printer %s: sending job %s to the agent failed: %s", p.id, job.id, error)
        finally:
            closed.cancel()
            self._waiting.pop(delivery, None)
        if future.done():
            return future.result()
        future.cancel()
        if link.closed.is_set():
            return "no_confirmation", f"{NO_CONFIRMATION}: the print agent disconnected"
        return "no_confirmation", f"{NO_CONFIRMATION}: the print agent did not answer in {RESULT_TIMEOUT:g} s"
