"""A real motcua server (uvicorn) in a thread of the test process, so the test drives its
clock: appointment check-in depends on the time of day."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from queue_server import auth
from queue_server.app import create_app
from queue_server.config import Config
from queue_server.store import Store
from queue_server.wsraw import FrameWritingProtocol
from tests.support import PASSWORD, free_port


@contextmanager
def threaded_server(config: Config, database: Path, clock: Any, users: dict[str, str] | None = None) -> Iterator[str]:
    """Serve ``config`` on a free port until the block ends; yields the base URL."""
    store = Store(database)
    for name, role in (users or {}).items():
        if store.get_user(name) is None:
            auth.add_user(store, name, PASSWORD, role)
    store.close()
    app = create_app(config, database=database, clock=clock, printing=False)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            ws=FrameWritingProtocol,
            ws_per_message_deflate=False,
            log_level="warning",
            lifespan="on",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
