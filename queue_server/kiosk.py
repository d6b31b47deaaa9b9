"""What the kiosk needs beside issuing tickets: a check of its device token when the page
loads (so a wrong token shows an installer's error at once, not when a citizen taps), and
which counters serve each service (on the kiosk's buttons and on the printed ticket)."""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import Struct
from starlette.requests import Request
from starlette.routing import Route

from . import auth
from .answers import Answer
from .config import Config
from .openapi import KIOSK, operation
from .schemas import ref


def serving_counters(config: Config, code: str) -> list[int]:
    """The counters a citizen of service ``code`` is called to: those serving it at the
    primary or normal level; if none does, its backup counters. Sorted by number."""
    main = sorted(c.number for c in config.counters if c.services.get(code) in ("primary", "normal"))
    return main or sorted(c.number for c in config.counters if c.services.get(code) == "backup")


def counters_text(numbers: list[int], lang: str = "vi") -> str:
    """``[1, 2]`` → "Quầy 1, 2" ("Counter 1, 2" in English); "" for none."""
    if not numbers:
        return ""
    word = "Counter" if lang == "en" else "Quầy"
    return f"{word} {', '.join(str(n) for n in numbers)}"


async def kiosk_check(request: Request) -> Answer:
    """The kiosk this token belongs to; 401 with the usual message for a wrong or missing one."""
    config: Config = request.app.state.office.config
    kiosk = auth.require_kiosk(request, config)
    return Answer(msgspec.to_builtins(Kiosk(id=kiosk.id, name=kiosk.name, printer=kiosk.printer or None)))


routes = [Route("/api/kiosk", kiosk_check)]


class Kiosk(Struct, kw_only=True):
    """Which kiosk a device token belongs to."""

    id: str
    name: str
    printer: str | None


openapi_paths: dict[str, Any] = {
    "/api/kiosk": {
        "get": operation(
            "Check a kiosk's device token (the kiosk page does this when it loads): which kiosk it is",
            ref(Kiosk),
            errors=(401,),
            security=KIOSK,
        )
    },
}
