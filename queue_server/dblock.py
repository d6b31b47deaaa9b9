"""One writing process per database: an OS file lock held for the writer's whole life.

``DatabaseLock(path)`` locks ``<database>.lock`` next to the database (``fcntl.flock`` on
Linux and macOS, ``msvcrt.locking`` on Windows) and writes the holder's PID into it. A second
server, ``motcua demo`` or a writing command (``motcua user add``) on the same database gets
``DatabaseInUse``, naming the database and the PID that holds it. The operating system drops
the lock when the holder exits, also after kill -9 or a power cut, so a stale lock file never
blocks a restart. Read-only commands (``motcua report``, ``user list``, ``backup``) take no lock.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import IO

from .errors import Conflict

# Windows locks byte ranges and a locked range cannot be read: lock a byte far past the PID.
_WINDOWS_LOCK_OFFSET = 1 << 20


class DatabaseInUse(Conflict):
    key = "database_in_use"


def lock_path(database: str | Path) -> Path:
    return Path(f"{database}.lock")


class DatabaseLock:
    def __init__(self, database: str | Path):
        self.database = Path(database)
        self.path = lock_path(database)
        self.file: IO[str] | None = None
        self.acquire()

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (held open for the lock's life)
        try:
            _lock(f)
        except OSError:
            f.seek(0)
            holder = f.read(64).strip() or "?"
            f.close()
            raise DatabaseInUse(
                f"Cơ sở dữ liệu {self.database} đang được tiến trình PID {holder} sử dụng (một máy chủ motcua "
                "đang chạy?). Hãy dừng tiến trình đó trước, hoặc dùng một tệp dữ liệu khác.",
                f"The database {self.database} is in use by process PID {holder} (a motcua server running?). "
                "Stop that process first, or use another database file.",
                database=str(self.database),
                pid=holder,
            ) from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        self.file = f

    def release(self) -> None:
        if self.file is not None:
            try:
                _unlock(self.file)
            finally:
                self.file.close()
                self.file = None


def holder(database: str | Path) -> int | None:
    """The PID holding ``database``'s lock, or None if nobody does."""
    try:
        probe = DatabaseLock(database)
    except DatabaseInUse as e:
        pid = str(e.details.get("pid", ""))
        return int(pid) if pid.isdigit() else -1
    probe.release()
    return None


if sys.platform == "win32":
    import msvcrt

    def _lock(f: IO[str]) -> None:
        f.seek(_WINDOWS_LOCK_OFFSET)
        msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)

    def _unlock(f: IO[str]) -> None:
        f.seek(_WINDOWS_LOCK_OFFSET)
        msvcrt.locking(f.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(f: IO[str]) -> None:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(f: IO[str]) -> None:
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)
