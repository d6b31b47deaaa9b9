"""``motcua whatif``: replay recorded days under other counter plans, from the command line.

The agreement between the replay of the actual plan and what was measured is printed (to
standard error) with every run, so a leader sees how far to trust the variants.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..config import Config
from ..csvout import DEFAULT_DIALECT, DIALECTS
from ..errors import BadRequest
from ..reports import parse_date
from ..store import connect
from . import export
from .plan import load_plan_file
from .runner import Request, run
from .search import OBJECTIVES


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from", dest="date_from", required=True, help="first office day: DD/MM/YYYY or YYYY-MM-DD")
    p.add_argument("--to", dest="date_to", help="last office day, inclusive (default: --from)")
    p.add_argument("--plan", help="PLAN.toml with [[variants]] (see docs/whatif.md)")
    p.add_argument("--seeds", type=int, default=20, help="replays per day and plan (default 20)")
    p.add_argument("--recommend", action="store_true", help="search plan variants and show the three best")
    p.add_argument(
        "--objective",
        choices=OBJECTIVES,
        default="p90",
        help="with --recommend: p90 wait, balance of utilisation, or a weighted mix (default p90)",
    )
    p.add_argument("--weight", type=float, default=0.5, help="with --objective mix: the weight of p90 (0-1)")
    p.add_argument(
        "--budget",
        type=float,
        default=25.0,
        help="with --recommend: seconds for the whole run, search included (default 25)",
    )
    p.add_argument("--format", choices=("json", "csv", "xlsx"), default="json")
    p.add_argument(
        "--csv-dialect",
        choices=DIALECTS,
        default=DEFAULT_DIALECT,
        help='CSV for Excel in Vietnamese (";", decimal commas; default) or plain "comma"',
    )
    p.add_argument("--output", help="file to write (default: standard output; xlsx: mo-phong-….xlsx)")


def command(config: Config, args: argparse.Namespace) -> int:
    start = parse_date(args.date_from)
    end = parse_date(args.date_to) if args.date_to else start
    variants = load_plan_file(args.plan, config) if args.plan else []
    request = Request(
        start,
        end,
        variants,
        seeds=args.seeds,
        recommend=args.recommend,
        objective=args.objective,
        weight=args.weight,
        budget_s=args.budget,
    )
    request.check()
    path = config.resolve(config.server.database)
    if not path.is_file():
        raise BadRequest(f"Không có cơ sở dữ liệu {path}.", f"No database at {path}.", key="no_database")
    conn = connect(path, readonly=True)
    try:
        result = run(conn, config, request, _progress if sys.stderr.isatty() else None)
    finally:
        conn.close()
    if sys.stderr.isatty():
        print(file=sys.stderr)
    for line in export.agreement_lines(result):
        print(line, file=sys.stderr)
    if result.get("recommendation"):
        for line in recommendation_lines(result):
            print(line, file=sys.stderr)
    output = args.output
    if args.format == "json":
        data = export.to_json(result)
    elif args.format == "csv":
        data = export.to_csv(result, args.csv_dialect)
    else:
        data = export.to_xlsx(result, config.office.name)
        output = output or f"mo-phong-{result['from']}-{result['to']}.xlsx"
    if output in (None, "-"):
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        Path(output).write_bytes(data)
        print(f"Đã ghi kết quả / written: {output}", file=sys.stderr)
    return 0


def recommendation_lines(result: dict[str, Any]) -> list[str]:
    rec = result["recommendation"]
    lines = [f"Đề xuất / recommendation (tiêu chí/objective {rec['objective']}, {rec['seeds']} lần/seeds):"]
    for p in rec["plans"]:
        f = p["figures"]["overall"]
        share = f["within_15_share"]
        lines.append(
            f"  {p['name']}: {p['changes']} — chờ P90 {export.vn_number(f['p90_min'])} phút, "
            f"TB {export.vn_number(f['mean_min'])} phút, trong 15 phút "
            f"{export.vn_number(None if share is None else share * 100)}%"
        )
    return lines


def _progress(done: float, what: str) -> None:
    print(f"\r{done * 100:5.1f}% {what[:60]:<60}", end="", file=sys.stderr, flush=True)
