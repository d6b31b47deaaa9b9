"""``motcua``: serve, check-config, user, demo, print-test.

Errors are printed as one plain line (Vietnamese, then English) and exit with status 2;
no tracebacks for the IT person to decipher.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from pathlib import Path
from typing import Any

from .config import Config, load_config
from .errors import MotcuaError

DEFAULT_CONFIG = "config.toml"
# Where `motcua demo` keeps its simulated day (relative to config.toml); `user --demo` uses it.
DEMO_DATABASE = "var/demo.db"


def _config(args: argparse.Namespace) -> Config:
    return load_config(args.config)


def serve(
    config: Config, *, app: Any = None, host: str | None = None, port: int | None = None, log_level: str = "info"
) -> None:
    import uvicorn

    from .app import create_app
    from .wsraw import FrameWritingProtocol

    app = app or create_app(config)
    uvicorn.run(
        app,
        host=host or config.server.host,
        port=port if port is not None else config.server.port,
        # uvicorn's websockets sans-I/O protocol, letting the push hub write each frame
        # straight to every screen (queue_server.wsraw); pings find dead screens within ~20 s.
        ws=FrameWritingProtocol,
        ws_ping_interval=10.0,
        ws_ping_timeout=10.0,
        ws_max_size=64 * 1024,
        # Compressing small JSON per screen buys nothing on a LAN and was half the server's
        # CPU per call with 230 screens (docs/benchmarks.md).
        ws_per_message_deflate=False,
        # X-Forwarded-* are handled inside the app, believed only from server.trusted_proxies
        # (uvicorn's default would believe anything from 127.0.0.1).
        proxy_headers=False,
        log_level=log_level,
        timeout_graceful_shutdown=5,
    )


def cmd_serve(args: argparse.Namespace) -> int:
    config = _config(args)
    print(f"motcua: {config.office.name} — http://{args.host or config.server.host}:{args.port or config.server.port}/")
    serve(config, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    from .central.config import is_central_config, load_central_config

    if is_central_config(args.config):
        central = load_central_config(args.config)
        print(f"OK: {central.path} — {len(central.sites)} điểm/sites")
        return 0
    config = _config(args)
    print(
        f"OK: {config.path} — {len(config.services)} lĩnh vực/services, {len(config.counters)} quầy/counters, "
        f"{len(config.kiosks)} kiosk, {len(config.printers)} máy in/printers"
    )
    return 0


def _store(config: Config, database: str | None = None):  # type: ignore[no-untyped-def]
    from .store import Store

    return Store(Path(database) if database else config.resolve(config.server.database))


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Mật khẩu / Password: ")
    if getpass.getpass("Nhập lại / Repeat: ") != first:
        raise MotcuaError("Hai lần nhập mật khẩu không khớp.", "The two passwords differ.", key="password_mismatch")
    return first


def _list_users(config: Config, database: str | None) -> None:
    """Read-only: works while the server runs (it takes no lock)."""
    from .store import connect

    path = Path(database) if database else config.resolve(config.server.database)
    if not path.is_file():
        raise MotcuaError(f"Chưa có cơ sở dữ liệu {path}.", f"No database at {path} yet.", key="no_database")
    conn = connect(path, readonly=True)
    try:
        rows = conn.execute("SELECT username, role, disabled, display_name FROM users ORDER BY username").fetchall()
    finally:
        conn.close()
    for username, role, disabled, display_name in rows:
        state = "khóa/disabled" if disabled else "hoạt động/active"
        print(f"{username:<20} {role:<6} {state:<18} {display_name}")


def cmd_user(args: argparse.Namespace) -> int:
    from . import auth

    config = _config(args)
    database = args.database or (str(config.resolve(DEMO_DATABASE)) if args.demo else None)
    if args.action == "list":
        _list_users(config, database)
        return 0
    # Writes take the database's lock: refused, naming the PID, while a server runs on it.
    store = _store(config, database)
    try:
        if args.action == "add":
            auth.add_user(store, args.name, _read_password(args), args.role, args.display_name or "")
            print(f"Đã tạo tài khoản / created user: {args.name} ({args.role})")
        elif args.action in ("disable", "enable"):
            auth.set_disabled(store, args.name, args.action == "disable")
            print(f"{args.name}: {'đã khóa / disabled' if args.action == 'disable' else 'đã mở / enabled'}")
        elif args.action == "password":
            auth.set_password(store, args.name, _read_password(args))
            print(f"{args.name}: đã đổi mật khẩu / password changed")
    finally:
        store.close()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import demo_app

    config = _config(args)
    app = demo_app(config, speed=args.speed, database=Path(args.database) if args.database else None)
    from .demo import DEMO_ADMIN, DEMO_PASSWORD

    clerks = ", ".join(f"demo{c.number}" for c in config.counters)
    print(
        f"motcua demo: {config.office.name}, clock ×{args.speed} — http://{args.host or config.server.host}:"
        f"{args.port or config.server.port}/\n"
        f"  Quản trị / admin (báo cáo / reports: /admin): {DEMO_ADMIN} / {DEMO_PASSWORD}\n"
        f"  Cán bộ / clerks (/counter/N): {clerks} / {DEMO_PASSWORD}  (demoN at counter N)\n"
        f"  Database: {args.database or config.resolve(DEMO_DATABASE)} (recreated at each start; "
        f"add accounts from /admin while it runs)",
        flush=True,
    )
    serve(config, app=app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def cmd_print_test(args: argparse.Namespace) -> int:
    from printer.cli import print_test

    return print_test(args.printer_url, args.profile or None, args.width, args.timeout)


def cmd_backup(args: argparse.Namespace) -> int:
    from .backup import backup_config

    config = _config(args)
    path = backup_config(config, args.dir, args.keep)
    print(f"Đã sao lưu / backup written: {path}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .central.config import is_central_config
    from .reports import run_command

    central = is_central_config(args.config)
    sites = [s for s in (args.site or "").split(",") if s] or None
    if not central and (args.by == "site" or args.site):
        raise MotcuaError(
            "--by site và --site chỉ dùng với central.toml.",
            "--by site and --site need a central.toml.",
            key="bad_group",
        )
    if central:
        from .central.cli import report

        where = report(
            args.config,
            args.kind,
            args.date_from,
            args.date_to,
            args.by,
            args.format,
            args.output,
            sites,
            args.csv_dialect,
        )
    elif args.kind in ("dossiers", "satisfaction"):
        from . import dossier_reports

        where = dossier_reports.run_command(
            _config(args), args.kind, args.date_from, args.date_to, args.by, args.format, args.output, args.csv_dialect
        )
    elif args.kind == "appointments":
        from .appointment_report import run_command as appointments_command

        if args.by not in (None, "day"):
            raise MotcuaError(
                "Báo cáo lịch hẹn của văn phòng theo ngày và lĩnh vực (--by day).",
                "An office's appointment report is by day and service (--by day).",
                key="bad_group",
            )
        where = appointments_command(
            _config(args), args.date_from, args.date_to, args.format, args.output, args.csv_dialect
        )
    else:
        if args.by in ("month", "procedure"):
            raise MotcuaError(
                f"--by {args.by} chỉ dùng với --kind dossiers hoặc satisfaction.",
                f"--by {args.by} is for --kind dossiers or satisfaction only.",
                key="bad_group",
            )
        where = run_command(
            _config(args), args.date_from, args.date_to, args.by or "day", args.format, args.output, args.csv_dialect
        )
    if where != "-":
        print(f"Đã ghi báo cáo / report written: {where}", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .sync import write_bundle

    result = write_bundle(_config(args), args.since, args.output)
    print(
        f"Đã xuất / exported {result['events']} sự kiện / events ({result['after']} → {result['next_after']}): "
        f"{result['path']}"
    )
    return 0


def cmd_central(args: argparse.Namespace) -> int:
    from .central.cli import run

    return run(args, _read_password)


def cmd_whatif(args: argparse.Namespace) -> int:
    from .whatif.cli import command

    return command(_config(args), args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="motcua", description="Hệ thống xếp hàng một cửa / one-stop queue system")
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="config.toml (default: ./config.toml)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="start the server")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--log-level", default="info")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("check-config", help="validate config.toml and exit")
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("user", help="staff accounts")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--database", help="SQLite file to use instead of server.database")
    where.add_argument(
        "--demo", action="store_true", help=f"the demo's database ({DEMO_DATABASE}, while `motcua demo` runs)"
    )
    usub = p.add_subparsers(dest="action", required=True)
    a = usub.add_parser("add", help="add an account (password from a prompt or stdin)")
    a.add_argument("name")
    a.add_argument("--role", choices=("clerk", "admin"), default="clerk")
    a.add_argument("--display-name")
    a.add_argument("--password-stdin", action="store_true")
    usub.add_parser("list", help="list accounts")
    for action in ("disable", "enable"):
        d = usub.add_parser(action, help=f"{action} an account")
        d.add_argument("name")
    pw = usub.add_parser("password", help="set a new password")
    pw.add_argument("name")
    pw.add_argument("--password-stdin", action="store_true")
    p.set_defaults(func=cmd_user)

    p = sub.add_parser("demo", help="sample office with a simulated, accelerated day")
    p.add_argument("--speed", type=float, default=20.0, help="clock acceleration (default 20×)")
    p.add_argument("--database", help=f"SQLite file (default: {DEMO_DATABASE} next to config.toml, recreated)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--log-level", default="warning")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("print-test", help="print a sample ticket")
    p.add_argument("printer_url", help="e.g. usb://0416:5011, tcp://192.168.1.50:9100, png://var/tickets")
    p.add_argument("--profile", default="")
    p.add_argument("--width", type=int, default=576)
    p.add_argument("--timeout", type=float, default=5.0)
    p.set_defaults(func=cmd_print_test)

    p = sub.add_parser("backup", help="online copy of the database (safe while serving); see docs/backup.md")
    p.add_argument("dir", nargs="?", help="backup folder (default: backup.dir in config.toml)")
    p.add_argument("--keep", type=int, help="how many backups to keep (default: backup.keep)")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("report", help="report figures for a date range: csv, xlsx or json (see docs/reports.md)")
    p.add_argument("--from", dest="date_from", required=True, help="first office day: DD/MM/YYYY or YYYY-MM-DD")
    p.add_argument("--to", dest="date_to", required=True, help="last office day (inclusive)")
    p.add_argument(
        "--kind",
        choices=("tickets", "dossiers", "satisfaction", "appointments"),
        default="tickets",
        help="tickets (default), dossiers (on-time figures), satisfaction (ratings) or appointments (bookings)",
    )
    p.add_argument(
        "--by",
        choices=("day", "site", "month", "service", "procedure", "counter", "staff", "hour"),
        help="group by. tickets: day (default), service, counter, staff, hour; dossiers: month (default), "
        "service, procedure, staff; satisfaction: month (default), service, staff, counter; appointments: day "
        "(default; by day and service). With a central.toml (docs/central.md) every kind also by site, and "
        "appointments by service",
    )
    p.add_argument("--site", help="central.toml only: site ids to include, comma-separated (default: all)")
    p.add_argument("--format", choices=("csv", "xlsx", "json"), default="csv")
    p.add_argument(
        "--csv-dialect",
        choices=("excel", "comma"),
        default="excel",
        help='CSV: "excel" (";" and decimal comma, as Vietnamese Excel reads it) or "comma"',
    )
    p.add_argument("--output", help="file to write (default: standard output; xlsx: bao-cao-….xlsx)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("export", help="signed offline bundle of events for the central (docs/central.md)")
    p.add_argument("--since", type=int, required=True, help="last event sequence number the central already has")
    p.add_argument("--output", required=True, help="bundle file to write (e.g. on a USB stick)")
    p.set_defaults(func=cmd_export)

    from .central.cli import add_arguments

    p = sub.add_parser("central", help="the central overview of many offices (central.toml; docs/central.md)")
    add_arguments(p)
    p.set_defaults(func=cmd_central)

    from .whatif.cli import add_arguments as whatif_arguments

    p = sub.add_parser("whatif", help="replay recorded days under other counter plans (docs/whatif.md)")
    whatif_arguments(p)
    p.set_defaults(func=cmd_whatif)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except MotcuaError as e:
        print(f"Lỗi: {e.message}\nError: {e.message_en}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
