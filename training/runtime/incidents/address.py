"""A street address in a comment, normalised to one key, so that "ул. Ленина, д. 5", "Ленина 5" and
"улица ленина дом 5" are the same place for incident grouping.

Residents write addresses in many ways (seen on real VK pages of district administrations): with or without
the street type (ул, улица, пр, пр-т, просп, пер, б-р, ш, наб, пл, пр-д, мкр, in any case form), with the type
after the name ("Невский пр. 95", "Садовая улица, 5"), with or without "д."/"дом"/"№", glued ("ул.Ленина,д.5",
"Ленина д5"), in any grammatical case ("на Садовой 12", "Кирочной 55"), with a letter ("3А", "5 а", "44б"), a
fraction for a corner house ("45/12"), корпус ("к1", "корп. 2", "корпус 3") and строение ("стр. 1"), and in
reverse order ("дом 12 по Садовой", "д. 5 по ул. Ленина").

The key is ``"<street> <house>"``: the street is the lemma of the last word of its name (pymorphy3; an
adjective's masculine nominative, so Садовая / Садовой / Садовую are "садовый"), after an ordinal when there
is one ("1-я Советская" → "1 советский"); first names and initials are dropped (К. Заслонова, Константина
Заслонова → "заслонов"), and so is the street type, which residents omit more often than not. The house is the
number, its letter, fraction, корпус (" к2") and строение (" с1"). Only the first address of a comment counts.
A street named with its type but without a house ("на проспекте Ленина") is kept as a street alone (no key):
grouping uses it only to keep comments about different streets apart.

A name without a type and without "д."/"дом" ("Ленина 5") is taken only when the word can be a street name:
a surname, first name or place name; a capitalised adjective or genitive noun (Садовая, Мира, Победы; a word
in capitals counts as capitalised: "ЛЕНИНА 5"); a lowercase adjective only after "на"/"по" ("на садовой 12");
never an institution or vehicle ("Школы 5", "Автобус 12", "Жилкомсервис № 3") nor a number followed by a
unit ("Мира 5 минут", "Ленина 5-го"). House numbers have at most three digits (no postcodes or years).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

_TYPE = (
    r"(?:ул(?:ица|ице|ицу|ицы|ицей)?|пр-т|пр-кт|просп(?:ект|екте|екту|екта|ектом)?|пр-д|проезд\w*|пр"
    r"|пер(?:еулок|еулке|еулка|еулку|еулком)?|б-р|бул|бульвар\w*|ш|шоссе|наб|набережн\w*|пл|площад\w*"
    r"|мкр|мкрн|микрорайон\w*|аллея|аллее|аллеи|тракт\w*)"
)
TYPE_RE = re.compile(rf"(?i:{_TYPE})")
_HAS_DIGIT_RE = re.compile(r"\d")
_PREPOSITION_END_RE = re.compile(r"(?<![а-яё])(?i:на|по|углу)\s+$")
_CAPS_RE = re.compile(r"(?<![А-ЯЁа-яё])[А-ЯЁ]{3,}(?![А-ЯЁа-яё])")  # "ЛЕНИНА 5" is written as "Ленина 5"
_HOUSE_WORD = r"(?i:д|дом|дома|доме|дому|домом)"
# Words that may not be part of a street name: house/building words, prepositions and the like.
_NOT_NAME = (
    r"(?i:(?:д|дом|дома|доме|дому|домом|к|корп|корпус|стр|строение|кв|квартира|подъезд|у|в|во|на|по|с|со|от|до|"
    r"за|из|около|возле|рядом|напротив|между|перед|и|а|но|или|же|не|нет|номер|адрес|адресу)(?![а-яё-]))"
)
_WORD = r"[А-ЯЁа-яё][а-яё]+(?:-[А-ЯЁа-яё][а-яё]+)?"
_INITIAL = r"[А-ЯЁ][а-яё]?\.\s?"
_ORDINAL = r"\d{1,2}-?(?:я|й|ая|ый|ой|ий)\s+"
# The street name: an optional ordinal, optional initials, then one to three words.
_NAME = rf"(?P<ord>{_ORDINAL})?(?:{_INITIAL})*(?P<name>(?!{_NOT_NAME}){_WORD}(?:\s+(?!{_NOT_NAME}){_WORD}){{0,2}})"
# The house: number, letter, fraction, корпус, строение; never a time, a decimal, an ordinal or a unit.
_UNIT = (
    r"(?i:лет|год\w*|дн\w*|день|недел\w*|месяц\w*|раз\w*|час\w*|мин\w*|сек\w*|утра|вечера|ночи|числ\w*|руб\w*"
    r"|р|тыс\w*|млн|человек\w*|чел|км|метр\w*|м|шт\w*|кг|град\w*|процент\w*|этаж\w*|серии|сери\w*|класс\w*)"
)
_HOUSE = (
    rf"(?P<num>\d{{1,3}})(?!\d|[.,:]\d|\s*%|-?(?:го|ого|ому|ым|ом|й|я|е|ой|ий|ый|ая|ое|ые|х|ти|ми)(?![а-яё]))"
    rf"(?!\s*{_UNIT}(?![а-яё]))"
    r"(?:-?(?P<let>[а-яёa-z])(?![а-яёa-z\d])|\s(?P<cap>[А-Я])(?![А-Яа-яё\d]))?"
    r"(?:\s?/\s?(?P<frac>\d{1,3}[а-яё]?|[а-яё])(?![а-яё\d]))?"
    r"(?:\s*,?\s*(?i:к|корп|корпус)\.?\s*(?P<korp>\d{1,2})(?!\d))?"
    r"(?:\s*,?\s*(?i:с|стр|строение)\.?\s*(?P<stroenie>\d{1,2})(?!\d))?"
)
_FILLER = r"(?i:возле|около|у|напротив|рядом\s+с|во\s+дворе|двор)"
_HOUSE_PREFIX = rf"(?:(?:{_FILLER}\s+)?{_HOUSE_WORD}\.?\s*(?:№\s*)?|№\s*)?"
_END_TYPE = r"(?![а-яёА-ЯЁ])"
# In the reverse form the name ends at the first lowercase word after its first ("по Садовой сильно пахнет").
_NAME_R = rf"(?P<ord>{_ORDINAL})?(?:{_INITIAL})*(?P<name>(?!{_NOT_NAME}){_WORD}(?:\s+[А-ЯЁ][а-яё]+){{0,2}})"
_START = r"(?<![А-ЯЁа-яё\w-])"

TYPE_WORD_RE = re.compile(rf"{_START}(?i:{_TYPE}){_END_TYPE}")
# type before the name: "ул. Ленина, д. 5", "улице красного текстильщика 13", "пр-т Мира 12"
TYPED_RE = re.compile(rf"{_START}(?i:{_TYPE}){_END_TYPE}\.?\s*{_NAME}\s*[,.]?\s*{_HOUSE_PREFIX}{_HOUSE}")
# type after the name: "Невский пр. 95", "Садовая улица, 5"
TYPE_AFTER_RE = re.compile(rf"{_START}{_NAME}\s+(?i:{_TYPE}){_END_TYPE}\.?\s*,?\s*{_HOUSE_PREFIX}{_HOUSE}")
# reverse: "дом 12 по Садовой", "д. 5 по ул. Ленина"
REVERSE_RE = re.compile(
    rf"{_START}{_HOUSE_WORD}\.?\s*(?:№\s*)?{_HOUSE}\s+(?i:по)\s+(?:(?i:{_TYPE}){_END_TYPE}\.?\s*)?{_NAME_R}"
)
# a street without a house, only with its type: "на проспекте Ленина", "по улице Садовой"
STREET_RE = re.compile(rf"{_START}(?i:{_TYPE}){_END_TYPE}\.?\s*{_NAME_R}")
# no type: "Ленина 5", "Рубинштейна,д.3", "Шпалерной дом 9", "на ленина 5"
BARE_RE = re.compile(rf"{_START}{_NAME}\s*,?\s*(?P<hw>{_HOUSE_WORD}\.?\s*(?:№\s*)?)?{_HOUSE}")

# Lemmas that look like a street name before a number but name an institution, a vehicle or a thing.
NOT_STREETS = frozenset(
    "школа гимназия лицей садик сад детсад ясли поликлиника больница консультация амбулатория аптека жкс жэк"
    " жилкомсервис жкх ук тсж мфц автобус маршрут маршрутка трамвай троллейбус электричка рейс поезд линия группа"
    " класс кабинет корпус подъезд квартира этаж номер участок отделение окно палата отдел управа библиотека"
    " клуб секция площадка пункт остановка магазин январь февраль март апрель май июнь июль август сентябрь"
    " октябрь ноябрь декабрь год час минута день неделя месяц раз тысяча рубль процент человек вариант"
    " страница пост фото видео приказ закон статья мкд тк кдц дк дом".split()
)
_NAME_TAGS = ("Surn", "Name", "Patr", "Geox")
_BAD_POS = frozenset({"ADVB", "VERB", "INFN", "PREP", "CONJ", "PRCL", "NPRO", "NUMR", "INTJ", "PRED", "GRND"})


@dataclass(frozen=True)
class Address:
    """A normalised address: `key` is what incidents compare; `start`/`end` locate it in the text."""

    street: str
    house: str | None  # None: a street named without a house ("на проспекте Ленина")
    start: int
    end: int

    @property
    def key(self) -> str | None:
        return f"{self.street} {self.house}" if self.house else None


_morph_lock = threading.Lock()


@lru_cache(maxsize=1)
def _morph() -> Any:
    import pymorphy3

    return pymorphy3.MorphAnalyzer()


@lru_cache(maxsize=50_000)
def _parses(word: str) -> tuple[tuple[str, str, frozenset[str], str | None], ...]:
    """(normal form, POS, grammemes, case) of each parse; the analyzer is not entered from two threads."""
    with _morph_lock:
        parsed = _morph().parse(word)
    return tuple(
        (p.normal_form.replace("ё", "е"), str(p.tag.POS), frozenset(p.tag.grammemes), p.tag.case) for p in parsed
    )


def street_lemma(word: str) -> str:
    """The lemma that keys a street word: an adjective's, else a surname's/name's/place's, else the first."""
    parses = _parses(word.lower().replace("ё", "е"))
    for pos_wanted in ("ADJF", None):
        for normal, pos, grammemes, _ in parses:
            if (pos_wanted and pos == pos_wanted) or (pos_wanted is None and grammemes & set(_NAME_TAGS)):
                return normal
    return parses[0][0] if parses else word.lower()


def _may_be_street(word: str, explicit_house: bool, after_preposition: bool = False) -> bool:
    """A bare "<word> <number>" names a street only when the word can be one (see the module docstring)."""
    parses = _parses(word.lower().replace("ё", "е"))
    if not parses or parses[0][1] in _BAD_POS or street_lemma(word) in NOT_STREETS:
        return False
    if any(g & set(_NAME_TAGS) for _, _, g, _ in parses):
        return True
    adjective = any(pos == "ADJF" and "Anum" not in g for _, pos, g, _ in parses)
    if not word[0].isupper() and not explicit_house:
        # lowercase: surnames and places pass, and an adjective after "на"/"по" ("на садовой 12"), not "мамы 3"
        return adjective and after_preposition
    return adjective or any(pos == "NOUN" and case == "gent" for _, pos, _, case in parses[:1])


_DIGITS_RE = re.compile(r"\d+")
_LATIN_LETTERS = str.maketrans("abcekmhoptxy", "авсекмнортху")


def _house(m: re.Match[str]) -> str:
    house = m.group("num").lstrip("0") or "0"
    letter = m.group("let") or m.group("cap")
    if letter:
        house += letter.lower().replace("ё", "е").translate(_LATIN_LETTERS)
    if m.group("frac"):
        house += "/" + m.group("frac").lower()
    if m.group("korp"):
        house += f" к{int(m.group('korp'))}"
    if m.group("stroenie"):
        house += f" с{int(m.group('stroenie'))}"
    return house


def _street(m: re.Match[str]) -> str:
    last = m.group("name").split()[-1]
    street = street_lemma(last)
    ordinal = m.group("ord")
    return f"{int(_DIGITS_RE.findall(ordinal)[0])} {street}" if ordinal else street


def find_address(text: str) -> Address | None:
    """The first address of `text` (see the module docstring), or None when it names none."""
    text = _CAPS_RE.sub(lambda m: m.group().capitalize(), text.replace("ё", "е").replace("Ё", "Е"))
    typed = TYPE_WORD_RE.search(text) is not None  # cheap tests first: most comments name no address
    numbered = _HAS_DIGIT_RE.search(text) is not None
    found: list[tuple[int, int, re.Match[str]]] = []
    patterns = ((TYPED_RE, typed), (TYPE_AFTER_RE, typed), (REVERSE_RE, True)) if numbered else ()
    for rank, (pattern, may) in enumerate(patterns):
        m = pattern.search(text) if may else None
        if m:
            found.append((m.start(), rank, m))
    for m in BARE_RE.finditer(text) if numbered else ():
        if TYPE_RE.fullmatch(m.group("name").split()[-1]):
            continue  # "пр 95" is the typed form's business
        after = _PREPOSITION_END_RE.search(text, 0, m.start()) is not None
        if _may_be_street(m.group("name").split()[-1], explicit_house=bool(m.group("hw")), after_preposition=after):
            found.append((m.start(), 3, m))
            break
    if found:
        _, _, m = min(found, key=lambda f: (f[0], f[1]))
        return Address(street=_street(m), house=_house(m), start=m.start(), end=m.end())
    for m in STREET_RE.finditer(text) if typed else ():
        if _may_be_street(m.group("name").split()[-1], explicit_house=True):
            return Address(street=_street(m), house=None, start=m.start(), end=m.end())
    return None


def address_key(text: str) -> str | None:
    """`find_address(text).key` (street and house), or None: what incident grouping compares."""
    address = find_address(text)
    return address.key if address else None
