"""Our own root-based мат matcher: spans in the original text, and features for the model.

Roots are matched at the start of a normalised word, after an optional verbal or nominal prefix, so
that innocent words which merely contain the letters (оскорблять, хлебать, сабля, мандарин) stay clean.
Masked words (х*й, бл**ь, ё***ый) are matched against known forms with one contiguous part hidden.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin

from training.runtime.text.normalize import normalize_with_offsets, undisguise_word

_PREFIX = (
    r"(?:а|о|об|от|отъ|ото|по|при|про|пере|пре|на|недо|до|за|вы|у|из|изъ|ис|раз|разъ|рас|под|подъ|"
    r"съ|сь|въ|вь|вз|вз|ни|не|ох|долбо|дол|мозго|мудо|хуе|ху|сам|пол)?"
)
ROOT_PATTERNS: dict[str, str] = {
    "хуй": r"ху(?:[йяию]|е(?!ст)|ё|ли$|ле$|ль)",
    "пизд": r"п[иеы*]?з?зд(?!ра)|пзд|ппц",
    "еб": r"[еe]б(?:[а-яь]|$)",
    "бля": r"бля(?!х|шк)|бл[яа]?д[ьи]|блят|бл[яа][тд]ь",
    "мудак": r"муд(?:ак|ач|ил|оз|о[еe]б|ень|ло|ня|е[йн])",
    "манда": r"манд(?:а$|ы$|е$|у$|ой|авош|ень|юк|еж|ец)",
    "залупа": r"залуп",
    "пидор": r"пид[оа]?р|педр?ил",
    "сука": r"сук(?:а|и|е|у|ой|ам|ами|ин|ины)$|сучар|сучк[ау]$|сучь|сучи[йея]|сцук",
    "гандон": r"г[ао]ндон",
}
# Words that a root pattern would catch but that are not мат.
EXCEPTIONS = frozenset(
    """
    хуже хуторок хутор худой художник хулиган хула хулить хурма хунта хуан хусейн
    себе себя страхуй страхуйте застрахуйте подстрахуй
    ебург
    мудрый мудрость мудрено мудрец мудра мудро
    мандарин мандарины мандаринка мандат мандатный мандраж мандолина
    сукно сукна сукном сукровица колебуч сучья сучьев сучьями ебэй
    бляха бляху бляхой бляхи
    пезда
    педиатр педиатра педиатру педагог
    """.split()
)
MASK_FORMS = (
    "хуй хуя хуи хуе хую хуйня хуево хуевый нахуй похуй нихуя охуели охуеть "
    "пизда пиздец пизды пиздеж спиздили пиздит пиздеть "
    "ебать ебаный ебанный ебанутый ебут заебали заебал наебали выебывается долбоеб уебок уебан "
    "бля блядь блять бляди блядский "
    "блядск блядств ебан ебучий ебучие пизд хуев хули хуйло хуесос заеб "
    "сука суки сучара мудак мудаки мудила манда залупа пидор пидорас пидарас гандон гондон"
).split()
# Roots that no innocent Russian word contains, matched anywhere inside a word (спиздили, распиздяй).
_ANYWHERE = re.compile(r"пизд|бляд|ебуч|еблан|хуйн|хуев|мудак|пидор|(?<!ски)пидар|залуп")
LATIN_PATTERN = re.compile(
    r"^(?:bl[yj]a|bl[yj]at|pizd|p1zd|xu[yij]|hu[yij]|nah[uy][yij]|poh[uy][yij]|[ie]?ebat|eban|ebal|ebl|yob|"
    r"suk[ai]$|mudak|pid[oa]r)",
)
_CORE = re.compile("^" + _PREFIX + "(?:" + "|".join(ROOT_PATTERNS.values()) + ")")
_WORD = re.compile(r"[\w*]+")
# Every pattern above needs one of these fragments, so only words holding one reach the Python check.
_CANDIDATE_WORD = re.compile(
    r"(?<![\w*])(?=[\w*]*?(?:ху|зд|ппц|еб|бл|муд|манд|залуп|пид|пед|сук|суч|сцук|ндон|\*"
    r"|hu|hy|xu|zd|eb|bl|mud|pid|suk|yob))[\w*]+"
)


def _masked_variants(form: str) -> list[str]:
    out = []
    for i in range(1, len(form)):
        for j in range(i + 1, len(form) + 1):
            kept = len(form) - (j - i)
            if kept >= 2 or (kept == 1 and len(form) <= 3):
                # A letter after the mask anchors the form, so inflected endings may follow it.
                tail = "" if j < len(form) else "$"
                out.append(re.escape(form[:i]) + r"\*+" + re.escape(form[j:]) + tail)
    return out


_MASKED = re.compile("^" + _PREFIX + "(?:" + "|".join(v for f in MASK_FORMS for v in _masked_variants(f)) + ")")


@dataclass(frozen=True)
class ProfanitySpan:
    start: int
    end: int
    text: str
    normalized: str


_HIDDEN_VOWELS = "уияеоа"


def _unmasked_is_profane(word: str) -> bool:
    # "бл" alone is the short form of бля; with a prefix it is обл. (области), н/бл, and so on.
    return word not in EXCEPTIONS and bool(word == "бл" or _CORE.match(word) or _ANYWHERE.search(word))


def is_profane_word(word: str) -> bool:
    """One normalised word (lower case, ё→е, disguises undone)."""
    if word in EXCEPTIONS or word.startswith("_"):
        return False
    if "*" in word:
        if _MASKED.match(word):
            return True
        # One hidden vowel is the commonest mask (с*ка, бл*дями): try each in place of the stars.
        return any(_unmasked_is_profane(re.sub(r"\*+", v, word)) for v in _HIDDEN_VOWELS)
    if word.isascii():
        return bool(LATIN_PATTERN.match(word))
    return _unmasked_is_profane(word)


# A word with dots or hyphens inside: "су-ка" (separator) or "ох.еть" (a hidden letter).
_WORD_WITH_JOINS = re.compile(r"(?<![\w*])[\w*]++(?:[.\-]++[\w*]++)+")


# A piece this long is a word of its own (пос.Аккумулятор, о.Белок, арт-бланш): the dot or hyphen is an
# abbreviation or a compound, not a disguise; a мат word among the pieces is still found on its own.
MAX_JOINED_PIECE = 4
_SEPARATORS = re.compile(r"[.\-]+")


def _joined_word_is_profane(token: str) -> bool:
    """су-ка and х.у.й (separators between letters), е..ть and ох.еть (a separator hiding letters).

    One dot or hyphen between one or two letters is an initial or an abbreviation (А.Б., г-н, п-т, P.S.),
    so it counts as a hidden letter only with five letters kept around it, or when the run is longer.
    """
    pieces = _SEPARATORS.split(token)
    if any(p.startswith("_") for p in pieces) or max(len(p) for p in pieces) > MAX_JOINED_PIECE:
        return False
    # Two pieces of one letter each are initials (Е.Б.), so joining needs three pieces or longer ones.
    if (len(pieces) >= 3 or min(map(len, pieces)) >= 2) and is_profane_word(undisguise_word("".join(pieces))):
        return True
    runs = _SEPARATORS.findall(token)
    kept = sum(len(p) for p in pieces)
    if len(pieces) != 2 or not (kept >= 5 or len(runs[0]) >= 2):
        return False
    return is_profane_word(undisguise_word(pieces[0] + "*" + pieces[1]))


def _in_slashed_abbreviation(text: str, start: int, end: int) -> bool:
    """н/бл, б/у, ж/д: a short piece of a slashed abbreviation."""
    return end - start <= 3 and ((start > 0 and text[start - 1] == "/") or (end < len(text) and text[end] == "/"))


class ProfanityLexicon:
    """Finds мат in a comment and reports where it stands in the original text."""

    def find_in_normalized(self, normalized: str) -> list[tuple[int, int]]:
        spans = [
            (m.start(), m.end())
            for m in _CANDIDATE_WORD.finditer(normalized)
            if is_profane_word(m.group(0)) and not _in_slashed_abbreviation(normalized, m.start(), m.end())
        ]
        # Is a span already starting inside this joined word? A bisect over the sorted starts, not a scan of
        # every span per word (that was quadratic: 0.7 s for a crafted 20,000-character comment).
        starts = sorted(s for s, _ in spans)
        for m in _WORD_WITH_JOINS.finditer(normalized):
            i = bisect.bisect_left(starts, m.start())
            inside = i < len(starts) and starts[i] < m.end()
            if not inside and _joined_word_is_profane(m.group(0)):
                spans.append((m.start(), m.end()))
                bisect.insort(starts, m.start())
        return sorted(spans)

    def find(self, text: str) -> list[ProfanitySpan]:
        normalized, offsets = normalize_with_offsets(text)
        spans = []
        for s, e in self.find_in_normalized(normalized):
            start, end = offsets[s], offsets[e - 1] + 1
            spans.append(ProfanitySpan(start, end, text[start:end], normalized[s:e]))
        return spans

    def contains(self, text: str) -> bool:
        return bool(self.find(text))

    def is_disguised(self, text: str) -> bool:
        """True when no мат word stands in the text as plain Cyrillic letters (only lower case, ё→е)."""
        for span in self.find(text):
            plain = span.text.lower().replace("ё", "е")
            if re.fullmatch(r"[а-я]+", plain) and is_profane_word(plain):
                return False
        return True


class ProfanityFeatures(TransformerMixin, BaseEstimator):
    """Lexicon hits as model features; expects normalised text (the pipeline's TextNormalizer output)."""

    learns_from_data = False

    def __init__(self, weight: float = 1.0):
        self.weight = weight

    def fit(self, X: Iterable[str], y: object = None) -> ProfanityFeatures:
        self.lexicon_ = ProfanityLexicon()
        return self

    def transform(self, X: Iterable[str]) -> sparse.csr_matrix:
        return sparse.csr_matrix(self.dense_features(X))

    def dense_features(self, X: Iterable[str]) -> np.ndarray:
        """`transform` as a dense array (serving stacks the blocks itself: training/runtime/fast_pipeline.py)."""
        rows = []
        for text in X:
            hits = self.lexicon_.find_in_normalized(text)
            n = len(hits)
            masked = sum("*" in text[s:e] for s, e in hits)
            rows.append((1.0 if n else 0.0, min(n, 5) / 5.0, 1.0 if masked else 0.0))
        return np.asarray(rows, dtype=np.float64).reshape(-1, 3) * self.weight

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.array(["lex_has_mat", "lex_mat_count", "lex_masked"], dtype=object)
