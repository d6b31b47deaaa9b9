"""Turn the GS v 0 raster blocks of an ESC/POS byte stream back into a picture.

Used by the ``png://`` virtual printer and by tests that compare what went over
the wire with what was rendered. Public as ``printer.output.decode_raster``.
"""

from __future__ import annotations

from PIL import Image

GS_V_0 = b"\x1dv0"
_INVERT = bytes(255 - b for b in range(256))


def raster_blocks(data: bytes) -> list[tuple[int, int, bytes]]:
    """Return ``(width_bytes, height, payload)`` for every GS v 0 block in ``data``.

    Other commands are stepped over byte by byte; a block's payload is skipped as
    a whole, so picture bytes that happen to look like a command are never parsed.
    """
    blocks: list[tuple[int, int, bytes]] = []
    i = 0
    while True:
        i = data.find(GS_V_0, i)
        if i < 0:
            return blocks
        header = data[i + 3 : i + 8]  # m xL xH yL yH
        if len(header) < 5:
            raise ValueError(f"truncated GS v 0 header at byte {i}")
        width_bytes = header[1] | header[2] << 8
        height = header[3] | header[4] << 8
        start = i + 8
        end = start + width_bytes * height
        if end > len(data):
            raise ValueError(
                f"truncated GS v 0 block at byte {i}: needs {end - start} bytes, stream has {len(data) - start}"
            )
        blocks.append((width_bytes, height, data[start:end]))
        i = end


def decode_raster(data: bytes) -> Image.Image:
    """Decode all GS v 0 blocks of ``data`` into one mode "1" image, stacked top to bottom.

    Raster bit 1 means a burnt (black) dot. Raises ``ValueError`` if there is no block
    or a block is cut short (which is what a half-sent job looks like).
    """
    blocks = raster_blocks(data)
    if not blocks:
        raise ValueError("no GS v 0 raster image in the data")
    width = max(width_bytes for width_bytes, _, _ in blocks) * 8
    height = sum(h for _, h, _ in blocks)
    image = Image.new("1", (width, height), 1)
    y = 0
    for width_bytes, h, payload in blocks:
        if h:
            # In mode "1" raw data, bit 1 is white: invert the printer's convention.
            part = Image.frombytes("1", (width_bytes * 8, h), payload.translate(_INVERT))
            image.paste(part, (0, y))
        y += h
    return image
