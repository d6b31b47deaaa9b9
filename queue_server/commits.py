"""Group commit: commands that arrive together share one transaction and one fsync.

``Office.execute`` runs a command on the engine under the office lock, hands its events to
``GroupCommitter.submit`` and releases the lock; while the writer thread commits one batch,
the next commands run and queue up, and the queue is committed as the next batch
(``Store.commit_batch``: one ``BEGIN IMMEDIATE`` … ``COMMIT``, each command in a savepoint).

The caller's obligations and what it gets:

- Await the future ``submit`` returns before acknowledging the command: it resolves with the
  events' sequence numbers only after the batch's ``COMMIT`` returned (``synchronous=FULL``),
  and only after ``on_committed`` published them, so every command is durable before anyone
  hears of it, and events are published in sequence order.
- A command that fails inside a batch (its rows raise) changes nothing; the commands before
  and after it in the batch still commit. Its future raises. The engine then holds changes the
  database does not, so ``on_failed`` reloads it, and the commands queued behind the batch,
  which ran on that engine, fail too ("nothing was changed, try again").
- If the transaction itself fails (disk full, I/O error), every command of the batch and every
  command queued behind it fails, and ``on_failed`` reloads the engine.
- ``settled()`` waits until nothing is queued or being written. Whoever reads the engine to
  tell a screen the state (a snapshot) calls it while holding the office lock, so the
  snapshot never shows a change that is not yet durable, or that will fail.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from .engine import Event
from .errors import MotcuaError, Unavailable
from .store import Store

log = logging.getLogger("motcua.commits")


def storage_error() -> Unavailable:
    return Unavailable(
        "Lỗi lưu dữ liệu: thao tác chưa được thực hiện. Hãy thử lại.",
        "Storage error: nothing was changed. Please try again.",
        key="storage_error",
    )


@dataclass
class _Pending:
    events: list[Event]
    meta: dict[str, Any]
    extra: Callable[[sqlite3.Connection], None] | None
    future: asyncio.Future[list[int]]

    def fail(self, exc: BaseException) -> None:
        if not self.future.done():
            error = exc if isinstance(exc, MotcuaError) else storage_error()
            if error is not exc:
                error.__cause__ = exc
            self.future.set_exception(error)


class GroupCommitter:
    def __init__(
        self,
        store: Store,
        writer: Executor,
        on_committed: Callable[[list[Event], list[int]], None],
        on_failed: Callable[[], Awaitable[None]],
    ):
        self.store = store
        self.writer = writer
        self.on_committed = on_committed
        self.on_failed = on_failed
        self._queue: list[_Pending] = []
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._last: asyncio.Future[list[int]] | None = None
        # Figures for /healthz and the bench: batches written and commands in them.
        self.batches = 0
        self.commands = 0

    def submit(
        self, events: list[Event], meta: dict[str, Any], extra: Callable[[sqlite3.Connection], None] | None = None
    ) -> asyncio.Future[list[int]]:
        """Queue one command's events for the next batch (see the module docstring)."""
        future: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
        # A caller that went away (client disconnected) must not leave an unread error.
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._queue.append(_Pending(events, meta, extra, future))
        self._last = future
        self._idle.clear()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        return future

    def tail(self) -> asyncio.Future[list[int]] | None:
        """The last submitted command's future while it is not yet settled."""
        if self._queue:
            return self._queue[-1].future
        return self._last if self._last is not None and not self._last.done() else None

    async def settled(self) -> None:
        """Return when every submitted command is committed (or failed)."""
        await self._idle.wait()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                try:
                    results = await loop.run_in_executor(
                        self.writer, self.store.commit_batch, [(p.events, p.meta, p.extra) for p in batch]
                    )
                except Exception as exc:  # the transaction itself: nothing was written
                    log.exception("commit failed; reloading state from the database")
                    await self._fail_all(batch + self._take_queue(), exc)
                    continue
                self.batches += 1
                self.commands += len(batch)
                if any(isinstance(result, BaseException) for result in results):
                    # Memory holds the failed command's changes: rebuild it from the database
                    # (and fail the commands queued behind, which ran on it) before anyone
                    # of this batch is answered or hears of its events.
                    await self._fail_all(self._take_queue(), storage_error())
                for p, result in zip(batch, results):
                    if isinstance(result, BaseException):
                        if not isinstance(result, MotcuaError):
                            log.error("a command's rows failed to commit: %r", result)
                        p.fail(result)
                        continue
                    try:
                        self.on_committed(p.events, result)
                    except Exception:
                        log.exception("publishing committed events failed")
                    if not p.future.done():
                        p.future.set_result(result)
        finally:
            self._idle.set()

    def _take_queue(self) -> list[_Pending]:
        queued, self._queue = self._queue, []
        return queued

    async def _fail_all(self, pending: list[_Pending], exc: BaseException) -> None:
        try:
            await self.on_failed()
        except Exception:
            log.exception("reloading the engine failed")
        for p in pending:
            p.fail(exc)
