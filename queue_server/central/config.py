"""central.toml, read once, typed and validated like config.toml (same declaration style:
each setting once, with its help text, which docs/central.md lists)."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..config import _build, _check_bounds, _help, describe_table
from ..errors import ConfigError

_SITE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


@dataclass(frozen=True)
class Central:
    name: str = _help("Name shown on the overview (e.g. the province's centre)", "Tổng hợp các điểm một cửa")
    host: str = _help("Address to listen on", "127.0.0.1")
    port: int = _help("TCP port of the central's web page", 8100, lo=1, hi=65535)
    database: str = _help("The central's own SQLite file, relative to central.toml", "var/central.db")
    secret_file: str = _help("Cookie signing key (created if missing)", "var/central-secret.key")
    timezone: str = _help("Time zone for the central's own clock ('last heard' times)", "Asia/Ho_Chi_Minh")
    pull_interval_seconds: float = _help(
        "Seconds between pulls of each site (a site may set its own)", 30.0, lo=1, hi=86400
    )
    page_size: int = _help("Events asked for per request while catching up", 2000, lo=1, hi=5000)
    silent_after_seconds: int = _help(
        "A site not heard from for this long is shown as out of contact", 120, lo=1, hi=7 * 86400
    )
    timeout_seconds: float = _help("Seconds to wait for a site's answer", 10.0, lo=0.1, hi=600)
    https: bool = _help("Served behind HTTPS: cookies get the Secure flag", False)
    trusted_proxies: list[str] = _help(
        "Reverse proxies (IP addresses or networks) whose X-Forwarded-For and "
        "X-Forwarded-Proto headers are believed; none by default",
        default_factory=list,
    )
    ca_file: str = _help(
        "PEM file of the CA that signed the sites' HTTPS certificates (a province CA); '' : the system's", ""
    )


@dataclass(frozen=True)
class Site:
    id: str = _help("Short id of the site (a-z, 0-9, - and _), used in URLs and reports")
    name: str = _help("Name shown on the overview and in reports")
    token: str = _help("The site's [sync] token (also verifies its offline bundles)")
    url: str = _help("Base URL of the site's motcua server, e.g. http://10.1.2.3:8000 ('' : bundles only)", "")
    pull_interval_seconds: float = _help(
        "Seconds between pulls of this site (0: the central's default)", 0.0, lo=0, hi=86400
    )


@dataclass(frozen=True)
class CentralConfig:
    central: Central = _help("The central", default_factory=Central)
    sites: list[Site] = _help("Sites", default_factory=list)
    path: Path | None = dataclasses.field(default=None, compare=False)

    def resolve(self, relative: str) -> Path:
        p = Path(relative)
        if p.is_absolute() or self.path is None:
            return p
        return self.path.parent / p

    def site(self, site_id: str) -> Site:
        for s in self.sites:
            if s.id == site_id:
                return s
        raise KeyError(site_id)

    def interval(self, site: Site) -> float:
        return site.pull_interval_seconds or self.central.pull_interval_seconds

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.central.timezone)


def _fail(key: str, vi: str, en: str) -> ConfigError:
    return ConfigError(f"{key}: {vi}", f"{key}: {en}", key=key)


def _validate(cfg: CentralConfig) -> None:
    _check_bounds(cfg, "")  # every number finite and inside its declared bounds (as config.toml)
    c = cfg.central
    try:
        cfg.tz
    except (ZoneInfoNotFoundError, ValueError):
        raise _fail("central.timezone", "múi giờ không tồn tại", "unknown time zone") from None
    if c.ca_file and not cfg.resolve(c.ca_file).is_file():
        raise _fail("central.ca_file", "không có tệp này", "no such file")
    for i, proxy in enumerate(c.trusted_proxies):
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise _fail(
                f"central.trusted_proxies[{i}]",
                "phải là địa chỉ IP hoặc mạng (127.0.0.1, 10.0.0.0/8)",
                "must be an IP address or network (127.0.0.1, 10.0.0.0/8)",
            ) from None
    ids: set[str] = set()
    tokens: set[str] = set()
    for i, s in enumerate(cfg.sites):
        key = f"sites[{i}]"
        if not _SITE_ID.match(s.id):
            raise _fail(
                f"{key}.id", "chỉ gồm a-z, 0-9, - và _ (tối đa 40 ký tự)", "a-z, 0-9, - and _ only (at most 40)"
            )
        if s.id in ids:
            raise _fail(f"{key}.id", "bị trùng", "is a duplicate")
        ids.add(s.id)
        if len(s.token) < 16:
            raise _fail(f"{key}.token", "cần ít nhất 16 ký tự", "needs at least 16 characters")
        if s.token in tokens:
            raise _fail(f"{key}.token", "mỗi văn phòng cần mã riêng", "each site needs its own token")
        tokens.add(s.token)
        if s.url:
            parts = urlsplit(s.url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise _fail(
                    f"{key}.url",
                    "phải có dạng http://máy:cổng hoặc https://…",
                    "must look like http://host:port or https://…",
                )
        if 0 < s.pull_interval_seconds < 1:
            raise _fail(f"{key}.pull_interval_seconds", "phải là 0 hoặc ít nhất 1", "must be 0 or at least 1")


def parse_central_config(data: dict[str, Any], path: Path | None = None) -> CentralConfig:
    cfg: CentralConfig = dataclasses.replace(_build(CentralConfig, data, ""), path=path)
    _validate(cfg)
    return cfg


def markdown_table() -> str:
    """The settings of central.toml as docs/central.md lists them (tests keep them in step)."""
    return describe_table(CentralConfig)


def read_toml(path: str | Path) -> tuple[Path, dict[str, Any]]:
    p = Path(path).resolve()
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(
            f"Không đọc được tệp cấu hình {p}: {e.strerror}", f"Cannot read config file {p}: {e.strerror}", key="config"
        ) from None
    try:
        return p, tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(
            f"{p.name}: lỗi cú pháp TOML: {e}", f"{p.name}: TOML syntax error: {e}", key="config"
        ) from None


def is_central_config(path: str | Path) -> bool:
    """A central.toml has a [central] table or [[sites]]; an office's config.toml has neither."""
    try:
        _, data = read_toml(path)
    except ConfigError:
        return False
    return "central" in data or "sites" in data


def load_central_config(path: str | Path) -> CentralConfig:
    p, data = read_toml(path)
    return parse_central_config(data, p)
