"""Tests for queue_server.speech: Vietnamese number words, label spelling, call clips."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

from queue_server.speech import (
    LETTER_NAMES,
    WORD_CLIPS,
    all_clip_names,
    call_clips,
    call_sentence,
    number_to_words,
    spell_label,
)

CLIPS_DIR = Path(__file__).resolve().parent.parent / "display" / "audio" / "clips"

# (number, northern reading, southern reading)
NUMBERS = [
    (0, "không", "không"),
    (1, "một", "một"),
    (4, "bốn", "bốn"),
    (5, "năm", "năm"),
    (9, "chín", "chín"),
    (10, "mười", "mười"),
    (11, "mười một", "mười một"),
    (14, "mười bốn", "mười bốn"),
    (15, "mười lăm", "mười lăm"),
    (19, "mười chín", "mười chín"),
    (20, "hai mươi", "hai mươi"),
    (21, "hai mươi mốt", "hai mươi mốt"),
    (24, "hai mươi tư", "hai mươi tư"),
    (25, "hai mươi lăm", "hai mươi lăm"),
    (31, "ba mươi mốt", "ba mươi mốt"),
    (44, "bốn mươi tư", "bốn mươi tư"),
    (55, "năm mươi lăm", "năm mươi lăm"),
    (90, "chín mươi", "chín mươi"),
    (99, "chín mươi chín", "chín mươi chín"),
    (100, "một trăm", "một trăm"),
    (101, "một trăm linh một", "một trăm lẻ một"),
    (104, "một trăm linh bốn", "một trăm lẻ bốn"),
    (105, "một trăm linh năm", "một trăm lẻ năm"),
    (110, "một trăm mười", "một trăm mười"),
    (111, "một trăm mười một", "một trăm mười một"),
    (115, "một trăm mười lăm", "một trăm mười lăm"),
    (121, "một trăm hai mươi mốt", "một trăm hai mươi mốt"),
    (500, "năm trăm", "năm trăm"),
    (999, "chín trăm chín mươi chín", "chín trăm chín mươi chín"),
    (1000, "một nghìn", "một ngàn"),
    (1001, "một nghìn không trăm linh một", "một ngàn không trăm lẻ một"),
    (1005, "một nghìn không trăm linh năm", "một ngàn không trăm lẻ năm"),
    (1010, "một nghìn không trăm mười", "một ngàn không trăm mười"),
    (1015, "một nghìn không trăm mười lăm", "một ngàn không trăm mười lăm"),
    (1023, "một nghìn không trăm hai mươi ba", "một ngàn không trăm hai mươi ba"),
    (1100, "một nghìn một trăm", "một ngàn một trăm"),
    (1234, "một nghìn hai trăm ba mươi tư", "một ngàn hai trăm ba mươi tư"),
    (2002, "hai nghìn không trăm linh hai", "hai ngàn không trăm lẻ hai"),
    (2015, "hai nghìn không trăm mười lăm", "hai ngàn không trăm mười lăm"),
    (2021, "hai nghìn không trăm hai mươi mốt", "hai ngàn không trăm hai mươi mốt"),
    (5999, "năm nghìn chín trăm chín mươi chín", "năm ngàn chín trăm chín mươi chín"),
    (10000, "mười nghìn", "mười ngàn"),
    (10500, "mười nghìn năm trăm", "mười ngàn năm trăm"),
    (15000, "mười lăm nghìn", "mười lăm ngàn"),
    (21000, "hai mươi mốt nghìn", "hai mươi mốt ngàn"),
    (100000, "một trăm nghìn", "một trăm ngàn"),
    (105005, "một trăm linh năm nghìn không trăm linh năm", "một trăm lẻ năm ngàn không trăm lẻ năm"),
    (
        999999,
        "chín trăm chín mươi chín nghìn chín trăm chín mươi chín",
        "chín trăm chín mươi chín ngàn chín trăm chín mươi chín",
    ),
]


@pytest.mark.parametrize(("n", "north", "south"), NUMBERS)
def test_number_reads_as_in_the_north(n: int, north: str, south: str) -> None:
    assert " ".join(number_to_words(n)) == north
    assert " ".join(number_to_words(n, "north")) == north


@pytest.mark.parametrize(("n", "north", "south"), NUMBERS)
def test_number_reads_as_in_the_south(n: int, north: str, south: str) -> None:
    assert " ".join(number_to_words(n, "south")) == south


@pytest.mark.parametrize("bad", [-1, 1_000_000, 10**9, 1.0, "12", None, True])
def test_number_out_of_range_or_not_int_is_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        number_to_words(bad)  # type: ignore[arg-type]


def test_unknown_dialect_is_refused() -> None:
    with pytest.raises(ValueError, match="dialect"):
        number_to_words(1, "central")


@pytest.mark.parametrize("dialect", ["north", "south"])
def test_known_wrong_readings_are_never_produced(dialect: str) -> None:
    # num2words drops "không trăm" above 999.
    assert " ".join(number_to_words(1023, dialect)) != "một nghìn lẻ hai mươi ba"
    # espeak-ng reads the digits 15 as "mười năm".
    assert " ".join(number_to_words(15, dialect)) != "mười năm"
    for n in range(10_000):
        words = number_to_words(n, dialect)
        assert "lẽ" not in words
        # 5 after a tens digit is always lăm, 1 after 2-9 tens always mốt.
        for before, after in pairwise(words):
            assert not (before in ("mười", "mươi") and after == "năm")
            assert not (before == "mươi" and after == "một")
        # Inside a number ≥ 1000 the hundreds are always said.
        if n >= 1000 and n % 1000:
            assert "trăm" in words


def test_linh_and_nghin_belong_to_the_north_le_and_ngan_to_the_south() -> None:
    north = {w for n in range(10_000) for w in number_to_words(n, "north")}
    south = {w for n in range(10_000) for w in number_to_words(n, "south")}
    assert {"linh", "nghìn"} <= north and not {"lẻ", "ngàn"} & north
    assert {"lẻ", "ngàn"} <= south and not {"linh", "nghìn"} & south


@pytest.mark.parametrize(
    ("label", "dialect", "words"),
    [
        ("1023", "north", "một nghìn không trăm hai mươi ba"),
        ("A1023", "north", "a một nghìn không trăm hai mươi ba"),
        ("a15", "north", "a mười lăm"),
        ("B105", "south", "bê một trăm lẻ năm"),
        ("CT-1001", "north", "xê tê một nghìn không trăm linh một"),
        ("Đ7", "north", "đê bảy"),
        ("đ7", "south", "đê bảy"),
        ("Ư5", "north", "ư năm"),
        ("Â2001", "south", "ớ hai ngàn không trăm lẻ một"),
        ("L1", "north", "e-lờ một"),
        ("Y24", "north", "i dài hai mươi tư"),
        ("A007", "north", "a bảy"),
    ],
)
def test_label_is_spelled_letters_then_number(label: str, dialect: str, words: str) -> None:
    assert " ".join(spell_label(label, dialect)) == words


@pytest.mark.parametrize("bad", ["", "A", "12A", "A-", "1.5", "A#12", "Ä12", "1000000"])
def test_malformed_label_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        spell_label(bad)


def test_call_sentence_for_1023_at_counter_2() -> None:
    assert call_sentence("1023", 2) == "Mời công dân có số thứ tự một nghìn không trăm hai mươi ba đến quầy số hai"
    assert call_sentence("1023", 2, "south") == (
        "Mời công dân có số thứ tự một ngàn không trăm hai mươi ba đến quầy số hai"
    )


def test_call_clips_for_1023_at_counter_2() -> None:
    assert call_clips("1023", 2) == [
        "moi_cong_dan_co_so_thu_tu",
        "mot",
        "nghin",
        "khong",
        "tram",
        "hai",
        "muoi2",
        "ba",
        "den_quay_so",
        "hai",
    ]


def test_call_clips_say_the_south_words() -> None:
    assert call_clips("B2005", 15, "south") == [
        "moi_cong_dan_co_so_thu_tu",
        "letter_b",
        "hai",
        "ngan",
        "khong",
        "tram",
        "le",
        "nam",
        "den_quay_so",
        "muoi",
        "lam",
    ]


@pytest.mark.parametrize("counter", [0, -1, 1_000_000])
def test_call_to_a_counter_out_of_range_is_refused(counter: int) -> None:
    with pytest.raises(ValueError):
        call_clips("1", counter)


def test_every_letter_of_the_vietnamese_alphabet_has_a_name() -> None:
    alphabet = "AĂÂBCDĐEÊGHIKLMNOÔƠPQRSTUƯVXY"
    assert len(alphabet) == 29
    assert set(alphabet) | set("FJWZ") == set(LETTER_NAMES)


def test_letter_clips_are_named_like_telex() -> None:
    assert call_clips("Ơ1", 1)[1] == "letter_ow"
    assert call_clips("Đ1", 1)[1] == "letter_dd"
    assert call_clips("B1", 1)[1] == "letter_b"


def test_each_word_has_its_own_clip() -> None:
    assert len(set(WORD_CLIPS.values())) == len(WORD_CLIPS)
    for name in WORD_CLIPS.values():
        assert name.isascii() and name.replace("_", "").isalnum() and name == name.lower()


@pytest.mark.parametrize("dialect", ["north", "south"])
def test_every_clip_a_call_needs_is_listed(dialect: str) -> None:
    listed = set(all_clip_names())
    needed: set[str] = set()
    for n in range(10_000):
        needed.update(call_clips(str(n), 1 + n % 60, dialect))
    for letter in LETTER_NAMES:
        needed.update(call_clips(f"{letter}123", 1, dialect))
    assert needed <= listed


def test_every_listed_clip_has_a_file() -> None:
    missing = [name for name in all_clip_names() if not (CLIPS_DIR / f"{name}.wav").is_file()]
    assert missing == []
    assert (CLIPS_DIR / "chime.wav").is_file()
