"""What the central's overview shows, computed from the pulled rows: one line per site
(waiting now, longest wait, open counters, served and satisfaction today, when it was last
heard from) and a read-only monitor of one site, built only from its pulled events."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from .config import CentralConfig
from .store import CentralStore


def _when(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def _queued(t: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(t.get("queued_at") or t["issued_at"])


def site_row(config: CentralConfig, store: CentralStore, site_id: str, now: dt.datetime) -> dict[str, Any]:
    site = config.site(site_id)
    row = store.site_row(site_id)
    tickets, counters = store.live(site_id)
    today = row["day"]
    waiting = [t for t in tickets if t["state"] == "waiting" and t["day"] == today]
    oldest = min((_queued(t) for t in waiting), default=None)
    served = [t for t in tickets if t["state"] == "done" and t["day"] == today]
    info = json.loads(row["info"]) if row["info"] else {}
    levels = int(info.get("rating_levels") or 5)
    rated = [t["rating"] for t in tickets if t["day"] == today and t.get("rating") and 1 <= t["rating"] <= levels]
    heard = _when(row["last_heard"])
    silent_after = config.central.silent_after_seconds
    silent = heard is None or (now - heard).total_seconds() > silent_after
    local = heard.astimezone(config.tz) if heard else None
    status_vi = status_en = ""
    if heard is None:
        status_vi, status_en = "chưa liên lạc được", "never reached"
    elif silent:
        stamp = (
            local.strftime("%H:%M")
            if local and local.date() == now.astimezone(config.tz).date()
            else local.strftime("%H:%M %d/%m/%Y")
            if local
            else ""
        )
        status_vi, status_en = f"mất liên lạc từ {stamp}", f"out of contact since {stamp}"
    return {
        "id": site.id,
        "name": site.name,
        "office_name": info.get("name"),
        "day": today,
        "waiting": len(waiting),
        "longest_wait_s": round((now - oldest).total_seconds()) if oldest else 0,
        "open_counters": sum(1 for c in counters if c["state"] in ("open", "paused")),
        "counters": len(info.get("counters") or counters),
        "served_today": len(served),
        "rated_today": len(rated),
        "satisfied_today": round(sum(1 for r in rated if r >= levels - 1) / len(rated), 4) if rated else None,
        "last_heard": row["last_heard"],
        "last_heard_local": local.strftime("%H:%M:%S %d/%m/%Y") if local else None,
        "silent": silent,
        "status": status_vi,
        "status_en": status_en,
        "last_error": row["last_error"],
        "behind": row["behind"],
        "cursor": row["cursor"],
    }


def overview(config: CentralConfig, store: CentralStore, now: dt.datetime) -> dict[str, Any]:
    return {
        "type": "overview",
        "name": config.central.name,
        "now": now.isoformat(),
        "silent_after_s": config.central.silent_after_seconds,
        "sites": [site_row(config, store, s.id, now) for s in config.sites],
    }


def monitor(config: CentralConfig, store: CentralStore, site_id: str, now: dt.datetime) -> dict[str, Any]:
    """A read-only monitor of one site: counters, who waits for which service, latest calls."""
    row = site_row(config, store, site_id, now)
    info = json.loads(store.site_row(site_id)["info"] or "{}")
    tickets, counters = store.live(site_id)
    by_id = {t["id"]: t for t in tickets}
    staff_names = {u["username"]: u.get("display_name") or u["username"] for u in info.get("staff", [])}
    state = {c["number"]: c for c in counters}
    today = row["day"]
    counter_rows = []
    for c in info.get("counters") or [{"number": n, "name": f"Quầy {n}"} for n in sorted(state)]:
        s = state.get(c["number"], {})
        held = by_id.get(s.get("ticket_id")) if s.get("ticket_id") else None
        counter_rows.append(
            {
                "number": c["number"],
                "name": c["name"],
                "state": s.get("state") or "closed",
                "staff": s.get("staff"),
                "staff_name": staff_names.get(s.get("staff") or "", s.get("staff")),
                "pause_reason": s.get("pause_reason") or "",
                "ticket": {"label": held["label"], "state": held["state"], "service": held["service"]}
                if held
                else None,
                "served_today": sum(
                    1 for t in tickets if t["day"] == today and t["state"] == "done" and t.get("counter") == c["number"]
                ),
            }
        )
    services = []
    for s in info.get("services") or []:
        waiting = sorted(
            (t for t in tickets if t["service"] == s["code"] and t["state"] == "waiting" and t["day"] == today),
            key=lambda t: (not t.get("front"), t.get("queued_at") or "", t["id"]),
        )
        services.append(
            {
                "code": s["code"],
                "name": s["name"],
                "waiting": len(waiting),
                "next": [t["label"] for t in waiting[:5]],
                "longest_wait_s": round((now - min(_queued(t) for t in waiting)).total_seconds()) if waiting else 0,
            }
        )
    calls = sorted(
        (t for t in tickets if t.get("called_at") and t["day"] == today), key=lambda t: t["called_at"], reverse=True
    )[:10]
    return {
        "type": "monitor",
        "site": row,
        "counters": counter_rows,
        "services": services,
        "latest_calls": [
            {"label": t["label"], "counter": t.get("counter"), "at": t["called_at"], "state": t["state"]} for t in calls
        ],
    }
