"""printer.render: the ticket picture, its font coverage and its round trip to raster bytes."""

from __future__ import annotations

import dataclasses
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from escpos.printer import Dummy
from PIL import Image, ImageChops

from printer.output import build_job, decode_raster
from printer.render import (
    FONT_BOLD,
    FONT_REGULAR,
    TicketInfo,
    _font,
    font_covers,
    missing_glyphs,
    render_ticket,
    ticket_text,
    wait_minutes,
    wrap_text,
)

WIDTHS = [384, 576]
DEJAVU_MONO = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf")

_VOWELS = "aăâeêioôơuưy"
_TONES = ["", "\u0300", "\u0301", "\u0303", "\u0309", "\u0323"]  # ngang huyền sắc ngã hỏi nặng
_LOWER = [unicodedata.normalize("NFC", v + t) for v in _VOWELS for t in _TONES] + ["đ"]
ALL_VIETNAMESE_LETTERS = "".join(_LOWER + [c.upper() for c in _LOWER])


def ticket(**overrides: object) -> TicketInfo:
    fields: dict[str, object] = {
        "office_name": "UBND phường Hồng Hà",
        "service_name": "Đất đai – Xây dựng",
        "label": "1023",
        "issued_at": "28/11/2026 08:15",
        "people_ahead": 4,
        "estimated_wait_min": 18,
        "status_url": "http://192.168.1.10:8000/t/8f3a1c",
        "footer": "Vui lòng giữ phiếu đến khi được gọi.",
        "priority": False,
        "lang": "vi",
    }
    fields.update(overrides)
    return TicketInfo(**fields)  # type: ignore[arg-type]


def same_pixels(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and ImageChops.difference(a.convert("L"), b.convert("L")).getbbox() is None


# --- the picture -------------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
def test_a_result_return_ticket_prints_its_dossier_code_unbroken(width: int) -> None:
    code = "000.00.21.H40-261203-0001"
    assert f"Hồ sơ: {code}" in ticket_text(ticket(dossier=code)).splitlines()
    assert f"Dossier: {code}" in ticket_text(ticket(dossier=code, lang="en")).splitlines()
    assert "Hồ sơ" not in ticket_text(ticket())
    with_code = render_ticket(ticket(dossier=code), width)
    assert with_code.height > render_ticket(ticket(), width).height
    # The code is drawn on one line (a clerk reads or scans it whole), even on 58 mm paper.
    margin = max(8, width // 32)
    assert code in wrap_text(f"Hồ sơ: {code}", _font(round(22 * width / 384), True), width - 2 * margin)
    dummy = Dummy()
    dummy.image(with_code, impl="bitImageRaster", center=False)
    assert same_pixels(decode_raster(dummy.output), with_code)
    # A job from a server without the field still renders.
    data = ticket().to_json()
    del data["dossier"]
    assert TicketInfo.from_json(data).dossier == ""


@pytest.mark.parametrize("width", WIDTHS)
def test_ticket_is_a_one_bit_image_exactly_the_paper_width(width: int) -> None:
    image = render_ticket(ticket(), width)
    assert image.mode == "1"
    assert image.width == width
    assert 300 < image.height < 4 * width


@pytest.mark.parametrize("width", [0, 100, 383, 390])
def test_width_must_be_a_printable_multiple_of_8(width: int) -> None:
    with pytest.raises(ValueError, match="width_px"):
        render_ticket(ticket(), width)


@pytest.mark.parametrize("width", WIDTHS)
def test_raster_sent_to_a_dummy_printer_decodes_to_the_same_pixels(width: int) -> None:
    image = render_ticket(ticket(priority=True), width)
    dummy = Dummy()
    dummy.image(image, impl="bitImageRaster", center=False)
    assert same_pixels(decode_raster(dummy.output), image)
    # and through our job builder, with FS . and the cut around it
    job = build_job(image, kanji_off=True, cut=True)
    assert job.startswith(b"\x1c\x2e")
    assert same_pixels(decode_raster(job), image)


@pytest.mark.parametrize("width", WIDTHS)
def test_qr_code_on_the_ticket_decodes_to_the_status_url(width: int) -> None:
    info = ticket(status_url="http://192.168.1.10:8000/t/8f3a1c?lang=vi")
    found = zxingcpp.read_barcodes(render_ticket(info, width).convert("L"))
    assert [(b.format, b.text) for b in found] == [(zxingcpp.BarcodeFormat.QRCode, info.status_url)]


@pytest.mark.parametrize("width", WIDTHS)
def test_ticket_number_is_drawn_large_to_fill_the_width(width: int) -> None:
    with_label = render_ticket(ticket(label="A1023"), width)
    # The label is the only thing that differs: its ink spans most of the paper width.
    without_label = render_ticket(ticket(label="."), width)
    assert with_label.height > without_label.height
    font = _font(12, True)
    assert font.getlength("A1023") < width / 4  # a fixed small size would fail the next check
    big = _big_label_ink_width(with_label, without_label)
    assert big > width * 0.7


def _big_label_ink_width(a: Image.Image, b: Image.Image) -> int:
    # Rows above the label are identical; find the first row that differs and the
    # ink extent of the label band below it.
    rows = min(a.height, b.height)
    first = next(
        y for y in range(rows) if a.crop((0, y, a.width, y + 1)).tobytes() != b.crop((0, y, b.width, y + 1)).tobytes()
    )
    band = a.crop((0, first, a.width, min(a.height, first + a.width // 3)))
    bbox = ImageChops.invert(band.convert("L")).getbbox()
    assert bbox is not None
    return bbox[2] - bbox[0]


def test_priority_tickets_say_so() -> None:
    assert "ƯU TIÊN" in ticket_text(ticket(priority=True))
    assert "ƯU TIÊN" not in ticket_text(ticket(priority=False))
    assert not same_pixels(render_ticket(ticket(priority=True), 384), render_ticket(ticket(), 384))


def test_fixed_words_follow_the_ticket_language() -> None:
    vi = ticket_text(ticket(people_ahead=7, estimated_wait_min=25))
    en = ticket_text(ticket(people_ahead=7, estimated_wait_min=25, lang="en"))
    assert "Số thứ tự" in vi and "Người chờ trước: 7" in vi
    assert "Thời gian chờ dự kiến: khoảng 25 phút" in vi and "Quét mã để theo dõi" in vi
    assert "Your number" in en and "People ahead: 7" in en and "about 25 min" in en


def test_the_wait_is_worded_as_the_kiosk_screen_words_it() -> None:
    # display/js/i18n.js waitText: under 30 s "dưới 1 phút", else "khoảng N phút" rounded up.
    assert [wait_minutes(s) for s in (None, 0, 29, 30, 60, 61, 1500)] == [0, 0, 0, 1, 1, 2, 25]
    assert "Thời gian chờ dự kiến: dưới 1 phút" in ticket_text(ticket(estimated_wait_min=0))
    assert "~0" not in ticket_text(ticket(estimated_wait_min=0))
    assert "Estimated wait: under a minute" in ticket_text(ticket(estimated_wait_min=0, lang="en"))


def test_the_ticket_names_the_counters_that_serve_it() -> None:
    assert "Quầy 1, 2" in ticket_text(ticket(counters="Quầy 1, 2")).splitlines()
    assert not same_pixels(render_ticket(ticket(counters="Quầy 1, 2"), 384), render_ticket(ticket(), 384))
    # A ticket from an older print agent's protocol, without the field, still renders.
    data = ticket().to_json()
    del data["counters"]
    assert TicketInfo.from_json(data).counters == ""


def test_decomposed_input_prints_like_precomposed() -> None:
    nfd = unicodedata.normalize("NFD", "Đất đai – Xây dựng")
    assert nfd != "Đất đai – Xây dựng"
    assert same_pixels(render_ticket(ticket(service_name=nfd), 384), render_ticket(ticket(), 384))


# --- wrapping: nothing clipped -------------------------------------------------

LONG_OFFICE = "Bộ phận Tiếp nhận và Trả kết quả thủ tục hành chính Ủy ban nhân dân phường Hồng Hà, quận Hoàn Kiếm, thành phố Hà Nội"
LONG_SERVICE = (
    "Chứng thực bản sao từ bản chính giấy tờ, văn bản do cơ quan có thẩm quyền của Việt Nam cấp hoặc chứng nhận"
)


@pytest.mark.parametrize("size", [18, 22, 26])
def test_long_lines_wrap_by_words_within_the_width(size: int) -> None:
    font = _font(size, True)
    lines = wrap_text(LONG_OFFICE, font, 384 - 24)
    assert len(lines) > 2
    assert " ".join(lines) == LONG_OFFICE  # every word kept, in order, none split
    assert all(font.getlength(line) <= 384 - 24 for line in lines)


def test_a_word_longer_than_the_line_is_broken_not_clipped() -> None:
    word = "Chứngthựcbảnsaotừbảnchínhgiấytờvănbảndocơquancóthẩmquyềncấp"
    font = _font(26)
    lines = wrap_text(f"Dịch vụ {word} xong", font, 200)
    assert "".join(lines).replace(" ", "") == f"Dịchvụ{word}xong"
    assert all(font.getlength(line) <= 200 for line in lines)


@pytest.mark.parametrize("width", WIDTHS)
def test_very_long_names_leave_the_side_margins_blank(width: int) -> None:
    info = ticket(office_name=LONG_OFFICE, service_name=LONG_SERVICE, footer=LONG_SERVICE * 2)
    image = render_ticket(info, width).convert("L")
    short = render_ticket(ticket(), width)
    assert image.height > short.height + 150  # the extra lines were added, not dropped
    margin = 8
    for box in ((0, 0, margin, image.height), (width - margin, 0, width, image.height)):
        assert ImageChops.invert(image.crop(box)).getbbox() is None, f"ink in margin {box}"


def test_no_text_touches_the_top_or_bottom_edge() -> None:
    image = render_ticket(ticket(office_name="Ủy ban Ấp Ỗ"), 384).convert("L")
    for box in ((0, 0, 384, 4), (0, image.height - 4, 384, image.height)):
        assert ImageChops.invert(image.crop(box)).getbbox() is None


# --- the font ------------------------------------------------------------------


def test_all_146_vietnamese_letters_are_listed() -> None:
    assert len(set(ALL_VIETNAMESE_LETTERS)) == 146
    assert {"ả", "ấ", "ầ", "ể", "ố", "ở", "ự", "ỹ", "Đ", "Ỵ"} <= set(ALL_VIETNAMESE_LETTERS)


@pytest.mark.parametrize("font_path", [FONT_REGULAR, FONT_BOLD], ids=["regular", "bold"])
def test_bundled_font_has_a_glyph_for_every_character_on_a_vietnamese_ticket(font_path: Path) -> None:
    info = ticket(
        office_name="UBND phường Hồng Hà",
        service_name="Đất đai – Xây dựng",
        footer=ALL_VIETNAMESE_LETTERS + " “Cảm ơn” ~ – … 0123456789 ₫ %",
        priority=True,
    )
    text = ticket_text(info).replace("\n", "")
    assert missing_glyphs(text, font_path) == set()
    assert font_covers(text, font_path) == set(text)


def test_font_check_reports_characters_the_font_lacks() -> None:
    assert missing_glyphs("Số 中") == {"中"}
    assert font_covers("\ue000a") == {"a"}  # private use: the .notdef box does not count


@pytest.mark.skipif(not DEJAVU_MONO.exists(), reason="DejaVu Sans Mono is not installed")
def test_dejavu_sans_mono_would_fail_the_coverage_check() -> None:
    missing = missing_glyphs(ALL_VIETNAMESE_LETTERS, DEJAVU_MONO)
    assert {"ả", "ấ", "ầ", "ể", "ố", "ở"} <= missing
    assert len(missing) == 46


def test_bundled_fonts_ship_with_their_licence() -> None:
    licence = FONT_REGULAR.with_name("LICENSE-DejaVu.txt").read_text(encoding="utf-8")
    assert "Bitstream" in licence
    assert FONT_REGULAR.name == "DejaVuSans.ttf" and FONT_BOLD.name == "DejaVuSans-Bold.ttf"


# --- the data --------------------------------------------------------------------


def test_ticket_info_from_json_names_a_missing_field() -> None:
    data = ticket().to_json()
    assert TicketInfo.from_json(data) == ticket()
    del data["status_url"]
    with pytest.raises(ValueError, match="ticket.status_url is missing"):
        TicketInfo.from_json(data)


def test_ticket_info_from_json_takes_defaults_and_ignores_unknown_keys() -> None:
    data = {k: v for k, v in ticket().to_json().items() if k not in ("footer", "priority", "lang")}
    data["extra"] = 1
    assert TicketInfo.from_json(data) == ticket(footer="", priority=False, lang="vi")


@pytest.mark.parametrize(
    "change, message",
    [({"lang": "fr"}, "lang"), ({"people_ahead": -1}, "people_ahead"), ({"label": " "}, "label")],
)
def test_ticket_info_rejects_bad_values(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(ticket(), **change)
