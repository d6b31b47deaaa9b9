"""The screens' texts and assets, without a browser: every text the pages use is in both
catalogues, and nothing is fetched from outside the office's own server."""

from __future__ import annotations

import json
import re

from tests.support import ROOT

DISPLAY = ROOT / "display"
OWN_SCRIPTS = [p for p in (DISPLAY / "js").glob("*.js") if not p.name.startswith(("admin", "central"))]
# The central's pages (docs/central.md) carry their own words in central-i18n.js.
CENTRAL_SCRIPTS = [p for p in (DISPLAY / "js").glob("central*.js") if p.name != "central-i18n.js"]
SCREENS = ["index.html", "kiosk.html", "display.html", "counter.html", "rate.html", "status.html", "board.html"]


def catalogue(lang: str) -> dict[str, str]:
    return json.loads((DISPLAY / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))


def used_keys() -> set[str]:
    keys: set[str] = set()
    for name in SCREENS:
        html = (DISPLAY / name).read_text(encoding="utf-8")
        keys |= set(re.findall(r'data-i18n(?:-\w+)?="([\w.]+)"', html))
    for path in OWN_SCRIPTS:
        keys |= set(re.findall(r'\bt\("([\w.]+)"', path.read_text(encoding="utf-8")))
    return keys


def test_vietnamese_and_english_catalogues_have_the_same_keys():
    assert catalogue("vi").keys() == catalogue("en").keys()


def test_every_text_a_screen_uses_is_in_the_catalogues():
    missing = used_keys() - catalogue("vi").keys()
    assert not missing, f"keys used by the screens but not in vi.json/en.json: {sorted(missing)}"


def test_every_word_the_central_pages_use_is_in_both_languages():
    words = (DISPLAY / "js" / "central-i18n.js").read_text(encoding="utf-8")
    vi, en = (re.search(rf"{lang}: {{(.*?)\n  }}", words, re.S) for lang in ("vi", "en"))
    assert vi and en
    known_vi = set(re.findall(r"(\w+):", vi.group(1)))
    known_en = set(re.findall(r"(\w+):", en.group(1)))
    used = {k for p in CENTRAL_SCRIPTS for k in re.findall(r'\bt\("(\w+)"', p.read_text(encoding="utf-8"))}
    assert used and used <= known_vi and used <= known_en, sorted(used - (known_vi & known_en))


def test_placeholders_match_between_languages():
    vi, en = catalogue("vi"), catalogue("en")
    for key, text in vi.items():
        assert set(re.findall(r"\{(\w+)\}", text)) == set(re.findall(r"\{(\w+)\}", en[key])), key


def test_screens_load_nothing_from_the_internet():
    for path in [*(DISPLAY / n for n in SCREENS), *(DISPLAY / "css").glob("*.css"), *OWN_SCRIPTS]:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r'(src|href)="(https?:)?//|url\(["\']?(https?:)?//|import[^;]*["\'](https?:)?//', text), (
            path
        )


def test_vendored_files_carry_their_licences():
    assert (DISPLAY / "vendor" / "qrcode.mjs").is_file()
    assert "MIT License" in (DISPLAY / "vendor" / "LICENSE-qrcode-generator.txt").read_text()
    assert "SIL Open Font License" in (DISPLAY / "fonts" / "OFL-NotoSans.txt").read_text()


def test_every_ticket_state_counter_state_and_refusal_has_its_texts():
    from queue_server.engine import ISSUE_REFUSALS, CounterState, TicketState

    vi = catalogue("vi")
    for state in TicketState:
        assert f"status.state.{state.value}" in vi and f"status.text.{state.value}" in vi
        assert f"common.ticket_state.{state.value}" in vi  # staff screens' label (display/js/labels.js)
    for state in (TicketState.CALLED, TicketState.SERVING):
        assert f"counter.ticket.{state.value}" in vi
    for state in CounterState:
        assert f"counter.state.{state.value}" in vi
    for reason in ISSUE_REFUSALS:
        assert f"kiosk.reason.{reason}" in vi
