"""Draw a queue ticket as a 1-bit image, ready to be sent as an ESC/POS raster.

Printing text through the printer's own code pages fails for Vietnamese on most
cheap printers (they print '?'), so the whole ticket is drawn here with the bundled
DejaVu Sans, which covers every Vietnamese letter, and printed as a picture.

``render_ticket(info, width_px)`` is the one entry point; ``wrap_text``,
``ticket_text`` and ``font_covers`` are public so tests (and ``print-test``) can
check the layout and the font coverage.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import qrcode
import qrcode.constants
from PIL import Image, ImageDraw, ImageFont

from printer._cmap import unicode_codepoints

FONT_DIR = Path(__file__).with_name("fonts")
FONT_REGULAR = FONT_DIR / "DejaVuSans.ttf"
FONT_BOLD = FONT_DIR / "DejaVuSans-Bold.ttf"

SUPPORTED_WIDTHS = (384, 576)  # 58 mm and 80 mm paper at 203 dpi
MIN_WIDTH_PX = 200

Lang = Literal["vi", "en"]

WORDS: dict[str, dict[str, str]] = {
    "vi": {
        "number": "Số thứ tự",
        "people_ahead": "Người chờ trước: {n}",
        "wait": "Thời gian chờ dự kiến: khoảng {n} phút",
        "wait_none": "Thời gian chờ dự kiến: dưới 1 phút",
        "scan": "Quét mã để theo dõi",
        "priority": "ƯU TIÊN",
        "appointment": "LỊCH HẸN {time}",
        "dossier": "Hồ sơ: {code}",
    },
    "en": {
        "number": "Your number",
        "people_ahead": "People ahead: {n}",
        "wait": "Estimated wait: about {n} min",
        "wait_none": "Estimated wait: under a minute",
        "scan": "Scan to follow your turn",
        "priority": "PRIORITY",
        "appointment": "APPOINTMENT {time}",
        "dossier": "Dossier: {code}",
    },
}


@dataclass(frozen=True)
class TicketInfo:
    """Everything printed on one ticket. Strings arrive already formatted."""

    office_name: str
    service_name: str
    label: str
    issued_at: str
    people_ahead: int
    estimated_wait_min: int
    status_url: str
    footer: str = ""
    priority: bool = False
    lang: Lang = "vi"
    # The counters that serve the ticket's service, already formatted ("Quầy 1, 2").
    counters: str = ""
    appointment: str = ""  # the booked slot's start, "HH:MM" ("" for a walk-in ticket)
    dossier: str = ""  # a result-return ticket's dossier code ("" for any other ticket)

    def __post_init__(self) -> None:
        if self.lang not in WORDS:
            raise ValueError(f"TicketInfo.lang must be one of {sorted(WORDS)}, not {self.lang!r}")
        for name in ("people_ahead", "estimated_wait_min"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"TicketInfo.{name} must be an int >= 0, not {value!r}")
        if not self.label.strip():
            raise ValueError("TicketInfo.label must not be empty")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TicketInfo:
        """Build from the agent protocol's ``ticket`` object; a missing key fails by name."""
        if not isinstance(data, dict):
            raise ValueError(f"ticket must be a JSON object, not {type(data).__name__}")
        kwargs: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            if field.name in data:
                kwargs[field.name] = data[field.name]
            elif field.default is dataclasses.MISSING:
                raise ValueError(f"ticket.{field.name} is missing")
        return cls(**kwargs)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def wait_minutes(seconds: float | None) -> int:
    """The estimated wait as printed, in whole minutes: 0 ("under a minute") below 30 s,
    else rounded up, so the ticket says what the kiosk screen says."""
    if not seconds or seconds < 30:
        return 0
    return math.ceil(seconds / 60)


# --- fonts -------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    # BASIC layout: identical output with or without libraqm; text is NFC, so
    # every Vietnamese letter is one precomposed glyph and needs no shaping.
    path = FONT_BOLD if bold else FONT_REGULAR
    return ImageFont.truetype(str(path), size, layout_engine=ImageFont.Layout.BASIC)


def font_covers(text: str, font_path: str | Path = FONT_REGULAR) -> set[str]:
    """Return the characters of ``text`` (after NFC) that the font has a glyph for.

    ``set(nfc(text)) - font_covers(text)`` is what would print as a box. It reads the
    font's cmap, so it cannot be fooled by the ``.notdef`` glyph having a size.
    """
    points = unicode_codepoints(str(font_path))
    return {ch for ch in _nfc(text) if ord(ch) in points}


def missing_glyphs(text: str, font_path: str | Path = FONT_REGULAR) -> set[str]:
    """The characters of ``text`` (after NFC) the font cannot draw; empty means all good."""
    return set(_nfc(text)) - font_covers(text, font_path)


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


# --- layout ------------------------------------------------------------------


def wrap_text(text: str, font: ImageFont.FreeTypeFont, max_width: int) -> list[str]:
    """Break ``text`` into lines no wider than ``max_width`` pixels.

    Breaks between words; a single word wider than the line is broken between
    characters, so nothing is ever clipped. Explicit newlines are kept.
    """
    lines: list[str] = []
    for paragraph in _nfc(text).split("\n"):
        current = ""
        for word in paragraph.split():
            candidate = f"{current} {word}" if current else word
            if font.getlength(candidate) <= max_width:
                current = candidate
                continue
            if current:
                lines.append(current)
            current = ""
            while font.getlength(word) > max_width:
                cut = _longest_prefix(word, font, max_width)
                lines.append(word[:cut])
                word = word[cut:]
            current = word
        lines.append(current)
    # Drop blank lines at the ends but keep deliberate blank lines inside.
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return lines


def _longest_prefix(word: str, font: ImageFont.FreeTypeFont, max_width: int) -> int:
    cut = 1
    while cut < len(word) and font.getlength(word[: cut + 1]) <= max_width:
        cut += 1
    return cut


def _ink_box(font: ImageFont.FreeTypeFont, text: str) -> tuple[int, int, int, int]:
    """Ink bounds of ``text`` drawn at (0, 0) with the ascender line as the anchor."""
    if not text:
        return (0, 0, 0, 0)
    left, top, right, bottom = font.getbbox(text, anchor="la")
    return (int(left), int(top), int(right), int(bottom))


def _text_block(text: str, width: int, margin: int, size: int, bold: bool = False, invert: bool = False) -> Image.Image:
    """Centered, word-wrapped text as a ``width``-wide strip (no ink is ever cut off)."""
    font = _font(size, bold)
    lines = wrap_text(text, font, width - 2 * margin)
    ascent, descent = font.getmetrics()
    gap = max(2, size // 6)
    placed: list[tuple[str, int, int]] = []  # line, x, y of the ascender line
    y = 0
    for line in lines:
        left, top, _right, bottom = _ink_box(font, line)
        lift = max(0, -top)  # stacked Vietnamese marks may rise above the ascender
        x = (width - int(font.getlength(line))) // 2
        x = max(x, margin - min(0, left), 0)
        placed.append((line, x, y + lift))
        y += lift + max(ascent + descent, bottom) + gap
    height = max(1, y - gap) if lines else 1
    image = Image.new("1", (width, height), 0 if invert else 1)
    draw = ImageDraw.Draw(image)
    draw.fontmode = "1"
    for line, x, line_y in placed:
        draw.text((x, line_y), line, font=font, fill=1 if invert else 0, anchor="la")
    return image


def _big_label(label: str, width: int, margin: int) -> Image.Image:
    """The ticket number, as large as fits the width (and at most ~half a 58 mm ticket high)."""
    available = width - 2 * margin
    max_size = max(24, width // 2)
    low, high = 12, max_size
    while low < high:  # largest size whose ink fits the line
        mid = (low + high + 1) // 2
        left, _top, right, _bottom = _ink_box(_font(mid, True), label)
        if right - min(0, left) <= available:
            low = mid
        else:
            high = mid - 1
    font = _font(low, True)
    left, top, right, bottom = _ink_box(font, label)
    image = Image.new("1", (width, bottom - top), 1)
    draw = ImageDraw.Draw(image)
    draw.fontmode = "1"
    ink_width = right - left
    draw.text(((width - ink_width) // 2 - left, -top), label, font=font, fill=0, anchor="la")
    return image


QR_MASK = 2


def _qr_block(url: str, width: int) -> Image.Image:
    # A fixed mask: qrcode otherwise draws the symbol eight times to score every mask, three
    # quarters of a ticket's rendering time; any mask is valid and scanners read them all.
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4, mask_pattern=QR_MASK)
    qr.add_data(url)
    qr.make(fit=True)
    modules = qr.modules_count + 2 * qr.border
    # Integer scale keeps every module the same number of dots (scanners like that).
    qr.box_size = max(2, int(width * 0.55) // modules)
    if qr.box_size * modules > width:
        qr.box_size = max(1, width // modules)
    code = qr.make_image(fill_color="black", back_color="white").get_image().convert("1")
    image = Image.new("1", (width, code.height), 1)
    image.paste(code, ((width - code.width) // 2, 0))
    return image


def _rule(width: int, margin: int) -> Image.Image:
    image = Image.new("1", (width, 3), 1)
    ImageDraw.Draw(image).line([(margin, 1), (width - margin - 1, 1)], fill=0, width=2)
    return image


def _stack(blocks: list[Image.Image | int], width: int) -> Image.Image:
    """Stack strips top to bottom; an int is that many pixels of white space."""
    height = sum(b if isinstance(b, int) else b.height for b in blocks)
    ticket = Image.new("1", (width, height), 1)
    y = 0
    for block in blocks:
        if isinstance(block, int):
            y += block
        else:
            ticket.paste(block, (0, y))
            y += block.height
    return ticket


def ticket_text(info: TicketInfo) -> str:
    """Every piece of text ``render_ticket`` draws for ``info``, one per line."""
    return "\n".join(_ticket_strings(info).values())


def _ticket_strings(info: TicketInfo) -> dict[str, str]:
    words = WORDS[info.lang]
    strings = {
        "office": info.office_name,
        "service": info.service_name,
        "counters": info.counters,
        "number": words["number"],
        "label": info.label,
        "priority": words["priority"] if info.priority else "",
        "appointment": words["appointment"].format(time=info.appointment) if info.appointment else "",
        "dossier": words["dossier"].format(code=info.dossier) if info.dossier else "",
        "issued_at": info.issued_at,
        "people_ahead": words["people_ahead"].format(n=info.people_ahead),
        # Worded as the kiosk screen words it (display/js/i18n.js waitText).
        "wait": words["wait"].format(n=info.estimated_wait_min) if info.estimated_wait_min else words["wait_none"],
        "scan": words["scan"],
        "footer": info.footer,
    }
    return {key: _nfc(value) for key, value in strings.items()}


def render_ticket(info: TicketInfo, width_px: int) -> Image.Image:
    """Draw ``info`` as a mode "1" image exactly ``width_px`` wide (384 for 58 mm, 576 for 80 mm).

    The width must be a multiple of 8 so the raster needs no padding and prints
    pixel for pixel.
    """
    if width_px < MIN_WIDTH_PX or width_px % 8:
        raise ValueError(f"width_px must be a multiple of 8 and >= {MIN_WIDTH_PX}, not {width_px}")
    w = width_px
    margin = max(8, w // 32)
    unit = w / 384  # font sizes are designed for 58 mm and scaled up for 80 mm
    s = _ticket_strings(info)

    blocks: list[Image.Image | int] = [int(8 * unit)]
    if s["office"]:
        blocks += [_text_block(s["office"], w, margin, round(22 * unit), bold=True), int(6 * unit)]
    if s["service"]:
        blocks += [_text_block(s["service"], w, margin, round(26 * unit)), int(8 * unit)]
    if s["counters"]:
        blocks += [_text_block(s["counters"], w, margin, round(24 * unit), bold=True), int(8 * unit)]
    blocks += [_rule(w, margin), int(8 * unit)]
    blocks += [_text_block(s["number"], w, margin, round(22 * unit)), int(4 * unit)]
    blocks += [_big_label(s["label"], w, margin), int(8 * unit)]
    if s["priority"]:
        blocks += [_text_block(s["priority"], w, margin, round(28 * unit), True, True), int(8 * unit)]
    if s["appointment"]:
        blocks += [_text_block(s["appointment"], w, margin, round(28 * unit), True, True), int(8 * unit)]
    if s["dossier"]:
        blocks += [_text_block(s["dossier"], w, margin, round(22 * unit), bold=True), int(8 * unit)]
    blocks += [_text_block(s["issued_at"], w, margin, round(22 * unit)), int(6 * unit)]
    blocks += [_text_block(s["people_ahead"], w, margin, round(24 * unit), bold=True), int(4 * unit)]
    blocks += [_text_block(s["wait"], w, margin, round(22 * unit)), int(10 * unit)]
    blocks += [_qr_block(info.status_url, w), int(2 * unit)]
    blocks += [_text_block(s["scan"], w, margin, round(20 * unit)), int(8 * unit)]
    if s["footer"]:
        blocks += [_rule(w, margin), int(6 * unit)]
        blocks += [_text_block(s["footer"], w, margin, round(18 * unit)), int(8 * unit)]
    blocks.append(int(8 * unit))
    return _stack(blocks, w)
