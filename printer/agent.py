"""``motcua-printer``: drive a ticket printer that hangs off another computer.

Run it on the PC the printer is plugged into (the kiosk, a counter PC)::

    motcua-printer --server http://192.168.1.10:8000 --token TOKEN --printer usb://0416:5011

It keeps one WebSocket open to the server, prints the jobs it is sent and reports
the printer's state. The server (``queue_server``) implements the other side.

The messages and their version are in ``printer.protocol`` (shared with the server).

Rules both sides rely on:

- The agent prints a ``job_id`` at most once and never retries on its own. A job
  whose ``job_id`` it has already handled is answered again with the stored
  result and not printed. To retry, the server sends a new ``job_id``.
- Jobs are printed one at a time in the order received.
- If the connection drops while a job is printing, the job finishes and its
  result is sent first thing after reconnecting. Jobs received but not yet
  started when the connection drops are dropped without a result: the server
  will not hear back about them and decides what to do.
- Unknown message types are logged and ignored; a job with an invalid ticket
  gets ``failed_before_send``.
- After the server goes away the agent reconnects with exponential backoff
  (1 s doubling to 30 s), forever, until stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from PIL import Image
from websockets.typing import Subprotocol

from printer import protocol
from printer.connect import DEFAULT_TIMEOUT, PrinterConfigError, parse_printer_url
from printer.output import PrinterStatus, PrintResult, print_ticket, printer_status
from printer.render import TicketInfo, render_ticket

log = logging.getLogger("motcua.printer.agent")

DEFAULT_WIDTH = 384
REMEMBERED_JOBS = 1000  # job_id → result kept to answer re-deliveries without printing


@dataclass(frozen=True)
class AgentConfig:
    server: str  # http(s):// or ws(s):// base URL of the motcua server
    token: str
    printer: str  # printer URL, see printer.connect
    profile: str | None = None
    width_px: int | None = None
    status_interval: float = 5.0
    print_timeout: float = DEFAULT_TIMEOUT
    kanji_off: bool = False
    backoff_min: float = 1.0
    backoff_max: float = 30.0
    open_timeout: float = 10.0

    @property
    def ws_url(self) -> str:
        return printer_ws_url(self.server)


def printer_ws_url(server: str) -> str:
    """``http://host:8000`` → ``ws://host:8000/ws/printer`` (https → wss; a path prefix is kept)."""
    parts = urlsplit(server)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme.lower())
    if scheme is None or not parts.netloc:
        raise ValueError(f"--server {server!r}: expected http://HOST:PORT")
    path = parts.path.rstrip("/") + protocol.PATH
    return urlunsplit((scheme, parts.netloc, path, "", ""))


PrintFn = Callable[..., PrintResult]
StatusFn = Callable[..., PrinterStatus]
RenderFn = Callable[[TicketInfo, int], Image.Image]


class JobHandler:
    """The agent's decisions, without any network: ``protocol.Job`` in, ``protocol.Result`` out.

    ``handle_job`` blocks while printing (run it in a thread from asyncio). It
    prints each ``job_id`` at most once; a repeated ``job_id`` returns the stored
    result.
    """

    def __init__(
        self,
        config: AgentConfig,
        *,
        render: RenderFn = render_ticket,
        print_fn: PrintFn = print_ticket,
        status_fn: StatusFn = printer_status,
    ) -> None:
        self.config = config
        self.hello_width: int | None = None
        self._render = render
        self._print = print_fn
        self._status = status_fn
        self._results: collections.OrderedDict[int, protocol.Result] = collections.OrderedDict()

    def width_for(self, job: protocol.Job) -> int:
        width = job.width_px or self.config.width_px or self.hello_width or DEFAULT_WIDTH
        if not isinstance(width, int) or isinstance(width, bool):
            raise ValueError(f"width_px must be an integer, not {width!r}")
        return width

    def already_handled(self, job_id: int) -> protocol.Result | None:
        return self._results.get(job_id)

    def handle_job(self, job: protocol.Job) -> protocol.Result:
        """Print one job and return its result."""
        previous = self._results.get(job.job_id)
        if previous is not None:
            log.warning("job %s was already handled (%s); not printing it again", job.job_id, previous.outcome)
            return previous
        try:
            info = TicketInfo.from_json(job.ticket)
            image = self._render(info, self.width_for(job))
        except (TypeError, ValueError) as error:
            result = PrintResult("failed_before_send", f"invalid job: {error}")
        except Exception as error:  # a bug in rendering must still get the job an answer
            log.exception("job %s: rendering failed", job.job_id)
            result = PrintResult("failed_before_send", f"rendering failed: {_describe(error)}")
        else:
            try:
                result = self._print(
                    self.config.printer,
                    image,
                    profile=self.config.profile,
                    timeout=self.config.print_timeout,
                    kanji_off=self.config.kanji_off,
                )
            except Exception as error:  # print_ticket does not raise; be safe anyway
                log.exception("job %s: printing raised", job.job_id)
                result = PrintResult("failed_partial", f"printing raised: {_describe(error)}")
        message = protocol.Result(job.job_id, result.outcome, result.error)
        self._results[job.job_id] = message
        while len(self._results) > REMEMBERED_JOBS:
            self._results.popitem(last=False)
        if result.outcome == "printed":
            label = job.ticket.get("label") if isinstance(job.ticket, dict) else None
            log.info("job %s printed (ticket %s)", job.job_id, label)
        else:
            log.error("job %s %s: %s", job.job_id, result.outcome, result.error)
        return message

    def status_message(self) -> protocol.Status:
        """Ask the printer how it is (blocks up to a few seconds)."""
        status = self._status(self.config.printer, min(self.config.print_timeout, 2.0), profile=self.config.profile)
        return protocol.Status(status.online, status.paper, status.error)


class PrinterAgent:
    """Keeps the WebSocket to the server up and feeds its jobs to a ``JobHandler``."""

    def __init__(self, config: AgentConfig, handler: JobHandler | None = None) -> None:
        self.config = config
        self.handler = handler or JobHandler(config)
        self.connections = 0  # successful handshakes so far (tests and logs)
        self._printer_lock = asyncio.Lock()  # one job or status query at a time
        self._unsent: list[protocol.Result] = []  # results not yet handed to a connection
        self._unsent_changed = asyncio.Event()
        self._last_status: protocol.Status | None = None

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Connect, serve, reconnect with backoff; return when ``stop`` is set."""
        from websockets.asyncio.client import connect

        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        delay = self.config.backoff_min
        headers = {"Authorization": f"Bearer {self.config.token}"}
        while not stop.is_set():
            try:
                async with connect(
                    self.config.ws_url,
                    additional_headers=headers,
                    subprotocols=[Subprotocol(protocol.SUBPROTOCOL)],
                    open_timeout=self.config.open_timeout,
                    proxy=None,  # the server is on the office LAN
                    ping_interval=20,
                    ping_timeout=20,
                    close_timeout=2,
                ) as ws:
                    self.connections += 1
                    log.info("connected to %s", self.config.ws_url)
                    connected_at = loop.time()
                    await self._serve_until(ws, stop)
                    if stop.is_set():
                        return
                    log.warning("server closed the connection")
                    # Start the backoff over only after a session that lasted; a server
                    # that accepts and drops us at once is not hammered every second.
                    if loop.time() - connected_at >= self.config.backoff_max:
                        delay = self.config.backoff_min
            except asyncio.CancelledError:
                raise
            except Exception as error:  # refused, DNS, 401, timeouts, dropped connection…
                log.warning("cannot talk to %s: %s", self.config.ws_url, _describe(error))
            if stop.is_set():
                return
            log.info("reconnecting in %.1f s", delay)
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
                return
            except TimeoutError:
                pass
            delay = min(delay * 2, self.config.backoff_max)

    async def _serve_until(self, ws: Any, stop: asyncio.Event) -> None:
        jobs: asyncio.Queue[protocol.Job] = asyncio.Queue()
        tasks = [
            asyncio.create_task(self._receive(ws, jobs)),
            asyncio.create_task(self._work(jobs)),
            asyncio.create_task(self._send_results(ws)),
            asyncio.create_task(self._report_status(ws)),
            asyncio.create_task(stop.wait()),
        ]
        try:
            # Any task ending means the session is over (closed connection, stop, error).
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if jobs.qsize():
                log.warning("dropping %d job(s) not started before the connection ended", jobs.qsize())

    async def _receive(self, ws: Any, jobs: asyncio.Queue[protocol.Job]) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for raw in ws:
                self._on_message(raw, jobs)
        except ConnectionClosed:
            pass

    def _on_message(self, raw: str | bytes, jobs: asyncio.Queue[protocol.Job]) -> None:
        try:
            message = protocol.read_server_message(raw)
        except protocol.ProtocolError as error:
            log.warning("ignoring a message: %s: %.200r", error, raw)
            return
        if isinstance(message, protocol.Hello):
            self.handler.hello_width = message.width_px
            log.info("server says hello: printer_id=%s width_px=%s", message.printer_id, message.width_px)
        else:
            jobs.put_nowait(message)

    async def _work(self, jobs: asyncio.Queue[protocol.Job]) -> None:
        while True:
            job = await jobs.get()
            # Shielded: a job that started printing finishes and its result is kept,
            # even if the connection (and this task) goes away meanwhile.
            await asyncio.shield(self._run_job(job))

    async def _run_job(self, job: protocol.Job) -> None:
        async with self._printer_lock:
            log.info("job %s received", job.job_id)
            result = await asyncio.to_thread(self.handler.handle_job, job)
        self._unsent.append(result)
        self._unsent_changed.set()

    async def _send_results(self, ws: Any) -> None:
        while True:
            while self._unsent:
                await ws.send(protocol.encode(self._unsent[0]))
                self._unsent.pop(0)
            self._unsent_changed.clear()
            await self._unsent_changed.wait()

    async def _report_status(self, ws: Any) -> None:
        while True:
            async with self._printer_lock:
                message = await asyncio.to_thread(self.handler.status_message)
            if message != self._last_status:
                log.info(
                    "printer status: online=%s paper=%s%s",
                    message.online,
                    message.paper,
                    f" ({message.error})" if message.error else "",
                )
                self._last_status = message
            await ws.send(protocol.encode(message))
            await asyncio.sleep(self.config.status_interval)


def _describe(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="motcua-printer",
        description="Print motcua queue tickets on a printer attached to this computer.",
    )
    parser.add_argument("--server", required=True, help="motcua server, e.g. http://192.168.1.10:8000")
    parser.add_argument("--token", required=True, help="printer token from the server's admin page")
    parser.add_argument(
        "--printer",
        required=True,
        metavar="URL",
        help="usb://VID:PID, tcp://HOST[:9100], serial:///dev/ttyUSB0?baudrate=9600, "
        "file:///dev/usb/lp0, cups://NAME, win32://NAME or png://DIR",
    )
    parser.add_argument("--profile", default=None, help="python-escpos profile, e.g. POS-5890 or TM-T20II")
    parser.add_argument(
        "--width",
        type=int,
        default=None,
        metavar="PX",
        help="ticket width in dots: 384 for 58 mm paper, 576 for 80 mm (default: what the server says, else 384)",
    )
    parser.add_argument("--status-interval", type=float, default=5.0, metavar="SECONDS")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="give up on a printer that takes no data for this long",
    )
    parser.add_argument(
        "--kanji-off", action="store_true", help="send FS . before each ticket (printers that start in Kanji mode)"
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        force=True,  # python-escpos calls logging.basicConfig() when imported
    )
    try:
        parse_printer_url(args.printer)
        config = AgentConfig(
            server=args.server,
            token=args.token,
            printer=args.printer,
            profile=args.profile,
            width_px=args.width,
            status_interval=args.status_interval,
            print_timeout=args.timeout,
            kanji_off=args.kanji_off,
        )
        printer_ws_url(config.server)  # validates --server
    except (PrinterConfigError, ValueError) as error:
        print(f"motcua-printer: {error}", file=sys.stderr)
        return 2
    if args.width is not None and (args.width < 200 or args.width % 8):
        print("motcua-printer: --width must be a multiple of 8, e.g. 384 or 576", file=sys.stderr)
        return 2
    log.info("printer %s, server %s", config.printer, config.ws_url)
    try:
        asyncio.run(_run_until_signal(PrinterAgent(config)))
    except KeyboardInterrupt:
        pass
    return 0


async def _run_until_signal(agent: PrinterAgent) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # Windows: Ctrl+C raises KeyboardInterrupt
            pass
    await agent.run(stop)
    log.info("stopped")


if __name__ == "__main__":
    sys.exit(main())
