"""The apology slip (phiếu xin lỗi và hẹn lại ngày trả kết quả) for a late dossier.

When a dossier cannot be returned on its due date the office apologises in writing and gives
a new date. The slip states the dossier, the original and the new date and the reason. It is
printed on the counter's thermal printer (``counters[].printer``; rendered with Pillow as a
raster image, like tickets, so Vietnamese prints on any printer) or shown as an A4 page the
browser prints (``/dossiers/{code}/apology``; Ctrl+P, or "Save as PDF").
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
from typing import Any

from . import dossiers, procedures
from .config import Config
from .errors import Conflict, NotFound
from .office import Office


def slip_lines(config: Config, d: dict[str, Any], today: dt.date) -> dict[str, str]:
    """Every text of the slip (the A4 page and the thermal slip say the same)."""
    if not d.get("new_due_date"):
        raise Conflict(
            f"Hồ sơ {d['code']} chưa được hẹn lại ngày trả.",
            f"Dossier {d['code']} has no new date.",
            key="not_extended",
        )
    proc = procedures.procedure(config, d["procedure"] or "")
    return {
        "office": config.office.name,
        "title": "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ",
        "code": f"Mã hồ sơ: {d['code']}",
        "procedure": f"Thủ tục: {proc.name if proc else (d['procedure'] or '')}",
        "received": f"Ngày tiếp nhận: {dossiers.vn_date(d['received_on'])}",
        "due": f"Ngày hẹn trả: {dossiers.vn_date(d['due_date'])}",
        "text": (
            f"{config.office.name} xin lỗi Ông/Bà vì hồ sơ trên chưa giải quyết xong đúng hẹn. "
            f"Lý do: {d['extend_reason'] or ''}."
        ),
        "new_due": f"Xin hẹn lại ngày trả kết quả: {dossiers.vn_date(d['new_due_date'])}",
        "closing": "Mong Ông/Bà thông cảm. Xin trân trọng cảm ơn!",
        "date": f"Ngày {dossiers.vn_date(today)}",
    }


def apology_html(config: Config, d: dict[str, Any], today: dt.date) -> str:
    s = {k: html.escape(v) for k, v in slip_lines(config, d, today).items()}
    return f"""<!doctype html>
<html lang="vi">
<head>
  <meta charset="utf-8">
  <title>Phiếu xin lỗi – {html.escape(d["code"])}</title>
  <link rel="stylesheet" href="/static/css/apology.css">
  <script type="module" src="/static/js/apology.js"></script>
</head>
<body class="apology">
  <article class="sheet" data-testid="apology">
    <header><p class="office">{s["office"]}</p><p class="date">{s["date"]}</p></header>
    <h1>{s["title"]}</h1>
    <dl>
      <div><dd>{s["code"]}</dd></div>
      <div><dd>{s["procedure"]}</dd></div>
      <div><dd>{s["received"]}</dd></div>
      <div><dd>{s["due"]}</dd></div>
    </dl>
    <p class="text">{s["text"]}</p>
    <p class="new-due">{s["new_due"]}</p>
    <p>{s["closing"]}</p>
    <footer><div>Người nộp hồ sơ<br><small>(ký, ghi rõ họ tên)</small></div>
            <div>Cán bộ tiếp nhận<br><small>(ký, ghi rõ họ tên)</small></div></footer>
  </article>
  <p class="no-print"><button id="print" type="button">In phiếu (A4) / Print</button></p>
</body>
</html>
"""


def render_slip(config: Config, d: dict[str, Any], today: dt.date, width: int) -> Any:
    """The slip as a mode "1" image ``width`` dots wide, for a thermal printer."""
    from printer.render import _rule, _stack, _text_block

    s = slip_lines(config, d, today)
    margin = max(8, width // 32)
    unit = width / 384
    blocks: list[Any] = [
        int(8 * unit),
        _text_block(s["office"], width, margin, round(20 * unit), bold=True),
        int(6 * unit),
        _text_block(s["title"], width, margin, round(22 * unit), bold=True),
        int(6 * unit),
        _rule(width, margin),
        int(6 * unit),
    ]
    for key in ("code", "procedure", "received", "due", "text"):
        blocks += [_text_block(s[key], width, margin, round(18 * unit)), int(4 * unit)]
    blocks += [
        int(4 * unit),
        _text_block(s["new_due"], width, margin, round(22 * unit), bold=True),
        int(6 * unit),
        _text_block(s["closing"], width, margin, round(18 * unit)),
        int(4 * unit),
        _text_block(s["date"], width, margin, round(16 * unit)),
        int(24 * unit),
    ]
    return _stack(blocks, width)


async def print_apology(office: Office, d: dict[str, Any], counter: int, today: dt.date) -> dict[str, Any]:
    """Print the slip on counter ``counter``'s printer; says how it went."""
    from printer.output import print_ticket

    try:
        c = office.config.counter(counter)
    except KeyError:
        raise NotFound(f"Không có quầy {counter}.", f"No counter {counter}.", key="counter_not_found") from None
    printer = next((p for p in office.config.printers if p.id == c.printer), None)
    if printer is None:
        raise Conflict(
            f"Quầy {counter} không có máy in: hãy in phiếu khổ A4.",
            f"Counter {counter} has no printer: print the A4 slip instead.",
            key="no_printer",
        )
    if printer.agent_token:
        raise Conflict(
            "Máy in này do máy in trạm (agent) điều khiển: hãy in phiếu khổ A4.",
            "This printer is driven by a print agent: print the A4 slip instead.",
            key="no_printer",
        )
    image = render_slip(office.config, d, today, printer.width)
    url = printer.url
    if url.startswith("png://"):
        url = "png://" + str(office.config.resolve(url[len("png://") :]))
    result = await asyncio.to_thread(
        print_ticket, url, image, profile=printer.profile or None, timeout=printer.timeout, kanji_off=printer.kanji_off
    )
    if result.outcome != "printed":
        raise Conflict(
            f"Không in được phiếu: {result.error}. Hãy in phiếu khổ A4.",
            f"The slip did not print: {result.error}. Print the A4 slip instead.",
            key="print_failed",
        )
    return {"printed": True, "printer": printer.id}
