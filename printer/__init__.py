"""Ticket printing for motcua: render a ticket as a picture, send it to an ESC/POS printer.

- ``printer.render``: ``TicketInfo``, ``render_ticket`` (bundled DejaVu Sans, every
  Vietnamese letter), ``font_covers``.
- ``printer.connect``: ``open_printer`` for one printer URL (usb://, tcp://, serial://,
  file://, cups://, win32://, png://), ``PrinterConfigError``.
- ``printer.output``: ``print_ticket`` → ``PrintResult``, ``printer_status`` →
  ``PrinterStatus``, ``decode_raster``.
- ``printer.agent``: the ``motcua-printer`` program for a printer on another machine.
- ``printer.cli``: ``print_test`` behind ``motcua print-test``.

See docs/printing.md for setting printers up.
"""

import importlib.resources as _resources
import os as _os
import platform as _platform
import shutil as _shutil
import sys as _sys
import tempfile as _tempfile
from pathlib import Path as _Path

_ESCPOS_ENV = "ESCPOS_CAPABILITIES_PICKLE_DIR"


def _escpos_cache_dir() -> _Path | None:
    """A folder of this user's alone that lasts (a pickle is code: never a shared one)."""
    if _sys.platform == "win32":
        base = _Path(_os.environ.get("LOCALAPPDATA") or _Path.home() / "AppData" / "Local")
    else:
        base = _Path(_os.environ.get("XDG_CACHE_HOME") or _Path.home() / ".cache")
    folder = base / "motcua" / "escpos"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if _sys.platform != "win32":
            info = folder.stat()
            if info.st_uid != _os.getuid() or info.st_mode & 0o022:
                return None
    except OSError:
        return None
    return folder


def _escpos_pickle(folder: _Path) -> _Path:
    return folder / f"{_platform.python_version()}.capabilities.pickle"


def _use_escpos_cache() -> None:
    """python-escpos parses its printer database (YAML, about 0.6 s of CPU) on every import
    unless it finds its own pickle of it, which it looks for in a new temporary folder each
    time. Point it at a lasting folder once a complete, up-to-date pickle is there
    (``keep_escpos_cache`` puts it there atomically after a parse), so that it only reads
    it and never rewrites it beside another process reading. An office may set
    ESCPOS_CAPABILITIES_PICKLE_DIR itself."""
    if _ESCPOS_ENV in _os.environ:
        return
    folder = _escpos_cache_dir()
    if folder is None:
        return
    try:
        database = _Path(str(_resources.files("escpos") / "capabilities.json"))
        if _escpos_pickle(folder).stat().st_mtime < database.stat().st_mtime:
            return
    except OSError:
        return
    _os.environ[_ESCPOS_ENV] = str(folder)


def keep_escpos_cache(made: str) -> None:
    """After python-escpos parsed its database into the pickle ``made`` (in its temporary
    folder), copy that pickle atomically into the lasting folder for the next start."""
    if _os.environ.get(_ESCPOS_ENV):
        return
    folder = _escpos_cache_dir()
    if folder is None:
        return
    try:
        fd, tmp = _tempfile.mkstemp(dir=folder, suffix=".tmp")
        with _os.fdopen(fd, "wb") as out, open(made, "rb") as src:
            _shutil.copyfileobj(src, out)
        _os.replace(tmp, _escpos_pickle(folder))
    except OSError:
        pass


_use_escpos_cache()
