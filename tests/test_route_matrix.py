"""The route × role matrix: for every route and method of the app's routing table, what each
role gets (rules in tests/route_rules.py). A new route without a rule fails here."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Mount, Route, WebSocketRoute
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from queue_server.app import create_app
from queue_server.config import load_config
from tests import route_rules
from tests.route_rules import FRESH_SESSION, PATH_OVERRIDES, PATH_VALUES, ROLES, RULES, WS_AGENT, WS_LIVE
from tests.support import KIOSK_TOKEN, ServerProcess, add_staff, login, write_config

AGENT_TOKEN = "agent-token-matrix-1234"
TABLET_TOKEN = "danh-gia-quay-2-doi-ma-nay"
PRINTERS = [{"id": "may-in-sanh", "url": "png://var/tickets", "width": 384, "agent_token": AGENT_TOKEN}]
STAFF = {"clerk2": "clerk", "clerk3": "clerk", "boss": "admin", "throwaway": "clerk"}


def app_routes(tmp_path: Path) -> list[tuple[str, str]]:
    """(method, path) of everything the app serves; ``WS`` for WebSocket routes."""
    app = create_app(load_config(write_config(tmp_path, printers=PRINTERS)))
    found: list[tuple[str, str]] = []
    for route in app.routes:
        if isinstance(route, Route):
            found += [(m, route.path) for m in sorted((route.methods or set()) - {"HEAD", "OPTIONS"})]
        elif isinstance(route, WebSocketRoute):
            found.append(("WS", route.path))
        elif isinstance(route, Mount):
            found.append(("GET", route.path))
    return found


def test_every_route_has_a_rule(tmp_path: Path) -> None:
    missing = [r for r in app_routes(tmp_path) if r not in RULES]
    assert not missing, f"routes without a rule in tests/route_rules.py (add one: who may call it?): {missing}"
    stale = [r for r in RULES if r not in app_routes(tmp_path)]
    assert not stale, f"rules for routes the app no longer has (remove them from tests/route_rules.py): {stale}"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("matrix")
    config_path = write_config(folder, printers=PRINTERS, sync={"token": "central-sync-token-12345"})
    add_staff(config_path, STAFF)
    proc = ServerProcess(folder, config_path).start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def credentials(srv: ServerProcess) -> dict[str, dict[str, str]]:
    return {
        "anonymous": {},
        "kiosk": {"token": KIOSK_TOKEN},
        "agent": {"token": AGENT_TOKEN},
        "tablet": {"token": TABLET_TOKEN},
        "other_clerk": {"cookie": login(srv.base_url, "clerk3", 3)},
        "clerk": {"cookie": login(srv.base_url, "clerk2", 2)},
        "admin": {"cookie": login(srv.base_url, "boss")},
    }


def fill(path: str) -> str:
    if path in PATH_OVERRIDES:
        return PATH_OVERRIDES[path]
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: PATH_VALUES.get(m.group(1), "1"), path)


def call(srv: ServerProcess, method: str, path: str, cred: dict[str, str]) -> tuple[int, Any]:
    """One request; state-changing ones carry the JSON body ``[]`` (400 after the check)."""
    import urllib.error
    import urllib.request

    data = b"[]" if method != "GET" else None
    req = urllib.request.Request(srv.base_url + fill(path), data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if "token" in cred:
        req.add_header("Authorization", f"Bearer {cred['token']}")
    if "cookie" in cred:
        req.add_header("Cookie", cred["cookie"])
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, r.read()[:200]
    except urllib.error.HTTPError as e:
        return e.code, e.read()[:200]


HTTP_RULES = sorted((m, p) for (m, p), rule in RULES.items() if m != "WS")


@pytest.mark.parametrize(("method", "path"), HTTP_RULES, ids=[f"{m} {p}" for m, p in HTTP_RULES])
def test_each_role_gets_what_the_rule_says(
    srv: ServerProcess, credentials: dict[str, dict[str, str]], method: str, path: str
) -> None:
    rule = RULES[(method, path)]
    assert isinstance(rule, dict)
    wrong = []
    for role in ROLES:
        cred = credentials[role]
        if (method, path) in FRESH_SESSION and "cookie" in cred:
            cred = {"cookie": login(srv.base_url, "throwaway")}
        status, body = call(srv, method, path, cred)
        expected = rule.get(role)
        if expected is None:
            if status in (401, 403) or status >= 500:
                wrong.append((role, "allowed", status, body))
        elif status != expected:
            wrong.append((role, expected, status, body))
    assert not wrong, f"{method} {path}: {wrong}"


async def _ws(url: str, headers: dict[str, str]) -> tuple[str, Any]:
    try:
        async with ws_connect(url, additional_headers=headers, proxy=None, open_timeout=5) as ws:
            return "open", json.loads(await asyncio.wait_for(ws.recv(), 5))
    except InvalidStatus as exc:
        return "refused", exc.response.status_code
    except ConnectionClosed as exc:
        return "closed", exc.rcvd.code if exc.rcvd else None


def test_websocket_routes_by_role(srv: ServerProcess, credentials: dict[str, dict[str, str]]) -> None:
    results: dict[tuple[str, str], tuple[str, Any]] = {}

    async def run_all() -> None:
        for (method, path), _rule in RULES.items():
            if method != "WS":
                continue
            for role in ROLES:
                cred = credentials[role]
                headers = {"Origin": srv.base_url}
                if "token" in cred:
                    headers["Authorization"] = f"Bearer {cred['token']}"
                if "cookie" in cred:
                    headers["Cookie"] = cred["cookie"]
                results[(path, role)] = await _ws(f"ws://127.0.0.1:{srv.port}{path}", headers)

    worker = threading.Thread(target=asyncio.run, args=(run_all(),))
    worker.start()
    worker.join(120)
    for (path, role), (kind, value) in results.items():
        rule = RULES[("WS", path)]
        if rule == WS_LIVE:
            assert kind == "open" and value["type"] == "snapshot", (path, role, kind, value)
            staff_view = "waiting" in value
            assert staff_view == (role in ("clerk", "other_clerk", "admin")), (path, role)
        elif rule == WS_AGENT:
            if role == "agent":
                assert kind == "open", (path, role, kind, value)
            else:
                assert (kind, value) in (("refused", 403), ("closed", 1008)), (path, role, kind, value)
    assert {p for p, _ in results} == {p for m, p in RULES if m == "WS"}


def test_the_rule_table_is_where_the_docs_say() -> None:
    from tests.support import ROOT

    assert "tests/route_rules.py" in (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    assert route_rules.__doc__ and "EVERY route" in route_rules.__doc__
