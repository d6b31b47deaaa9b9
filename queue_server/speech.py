"""Words for calling a ticket aloud in Vietnamese, and the clips that say them.

Pure functions, no I/O. The server computes the words once per call and sends
both the sentence (for a browser speech voice) and the ordered clip names (for
the pre-recorded clips joined in the browser, see ``display/js/announcer.js``).

Numbers are always turned into words here, never handed to a speech engine as
digits: engines and libraries get Vietnamese numbers wrong (espeak-ng reads
"15" as "mười năm"; num2words drops "không trăm" in 1023).

Reading rules (PRODUCT.md, "Reading numbers aloud in Vietnamese"):

- 1 after a tens digit of 2-9 is "mốt" (21 hai mươi mốt), but 11 is "mười một"
  and 101 is "một trăm linh một".
- 5 after any tens digit, 1 included, is "lăm" (15 mười lăm); 105 is
  "một trăm linh năm".
- 4 after a tens digit of 2-9 is "tư" (24 hai mươi tư). "bốn" is also correct;
  we pick "tư", the form most call systems and radio use, in both dialects.
  14 stays "mười bốn".
- A zero tens digit before a non-zero unit is "linh" (north) or "lẻ" (south).
- Inside a larger number a zero hundreds digit is said: 1023 một nghìn không
  trăm hai mươi ba.
- 1000 is "nghìn" (north) or "ngàn" (south).
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "MAX_NUMBER",
    "DIALECTS",
    "WORD_CLIPS",
    "LETTER_NAMES",
    "CALL_PREFIX",
    "CALL_COUNTER",
    "RECALL_PREFIX",
    "phrase_clip_name",
    "number_to_words",
    "spell_label",
    "call_sentence",
    "call_clips",
    "clip_name",
    "all_clip_names",
    "office_clips",
]

DIALECTS: tuple[str, ...] = ("north", "south")
MAX_NUMBER = 999_999

_DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")

# Words that change with the dialect; everything else is shared.
_DIALECT_WORDS: dict[str, dict[str, str]] = {
    "north": {"zero_tens": "linh", "thousand": "nghìn"},
    "south": {"zero_tens": "lẻ", "thousand": "ngàn"},
}

# Vietnamese names of the letters a ticket prefix may use: the 29 letters of
# the alphabet as taught in school (bê, xê, dê, đê, giê, hát, ca, e-lờ, em-mờ,
# en-nờ, pê, quy, e-rờ, ét-xì, tê, vê, ích-xì, i dài; vowels by their sound),
# plus the usual readings of the four foreign letters (F ép, J gi, W vê kép,
# Z dét).
LETTER_NAMES: dict[str, str] = {
    "A": "a",
    "Ă": "á",
    "Â": "ớ",
    "B": "bê",
    "C": "xê",
    "D": "dê",
    "Đ": "đê",
    "E": "e",
    "Ê": "ê",
    "F": "ép",
    "G": "giê",
    "H": "hát",
    "I": "i",
    "J": "gi",
    "K": "ca",
    "L": "e-lờ",
    "M": "em-mờ",
    "N": "en-nờ",
    "O": "o",
    "Ô": "ô",
    "Ơ": "ơ",
    "P": "pê",
    "Q": "quy",
    "R": "e-rờ",
    "S": "ét-xì",
    "T": "tê",
    "U": "u",
    "Ư": "ư",
    "V": "vê",
    "W": "vê kép",
    "X": "ích-xì",
    "Y": "i dài",
    "Z": "dét",
}

CALL_PREFIX = "Mời công dân có số thứ tự"
CALL_COUNTER = "đến quầy số"
# A recall must not sound like a first call; an office may word it otherwise
# (display.recall_phrase), e.g. "Mời lần nữa công dân có số thứ tự".
RECALL_PREFIX = "Xin mời lại công dân có số thứ tự"

# Clip names for letters with diacritics follow Telex typing (Ă aw, Â aa, Đ dd…).
_LETTER_CLIP_SUFFIX = {"Ă": "aw", "Â": "aa", "Đ": "dd", "Ê": "ee", "Ô": "oo", "Ơ": "ow", "Ư": "uw"}

# One ASCII clip name per distinct word (tone included): "mười" and "mươi"
# are different words and different clips. Letter names may be two
# syllables ("e-lờ"); each letter is still one clip. The two fixed phrases
# are one clip each so they sound natural.
WORD_CLIPS: dict[str, str] = {
    "không": "khong",
    "một": "mot",
    "mốt": "mot2",
    "hai": "hai",
    "ba": "ba",
    "bốn": "bon",
    "tư": "tu",
    "năm": "nam",
    "lăm": "lam",
    "sáu": "sau",
    "bảy": "bay",
    "tám": "tam",
    "chín": "chin",
    "mười": "muoi",
    "mươi": "muoi2",
    "trăm": "tram",
    "linh": "linh",
    "lẻ": "le",
    "nghìn": "nghin",
    "ngàn": "ngan",
    CALL_PREFIX: "moi_cong_dan_co_so_thu_tu",
    CALL_COUNTER: "den_quay_so",
    RECALL_PREFIX: "xin_moi_lai_cong_dan_co_so_thu_tu",
    **{name: "letter_" + _LETTER_CLIP_SUFFIX.get(letter, letter.lower()) for letter, name in LETTER_NAMES.items()},
}

_LABEL = re.compile(r"([^\W\d_]*)[-\s]?(\d+)")


def _check_dialect(dialect: str) -> str:
    if dialect not in _DIALECT_WORDS:
        raise ValueError(f"dialect must be one of {DIALECTS}, not {dialect!r}")
    return dialect


def _below_hundred(n: int, dialect: str, after_hundreds: bool) -> list[str]:
    """Words for 0 < n < 100; after_hundreds means a hundreds word came before (105 → linh năm)."""
    tens, unit = divmod(n, 10)
    if tens == 0:
        head = [_DIALECT_WORDS[dialect]["zero_tens"]] if after_hundreds else []
        return head + [_DIGITS[unit]]
    words = ["mười"] if tens == 1 else [_DIGITS[tens], "mươi"]
    if unit == 0:
        return words
    if unit == 1 and tens >= 2:
        return words + ["mốt"]
    if unit == 4 and tens >= 2:
        return words + ["tư"]
    if unit == 5:
        return words + ["lăm"]
    return words + [_DIGITS[unit]]


def _below_thousand(n: int, dialect: str, full: bool) -> list[str]:
    """Words for 0 < n < 1000; full means say the hundreds even when zero (the group after nghìn)."""
    hundreds, rest = divmod(n, 100)
    words: list[str] = []
    if hundreds or full:
        words = [_DIGITS[hundreds], "trăm"]
    if rest:
        words += _below_hundred(rest, dialect, after_hundreds=bool(words))
    return words


def number_to_words(n: int, dialect: str = "north") -> list[str]:
    """Vietnamese words for 0 ≤ n ≤ 999 999, e.g. 1023 → một nghìn không trăm hai mươi ba.

    Raises ValueError for anything else (bool included) and for an unknown dialect.
    """
    _check_dialect(dialect)
    if not isinstance(n, int) or isinstance(n, bool):
        raise ValueError(f"number must be an int, not {type(n).__name__}")
    if not 0 <= n <= MAX_NUMBER:
        raise ValueError(f"number must be between 0 and {MAX_NUMBER}, not {n}")
    if n == 0:
        return ["không"]
    thousands, rest = divmod(n, 1000)
    if not thousands:
        return _below_thousand(rest, dialect, full=False)
    words = _below_thousand(thousands, dialect, full=False) + [_DIALECT_WORDS[dialect]["thousand"]]
    if rest:
        words += _below_thousand(rest, dialect, full=True)
    return words


def spell_label(label: str, dialect: str = "north") -> list[str]:
    """Words for a ticket label: letters by their Vietnamese names, then the number.

    "A1023" → ["a", "một", "nghìn", "không", "trăm", "hai", "mươi", "ba"]. Letters are
    case-insensitive; one "-" or space may separate them from the digits ("CT-1023").
    The digits are read as one number, so leading zeros are not said ("A007" → a bảy).
    Raises ValueError for a label that is not letters then digits, or an unknown letter.
    """
    _check_dialect(dialect)
    match = _LABEL.fullmatch(label.strip()) if isinstance(label, str) else None
    if match is None:
        raise ValueError(f"ticket label must be letters then digits, not {label!r}")
    letters, digits = match.groups()
    words = []
    for letter in letters.upper():
        if letter not in LETTER_NAMES:
            raise ValueError(f"ticket label {label!r} has a letter with no Vietnamese name: {letter!r}")
        words.append(LETTER_NAMES[letter])
    return words + number_to_words(int(digits), dialect)


def _counter_words(counter: int, dialect: str) -> list[str]:
    if isinstance(counter, int) and not isinstance(counter, bool) and counter < 1:
        raise ValueError(f"counter must be 1 or more, not {counter}")
    return number_to_words(counter, dialect)


def phrase_clip_name(phrase: str) -> str:
    """The clip name of a whole phrase: its letters without tone marks, "_" between words
    ("Mời lần nữa công dân" → "moi_lan_nua_cong_dan"). Fixed phrases are one clip each,
    said whole, so they sound natural."""
    known = WORD_CLIPS.get(phrase)
    if known:
        return known
    folded = unicodedata.normalize("NFD", phrase.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(ch for ch in folded if not unicodedata.combining(ch)).lower()
    return "_".join(re.findall(r"[a-z0-9]+", plain))[:80] or "phrase"


def call_sentence(label: str, counter: int, dialect: str = "north", prefix: str = CALL_PREFIX) -> str:
    """The call as text: "Mời công dân có số thứ tự một nghìn … đến quầy số hai". A recall
    passes its own ``prefix`` (RECALL_PREFIX or the office's display.recall_phrase)."""
    words = [prefix, *spell_label(label, dialect), CALL_COUNTER, *_counter_words(counter, dialect)]
    return " ".join(words)


def clip_name(word: str) -> str:
    """The clip that says ``word``; KeyError names the word if none does."""
    try:
        return WORD_CLIPS[word]
    except KeyError:
        raise KeyError(f"no clip for the word {word!r}") from None


def call_clips(label: str, counter: int, dialect: str = "north", prefix: str = CALL_PREFIX) -> list[str]:
    """The clip names, in order, that say call_sentence(label, counter, dialect, prefix)."""
    words = [*spell_label(label, dialect), CALL_COUNTER, *_counter_words(counter, dialect)]
    return [phrase_clip_name(prefix), *(clip_name(word) for word in words)]


def all_clip_names() -> list[str]:
    """Every clip any call can need, both dialects and all letters, sorted, without duplicates."""
    return sorted(set(WORD_CLIPS.values()))


def _number_words(dialect: str) -> list[str]:
    """Every word the numbers of ``dialect`` use, in the order they first appear counting up
    from 0 (không, một, … chín, mười, lăm, mươi, mốt, tư, trăm, linh, nghìn)."""
    seen: dict[str, None] = {}
    for n in range(2000):
        seen.update(dict.fromkeys(number_to_words(n, dialect)))
    return list(seen)


def office_clips(dialect: str, recall_phrase: str, letters: str = "") -> dict[str, str]:
    """The clips one office's calls use, clip name → the words it says, in recording order:
    the call phrase, the recall phrase, "đến quầy số", the number words of ``dialect``, then
    the Vietnamese names of ``letters`` (the ticket prefixes in use)."""
    _check_dialect(dialect)
    words = [CALL_PREFIX, recall_phrase, CALL_COUNTER, *_number_words(dialect)]
    words += [LETTER_NAMES[letter] for letter in sorted(set(letters.upper())) if letter in LETTER_NAMES]
    return {phrase_clip_name(word): word for word in words}
