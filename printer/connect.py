"""One printer URL → one python-escpos printer object.

URL forms (the same strings go in config.toml, ``motcua print-test`` and
``motcua-printer --printer``)::

    usb://0416:5011                 USB, vendor:product id in hex (see `lsusb`)
    usb://0416:5011?in_ep=0x81&out_ep=0x03
    tcp://192.168.1.50              network printer, port 9100
    tcp://192.168.1.50:9101
    serial:///dev/ttyUSB0?baudrate=9600      (Windows: serial://COM3?baudrate=19200)
    file:///dev/usb/lp0             a printer device the OS already drives: a character
                                    device (/dev/usb/lp*, /dev/lp*, /dev/ttyUSB*, /dev/ttyACM*,
                                    /dev/ttyS*; Windows COM1, LPT1), never a regular file
    cups://POS58                    a CUPS queue (raw), needs pycups
    win32://POS-80C                 a Windows spooler printer (raw), needs pywin32
    png:///var/lib/motcua/tickets   no printer: each job is saved as a PNG file

``open_printer`` only builds the object; nothing is opened until ``.open()``
(``printer.output`` does that, so it can tell "could not connect" from "failed
while sending").
"""

from __future__ import annotations

import copy
import itertools
import logging
import os
import re
import stat
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from escpos import capabilities as escpos_capabilities
from escpos import printer as escpos_printer
from escpos.capabilities import get_profile_class
from escpos.escpos import Escpos
from escpos.exceptions import DeviceNotFoundError

from printer import keep_escpos_cache
from printer._raster import decode_raster, raster_blocks

log = logging.getLogger(__name__)

keep_escpos_cache(escpos_capabilities.pickle_path)

# python-escpos waits 60 s on a network printer by default; a kiosk cannot.
DEFAULT_TIMEOUT = 5.0
SCHEMES = ("usb", "tcp", "serial", "file", "cups", "win32", "png")
DEFAULT_TCP_PORT = 9100


class PrinterConfigError(ValueError):
    """A printer URL or profile that cannot work; the message names it (English; ``vi``: the
    same in Vietnamese, for the office's screens and commands)."""

    def __init__(self, message: str, vi: str | None = None) -> None:
        super().__init__(message)
        self.vi = vi or message


# Names a printer device has while it is unplugged (so the config may name it then).
_DEVICE_NAMES = re.compile(r"/dev/(usb/lp|lp|ttyUSB|ttyACM|ttyS)\d+")
_WINDOWS_PORTS = re.compile(r"(\\\\\.\\)?(COM|LPT)\d+", re.I)


def check_device(path: str, *, must_exist: bool) -> None:
    """Refuse a ``file://`` target that is not a printer device: opening a regular file
    for writing would truncate it, and ticket bytes would overwrite it. A path that exists
    must be a character device; a missing one must look like a printer device's name (it
    may be unplugged); ``must_exist`` (just before opening) refuses a missing one too.
    Windows port names (COM3, LPT1) are taken as they are."""
    if os.name == "nt" and _WINDOWS_PORTS.fullmatch(path):
        return
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if must_exist:
            raise PrinterConfigError(
                f"printer device {path!r} does not exist (is the printer plugged in?)",
                f"không có thiết bị máy in {path!r} (máy in đã cắm chưa?)",
            ) from None
        if not _DEVICE_NAMES.fullmatch(path):
            raise PrinterConfigError(
                f"file:// needs a printer device such as /dev/usb/lp0, /dev/ttyUSB0 or COM3, not {path!r}",
                f"file:// chỉ dùng cho thiết bị máy in như /dev/usb/lp0, /dev/ttyUSB0 hoặc COM3, không phải {path!r}",
            ) from None
        return
    except OSError as e:
        raise PrinterConfigError(
            f"printer device {path!r}: {e.strerror}", f"thiết bị máy in {path!r}: {e.strerror}"
        ) from None
    if not stat.S_ISCHR(mode):
        raise PrinterConfigError(
            f"file:// is only for a printer device (a character device such as /dev/usb/lp0), "
            f"and {path!r} is not one: it would be overwritten",
            f"file:// chỉ dùng cho thiết bị máy in (thiết bị ký tự như /dev/usb/lp0); {path!r} không phải: "
            "tệp đó sẽ bị ghi đè",
        )


@dataclass(frozen=True)
class PrinterURL:
    """A parsed printer URL: ``target`` is the host, device, queue name or directory."""

    scheme: str
    target: str
    port: int | None = None
    options: dict[str, str] = field(default_factory=dict)


def parse_printer_url(url: str) -> PrinterURL:
    """Parse and validate a printer URL without touching any device."""
    if not isinstance(url, str) or "://" not in url:
        schemes = ", ".join(f"{s}://" for s in SCHEMES)
        raise PrinterConfigError(
            f"printer URL {url!r} has no scheme; use one of {schemes}",
            f"địa chỉ máy in {url!r} thiếu kiểu kết nối; dùng một trong {schemes}",
        )
    scheme, rest = url.split("://", 1)
    scheme = scheme.lower()
    if scheme not in SCHEMES:
        schemes = ", ".join(f"{s}://" for s in SCHEMES)
        raise PrinterConfigError(
            f"printer URL {url!r}: unknown scheme {scheme!r}; use one of {schemes}",
            f"địa chỉ máy in {url!r}: không biết kiểu kết nối {scheme!r}; dùng một trong {schemes}",
        )
    if scheme == "tcp":
        return _parse_tcp(url)
    if scheme in ("usb", "serial"):
        rest, _, query = rest.partition("?")
        try:
            options = dict(parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)))
        except ValueError:
            raise PrinterConfigError(
                f"printer URL {url!r}: malformed options {query!r}",
                f"địa chỉ máy in {url!r}: tùy chọn sai dạng {query!r}",
            ) from None
        if scheme == "usb":
            return _parse_usb(url, rest, options)
        return _parse_serial(url, rest, options)
    target = unquote(rest)
    if not target:
        what, what_vi = {
            "file": ("a device path", "đường dẫn thiết bị"),
            "cups": ("a queue name", "tên hàng đợi in"),
            "win32": ("a printer name", "tên máy in"),
            "png": ("a directory", "một thư mục"),
        }[scheme]
        raise PrinterConfigError(
            f"printer URL {url!r} needs {what} after {scheme}://",
            f"địa chỉ máy in {url!r} cần {what_vi} sau {scheme}://",
        )
    if any(ch in target for ch in "\x00\r\n") or (scheme in ("file", "png") and ("?" in rest or "#" in rest)):
        raise PrinterConfigError(
            f"printer URL {url!r}: unexpected characters in {target!r}",
            f"địa chỉ máy in {url!r}: có ký tự không hợp lệ trong {target!r}",
        )
    if scheme == "file":
        check_device(target, must_exist=False)
    return PrinterURL(scheme, target)


def _parse_tcp(url: str) -> PrinterURL:
    parts = urlsplit(url)
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise PrinterConfigError(
            f"printer URL {url!r}: expected tcp://HOST or tcp://HOST:PORT",
            f"địa chỉ máy in {url!r}: cần dạng tcp://MÁY hoặc tcp://MÁY:CỔNG",
        )
    try:
        port = parts.port
    except ValueError:
        raise PrinterConfigError(
            f"printer URL {url!r}: the port is not a number 1-65535",
            f"địa chỉ máy in {url!r}: cổng phải là số từ 1 đến 65535",
        ) from None
    if not parts.hostname:
        raise PrinterConfigError(
            f"printer URL {url!r}: missing host, e.g. tcp://192.168.1.50",
            f"địa chỉ máy in {url!r}: thiếu địa chỉ máy, ví dụ tcp://192.168.1.50",
        )
    if port == 0:
        raise PrinterConfigError(
            f"printer URL {url!r}: the port is not a number 1-65535",
            f"địa chỉ máy in {url!r}: cổng phải là số từ 1 đến 65535",
        )
    return PrinterURL("tcp", parts.hostname, port or DEFAULT_TCP_PORT)


_USB_OPTIONS = {"in_ep", "out_ep"}
_SERIAL_OPTIONS = {"baudrate", "bytesize", "parity", "stopbits", "xonxoff", "dsrdtr"}


def _parse_usb(url: str, rest: str, options: dict[str, str]) -> PrinterURL:
    vid, sep, pid = rest.rstrip("/").partition(":")
    try:
        if not sep:
            raise ValueError
        ids = [int(x, 16) for x in (vid, pid)]
        if not all(0 < i <= 0xFFFF for i in ids) or not all(len(x) <= 4 for x in (vid, pid)):
            raise ValueError
        for key, value in options.items():
            if key not in _USB_OPTIONS:
                raise PrinterConfigError(
                    f"printer URL {url!r}: unknown option {key!r} (known: in_ep, out_ep)",
                    f"địa chỉ máy in {url!r}: không biết tùy chọn {key!r} (có: in_ep, out_ep)",
                )
            int(value, 0)
    except ValueError:
        raise PrinterConfigError(
            f"printer URL {url!r}: expected usb://VID:PID in hex as `lsusb` shows it, e.g. usb://0416:5011",
            f"địa chỉ máy in {url!r}: cần dạng usb://VID:PID (số hex như `lsusb` cho thấy), ví dụ usb://0416:5011",
        ) from None
    return PrinterURL("usb", f"{ids[0]:04x}:{ids[1]:04x}", options=options)


def _parse_serial(url: str, rest: str, options: dict[str, str]) -> PrinterURL:
    device = unquote(rest)
    if not device:
        raise PrinterConfigError(
            f"printer URL {url!r}: expected serial:///dev/ttyUSB0?baudrate=9600",
            f"địa chỉ máy in {url!r}: cần dạng serial:///dev/ttyUSB0?baudrate=9600",
        )
    for key, value in options.items():
        if key not in _SERIAL_OPTIONS:
            known = ", ".join(sorted(_SERIAL_OPTIONS))
            raise PrinterConfigError(
                f"printer URL {url!r}: unknown option {key!r} (known: {known})",
                f"địa chỉ máy in {url!r}: không biết tùy chọn {key!r} (có: {known})",
            )
        if key in ("baudrate", "bytesize", "stopbits") and not value.isdigit():
            raise PrinterConfigError(
                f"printer URL {url!r}: {key} must be a number, not {value!r}",
                f"địa chỉ máy in {url!r}: {key} phải là số, không phải {value!r}",
            )
    return PrinterURL("serial", device, options=options)


class PngPrinter(escpos_printer.Dummy):  # type: ignore[misc]
    """A virtual printer: every job it receives is decoded and saved as a PNG in ``directory``.

    A job ends at ``close()`` (``printer.output`` closes after every job). The status
    query always answers "online, paper adequate". ``saved`` lists the files written.
    """

    _counter = itertools.count(1)

    def __init__(self, directory: str | os.PathLike[str], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.directory = Path(directory)
        self.saved: list[Path] = []

    def open(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise DeviceNotFoundError(f"cannot create ticket directory {self.directory}: {e}") from e
        self._device = True  # mark open so close() knows a job may be pending

    def _read(self) -> bytes:
        return b"\x12"  # DLE EOT answer: online, no error, paper present

    def close(self) -> None:
        data = self.output
        self.clear()
        if not raster_blocks(data):
            return
        name = f"ticket-{datetime.now():%Y%m%d-%H%M%S-%f}-{next(self._counter)}.png"
        path = self.directory / name
        decode_raster(data).save(path)
        self.saved.append(path)
        log.info("saved ticket image %s", path)


def _profile_class(profile: str | None) -> Any:
    try:
        return get_profile_class(profile or "default")
    except KeyError:
        raise PrinterConfigError(
            f"unknown printer profile {profile!r}; examples: POS-5890 (58 mm), TM-T20II (80 mm). "
            "Leave it empty for the generic profile.",
            f"không biết mẫu máy in {profile!r}; ví dụ: POS-5890 (58 mm), TM-T20II (80 mm). "
            "Để trống để dùng mẫu chung.",
        ) from None


def own_profile(printer: Escpos) -> None:
    """Give ``printer`` a private copy of its profile data.

    python-escpos keeps profile data on the profile *class*, shared by every
    printer object with that profile: changing one would change them all.
    """
    printer.profile.profile_data = copy.deepcopy(type(printer.profile).profile_data)


# The python-escpos connection class of each scheme whose library may be missing, and what it needs.
_LIBRARIES: dict[str, tuple[Any, str]] = {
    "usb": (escpos_printer.Usb, "pyusb (pip install 'python-escpos[usb]') and libusb"),
    "serial": (escpos_printer.Serial, "pyserial (pip install 'python-escpos[serial]')"),
    "cups": (escpos_printer.CupsPrinter, "pycups (pip install pycups; needs the CUPS headers)"),
    "win32": (escpos_printer.Win32Raw, "pywin32 (Windows only)"),
}


def _require_library(url: str, scheme: str, cls: Any) -> None:
    if scheme in _LIBRARIES and not cls.is_usable():
        raise PrinterConfigError(
            f"printer URL {url!r} needs {_LIBRARIES[scheme][1]}, which is not installed",
            f"địa chỉ máy in {url!r} cần {_LIBRARIES[scheme][1]}, chưa được cài",
        )


def check_printer(url: str, *, here: bool = True) -> None:
    """What ``open_printer`` refuses about a URL, without building anything: a bad URL and
    (``here``: this computer drives the printer) a connection library that is not installed.
    The config's check runs it, with ``check_profile``, so a wrong printer stops the start."""
    parsed = parse_printer_url(url)
    if here and parsed.scheme in _LIBRARIES:
        _require_library(url, parsed.scheme, _LIBRARIES[parsed.scheme][0])


def check_profile(profile: str | None) -> None:
    """Refuse an unknown python-escpos profile name (``PrinterConfigError`` naming it)."""
    _profile_class(profile)


def open_printer(url: str, *, profile: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> Escpos:
    """Build (but do not open) the python-escpos printer for ``url``.

    Raises ``PrinterConfigError`` for an unknown scheme, a malformed URL, an unknown
    profile or a connection type whose library is not installed.
    """
    parsed = parse_printer_url(url)
    _profile_class(profile)  # fail early, with the name, on a typo
    kwargs: dict[str, Any] = {"profile": profile}
    cls: type[Escpos]
    args: tuple[Any, ...]
    if parsed.scheme == "png":
        cls, args = PngPrinter, (parsed.target,)
    elif parsed.scheme == "tcp":
        cls, args = escpos_printer.Network, (parsed.target, parsed.port)
        kwargs["timeout"] = timeout
    elif parsed.scheme == "usb":
        vid, pid = (int(x, 16) for x in parsed.target.split(":"))
        cls, args = escpos_printer.Usb, (vid, pid)
        kwargs["timeout"] = max(1, int(timeout * 1000))  # pyusb counts milliseconds
        for key, value in parsed.options.items():
            kwargs[key] = int(value, 0)
    elif parsed.scheme == "serial":
        cls, args = escpos_printer.Serial, (parsed.target,)
        kwargs["timeout"] = timeout
        for key, value in parsed.options.items():
            if key in ("baudrate", "bytesize", "stopbits"):
                kwargs[key] = int(value)
            elif key in ("xonxoff", "dsrdtr"):
                kwargs[key] = value.lower() in ("1", "true", "yes", "on")
            else:
                kwargs[key] = value
    elif parsed.scheme == "file":
        cls, args = escpos_printer.File, (parsed.target,)
    elif parsed.scheme == "cups":
        cls, args = escpos_printer.CupsPrinter, (parsed.target,)
    else:  # win32
        cls, args = escpos_printer.Win32Raw, (parsed.target,)

    _require_library(url, parsed.scheme, cls)
    printer = cls(*args, **kwargs)
    own_profile(printer)
    return printer
