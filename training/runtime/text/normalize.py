"""Text normalisation that undoes the disguises people use to slip мат past filters.

Every normalised character remembers the index of the original character it came from, so that
matches found on the normalised text can be reported as spans of the original comment.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

URL_TOKEN = "_url_"
MENTION_TOKEN = "_mention_"
PHONE_TOKEN = "_phone_"
NUMBER_TOKEN = "_num_"
EMAIL_TOKEN = "_email_"
PLACEHOLDERS = (URL_TOKEN, EMAIL_TOKEN, MENTION_TOKEN, PHONE_TOKEN, NUMBER_TOKEN)

# Latin and digit lookalikes of Cyrillic letters, applied only inside words that hold Cyrillic.
LATIN_LOOKALIKES = {
    "a": "а",
    "b": "б",
    "c": "с",
    "d": "д",
    "e": "е",
    "h": "н",
    "i": "и",
    "k": "к",
    "l": "л",
    "m": "м",
    "n": "п",
    "o": "о",
    "p": "р",
    "r": "г",
    "t": "т",
    "u": "и",
    "x": "х",
    "y": "у",
    "z": "з",
    "$": "с",
}
DIGIT_LOOKALIKES = {"0": "о", "3": "з", "4": "ч", "6": "б"}
# "@" stands for whichever letter was hidden (п@здец = и, бл@ть = я), so it is a mask, not "а".
MASK_CHARS = "*!#%@"
# Single-letter Russian words: a run made only of these is ordinary text, not a spelled-out word.
SINGLE_LETTER_WORDS = set("авиксоуя")

_CYR = "а-яё"
# Every pattern here must match in linear time: a comment is attacker-controlled text of up to MAX_TEXT_CHARS,
# so a pattern may not rescan the rest of a run from each of its positions (tests/training/test_normalize.py
# times crafted worst cases). The ways used below: a match may only start where a run starts (a lookbehind
# on the character before), runs are consumed possessively (`*+`, `++`: no giving back that cannot help).
_TLD = r"(?:ru|рф|com|net|org|cc|me|su|info)"
_SCHEME = r"(?:https?://|www\.)\S+"
# A bare domain (label.label.tld) starts at the first letter or digit of a chain of labels joined by single
# dots. A match from any later label of the chain could only succeed where the first one would have, so
# the pattern starts at the chain's start only (not after a label character, nor after "x."), reads the
# hyphen-only labels that may come first ("-", "--.") as the group `head`, which the substitution keeps
# as it is (see _sub), and replaces what follows: the same text as the first-letter match it stands for.
_URL_RE = re.compile(
    _SCHEME + r"|(?<![\w-])(?<![\w-]\.)(?P<head>(?:-++\.)*+-*+)"
    r"(?:" + _SCHEME + r"|\w[\w-]*+(?:\.[\w-]++)*\." + _TLD + r"(?:/\S*)?)",
    re.IGNORECASE,
)
# The name ends at the first "]"; a "[id…|" inside it starts markup of its own (a name never holds one).
_VK_REF = r"(?:id|club|public)\d+\|"
_VK_MARKUP_RE = re.compile(r"\[" + _VK_REF + r"(?:[^\[\]]|\[(?!" + _VK_REF + r"))*+\]", re.IGNORECASE)
_MENTION_RE = re.compile(r"(?<![\w@])@[a-z0-9_.]{2,}", re.IGNORECASE)
_PHONE_RE = re.compile(r"(?<![\w])(?:\+7|8)[\s(-]*\d{3}[\s)-]*\d{3}[\s-]*\d{2}[\s-]*\d{2}(?!\d)")
_PI_RE = re.compile(r"3[.,]14(?=[" + _CYR + r"a-z*])", re.IGNORECASE)
_NUMBER_RE = re.compile(r"(?<![\w*@$])\d+(?:[.,:]\d+)*(?![\w*@$])")
_MASK_RE = re.compile(r"(?<=[\w@$])[" + re.escape(MASK_CHARS) + r"]+(?=[\w@$])|(?<=[\w@$])[*@]+(?!\w)")
# Three or more single letters joined by one separator each: "х.у.й", "б л я", "п-и-з-д-а".
_SPACED_RE = re.compile(r"(?<![\w*])[\w@$*]([ .\-_])(?:[\w@$*]\1)+[\w@$*](?![\w*])")
_WORD_RE = re.compile(r"[\w@$*]+")
_REPEAT_RE = re.compile(r"([^\W\d_])\1{2,}")
# Real words with three equal letters in a row, left alone by the squeezing of "бляяяя".
SQUEEZE_EXCEPTIONS = frozenset({"ссср", "змееед", "длинношеее", "зммм"})
# The local part starts where its run of [\w.+-] starts (from inside the run it would end at the same "@").
# One difference from the unanchored pattern, met in no real text: a second address glued to the end of a first
# one by "+" or "." ("a@b.ru+c@d.ru") is no longer an address of its own.
_EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]++@[\w-]++(?:\.[\w-]++)+")
# Digits followed by an ordinal or unit ending are numbers, not disguised letters: 4ом, 3ей, 6ой, 3шт.
_ORDINAL_RE = re.compile(r"\d+-?(?:ый|ой|ий|ая|ое|ые|ом|ем|ей|им|ых|их|ую|ю|я|е|й|го|му|ти|ми|х|ух|шт|к|м|г)")
_SPACE_RE = re.compile(r"\s+")

Pairs = list[tuple[str, int]]


def _cyrillic_neighbour(text: str, i: int) -> bool:
    return any(0 <= j < len(text) and "\u0400" <= text[j] <= "\u04ff" for j in (i - 1, i + 1))


def replace_lone_surrogates(text: str) -> str:
    """The text with every lone UTF-16 surrogate replaced by U+FFFD (same length); valid text is returned as is."""
    return _SURROGATE_RE.sub(REPLACEMENT_CHARACTER, text) if _SURROGATE_RE.search(text) else text


def _to_pairs(text: str) -> Pairs:
    text = replace_lone_surrogates(text)
    if unicodedata.is_normalized("NFKC", text):
        # Every character of an NFKC-normalised text is its own NFKC form: only lower case (which may give
        # two characters for one), ё and the Latin B rule remain; the common case, one pass without
        # per-character normalisation.
        text = _CAPITAL_B_RE.sub("В", text)
        lowered = text.lower()
        if len(lowered) == len(text):
            return [("е" if c == "ё" else c, i) for i, c in enumerate(lowered)]
    pairs: Pairs = []
    for i, ch in enumerate(text):
        if ch == "B" and _cyrillic_neighbour(text, i):
            ch = "В"  # capital Latin B between Cyrillic letters stands for В, not б
        for out in unicodedata.normalize("NFKC", ch).lower():
            pairs.append(("е" if out == "ё" else out, i))
    return pairs


def _text(pairs: Pairs) -> str:
    return "".join(c for c, _ in pairs)


def _sub(
    pairs: Pairs, pattern: re.Pattern[str], repl: Callable[[re.Match[str]], str], text: str | None = None
) -> Pairs:
    """Regex substitution that keeps the origin index of every character.

    A pattern with a group named `head` reads it only to find where the replaced part starts: its `repl`
    returns the head unchanged in front of the replacement, and here the head keeps its own characters, so
    the result is the one of a match that started after the head.
    """
    text = _text(pairs) if text is None else text
    has_head = "head" in pattern.groupindex
    out: Pairs = []
    pos = 0
    for m in pattern.finditer(text):
        head = len(m.group("head") or "") if has_head else 0
        start, end = m.start() + head, m.end()
        out.extend(pairs[pos:start])
        origin = pairs[start][1] if start < len(pairs) else (pairs[-1][1] if pairs else 0)
        new = repl(m)[head:]
        if new == text[start:end]:
            out.extend(pairs[start:end])
        elif len(new) == end - start:
            out.extend((c, pairs[start + k][1]) for k, c in enumerate(new))
        else:
            out.extend(_align(new, pairs[start:end], origin))
        pos = end
    out.extend(pairs[pos:])
    return out


def _align(new: str, old: Pairs, origin: int) -> Pairs:
    """Origins for a replacement of another length: by subsequence when it is one, else the whole range."""
    aligned: Pairs = []
    k = 0
    for c in new:
        while k < len(old) and old[k][0] != c:
            k += 1
        if k == len(old):
            break
        aligned.append((c, old[k][1]))
        k += 1
    if len(aligned) == len(new):
        if old and new[-1] == old[-1][0]:
            aligned[-1] = (new[-1], old[-1][1])  # spans end where the original run ends
        return aligned
    last = old[-1][1] if old else origin
    return [(c, origin if i < len(new) - 1 else last) for i, c in enumerate(new)]


def _placeholder(token: str) -> Callable[[re.Match[str]], str]:
    return lambda m: f" {token} "


def _url_placeholder(m: re.Match[str]) -> str:
    return (m.group("head") or "") + f" {URL_TOKEN} "


def _join_spaced(m: re.Match[str]) -> str:
    letters = m.group(0)[::2]
    if m.group(1) == " " and all(ch in SINGLE_LETTER_WORDS for ch in letters):
        return m.group(0)  # "а я и" is ordinary text; "с.у.к.а" is not
    return letters


def _has_cyrillic(word: str) -> bool:
    return any("а" <= ch <= "я" for ch in word)


def _undisguise_word(m: re.Match[str]) -> str:
    return undisguise_word(m.group(0))


def undisguise_word(word: str) -> str:
    """Latin and digit lookalikes inside a word that holds Cyrillic become Cyrillic letters."""
    if word.startswith("_") or not _has_cyrillic(word) or _ORDINAL_RE.fullmatch(word):
        return word
    # A run of one repeated digit inside a Cyrillic word hides letters: x0000й → х*й.
    # Only zeros, or a run of three or more: д44б and кв11а are house and flat numbers.
    word = re.sub(r"(?<=[^\W\d_])(?:0{2,}|(\d)\1{2,})(?=[^\W\d_])", "*", word)
    chars = list(word)
    for k, ch in enumerate(chars):
        if ch in LATIN_LOOKALIKES:
            chars[k] = LATIN_LOOKALIKES[ch]
        elif ch in DIGIT_LOOKALIKES:
            before = k > 0 and chars[k - 1].isalpha()
            after = k + 2 < len(chars) + 1 and word[k + 1 : k + 3].isalpha() and len(word[k + 1 : k + 3]) == 2
            single = not (k > 0 and word[k - 1].isdigit()) and not (k + 1 < len(word) and word[k + 1].isdigit())
            if single and (before or after):
                chars[k] = DIGIT_LOOKALIKES[ch]
    return "".join(chars)


def _squeeze_word(m: re.Match[str]) -> str:
    word = m.group(0)
    return word if word in SQUEEZE_EXCEPTIONS else _REPEAT_RE.sub(lambda r: r.group(1), word)


def _spread_symbols(pairs: Pairs) -> Pairs:
    """Emoji and pictographs become tokens of their own; marks (stress, variation selectors, ZWJ) go."""
    out: Pairs = []
    for ch, idx in pairs:
        out.extend((c, idx) for c in _spread_char(ch))
    return out


def _collapse_spaces(pairs: Pairs) -> Pairs:
    pairs = _sub(pairs, _SPACE_RE, lambda m: " ")
    while pairs and pairs[0][0] == " ":
        pairs = pairs[1:]
    while pairs and pairs[-1][0] == " ":
        pairs = pairs[:-1]
    return pairs


Hint = Callable[[str], object]


def _has_digit(text: str) -> bool:
    return _DIGIT_RE.search(text) is not None


def _steps() -> list[tuple[Hint, re.Pattern[str], Callable[[re.Match[str]], str]]]:
    """The substitutions in order; both the offset-keeping and the fast path run exactly these.

    Each step has a cheap hint that is true whenever the pattern could match; a false hint skips the scan.
    """
    return [
        (lambda t: "@" in t, _EMAIL_RE, _placeholder(EMAIL_TOKEN)),
        (_URL_HINT_RE.search, _URL_RE, _url_placeholder),
        (lambda t: "[" in t, _VK_MARKUP_RE, _placeholder(MENTION_TOKEN)),
        (lambda t: "@" in t, _MENTION_RE, _placeholder(MENTION_TOKEN)),
        (_has_digit, _PHONE_RE, _placeholder(PHONE_TOKEN)),
        (lambda t: "3" in t, _PI_RE, lambda m: "пи"),
        (_has_digit, _NUMBER_RE, _placeholder(NUMBER_TOKEN)),
        (_MASK_HINT_RE.search, _MASK_RE, lambda m: "*" * len(m.group(0))),
        (bool, _SPACED_RE, _join_spaced),
        (bool, _MIXED_WORD_RE, _undisguise_word),
        (_TRIPLE_RE.search, _REPEAT_WORD_RE, _squeeze_word),
        (lambda t: "**" in t, _STARS_RE, lambda m: "*"),
    ]


_DIGIT_RE = re.compile(r"\d")
_URL_HINT_RE = re.compile(r"https?:|www\.|\.(?:ru|рф|com|net|org|cc|me|su|info)", re.IGNORECASE)
_MASK_HINT_RE = re.compile(r"[*!#%@]")
_TRIPLE_RE = re.compile(r"([^\W\d_])\1\1")
_STARS_RE = re.compile(r"\*{2,}")
# Only words that mix Cyrillic with Latin/digits, and only words with a letter tripled, reach the Python
# callbacks: the other words would come back unchanged, and scanning them in C is what keeps this fast.
_MIXED_WORD_RE = re.compile(r"(?<![\w@$*])(?=[\w@$*]*[а-я])(?=[\w@$*]*[a-z0-9$])[\w@$*]+")
_REPEAT_WORD_RE = re.compile(r"(?<![\w@$*])(?=[\w@$*]*?([^\W\d_])\1\1)[\w@$*]+")
_STEPS = _steps()
# Half of a UTF-16 pair: a Python string can hold one (JSON "\ud800" decodes to it) but no encoder accepts it,
# so it becomes U+FFFD, the character that stands for an undecodable one, before any other step.
_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")
REPLACEMENT_CHARACTER = "\ufffd"
_CAPITAL_B_RE = re.compile(r"(?<=[\u0400-\u04ff])B|B(?=[\u0400-\u04ff])")


def _spread_chars_pattern() -> re.Pattern[str]:
    """Every character `_spread_char` changes: all beyond Latin and Cyrillic (emoji, marks), and those inside
    that are symbols or marks too: the soft hyphen (invisible: one inside a word of мат hid it from the
    lexicon and the model), "©", "°", "®", Cyrillic combining marks. A text without any of them skips the
    per-character pass."""
    inside = [chr(c) for c in (*range(0x300), *range(0x400, 0x500)) if _spread_char(chr(c)) != chr(c)]
    return re.compile(r"[^\x00-\u02ff\u0400-\u04ff]|[" + re.escape("".join(inside)) + "]")


def normalize_with_offsets(text: str) -> tuple[str, list[int]]:
    """Normalised text and, for each of its characters, the index of the original character.

    Used where spans must point into the original comment (the profanity evidence).
    """
    pairs = _to_pairs(text)
    text = _text(pairs)
    for hint, pattern, repl in _STEPS:
        if hint(text):
            pairs = _sub(pairs, pattern, repl, text)
            text = _text(pairs)
    if _SPREAD_RE.search(text):
        pairs = _spread_symbols(pairs)
    pairs = _collapse_spaces(pairs)
    return _text(pairs), [idx for _, idx in pairs]


def normalize_text(text: str) -> str:
    """NFKC, lower case, ё→е, disguises undone, URLs/mentions/phones/numbers as placeholder tokens.

    The fast path of `normalize_with_offsets` (same steps on plain strings, no offsets): the model's input.
    A lone UTF-16 surrogate becomes U+FFFD first, so every later step (and the char n-gram encoder) can take it.
    """
    text = _CAPITAL_B_RE.sub("В", replace_lone_surrogates(text))
    if not unicodedata.is_normalized("NFKC", text):
        text = "".join(unicodedata.normalize("NFKC", ch) for ch in text)
    text = text.lower().replace("ё", "е")
    for hint, pattern, repl in _STEPS:
        if hint(text):
            text = pattern.sub(repl, text)
    if _SPREAD_RE.search(text):
        text = "".join(_spread_char(ch) for ch in text)
    return " ".join(text.split())


def _spread_char(ch: str) -> str:
    category = unicodedata.category(ch)
    if category == "So":
        return f" {ch} "
    if category in ("Mn", "Cf"):
        return ""
    return ch


_SPREAD_RE = _spread_chars_pattern()


class TextNormalizer(TransformerMixin, BaseEstimator):
    """First step of the pipeline: raw comments in, normalised strings out."""

    def fit(self, X: Iterable[str], y: object = None) -> TextNormalizer:
        return self

    def transform(self, X: Iterable[str]) -> np.ndarray:
        return np.array([normalize_text(str(t)) for t in X], dtype=object)
