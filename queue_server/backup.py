"""Database backups: ``motcua backup [DIR]`` and the daily automatic backup.

A backup is a consistent copy of the live database made with SQLite's online backup API
(``sqlite3.Connection.backup``) while the server keeps running: the copy is taken inside one
read transaction, so it holds exactly the commits made before it started — never half a
command. WAL mode lets the server's writer carry on during the copy.

Files are named ``<database stem>-YYYY-MM-DD_HHMMSS.db`` (local time) in the backup folder;
after each backup only the newest ``backup.keep`` of them are kept. Each copy is a single
self-contained file (journal mode DELETE) checked with ``PRAGMA quick_check`` before it is
given its final name, so a half-written file never looks like a backup.

Restoring (docs/backup.md): stop the server, copy the backup over the database file, delete
the database's ``-wal`` and ``-shm`` files, start the server.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import re
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from .config import Config
from .errors import MotcuaError, NotFound

if TYPE_CHECKING:
    from .office import Office

log = logging.getLogger("motcua.backup")

_STAMP = "%Y-%m-%d_%H%M%S"


class BackupFailed(MotcuaError):
    status = 500
    key = "backup_failed"


def _pattern(stem: str) -> re.Pattern[str]:
    return re.compile(re.escape(stem) + r"-\d{4}-\d{2}-\d{2}_\d{6}(?:-\d+)?\.db$")


def backups(folder: Path, stem: str) -> list[Path]:
    """The backups of database ``stem`` in ``folder``, oldest first."""
    if not folder.is_dir():
        return []
    pattern = _pattern(stem)
    return sorted(p for p in folder.iterdir() if pattern.match(p.name))


def backup_database(source: Path, folder: Path, keep: int, now: dt.datetime | None = None) -> Path:
    """Copy the database ``source`` into ``folder`` and prune to the newest ``keep`` copies.
    Returns the new file. Safe while the server writes to ``source``."""
    source = Path(source)
    if not source.is_file():
        # sqlite3.connect would quietly create an empty database.
        raise NotFound(f"Không có cơ sở dữ liệu {source}.", f"No database at {source}.", key="database_not_found")
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupFailed(
            f"Không tạo được thư mục sao lưu {folder}: {exc.strerror}",
            f"Cannot create the backup folder {folder}: {exc.strerror}",
        ) from None
    now = now or dt.datetime.now().astimezone()
    base = f"{source.stem}-{now.strftime(_STAMP)}"
    target = folder / f"{base}.db"
    n = 1
    while target.exists():
        target = folder / f"{base}-{n}.db"
        n += 1
    partial = target.with_name(target.name + ".part")
    partial.unlink(missing_ok=True)
    try:
        src = sqlite3.connect(str(source), timeout=30)
        try:
            dst = sqlite3.connect(str(partial))
            try:
                # pages=-1: the whole database in one step, inside one read transaction.
                src.backup(dst, pages=-1)
                dst.execute("PRAGMA journal_mode = DELETE")
                check = dst.execute("PRAGMA quick_check").fetchone()[0]
                if check != "ok":
                    raise BackupFailed(f"Bản sao lưu bị lỗi: {check}", f"Backup check failed: {check}")
            finally:
                dst.close()
        finally:
            src.close()
        with open(partial, "rb") as f:
            os.fsync(f.fileno())
        os.replace(partial, target)
    except (sqlite3.Error, OSError) as exc:
        partial.unlink(missing_ok=True)
        raise BackupFailed(f"Không sao lưu được: {exc}", f"Backup failed: {exc}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    for old in backups(folder, source.stem)[:-keep] if keep > 0 else []:
        old.unlink(missing_ok=True)
    return target


def backup_config(
    config: Config, folder: str | Path | None = None, keep: int | None = None, now: dt.datetime | None = None
) -> Path:
    """``backup_database`` with the database, folder and retention from ``config``."""
    target = Path(folder) if folder else config.resolve(config.backup.dir)
    local = now or dt.datetime.now(dt.UTC).astimezone(config.office.tz)
    return backup_database(
        config.resolve(config.server.database), target, keep if keep is not None else config.backup.keep, local
    )


def seconds_until(now: dt.datetime, daily_at: str, tz: ZoneInfo) -> float:
    """Seconds from ``now`` to the next ``daily_at`` (HH:MM) local time (never 0)."""
    local = now.astimezone(tz)
    at = dt.time.fromisoformat(daily_at)
    nxt = dt.datetime.combine(local.date(), at, tzinfo=tz)
    if nxt <= local:
        nxt = dt.datetime.combine(local.date() + dt.timedelta(days=1), at, tzinfo=tz)
    return (nxt - local).total_seconds()


async def backup_forever(office: Office) -> None:
    """The daily automatic backup at ``backup.daily_at`` (office local time); returns at
    once when it is "". Run it beside the server (``create_app(background=[...])``)."""
    while True:
        config = office.config  # re-read each day: the config may be reloaded live
        if not config.backup.daily_at:
            return
        await asyncio.sleep(seconds_until(office.clock(), config.backup.daily_at, config.office.tz))
        config = office.config
        try:
            path = await asyncio.to_thread(
                backup_database,
                office.database_path,
                config.resolve(config.backup.dir),
                config.backup.keep,
                office.clock().astimezone(config.office.tz),
            )
            log.info("daily backup written: %s", path)
        except Exception:
            log.exception("daily backup failed")
        # Never run twice within the same minute, whatever the clock does.
        await asyncio.sleep(61)
