"""Fake port-9100 printers on 127.0.0.1, for tests.

Each ``FakePrinter`` listens on a free loopback port in a background thread and
behaves one way:

``accept``      reads everything and records it per connection (``jobs``); answers
                DLE EOT status queries with ``status_printer`` / ``status_paper``.
``hang``        accepts connections but never reads, so a large write blocks and
                the sender's timeout fires.
``close_mid_job`` reads ``close_after`` bytes, then closes the connection.

``paper_out()`` is an ``accept`` printer whose DLE EOT 4 answer says "roll paper end".
``refused_url()`` gives a tcp:// URL on which nothing listens.

Use as a context manager; everything stops (and every socket closes) on exit.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

STATUS_OK = 0x12  # bits 1 and 4 are always set in a DLE EOT answer
STATUS_OFFLINE = 0x1A  # DLE EOT 1, bit 3: offline
PAPER_NEAR_END = 0x1E  # DLE EOT 4, bits 2-3: roll paper near-end sensor
PAPER_END = 0x72  # DLE EOT 4, bits 5-6: roll paper end sensor

# Small receive buffers make "the printer stopped reading" show up quickly in
# the sender instead of after megabytes of kernel buffering.
SMALL_RCVBUF = 4096


class FakePrinter:
    def __init__(
        self,
        behaviour: str = "accept",
        *,
        status_printer: int | None = STATUS_OK,
        status_paper: int | None = STATUS_OK,
        close_after: int = 64,
    ) -> None:
        if behaviour not in ("accept", "hang", "close_mid_job"):
            raise ValueError(f"unknown behaviour {behaviour!r}")
        self.behaviour = behaviour
        self.status_printer = status_printer
        self.status_paper = status_paper
        self.close_after = close_after
        self.jobs: list[bytes] = []  # bytes received, one entry per connection
        self.status_queries: list[int] = []
        self.closed_connections = 0  # connections the sender closed (we read EOF)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if behaviour != "accept":
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_RCVBUF)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self.jobs)

    def received(self) -> bytes:
        with self._lock:
            return b"".join(self.jobs)

    def wait_for(self, predicate, timeout: float = 5.0) -> bool:
        """Poll ``predicate(self)`` until true or ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            time.sleep(0.01)
        return bool(predicate(self))

    # --- lifecycle -----------------------------------------------------------

    def __enter__(self) -> FakePrinter:
        self._spawn(self._accept_loop)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2)
        self._listener.close()
        with self._lock:
            for conn in self._conns:
                conn.close()

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            with self._lock:
                index = len(self.jobs)
                self.jobs.append(b"")
                self._conns.append(conn)
            self._spawn(self._serve, conn, index)

    # --- one connection ------------------------------------------------------

    def _record(self, index: int, data: bytes) -> None:
        with self._lock:
            self.jobs[index] += data

    def _serve(self, conn: socket.socket, index: int) -> None:
        conn.settimeout(0.05)
        if self.behaviour == "hang":
            self._stop.wait()
            return
        parser = _StatusScanner()
        received = 0
        while not self._stop.is_set():
            limit = 65536
            if self.behaviour == "close_mid_job":
                limit = self.close_after - received
            try:
                data = conn.recv(limit)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                with self._lock:
                    self.closed_connections += 1
                conn.close()
                return
            received += len(data)
            self._record(index, data)
            if self.behaviour == "close_mid_job" and received >= self.close_after:
                # Unread data is waiting: close() makes the kernel send a reset.
                conn.close()
                return
            for n in parser.feed(data):
                answer = self._answer(n)
                with self._lock:
                    self.status_queries.append(n)
                if answer is not None:
                    try:
                        conn.sendall(bytes([answer]))
                    except OSError:
                        return

    def _answer(self, n: int) -> int | None:
        if n == 1:
            return self.status_printer
        if n == 4:
            return self.status_paper
        return STATUS_OK


def paper_out() -> FakePrinter:
    return FakePrinter("accept", status_paper=PAPER_END)


def refused_url() -> str:
    """A tcp:// URL on 127.0.0.1 where nothing listens (the connection is refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"tcp://127.0.0.1:{port}"


class _StatusScanner:
    """Find DLE EOT n queries in a byte stream, skipping GS v 0 picture data."""

    def __init__(self) -> None:
        self._buf = b""
        self._skip = 0

    def feed(self, data: bytes) -> list[int]:
        queries: list[int] = []
        buf = self._buf + data
        i = 0
        while i < len(buf):
            if self._skip:
                step = min(self._skip, len(buf) - i)
                self._skip -= step
                i += step
                continue
            if buf[i] in (0x10, 0x1D) and len(buf) - i < 3:
                break  # maybe a command split across reads: wait for more
            if buf[i : i + 3] == b"\x1dv0":
                if len(buf) - i < 8:
                    break  # wait for the whole header
                self._skip = (buf[i + 4] | buf[i + 5] << 8) * (buf[i + 6] | buf[i + 7] << 8)
                i += 8
                continue
            if buf[i : i + 2] == b"\x10\x04":
                queries.append(buf[i + 2])
                i += 3
                continue
            i += 1
        self._buf = buf[i:]
        return queries
