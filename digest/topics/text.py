"""Words as the topic matcher sees them: tokenising, folding, stemming, highlighting.

The query parser and the paper index must cut text into words the same way, or a query could
never find what it was written against; both cut with :func:`words` and look words up by
:func:`fold_and_key`.

- A word is a run of Unicode letters and digits (combining accents included), optionally
  joined by apostrophes (``LeCun's``). Everything else separates words, notably hyphens, dots
  and underscores, which is what makes ``self-supervised`` and ``self supervised`` the same
  two words and keeps ``art`` from ever matching inside ``start``.
- A word's *key* is its folded stem: case-folded, Latin accents and apostrophes removed
  (``Schölkopf`` ~ ``Scholkopf``, ``LeCun's`` ~ ``lecuns``), then :func:`stem`.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import NamedTuple


def _combining_marks() -> str:
    """A regex class body of the BMP's combining marks (Mn, Mc, Me).

    Python's ``\\w`` leaves them out, which would cut ``é`` written as ``e`` + U+0301, or most
    Indic words, into pieces. Scanning the BMP once at import costs a few milliseconds.
    """
    ranges: list[tuple[int, int]] = []
    for code in range(0x300, min(sys.maxunicode, 0xFFFF) + 1):
        if unicodedata.category(chr(code)) in ("Mn", "Mc", "Me"):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    return "".join(
        re.escape(chr(lo)) if lo == hi else f"{re.escape(chr(lo))}-{re.escape(chr(hi))}"
        for lo, hi in ranges
    )


_MARKS = _combining_marks()
# Underscores are word characters to ``\w`` but separate words here; words() blanks them out
# first, which is much faster than excluding them in the pattern.
_WORD_RE = re.compile(rf"[\w{_MARKS}]+(?:['\u2019][\w{_MARKS}]+)*")
# Only the accents of Latin, Greek and Cyrillic letters are folded away; marks in other scripts
# carry meaning (Devanagari vowel signs, for instance).
_LATIN_ACCENTS_RE = re.compile("[\u0300-\u036f]")
_NOT_WORD_BEFORE = rf"(?<![^\W_])(?<![{_MARKS}])"
_NOT_WORD_AFTER = rf"(?![^\W_])(?![{_MARKS}])"
_SEPARATOR = r"[\s\-\u2010-\u2015]+"


class Token(NamedTuple):
    """One word of a text: what it looks like, where it is, and what it is matched on."""

    surface: str
    start: int
    end: int
    folded: str  # for exact matches: author names are not stemmed
    key: str


def words(text: str) -> list[str]:
    """The words of ``text`` as they appear in it."""
    return _WORD_RE.findall(text.replace("_", " ") if "_" in text else text)


def tokens(text: str) -> list[Token]:
    """Cut ``text`` into words with their character spans and match keys."""
    blanked = text.replace("_", " ") if "_" in text else text
    found = []
    for match in _WORD_RE.finditer(blanked):
        surface = match.group()  # Never holds a blanked underscore: same as in ``text``.
        found.append(Token(surface, match.start(), match.end(), *fold_and_key(surface)))
    return found


def folded_words(text: str) -> tuple[str, ...]:
    """The folded, unstemmed words of ``text``, in order (for exact name matches)."""
    return tuple(fold_and_key(word)[0] for word in words(text))


def word_keys(text: str) -> tuple[str, ...]:
    """The match keys of the words of ``text``, in order."""
    return tuple(fold_and_key(word)[1] for word in words(text))


_FOLDED: dict[str, tuple[str, str]] = {}
_FOLDED_MAX = 500_000


def fold_and_key(word: str) -> tuple[str, str]:
    """A word's folded form and its key (folded stem), memoised.

    Paper text repeats words a lot; folding and stemming each distinct word once is what keeps
    building a day's index well under a second. A plain dict is measurably faster than
    ``lru_cache`` here; it is simply emptied if it ever grows too big.
    """
    found = _FOLDED.get(word)
    if found is None:
        if len(_FOLDED) >= _FOLDED_MAX:
            _FOLDED.clear()
        folded = fold(word)
        found = _FOLDED[word] = (folded, stem(folded))
    return found


def fold(word: str) -> str:
    """Case-fold, drop apostrophes and Latin accents; compatibility forms become plain ones."""
    folded = word.casefold().replace("'", "").replace("\u2019", "")
    if folded.isascii():
        return folded
    decomposed = _LATIN_ACCENTS_RE.sub("", unicodedata.normalize("NFKD", folded))
    return unicodedata.normalize("NFC", decomposed)


# Plurals that no suffix rule can reach; the value is then stemmed like any word.
_IRREGULAR = {
    "analyses": "analysis",
    "axes": "axis",
    "criteria": "criterion",
    "hypotheses": "hypothesis",
    "indices": "index",
    "matrices": "matrix",
    "phenomena": "phenomenon",
    "vertices": "vertex",
}
# Words whose ending looks like an inflection but is not one.
_UNINFLECTED = frozenset({"bias", "canvas", "embed", "lens", "news", "atlas", "alias"})
_VOWELS = frozenset("aeiouy")
_VOWEL_GROUPS_RE = re.compile("[aeiouy]+")


def stem(word: str) -> str:
    """A deliberately small English stemmer for folded words.

    Folds plurals and the common verb forms so that a topic written one way finds papers
    written another (``transformer`` ~ ``transformers``, ``learn`` ~ ``learned`` ~
    ``learning``, ``study`` ~ ``studies``, ``model`` ~ ``modelling``). It strips at most one
    inflection and never derivations (``transformer`` is not ``transform``), because a wrong
    conflation mails a subscriber papers they did not ask for, while a missed one only loses
    a rare variant. Keys need not be words (``studi``), only agree between forms.
    Non-ASCII and alphanumeric words (``gpt4``, ``2d``) are left alone.
    """
    if len(word) <= 3 or not (word.isascii() and word.isalpha()):
        return word
    word = _IRREGULAR.get(word, word)
    if word in _UNINFLECTED:
        return word
    return _normalise_ending(_strip_inflection(word))


def _strip_inflection(word: str) -> str:
    """Remove one plural, past or progressive ending, keeping a stem of three letters or more."""
    if word.endswith("ies") and len(word) > 5:
        return word[:-3] + "i"
    if word.endswith("ied") and len(word) > 5:
        return word[:-3] + "i"
    if word.endswith("ings") and _is_stem(word[:-4]):  # embeddings ~ embed
        return _undouble(word[:-4])
    if word.endswith("ing") and _is_stem(word[:-3]):
        return _undouble(word[:-3])
    if word.endswith("ed") and not word.endswith("eed") and _is_stem(word[:-2]):
        return _undouble(word[:-2])
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _is_stem(candidate: str) -> bool:
    # "string" and "thing" are not "str" + "ing": a stem needs a vowel and some length.
    return len(candidate) >= 3 and any(c in _VOWELS for c in candidate)


def _normalise_ending(word: str) -> str:
    """Make the forms a suffix leaves behind agree: final e and final y.

    ``generate``/``generating`` -> ``generat``, ``study``/``studi(es)`` -> ``studi``. Applied
    to every word, inflected or not, so that both sides of a pair land on the same key.
    """
    if len(word) >= 4 and word.endswith("e"):
        word = word[:-1]
    if len(word) >= 4 and word.endswith("y") and word[-2] not in _VOWELS:
        word = word[:-1] + "i"
    return word


def _undouble(stem: str) -> str:
    """``embedd(ing)`` -> ``embed``, ``modell(ing)`` -> ``model``, but ``spell(ing)`` stays.

    Only for what -ing/-ed left behind: "pass" or "Yann" are words as they are. A doubled l
    is undone only in -ell/-oll after two syllables, where spelling doubles it (modelling,
    labelled, controlled) and base words rarely end so (spell, poll); "install", "recall"
    and "distill" keep theirs.
    """
    if len(stem) < 4 or stem[-1] != stem[-2] or stem[-1] in _VOWELS or stem[-1] in "sz":
        return stem
    if stem[-1] == "l" and not (stem[-3] in "eo" and len(_VOWEL_GROUPS_RE.findall(stem[:-2])) >= 2):
        return stem
    return stem[:-1]


def highlight(text: str, words: Iterable[str]) -> list[tuple[str, bool]]:
    """Split ``text`` into ``(segment, is_match)`` pieces that join back into ``text``.

    Marks whole-word occurrences of ``words`` (the surface forms a :class:`Match` reports),
    case-insensitively, with hyphens and spaces interchangeable. Segments are plain text:
    escaping them is the template's job, so nothing here can smuggle markup into an email.
    """
    if not text:
        return []
    spans: list[tuple[int, int]] = []
    for word in {word.casefold(): word for word in words}.values():
        pattern = _highlighter(word)
        if pattern is not None:
            spans.extend(found.span() for found in pattern.finditer(text))
    # Leftmost first and, at the same spot, longest first ("diffusion models" over
    # "diffusion"); a span overlapping one already taken is dropped.
    spans.sort(key=lambda span: (span[0], -span[1]))
    segments: list[tuple[str, bool]] = []
    last = 0
    for start, end in spans:
        if start < last:
            continue
        if start > last:
            segments.append((text[last:start], False))
        segments.append((text[start:end], True))
        last = end
    if last < len(text):
        segments.append((text[last:], False))
    return segments


@lru_cache(maxsize=8192)
def _highlighter(word: str) -> re.Pattern[str] | None:
    """One compiled pattern per word, shared by every set it appears in: readers' sets of
    matched words are many, their words few, and compiling is the expensive part."""
    body = _word_pattern(word)
    if not body:
        return None
    return re.compile(f"{_NOT_WORD_BEFORE}(?:{body}){_NOT_WORD_AFTER}", re.IGNORECASE)


def _word_pattern(word: str) -> str:
    """A regex for ``word`` whose gaps between words may be its own or any hyphens/spaces."""
    found = tokens(word)
    parts: list[str] = []
    for previous, current in zip([None, *found], found, strict=False):
        if previous is not None:
            gap = word[previous.end : current.start]
            parts.append(f"(?:{re.escape(gap)}|{_SEPARATOR})" if gap.strip() else _SEPARATOR)
        parts.append(re.escape(current.surface))
    return "".join(parts)
