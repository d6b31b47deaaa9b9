"""A fake port-9100 thermal printer for the benchmark, in its own process.

    python bench/fake_printer.py PORT

Listens on 127.0.0.1:PORT, reads every job to the end (one connection per job, as the
server's ``tcp://`` printers send them) and answers ESC/POS DLE EOT status queries with
"online, paper present". On SIGTERM it prints ``{"jobs": N, "bytes": B}`` and exits. Its
own process, so the bytes it reads cost neither the server's CPU nor the bench clients'.
"""

from __future__ import annotations

import json
import signal
import socket
import sys
import threading
from typing import Any

STATUS_OK = bytes([0x12])  # a DLE EOT answer: bits 1 and 4 always set, nothing wrong


def serve(port: int) -> None:
    stats = {"jobs": 0, "bytes": 0}
    lock = threading.Lock()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)

    def job(conn: socket.socket) -> None:
        tail = b""
        received = 0
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    break
                if not data:
                    break
                received += len(data)
                window = tail + data
                # DLE EOT n: a status query; answer each one.
                for _ in range(window.count(b"\x10\x04")):
                    try:
                        conn.sendall(STATUS_OK)
                    except OSError:
                        break
                tail = data[-1:]
        with lock:
            stats["jobs"] += 1 if received > 64 else 0  # a bare status poll is not a job
            stats["bytes"] += received

    def stop(*_: Any) -> None:
        with lock:
            print(json.dumps(stats), flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    print("ready", flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=job, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    serve(int(sys.argv[1]))
