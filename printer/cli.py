"""``motcua print-test PRINTER_URL``: print one sample ticket and say plainly how it went.

The ``motcua`` command line (queue_server.cli) parses the arguments and calls
``print_test``; its return value is the exit code: 0 printed, 1 failed, 2 bad URL
or settings.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import TextIO

from printer.connect import DEFAULT_TIMEOUT, PrinterConfigError, open_printer
from printer.output import print_ticket, printer_status
from printer.render import MIN_WIDTH_PX, TicketInfo, render_ticket

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

# Every Vietnamese letter, so a glance at the test ticket shows the font works.
_VIETNAMESE_SAMPLE = "aàáảãạ ăằắẳẵặ âầấẩẫậ eèéẻẽẹ êềếểễệ iìíỉĩị oòóỏõọ ôồốổỗộ ơờớởỡợ uùúủũụ ưừứửữự yỳýỷỹỵ đ Đ ẤỀỂỖỰỸ"


def sample_ticket() -> TicketInfo:
    return TicketInfo(
        office_name="motcua – IN THỬ / PRINT TEST",
        service_name="Đất đai – Xây dựng (phiếu mẫu / sample)",
        label="A000",
        issued_at=datetime.now().strftime("%d/%m/%Y %H:%M"),
        people_ahead=0,
        estimated_wait_min=0,
        status_url="http://motcua.invalid/print-test",
        footer=_VIETNAMESE_SAMPLE,
        priority=False,
        lang="vi",
    )


def print_test(
    url: str,
    profile: str | None = None,
    width: int = 384,
    timeout: float = DEFAULT_TIMEOUT,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Print a sample ticket on ``url``; return the exit code and explain failures in both languages."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        open_printer(url, profile=profile, timeout=timeout)  # checks URL, profile, drivers
        image = render_ticket(sample_ticket(), width)
    except (PrinterConfigError, ValueError) as error:
        if not isinstance(error, PrinterConfigError):
            error = PrinterConfigError(
                f"width {width}: use 384 (58 mm) or 576 (80 mm), a multiple of 8 >= {MIN_WIDTH_PX}",
                f"độ rộng {width}: dùng 384 (58 mm) hoặc 576 (80 mm), bội số của 8 và ≥ {MIN_WIDTH_PX}",
            )
        print(f"Lỗi cấu hình máy in: {error.vi}\nPrinter setting error: {error}", file=err)
        return EXIT_USAGE

    status = printer_status(url, min(timeout, 2.0), profile=profile)
    paper = {
        "ok": "còn giấy / paper ok",
        "low": "sắp hết giấy / paper low",
        "out": "HẾT GIẤY / OUT OF PAPER",
        "unknown": "không rõ giấy / paper unknown",
    }[status.paper]
    state = "sẵn sàng / online" if status.online else "không kết nối / offline"
    print(f"Máy in / Printer {url}: {state}, {paper}" + (f" ({status.error})" if status.error else ""), file=out)

    result = print_ticket(url, image, profile=profile, timeout=timeout)
    if result.outcome == "printed":
        print(f"Đã gửi phiếu in thử tới {url} / Test ticket sent to {url}", file=out)
        return EXIT_OK
    if result.outcome == "failed_before_send":
        print(f"Lỗi: chưa gửi được gì tới máy in / Error: nothing was sent to the printer: {result.error}", file=err)
    else:
        print(
            "Lỗi: gửi dở dang, có thể đã in một phần phiếu / "
            f"Error: sending failed part way, part of a ticket may have printed: {result.error}",
            file=err,
        )
    return EXIT_FAILED
