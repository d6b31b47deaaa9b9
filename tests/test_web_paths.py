"""What an admin's browser may point the server at: printer URLs are validated (file:// only
a printer device, png:// only inside the data folder), where the server keeps its files is
read-only from the web, the secret file is never overwritten, and odd config edits are 400s
naming the key, on a connection that stays usable."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomlkit

from queue_server.app import create_app
from queue_server.config import load_config
from queue_server.errors import ConfigError
from tests.support import PASSWORD, ServerProcess, add_staff, write_config


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("webpaths")
    config_path = write_config(folder)
    add_staff(config_path, {"boss": "admin"})
    proc = ServerProcess(folder, config_path).start()
    try:
        yield proc
    finally:
        proc.stop()


class Admin:
    """A signed-in admin on one kept-alive HTTP connection."""

    def __init__(self, srv: ServerProcess) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=20)
        status, _ = self.call("POST", "/api/login", {"username": "boss", "password": PASSWORD})
        assert status == 200

    cookie = ""

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        headers = {"Content-Type": "application/json", "Cookie": self.cookie}
        self.conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        cookie = response.getheader("set-cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        return response.status, json.loads(data or b"{}")


def editable(admin: Admin) -> dict[str, Any]:
    status, body = admin.call("GET", "/api/admin/config")
    assert status == 200
    return body["editable"]  # type: ignore[no-any-return]


def printer_with(admin: Admin, url: str) -> tuple[int, dict[str, Any]]:
    printers = editable(admin)["printers"]
    return admin.call("POST", "/api/admin/config", {"printers": [dict(printers[0], url=url)]})


def test_printer_urls_from_the_web_are_validated(srv: ServerProcess, tmp_path: Path) -> None:
    admin = Admin(srv)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    before = srv.config_path.read_text(encoding="utf-8")
    for url in (
        "not a url",
        f"file://{victim}",
        f"file://{tmp_path}/new.bin",
        "ftp://x/y",
        "file:///etc/passwd",
        f"png://{tmp_path}",
        "png://../../elsewhere",
        "png:///tmp",
    ):
        status, body = printer_with(admin, url)
        assert status == 400, (url, body)
        assert body["error"] == "printers[0].url" and "printers[0].url" in body["message_en"], body
        # The Vietnamese message says it all in Vietnamese (the detail too).
        assert not any(w in body["message"] for w in ("printer URL", "use one of", "is only for", "needs a")), body
    assert victim.read_text() == "keep me" and not (tmp_path / "new.bin").exists()
    assert srv.config_path.read_text(encoding="utf-8") == before
    # Inside the data folder (next to the database), and a printer device's name, are fine.
    assert printer_with(admin, "png://var/other-tickets")[0] == 200
    assert printer_with(admin, "file:///dev/usb/lp0")[0] == 200
    assert printer_with(admin, "png://var/tickets")[0] == 200


@pytest.mark.parametrize(
    "key, value",
    [
        ("server.database", "/proc/motcua.db"),
        ("server.secret_file", "config.toml"),
        ("server.host", "0.0.0.0"),
        ("server.trusted_proxies", ["0.0.0.0/0"]),
        ("backup.dir", "/etc"),
        ("display.clips_dir", "/"),
    ],
)
def test_where_the_server_keeps_its_files_is_read_only_from_the_web(srv: ServerProcess, key: str, value: Any) -> None:
    admin = Admin(srv)
    before = srv.config_path.read_text(encoding="utf-8")
    doc = tomlkit.parse(before)
    section, name = key.split(".")
    doc.setdefault(section, tomlkit.table())[name] = value
    status, body = admin.call("POST", "/api/admin/config/text", {"text": tomlkit.dumps(doc)})
    assert status == 400 and body["details"]["field"] == key, body
    assert srv.config_path.read_text(encoding="utf-8") == before


def test_odd_config_edits_are_400s_naming_the_key_and_the_connection_lives_on(srv: ServerProcess) -> None:
    admin = Admin(srv)
    counters = editable(admin)["counters"]
    deep: Any = "x"
    for _ in range(500):
        deep = {"a": deep}
    cases = [
        ({"office": {"ticker": deep}}, "office.ticker"),
        ({"counters": [dict(counters[0], number=[1]), *counters[1:]]}, "counters[0].number"),
        ({"counters": [dict(counters[0], number={"n": 1}), *counters[1:]]}, "counters[0].number"),
        ({"counters": [dict(counters[0], name=[[["x"]]]), *counters[1:]]}, "counters[0].name"),
        ({"services": [{"code": "CT", "name": "x", "range": [1, [2]]}]}, "services[0].range"),
    ]
    for body, key in cases:
        status, answer = admin.call("POST", "/api/admin/config", body)
        assert status == 400, (key, answer)
        assert key in answer["message_en"], (key, answer)
    # The same kept-alive connection still answers.
    assert admin.call("GET", "/api/admin/config")[0] == 200


def test_config_edits_honour_server_max_body_bytes(srv: ServerProcess, tmp_path: Path) -> None:
    """The whole-file edit is a request like any other: over ``server.max_body_bytes`` (256 KiB
    by default) it is a 413 naming the setting and nothing changes; a server allowed more takes it."""
    admin = Admin(srv)
    before = srv.config_path.read_text(encoding="utf-8")
    padded = before + "\n# " + "x" * 270_000 + "\n"  # just over 256 KiB
    status, body = admin.call("POST", "/api/admin/config/text", {"text": padded})
    assert status == 413 and "server.max_body_bytes" in body["message_en"] and body["message"], body
    status, body = Admin(srv).call("POST", "/api/admin/config", {"office": {"ticker": "y" * 270_000}})
    assert status == 413 and "server.max_body_bytes" in body["message_en"], body
    assert srv.config_path.read_text(encoding="utf-8") == before
    config_path = write_config(tmp_path, server={"max_body_bytes": 524288})
    add_staff(config_path, {"boss": "admin"})
    with ServerProcess(tmp_path, config_path) as roomy:
        text = config_path.read_text(encoding="utf-8") + "\n# " + "x" * 270_000 + "\n"
        assert Admin(roomy).call("POST", "/api/admin/config/text", {"text": text})[0] == 200
        assert config_path.read_text(encoding="utf-8") == text


def test_an_existing_secret_file_is_never_overwritten(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    secret = config.resolve(config.server.secret_file)
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_text("short")
    with pytest.raises(ConfigError) as caught:
        create_app(config, printing=False)
    assert caught.value.key == "server.secret_file"
    assert secret.read_text() == "short"
    secret.unlink()
    create_app(config, printing=False)
    made = secret.read_text().strip()
    assert len(made) >= 32 and (secret.stat().st_mode & 0o077) == 0
    create_app(config, printing=False)
    assert secret.read_text().strip() == made


def test_a_malformed_secret_file_stops_the_server_at_start(tmp_path: Path) -> None:
    config_path = write_config(tmp_path)
    config = load_config(config_path)
    secret = config.resolve(config.server.secret_file)
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_bytes(b"\xff\xfe not a key at all, and with spaces in it")
    with pytest.raises(RuntimeError, match="secret_file"):
        ServerProcess(tmp_path, config_path).start(timeout=15)
    assert secret.read_bytes().startswith(b"\xff\xfe")
