"""config.toml is validated at start, with the key at fault named in the message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from queue_server.config import describe, load_config, parse_config
from queue_server.errors import ConfigError
from tests.support import SAMPLE_CONFIG, sample_data


def test_the_sample_office_is_valid_and_realistic():
    config = load_config(SAMPLE_CONFIG)
    assert [s.name for s in config.services] == [
        "Chứng thực",
        "Hộ tịch",
        "Đất đai – Xây dựng",
        "Lao động – Thương binh và Xã hội",
        "Trả kết quả",
    ]
    assert len(config.counters) == 5
    assert config.office.timezone == "Asia/Ho_Chi_Minh"


def broken(**change: Any) -> dict[str, Any]:
    data = sample_data()
    for dotted, value in change.items():
        *path, last = dotted.split("__")
        target: Any = data
        for part in path:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(last) if last.isdigit() else last] = value
    return data


@pytest.mark.parametrize(
    "change,key",
    [
        ({"office__colour": "blue"}, "office.colour"),
        ({"server__port": "8000"}, "server.port"),
        ({"server__port": 70000}, "server.port"),
        ({"queue__priority_rule": "fair"}, "queue.priority_rule"),
        ({"rating__levels": 7}, "rating.levels"),
        ({"office__timezone": "Mars/Olympus"}, "office.timezone"),
        ({"office__hours__mon": ["7:30-11:30"]}, "office.hours.mon[0]"),
        ({"office__hours__tue": ["11:30-07:30"]}, "office.hours.tue[0]"),
        ({"services__1__code": "CT"}, "services[1].code"),
        ({"services__1__range": [1500, 2500]}, "services[1].range"),
        ({"services__0__prefix": "Ω"}, "services[0].prefix"),
        ({"counters__1__number": 1}, "counters[1].number"),
        ({"counters__0__services": {"ZZ": "primary"}}, "counters[0].services.ZZ"),
        ({"counters__0__services": {"CT": "sometimes"}}, "counters[0].services.CT"),
        ({"kiosks__0__printer": "nowhere"}, "kiosks[0].printer"),
        ({"kiosks__0__token": "short"}, "kiosks[0].token"),
        ({"printers__0__width": 500}, "printers[0].width"),
        ({"printers__0__width": 192}, "printers[0].width"),  # narrower than a ticket can be drawn
        ({"display__voice": "robot"}, "display.voice"),
    ],
)
def test_a_wrong_value_stops_with_the_key_named(change: dict[str, Any], key: str):
    with pytest.raises(ConfigError) as e:
        parse_config(broken(**change))
    assert e.value.details["key"] == key if "key" in e.value.details else e.value.key == key
    assert key in e.value.message and key in e.value.message_en


def test_a_missing_required_key_is_named():
    data = sample_data()
    del data["services"][0]["name"]
    with pytest.raises(ConfigError) as e:
        parse_config(data)
    assert "services[0].name" in e.value.message_en


def test_toml_syntax_errors_and_missing_files_are_reported_plainly(tmp_path: Path):
    bad = tmp_path / "config.toml"
    bad.write_text("[office\nname = 1")
    with pytest.raises(ConfigError) as e:
        load_config(bad)
    assert "TOML" in e.value.message_en
    with pytest.raises(ConfigError):
        load_config(tmp_path / "missing.toml")


def test_every_setting_has_help_text():
    rows = describe()
    assert all(help_text for _, _, _, help_text in rows)
    assert any(key == "queue.interleave" for key, *_ in rows)


@pytest.mark.parametrize(
    ("section", "key", "value", "vi", "en"),
    [
        ("server", "port", float("nan"), "phải là số nguyên", "must be a whole number"),
        ("office", "name", 3, "phải là chữ", "must be a string"),
        ("rating", "levels", "4", "phải là số nguyên", "must be a whole number"),
        ("office", "enforce_hours", "yes", "phải là true hoặc false", "must be true or false"),
    ],
)
def test_a_value_of_the_wrong_type_is_explained_in_each_language(section, key, value, vi, en):
    # The Vietnamese message once read "server.port: phải là a whole number, không phải nan".
    with pytest.raises(ConfigError) as e:
        parse_config(sample_data(**{section: {key: value}}))
    assert e.value.message.startswith(f"{section}.{key}: {vi},"), e.value.message
    assert e.value.message_en.startswith(f"{section}.{key}: {en},"), e.value.message_en


def test_the_narrowest_printer_width_is_the_narrowest_ticket_the_renderer_draws() -> None:
    from printer.render import MIN_WIDTH_PX
    from queue_server.config import MIN_TICKET_WIDTH_PX

    assert MIN_TICKET_WIDTH_PX == MIN_WIDTH_PX
