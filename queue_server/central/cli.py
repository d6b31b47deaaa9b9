"""``motcua central``: serve the overview (default), ``import`` a bundle, ``pull`` once,
manage the central's ``user`` accounts. Also ``motcua --config central.toml report``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import BadRequest, MotcuaError
from .config import CentralConfig, load_central_config
from .store import CentralStore


def _store(config: CentralConfig) -> CentralStore:
    return CentralStore(config.resolve(config.central.database))


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config", dest="central_config", default=argparse.SUPPRESS, help="central.toml (default: the global --config)"
    )
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--log-level", default="info")
    sub = p.add_subparsers(dest="central_action")
    i = sub.add_parser("import", help="import an offline bundle written by `motcua export`")
    i.add_argument("file")
    i.add_argument("--config", dest="central_config", default=argparse.SUPPRESS)
    pl = sub.add_parser("pull", help="pull every site once (until caught up) and exit")
    pl.add_argument("--site", help="only this site id")
    pl.add_argument("--config", dest="central_config", default=argparse.SUPPRESS)
    u = sub.add_parser("user", help="the central's own admin accounts")
    u.add_argument("--config", dest="central_config", default=argparse.SUPPRESS)
    usub = u.add_subparsers(dest="user_action", required=True)
    a = usub.add_parser("add", help="add an account (password from a prompt or stdin)")
    a.add_argument("name")
    a.add_argument("--display-name")
    a.add_argument("--password-stdin", action="store_true")
    usub.add_parser("list", help="list accounts")
    for action in ("disable", "enable"):
        d = usub.add_parser(action)
        d.add_argument("name")
    pw = usub.add_parser("password", help="set a new password (ends its sessions)")
    pw.add_argument("name")
    pw.add_argument("--password-stdin", action="store_true")


def run(args: argparse.Namespace, read_password: Any) -> int:
    config = load_central_config(getattr(args, "central_config", None) or args.config)
    action = getattr(args, "central_action", None)
    if action == "import":
        from .pull import import_bundle

        if not Path(args.file).is_file():
            raise BadRequest(f"Không có tệp {args.file}.", f"No file {args.file}.", key="no_file")
        store = _store(config)
        try:
            result = import_bundle(config, store, args.file)
        finally:
            store.close()
        print(
            f"Đã nhập / imported: {result['site']}: {result['applied']} sự kiện mới / new events "
            f"(trong gói / in bundle: {result['events']}), con trỏ / cursor {result['cursor']}"
        )
        return 0
    if action == "pull":
        return asyncio.run(_pull_once(config, args.site))
    if action == "user":
        return _user(config, args, read_password)
    return _serve(config, args)


async def _pull_once(config: CentralConfig, only: str | None) -> int:
    from .pull import Puller

    store = _store(config)
    puller = Puller(config, store)
    failed = 0
    try:
        for site in config.sites:
            if not site.url or (only and site.id != only):
                continue
            try:
                applied = await puller.pull_site(site)
                print(f"{site.id}: +{applied} sự kiện / events, con trỏ / cursor {store.cursor(site.id)}")
            except MotcuaError as e:
                failed += 1
                print(f"{site.id}: {e.message} / {e.message_en}", file=sys.stderr)
    finally:
        await puller.stop()
        store.close()
    return 1 if failed else 0


def _user(config: CentralConfig, args: argparse.Namespace, read_password: Any) -> int:
    from . import accounts

    store = _store(config)
    try:
        if args.user_action == "add":
            accounts.add_user(store, args.name, read_password(args), args.display_name or "")
            print(f"Đã tạo tài khoản central / created central user: {args.name}")
        elif args.user_action == "list":
            for u in accounts.users(store):
                state = "khóa/disabled" if u["disabled"] else "hoạt động/active"
                print(f"{u['username']:<20} {state:<18} {u['display_name']}")
        elif args.user_action in ("disable", "enable"):
            accounts.set_disabled(store, args.name, args.user_action == "disable")
            print(f"{args.name}: {'đã khóa / disabled' if args.user_action == 'disable' else 'đã mở / enabled'}")
        elif args.user_action == "password":
            accounts.set_password(store, args.name, read_password(args))
            print(f"{args.name}: đã đổi mật khẩu / password changed")
    finally:
        store.close()
    return 0


def _serve(config: CentralConfig, args: argparse.Namespace) -> int:
    import uvicorn

    from .web import create_central_app

    host = args.host or config.central.host
    port = args.port or config.central.port
    print(f"motcua central: {config.central.name}, {len(config.sites)} điểm / sites — http://{host}:{port}/")
    uvicorn.run(
        create_central_app(config),
        host=host,
        port=port,
        ws="websockets-sansio",
        ws_ping_interval=10.0,
        ws_ping_timeout=10.0,
        ws_max_size=64 * 1024,
        ws_per_message_deflate=False,
        # uvicorn would believe X-Forwarded-For/-Proto from 127.0.0.1; only
        # central.trusted_proxies are (queue_server.guard.proxy_middleware).
        proxy_headers=False,
        log_level=args.log_level,
        timeout_graceful_shutdown=5,
    )
    return 0


def report(
    config_path: str,
    kind: str,
    date_from: str,
    date_to: str,
    by: str | None,
    fmt: str,
    output: str | None,
    sites: list[str] | None,
    dialect: str = "excel",
) -> str:
    """``motcua --config central.toml report``: a combined report of any kind, written like
    an office's (CSV through queue_server.csvout)."""
    from ..reports import filename, parse_date, to_csv, to_xlsx, write_out
    from . import kind_export, kind_reports
    from .reports import build_central_report

    config = load_central_config(config_path)
    if kind != "tickets":
        by = by or kind_reports.GROUPINGS.get(kind, ("month",))[0]
        kind_reports.check(kind, by)
    path = config.resolve(config.central.database)
    if not path.is_file():
        raise BadRequest(f"Không có cơ sở dữ liệu {path}.", f"No database at {path}.", key="no_database")
    start, end = parse_date(date_from), parse_date(date_to)
    if kind == "tickets":
        result = build_central_report(str(path), config, start, end, by or "day", sites)
        writer: Any = (to_csv, to_xlsx, filename)
    else:
        result = kind_reports.build_kind_report(str(path), config, kind, start, end, by or "month", sites)
        writer = (kind_export.to_csv, kind_export.to_xlsx, kind_export.filename)
    if fmt == "json":
        data = json.dumps(result, ensure_ascii=False, indent=2).encode("utf-8")
    elif fmt == "csv":
        data = writer[0](result, dialect)
    else:
        data = writer[1](result)
        output = output or writer[2](result, "xlsx")
    return write_out(data, output)
