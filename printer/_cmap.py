"""Read the character map of a TrueType/OpenType font (no third-party code).

Pillow has no public "does this font have a glyph for U+XXXX" call, and measuring
a missing character only measures the ``.notdef`` box, so we read the font's
``cmap`` table ourselves. Formats 4 (BMP) and 12 (full Unicode) cover every font
we bundle or compare against; other subtables are ignored.
"""

from __future__ import annotations

import functools
import struct
from pathlib import Path


class FontFormatError(ValueError):
    """The file is not a TrueType/OpenType font with a Unicode cmap we can read."""


@functools.lru_cache(maxsize=8)
def unicode_codepoints(font_path: str | Path) -> frozenset[int]:
    """Return every code point the font maps to a real glyph (glyph id != 0)."""
    data = Path(font_path).read_bytes()
    cmap = _find_table(data, b"cmap", font_path)
    _version, num_subtables = struct.unpack_from(">HH", cmap, 0)
    subtables: dict[tuple[int, int], int] = {}
    for i in range(num_subtables):
        platform, encoding, offset = struct.unpack_from(">HHI", cmap, 4 + 8 * i)
        subtables[(platform, encoding)] = offset
    # Prefer the full-Unicode subtable, then the BMP one.
    for key in ((3, 10), (0, 4), (0, 6), (3, 1), (0, 3), (0, 1), (0, 0)):
        if key in subtables:
            offset = subtables[key]
            (fmt,) = struct.unpack_from(">H", cmap, offset)
            if fmt == 12:
                return _format12(cmap, offset)
            if fmt == 4:
                return _format4(cmap, offset)
    raise FontFormatError(f"{font_path}: no Unicode cmap subtable of format 4 or 12")


def _find_table(data: bytes, tag: bytes, font_path: str | Path) -> bytes:
    if len(data) < 12:
        raise FontFormatError(f"{font_path}: too short to be a font")
    (num_tables,) = struct.unpack_from(">H", data, 4)
    for i in range(num_tables):
        rec_tag, _checksum, offset, length = struct.unpack_from(">4sIII", data, 12 + 16 * i)
        if rec_tag == tag:
            return data[offset : offset + length]
    raise FontFormatError(f"{font_path}: no {tag.decode()} table")


def _format4(cmap: bytes, offset: int) -> frozenset[int]:
    (seg_x2,) = struct.unpack_from(">H", cmap, offset + 6)
    seg_count = seg_x2 // 2
    ends_at = offset + 14
    starts_at = ends_at + seg_x2 + 2  # + reservedPad
    deltas_at = starts_at + seg_x2
    range_offsets_at = deltas_at + seg_x2
    points: set[int] = set()
    for i in range(seg_count):
        (end,) = struct.unpack_from(">H", cmap, ends_at + 2 * i)
        (start,) = struct.unpack_from(">H", cmap, starts_at + 2 * i)
        (delta,) = struct.unpack_from(">H", cmap, deltas_at + 2 * i)
        ro_pos = range_offsets_at + 2 * i
        (range_offset,) = struct.unpack_from(">H", cmap, ro_pos)
        for code in range(start, end + 1):
            if code == 0xFFFF:
                continue
            if range_offset == 0:
                glyph = (code + delta) & 0xFFFF
            else:
                glyph_pos = ro_pos + range_offset + 2 * (code - start)
                (glyph,) = struct.unpack_from(">H", cmap, glyph_pos)
                if glyph:
                    glyph = (glyph + delta) & 0xFFFF
            if glyph:
                points.add(code)
    return frozenset(points)


def _format12(cmap: bytes, offset: int) -> frozenset[int]:
    (n_groups,) = struct.unpack_from(">I", cmap, offset + 12)
    points: set[int] = set()
    for i in range(n_groups):
        start, end, start_glyph = struct.unpack_from(">III", cmap, offset + 16 + 12 * i)
        first = start if start_glyph else start + 1  # glyph 0 is .notdef
        points.update(range(first, end + 1))
    return frozenset(points)
