"""Pulling each site's sync feed: incremental (after the stored cursor), resumable (the
cursor commits with the page), idempotent (see ``store.CentralStore.ingest``).

A site that was unreachable catches up in pages of ``central.page_size`` events, one commit
per page, logging its progress; a failure is recorded on the site's row (the overview shows
it) and the next attempt starts from the last committed page.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import json
import logging
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import msgspec

from ..errors import MotcuaError, Unavailable
from ..sync import read_bundle
from .config import CentralConfig, Site
from .store import CentralStore

log = logging.getLogger("motcua.central")

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def fetch_page(
    site: Site,
    after: int,
    limit: int,
    timeout: float,
    context: ssl.SSLContext | None = None,
    rows_after: int | None = None,
) -> dict[str, Any]:
    """One GET of the site's sync feed (blocking; run it in a thread). ``context`` verifies
    HTTPS sites (a province CA: ``central.ca_file``); ``rows_after`` asks for the dossiers
    and booking slots changed after that row cursor too."""
    url = f"{site.url.rstrip('/')}/api/sync/events?after={after}&limit={limit}"
    if rows_after is not None:
        url += f"&rows_after={rows_after}"
    req = urllib.request.Request(
        url, headers={"Authorization": f"Bearer {site.token}", "Accept-Encoding": "gzip", "Accept": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as r:
            body = r.read()
            if r.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
    except urllib.error.HTTPError as e:
        try:
            detail = json.loads(e.read()).get("message_en", "")
        except ValueError:
            detail = ""
        raise Unavailable(
            f"Văn phòng {site.id} trả lời {e.code} {detail}".strip(),
            f"Site {site.id} answered {e.code} {detail}".strip(),
            key="site_refused",
        ) from None
    except (OSError, ValueError) as e:
        raise Unavailable(
            f"Không liên lạc được văn phòng {site.id}: {e}", f"Cannot reach site {site.id}: {e}", key="site_unreachable"
        ) from None
    try:
        # msgspec's decoder: a third of a catch-up's time went into json.loads.
        page = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise Unavailable(
            f"Văn phòng {site.id} trả lời không hợp lệ.",
            f"Site {site.id} sent an invalid answer.",
            key="site_bad_answer",
        ) from None
    if not isinstance(page, dict) or not isinstance(page.get("events"), list):
        raise Unavailable(
            f"Văn phòng {site.id} trả lời không hợp lệ.",
            f"Site {site.id} sent an invalid answer.",
            key="site_bad_answer",
        )
    page.setdefault("after", after)
    return page


class Puller:
    """Pulls every site with a URL on its own interval. ``on_change(site_id)`` runs (in the
    event loop) after each committed page, so the overview pushes at once."""

    def __init__(
        self,
        config: CentralConfig,
        store: CentralStore,
        *,
        clock: Clock = utc_now,
        on_change: Callable[[str], None] | None = None,
    ):
        self.config = config
        self.store = store
        self.clock = clock
        self.on_change = on_change
        # The one writer: pages from all sites commit one at a time in this thread.
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="central-writer")
        ca = config.central.ca_file
        self.ssl = ssl.create_default_context(cafile=str(config.resolve(ca))) if ca else None
        self._tasks: list[asyncio.Task[None]] = []

    async def pull_site(self, site: Site) -> int:
        """Pull ``site`` until it has nothing more. Returns the events applied."""
        loop = asyncio.get_running_loop()
        central = self.config.central
        applied = 0
        while True:
            cursor, rows_cursor = await loop.run_in_executor(self.writer, self.store.cursors, site.id)
            try:
                page = await asyncio.to_thread(
                    fetch_page, site, cursor, central.page_size, central.timeout_seconds, self.ssl, rows_cursor
                )
            except MotcuaError as e:
                error = f"{e.message} / {e.message_en}"
                await loop.run_in_executor(self.writer, self.store.note_failure, site.id, self.clock(), error)
                self._changed(site.id)
                raise
            result = await loop.run_in_executor(self.writer, self.store.ingest, site.id, page, self.clock())
            applied += result["applied"]
            self._changed(site.id)
            behind = max(0, int(page.get("snapshot_seq") or 0) - result["cursor"])
            if result["more"]:
                log.info("site %s: catching up, at event %d, %d to go", site.id, result["cursor"], behind)
            if not result["more"] or not (page["events"] or result["rows"]):
                await loop.run_in_executor(self.writer, self.store.roll_up)
                snapshot = int(page.get("snapshot_seq") or 0)
                if snapshot < cursor:
                    # The office's log is shorter than what the central has: its database
                    # was replaced (restored from an older backup, or a new install).
                    message = (
                        f"Nhật ký của {site.id} chỉ đến sự kiện {snapshot}, trước con trỏ {cursor} của central: "
                        "cơ sở dữ liệu của văn phòng đã được khôi phục hoặc thay mới? / "
                        f"Site {site.id}'s event log ends at {snapshot}, before the central's cursor {cursor}: "
                        "was its database restored or replaced? See docs/central.md."
                    )
                    log.warning("%s", message)
                    await loop.run_in_executor(self.writer, self.store.note_failure, site.id, self.clock(), message)
                    self._changed(site.id)
                return int(applied)

    def _changed(self, site_id: str) -> None:
        if self.on_change is not None:
            try:
                self.on_change(site_id)
            except Exception:
                log.exception("overview update failed")

    async def _loop(self, site: Site) -> None:
        while True:
            try:
                await self.pull_site(site)
            except MotcuaError as e:
                log.warning("%s", e.message_en)
            except Exception:
                log.exception("pull of site %s failed", site.id)
            await asyncio.sleep(self.config.interval(site))

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._loop(s)) for s in self.config.sites if s.url]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        self.writer.shutdown(wait=True)


def import_bundle(config: CentralConfig, store: CentralStore, path: str, clock: Clock = utc_now) -> dict[str, Any]:
    """``motcua central import FILE``: verify the signature (which names the site), then
    ingest. Twice, or over what was pulled already, it changes nothing."""
    site_id, page = read_bundle(path, {s.id: s.token for s in config.sites})
    # A bundle is a snapshot of the office at export time, ingested like a pulled page.
    result = store.ingest(site_id, page, clock())
    store.roll_up()
    return {"site": site_id, **result, "events": len(page.get("events") or [])}
