"""Send one ticket image to a printer, and ask a printer how it is.

Both the server (for printers it drives itself) and the ``motcua-printer`` agent
call ``print_ticket``; it never retries. Retrying after a timeout is how a ticket
gets printed twice, so the caller (the server) decides, knowing the outcome:

``printed``
    every byte was handed over and the connection closed cleanly; for tcp://
    printers, the printer's TCP stack has acknowledged the last byte. A printer
    can still lose a job it took (power cut, paper out): check ``printer_status``.
``failed_before_send``
    nothing was sent (bad URL or profile, image too wide, connection refused,
    device missing). Safe to retry or send to another printer.
``failed_partial``
    the connection was open and sending had started when it failed (peer closed,
    the printer took no data for ``timeout`` seconds). Part of a ticket may have
    come out, or all of it later; a person should look before reprinting.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from escpos import printer as escpos_printer
from escpos.escpos import Escpos
from escpos.exceptions import ImageWidthError
from PIL import Image

from printer._raster import decode_raster
from printer.connect import (
    DEFAULT_TIMEOUT,
    PrinterConfigError,
    check_device,
    open_printer,
    own_profile,
    parse_printer_url,
)

__all__ = [
    "PrintResult",
    "PrinterStatus",
    "build_job",
    "decode_raster",
    "print_ticket",
    "printer_status",
]

log = logging.getLogger(__name__)

KANJI_OFF = b"\x1c\x2e"  # FS . — many Chinese printers power up in Kanji mode
DLE_EOT_PRINTER = b"\x10\x04\x01"
DLE_EOT_PAPER = b"\x10\x04\x04"
STATUS_TIMEOUT = 2.0

Outcome = Literal["printed", "failed_before_send", "failed_partial"]
Paper = Literal["ok", "low", "out", "unknown"]


@dataclass(frozen=True)
class PrintResult:
    outcome: Outcome
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "printed"


@dataclass(frozen=True)
class PrinterStatus:
    """``online``: the connection opened and the printer did not report itself offline.

    ``paper`` is "unknown" whenever the printer did not give a valid DLE EOT answer:
    python-escpos' ``paper_status()`` says "adequate" in that case, which we do not
    repeat.
    """

    online: bool
    paper: Paper
    error: str | None = None


def build_job(image: Image.Image, *, profile: str | None = None, kanji_off: bool = False, cut: bool = True) -> bytes:
    """Return the complete ESC/POS bytes for one ticket (built in memory, nothing sent)."""
    job = escpos_printer.Dummy(profile=profile)
    own_profile(job)
    media = job.profile.profile_data.setdefault("media", {}).setdefault("width", {})
    if media.get("pixels") in (None, "Unknown"):
        # Generic profile: the width is whatever we rendered (and python-escpos
        # would otherwise print a warning to stdout on every job).
        media["pixels"] = image.width
    if kanji_off:
        job._raw(KANJI_OFF)
    job.image(image, impl="bitImageRaster", center=False)
    if cut:
        job.cut()
    return bytes(job.output)


def _describe(error: BaseException) -> str:
    text = " ".join(str(error).split()) or "no details"
    return f"{type(error).__name__}: {text}"


def _open(url: str, profile: str | None, timeout: float) -> Escpos:
    printer = open_printer(url, profile=profile, timeout=timeout)
    if isinstance(printer, escpos_printer.File):
        # Checked again right before opening ("wb"): the path may have changed since.
        check_device(printer.devfile, must_exist=True)
        # A FIFO or an odd device can block in open().
        _within(timeout, "opening the device", printer.open, lambda: _close_quietly(printer))
    else:
        printer.open()
    if printer._device is None:  # some drivers log instead of raising
        raise OSError(f"could not open {url}")
    if isinstance(printer, escpos_printer.Serial) and printer._device:
        printer._device.write_timeout = timeout
    return printer


class _Stuck(TimeoutError):
    """A call into a device that has no timeout of its own did not return in time."""


def _within(timeout: float, what: str, call: Callable[[], None], cleanup: Callable[[], None]) -> None:
    """Run ``call`` in a helper thread and give up waiting after ``timeout`` seconds.

    Only for ``file://`` devices: a write to a printer device file blocks for as long
    as the printer does not take data, and Python cannot interrupt it. On timeout
    the thread is left behind (daemon) and runs ``cleanup`` (closing the device)
    once ``call`` finally returns; if the printer wakes up, it finishes the job then,
    which is why the outcome is ``failed_partial``.
    """
    failure: list[BaseException] = []
    lock = threading.Lock()
    state = {"done": False, "given_up": False}

    def run() -> None:
        try:
            call()
        except BaseException as error:
            failure.append(error)
        finally:
            with lock:
                state["done"] = True
                late = state["given_up"]
            if late:
                cleanup()

    thread = threading.Thread(target=run, name=f"motcua-{what}", daemon=True)
    thread.start()
    thread.join(timeout)
    with lock:
        if not state["done"]:
            state["given_up"] = True
            raise _Stuck(f"{what} did not finish within {timeout:g} s")
    if failure:
        raise failure[0]


def _send(printer: Escpos, data: bytes, timeout: float) -> None:
    # One write for the whole job: the only failure point after "connected".
    printer._raw(data)
    if isinstance(printer, escpos_printer.Network) and printer._device:
        _wait_until_taken(printer._device, timeout)
    # Closing flushes (file, serial) or submits (cups, win32): still part of sending.
    printer.close()


def _close_quietly(printer: Escpos) -> None:
    try:
        printer.close()
    except Exception as error:  # the job's outcome is already decided
        log.debug("closing printer failed: %s", _describe(error))


def print_ticket(
    url: str,
    image: Image.Image,
    *,
    profile: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    kanji_off: bool = False,
    cut: bool = True,
) -> PrintResult:
    """Print ``image`` once on the printer at ``url`` and say how it went. Never raises
    for printer problems and never retries (see the module docstring)."""
    try:
        data = build_job(image, profile=profile, kanji_off=kanji_off, cut=cut)
    except ImageWidthError as error:
        return PrintResult(
            "failed_before_send",
            f"the ticket is wider than profile {profile!r} can print ({error}): "
            "render it 384 dots wide for 58 mm paper, 576 for 80 mm",
        )
    except Exception as error:
        return PrintResult("failed_before_send", f"cannot build the print job: {_describe(error)}")
    try:
        printer = _open(url, profile, timeout)
    except PrinterConfigError as error:
        return PrintResult("failed_before_send", str(error))
    except Exception as error:
        return PrintResult("failed_before_send", f"cannot connect to {url}: {_describe(error)}")
    try:
        if isinstance(printer, escpos_printer.File):
            _within(
                timeout,
                "writing to the device",
                lambda: _send(printer, data, timeout),
                lambda: _close_quietly(printer),
            )
        else:
            _send(printer, data, timeout)
    except Exception as error:
        if not isinstance(error, _Stuck):  # a stuck device file would block close() too
            _close_quietly(printer)
        if isinstance(error, TimeoutError) and str(error) in ("", "timed out"):
            detail = f"timed out after {timeout:g} s"
        else:
            detail = _describe(error)
        log.warning("print job to %s failed after sending started: %s", url, detail)
        return PrintResult("failed_partial", f"sending to {url} failed part way: {detail}")
    log.info("printed %d bytes on %s", len(data), url)
    return PrintResult("printed", None)


def _unsent_bytes(sock: socket.socket) -> int | None:
    """Bytes still in our send queue, not yet acknowledged by the printer (Linux only)."""
    if sys.platform != "linux":
        return None
    import fcntl
    import struct
    import termios

    try:
        raw = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")  # == SIOCOUTQ
    except OSError:
        return None
    return int(struct.unpack("i", raw)[0])


def _wait_until_taken(sock: socket.socket, timeout: float) -> None:
    """Wait until the printer's TCP stack has acknowledged every byte of the job.

    ``sendall`` returns once the kernel has the bytes, and a kernel buffer can hold
    a whole ticket: a printer that stopped reading (jammed, hung) or that dropped
    the connection would otherwise look like "printed". Raises ``TimeoutError``
    when the printer takes no byte for ``timeout`` seconds, ``OSError`` when the
    connection was reset or closed by the printer.
    """
    last = _unsent_bytes(sock)
    deadline = time.monotonic() + timeout
    while True:
        failure = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if failure:
            raise OSError(failure, os.strerror(failure))
        pending = _unsent_bytes(sock)
        if not pending:
            break
        if last is None or pending < last:
            last, deadline = pending, time.monotonic() + timeout
        if time.monotonic() > deadline:
            raise TimeoutError(f"the printer took no data for {timeout:g} s ({pending} bytes left)")
        time.sleep(0.01)
    previous = sock.gettimeout()
    sock.settimeout(0.0)
    try:
        if sock.recv(1, socket.MSG_PEEK) == b"":
            raise ConnectionResetError(errno.ECONNRESET, "the printer closed the connection")
    except BlockingIOError:
        pass  # nothing to read and still connected: the normal case
    finally:
        sock.settimeout(previous)


def _status_byte(printer: Escpos, command: bytes) -> int | None:
    """Send one DLE EOT query; return the answer byte, or None for silence or garbage."""
    printer._raw(command)
    try:
        answer = printer._read()
    except TimeoutError:
        return None
    except OSError as error:
        # pyusb raises USBTimeoutError (an OSError subclass in recent versions).
        if "timeout" in type(error).__name__.lower() or "timed out" in str(error).lower():
            return None
        raise
    if not answer:
        return None
    byte = bytes(answer)[0]
    # Every DLE EOT answer has bits 1 and 4 set and bits 0 and 7 clear.
    return byte if byte & 0x93 == 0x12 else None


def printer_status(url: str, timeout: float = STATUS_TIMEOUT, *, profile: str | None = None) -> PrinterStatus:
    """Ask the printer (DLE EOT 1 and 4) whether it is online and has paper. A ``file://``
    device cannot answer, so it is not even opened: only checked to be a printer device."""
    try:
        parsed = parse_printer_url(url)
        if parsed.scheme == "file":
            check_device(parsed.target, must_exist=True)
            return PrinterStatus(True, "unknown", "this connection cannot read printer status")
    except PrinterConfigError as error:
        return PrinterStatus(False, "unknown", f"cannot connect to {url}: {error}")
    try:
        printer = _open(url, profile, timeout)
    except Exception as error:
        detail = str(error) if isinstance(error, PrinterConfigError) else _describe(error)
        return PrinterStatus(False, "unknown", f"cannot connect to {url}: {detail}")
    try:
        if isinstance(printer, escpos_printer.CupsPrinter):
            # CUPS answers for its queue, not the printer: b"8" means stopped.
            online = printer._read() != b"8"
            return PrinterStatus(online, "unknown", None if online else "CUPS queue is stopped")
        if type(printer)._read is Escpos._read:  # file://, win32://: write-only
            return PrinterStatus(True, "unknown", "this connection cannot read printer status")
        state = _status_byte(printer, DLE_EOT_PRINTER)
        if state is None:
            return PrinterStatus(True, "unknown", "printer did not answer the status request (DLE EOT)")
        online = not state & 0x08
        paper_byte = _status_byte(printer, DLE_EOT_PAPER)
        if paper_byte is None:
            paper: Paper = "unknown"
        elif paper_byte & 0x60:
            paper = "out"
        elif paper_byte & 0x0C:
            paper = "low"
        else:
            paper = "ok"
        problem = None
        if paper == "out":
            problem = "printer is out of paper"
        elif not online:
            problem = "printer reports it is offline (cover open, paper out or error)"
        return PrinterStatus(online, paper, problem)
    except Exception as error:
        return PrinterStatus(False, "unknown", f"status query to {url} failed: {_describe(error)}")
    finally:
        _close_quietly(printer)
