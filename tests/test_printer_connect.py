"""printer.connect and printer.output: printer URLs, sending jobs, status, against fake printers."""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
import tty
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from escpos import printer as escpos_printer
from escpos.capabilities import get_profile_class
from PIL import Image, ImageChops

from printer.cli import print_test
from printer.connect import (
    DEFAULT_TIMEOUT,
    PngPrinter,
    PrinterConfigError,
    PrinterURL,
    open_printer,
    parse_printer_url,
)
from printer.output import (
    PrinterStatus,
    PrintResult,
    build_job,
    decode_raster,
    print_ticket,
    printer_status,
)
from printer.render import TicketInfo, render_ticket
from tests.fakeprinter import (
    PAPER_NEAR_END,
    STATUS_OFFLINE,
    FakePrinter,
    paper_out,
    refused_url,
)

SHORT = 0.5  # seconds: every socket in these tests gives up quickly


def ticket_image(width: int = 384, **overrides: object) -> Image.Image:
    fields: dict[str, object] = {
        "office_name": "UBND phường Hồng Hà",
        "service_name": "Đất đai – Xây dựng",
        "label": "A1023",
        "issued_at": "28/11/2026 08:15",
        "people_ahead": 2,
        "estimated_wait_min": 9,
        "status_url": "http://192.168.1.10:8000/t/1",
        "footer": "Cảm ơn quý khách",
    }
    fields.update(overrides)
    return render_ticket(TicketInfo(**fields), width)  # type: ignore[arg-type]


def same_pixels(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and ImageChops.difference(a.convert("L"), b.convert("L")).getbbox() is None


# --- URLs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, expected",
    [
        ("usb://0416:5011", PrinterURL("usb", "0416:5011")),
        ("usb://04B8:0E15?out_ep=0x03", PrinterURL("usb", "04b8:0e15", options={"out_ep": "0x03"})),
        ("tcp://192.168.1.50", PrinterURL("tcp", "192.168.1.50", 9100)),
        ("tcp://printer.local:9101", PrinterURL("tcp", "printer.local", 9101)),
        ("tcp://[fe80::1]:9100", PrinterURL("tcp", "fe80::1", 9100)),
        ("serial:///dev/ttyUSB0?baudrate=9600", PrinterURL("serial", "/dev/ttyUSB0", options={"baudrate": "9600"})),
        ("serial://COM3", PrinterURL("serial", "COM3")),
        ("file:///dev/usb/lp0", PrinterURL("file", "/dev/usb/lp0")),
        ("cups://POS58", PrinterURL("cups", "POS58")),
        ("win32://POS-80C%20Printer", PrinterURL("win32", "POS-80C Printer")),
        ("png:///var/lib/motcua/tickets", PrinterURL("png", "/var/lib/motcua/tickets")),
        ("png://var/tickets", PrinterURL("png", "var/tickets")),
    ],
)
def test_every_url_form_parses(url: str, expected: PrinterURL) -> None:
    assert parse_printer_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "192.168.1.50",
        "lpt://1",
        "http://192.168.1.50",
        "tcp://",
        "tcp://192.168.1.50:http",
        "tcp://192.168.1.50:70000",
        "tcp://192.168.1.50/x",
        "usb://0416",
        "usb://zzzz:5011",
        "usb://0416:5011?speed=1",
        "serial://",
        "serial:///dev/ttyUSB0?baudrate=fast",
        "file://",
        "png://",
    ],
)
def test_malformed_or_unknown_urls_raise_a_config_error_naming_the_url(url: str) -> None:
    with pytest.raises(PrinterConfigError) as caught:
        open_printer(url, profile=None, timeout=1.0)
    assert repr(url) in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_tcp_url_builds_a_network_printer_with_a_short_timeout() -> None:
    printer = open_printer("tcp://192.168.1.50:9101", profile=None, timeout=2.5)
    assert isinstance(printer, escpos_printer.Network)
    assert (printer.host, printer.port, printer.timeout) == ("192.168.1.50", 9101, 2.5)
    default = open_printer("tcp://192.168.1.50")
    assert default.timeout == DEFAULT_TIMEOUT <= 10


def test_file_and_png_urls_build_their_printers(tmp_path: Path) -> None:
    assert isinstance(open_printer("file:///dev/usb/lp0"), escpos_printer.File)
    assert isinstance(open_printer(f"png://{tmp_path}"), PngPrinter)


@pytest.mark.parametrize(
    "url, cls",
    [
        ("usb://0416:5011", escpos_printer.Usb),
        ("serial:///dev/ttyUSB0?baudrate=19200", escpos_printer.Serial),
        ("cups://POS58", escpos_printer.CupsPrinter),
        ("win32://POS58", escpos_printer.Win32Raw),
    ],
)
def test_driver_urls_build_their_printer_or_say_what_is_missing(url: str, cls: Any) -> None:
    if cls.is_usable():
        printer: Any = open_printer(url, profile=None, timeout=1.0)
        assert isinstance(printer, cls)
        if cls is escpos_printer.Usb:
            assert printer.timeout == 1000  # pyusb counts milliseconds
        if cls is escpos_printer.Serial:
            assert printer.baudrate == 19200
    else:
        with pytest.raises(PrinterConfigError, match="not installed"):
            open_printer(url, profile=None, timeout=1.0)


def test_unknown_profile_is_a_config_error() -> None:
    with pytest.raises(PrinterConfigError, match="POS-9999"):
        open_printer("tcp://127.0.0.1", profile="POS-9999", timeout=1.0)


def test_profile_data_is_copied_not_shared_between_printers() -> None:
    shared = get_profile_class("POS-5890").profile_data
    a = open_printer("tcp://127.0.0.1", profile="POS-5890", timeout=1.0)
    b = open_printer("tcp://127.0.0.1", profile="POS-5890", timeout=1.0)
    a.profile.profile_data["media"]["width"]["pixels"] = 9999
    assert b.profile.profile_data["media"]["width"]["pixels"] == 384
    assert shared["media"]["width"]["pixels"] == 384


def test_building_a_job_leaves_the_shared_default_profile_alone() -> None:
    build_job(ticket_image(576))
    assert get_profile_class("default").profile_data["media"]["width"]["pixels"] == "Unknown"


# --- the job bytes ---------------------------------------------------------------------


def test_job_is_kanji_off_then_raster_then_cut() -> None:
    job = build_job(ticket_image(), kanji_off=True, cut=True)
    assert job.startswith(b"\x1c\x2e\x1dv0")
    assert job.endswith(b"\x1bd\x06\x1dV\x00")
    plain = build_job(ticket_image(), cut=False)
    assert plain.startswith(b"\x1dv0") and b"\x1dV" not in plain[-8:]


def test_profile_without_cutter_gets_only_the_feed() -> None:
    job = build_job(ticket_image(), profile="POS-5890", cut=True)
    assert job.endswith(b"\x1bd\x06")


def test_decode_raster_rejects_data_without_a_whole_image() -> None:
    job = build_job(ticket_image())
    with pytest.raises(ValueError, match="no GS v 0"):
        decode_raster(b"\x1bd\x06")
    with pytest.raises(ValueError, match="truncated"):
        decode_raster(job[: len(job) // 2])


# --- printing against fake printers -------------------------------------------------------


@pytest.mark.parametrize("width, profile", [(384, "POS-5890"), (576, "TM-T20II"), (576, None)])
def test_accepting_printer_receives_bytes_that_decode_to_the_ticket(width: int, profile: str | None) -> None:
    image = ticket_image(width)
    with FakePrinter("accept") as fake:
        result = print_ticket(fake.url, image, profile=profile, timeout=SHORT, kanji_off=True)
        assert result == PrintResult("printed", None)
        expected = build_job(image, profile=profile, kanji_off=True)
        assert fake.wait_for(lambda f: f.received() == expected)
    assert same_pixels(decode_raster(fake.received()), image)


def test_each_job_uses_its_own_connection_and_closes_it() -> None:
    with FakePrinter("accept") as fake:
        for _ in range(2):
            assert print_ticket(fake.url, ticket_image(), timeout=SHORT).outcome == "printed"
        assert fake.wait_for(lambda f: f.connections == 2 and len(f.received()) == 2 * len(build_job(ticket_image())))
        assert fake.wait_for(lambda f: f.closed_connections == 2)


def test_refused_connection_fails_before_send() -> None:
    started = time.monotonic()
    result = print_ticket(refused_url(), ticket_image(), timeout=SHORT)
    assert result.outcome == "failed_before_send"
    assert "refused" in (result.error or "").lower()
    assert time.monotonic() - started < 2


def test_image_wider_than_the_profile_fails_before_connecting() -> None:
    with FakePrinter("accept") as fake:
        result = print_ticket(fake.url, ticket_image(576), profile="POS-5890", timeout=SHORT)
        assert result.outcome == "failed_before_send"
        assert "576 > 384" in (result.error or "")
        time.sleep(0.1)
        assert fake.connections == 0


def test_bad_url_fails_before_send_with_the_reason() -> None:
    result = print_ticket("lpt://1", ticket_image())
    assert result.outcome == "failed_before_send"
    assert "lpt://1" in (result.error or "")


def test_printer_that_stops_reading_fails_partial_after_the_timeout() -> None:
    with FakePrinter("hang") as fake:
        started = time.monotonic()
        result = print_ticket(fake.url, ticket_image(576), timeout=SHORT)
        elapsed = time.monotonic() - started
    assert result.outcome == "failed_partial", result
    assert SHORT * 0.9 < elapsed < SHORT * 4 + 1


def test_printer_that_closes_mid_job_fails_partial() -> None:
    with FakePrinter("close_mid_job", close_after=64) as fake:
        result = print_ticket(fake.url, ticket_image(576), timeout=SHORT)
        assert fake.wait_for(lambda f: len(f.received()) == 64)
    assert result.outcome == "failed_partial", result
    assert result.error


def test_png_printer_saves_each_job_as_the_ticket_image(tmp_path: Path) -> None:
    directory = tmp_path / "tickets" / "today"
    image = ticket_image(576)
    for _ in range(2):
        assert print_ticket(f"png://{directory}", image).outcome == "printed"
    files = sorted(directory.glob("*.png"))
    assert len(files) == 2
    with Image.open(files[0]) as saved:
        assert same_pixels(saved, image)
    assert printer_status(f"png://{directory}") == PrinterStatus(True, "ok", None)


# --- status ---------------------------------------------------------------------------------


def test_status_of_a_healthy_printer_is_online_with_paper() -> None:
    with FakePrinter("accept") as fake:
        assert printer_status(fake.url, SHORT) == PrinterStatus(True, "ok", None)
        assert fake.status_queries == [1, 4]


def test_status_reports_paper_out() -> None:
    with paper_out() as fake:
        status = printer_status(fake.url, SHORT)
    assert (status.paper, status.online) == ("out", True)
    assert "paper" in (status.error or "")


def test_status_reports_paper_low() -> None:
    with FakePrinter("accept", status_paper=PAPER_NEAR_END) as fake:
        assert printer_status(fake.url, SHORT) == PrinterStatus(True, "low", None)


def test_status_reports_an_offline_printer() -> None:
    with FakePrinter("accept", status_printer=STATUS_OFFLINE) as fake:
        status = printer_status(fake.url, SHORT)
    assert status.online is False and status.error


def test_silent_printer_has_unknown_paper_not_ok() -> None:
    for fake in (FakePrinter("hang"), FakePrinter("accept", status_printer=None)):
        with fake:
            started = time.monotonic()
            status = printer_status(fake.url, SHORT)
            assert time.monotonic() - started < SHORT * 3
        assert status.paper == "unknown"
        assert status.error and "did not answer" in status.error


def test_garbage_status_answer_is_unknown() -> None:
    with FakePrinter("accept", status_printer=0xFF) as fake:
        assert printer_status(fake.url, SHORT).paper == "unknown"


def test_status_of_a_refused_printer_is_offline() -> None:
    status = printer_status(refused_url(), SHORT)
    assert status.online is False and status.paper == "unknown"
    assert "refused" in (status.error or "").lower()


# --- motcua print-test ------------------------------------------------------------------------


def test_print_test_prints_a_sample_ticket_and_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert print_test(f"png://{tmp_path}", None, 576, SHORT) == 0
    assert len(list(tmp_path.glob("*.png"))) == 1
    assert "Test ticket sent" in capsys.readouterr().out


def test_print_test_failure_is_explained_in_vietnamese_and_english(capsys: pytest.CaptureFixture[str]) -> None:
    assert print_test(refused_url(), None, 384, SHORT) == 1
    err = capsys.readouterr().err
    assert "Lỗi" in err and "Error" in err and "refused" in err.lower()


@pytest.mark.parametrize(
    "url, profile, width", [("lpt://1", None, 384), ("png:///tmp/x", "POS-58", 384), ("png:///tmp/x", None, 390)]
)
def test_print_test_bad_settings_exit_2(
    url: str, profile: str | None, width: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert print_test(url, profile, width, SHORT) == 2
    err = capsys.readouterr().err
    assert "Printer setting error" in err
    # The Vietnamese line is Vietnamese throughout, not an English detail after a Vietnamese lead.
    vi = err.splitlines()[0]
    assert vi.startswith("Lỗi cấu hình máy in: ") and not any(
        w in vi for w in ("printer URL", "unknown", "width ", "use one of")
    ), err


# --- file:// devices ---------------------------------------------------------------------------


@contextlib.contextmanager
def pty_device() -> Iterator[tuple[str, int]]:
    """A real character device (a pseudo-terminal in raw mode, so bytes pass unchanged):
    (its path, the fd that reads what is written to it)."""
    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        yield os.ttyname(slave), master
    finally:
        os.close(slave)
        os.close(master)


def _read_all(fd: int, into: bytearray, stop: threading.Event) -> None:
    while not stop.is_set():
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            try:
                into.extend(os.read(fd, 1 << 16))
            except OSError:
                return


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs pseudo-terminals")
def test_file_printer_receives_the_job_on_a_character_device() -> None:
    image = ticket_image()
    with pty_device() as (device, reader):
        received, stop = bytearray(), threading.Event()
        thread = threading.Thread(target=_read_all, args=(reader, received, stop))
        thread.start()
        try:
            assert print_ticket(f"file://{device}", image, timeout=SHORT) == PrintResult("printed", None)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                with contextlib.suppress(ValueError):  # until the last block has arrived
                    decode_raster(bytes(received))
                    break
                time.sleep(0.05)
        finally:
            stop.set()
            thread.join(5)
        assert same_pixels(decode_raster(bytes(received)), image)
        status = printer_status(f"file://{device}", SHORT)
        assert (status.online, status.paper) == (True, "unknown")


def test_file_url_refuses_a_regular_file_and_never_opens_it(tmp_path: Path) -> None:
    victim = tmp_path / "important.txt"
    victim.write_bytes(b"precious data")
    with pytest.raises(PrinterConfigError, match="not one"):
        parse_printer_url(f"file://{victim}")
    for url in (f"file://{victim}", f"file://{tmp_path}"):
        assert print_ticket(url, ticket_image(), timeout=SHORT).outcome == "failed_before_send"
        status = printer_status(url, SHORT)
        assert not status.online and "cannot connect" in (status.error or "")
    assert victim.read_bytes() == b"precious data"
    # A name that is no printer device is refused even while it does not exist.
    with pytest.raises(PrinterConfigError, match="printer device"):
        parse_printer_url(f"file://{tmp_path}/new-file")
    assert not (tmp_path / "new-file").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_file_url_refuses_a_named_pipe(tmp_path: Path) -> None:
    fifo = tmp_path / "lp0"
    os.mkfifo(fifo)  # opening it for writing would block until someone reads
    result = print_ticket(f"file://{fifo}", ticket_image(), timeout=SHORT)
    assert result.outcome == "failed_before_send" and "not one" in (result.error or ""), result


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs pseudo-terminals")
def test_file_device_that_stops_taking_data_fails_partial_after_the_timeout() -> None:
    with pty_device() as (device, _reader):  # nobody reads: the device stops taking data
        started = time.monotonic()
        result = print_ticket(f"file://{device}", ticket_image(576, footer="dài " * 400), timeout=SHORT)
        assert result.outcome == "failed_partial", result
        assert SHORT * 0.9 < time.monotonic() - started < SHORT * 4


def _drain_and_close(fd: int) -> None:
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            if not os.read(fd, 1 << 16):
                break
        except BlockingIOError:
            time.sleep(0.02)
    os.close(fd)
