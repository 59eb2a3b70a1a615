"""The pymorphy3 lemmatiser: lemmas, the shared cache, thread safety and pickling."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import joblib
import pytest

from training.runtime.text.lemmatize import Lemmatizer, tokenize
from training.runtime.text.normalize import normalize_text


@pytest.mark.parametrize(
    "text,expected",
    [
        ("дети ходили в школы и видели кошек", "ребенок ходить в школа и видеть кошка"),
        ("на улицах лежит снег _num_ дней", "на улица лежать снег _num_ день"),
        ("когда починят дороги", "когда починить дорога"),
        ("х*й 👍 _url_", "х*й 👍 _url_"),
        ("wifi не работает", "wifi не работать"),
    ],
)
def test_lemmas(text: str, expected: str) -> None:
    assert Lemmatizer().lemmatize(text) == expected


def test_tokenize_keeps_placeholders_masks_and_emoji() -> None:
    assert tokenize("привет, _mention_ х*й!! 😡") == ["привет", "_mention_", "х*й", "😡"]


def test_cache_hits_grow_on_repeats() -> None:
    lem = Lemmatizer()
    text = normalize_text("Во дворе не убирают снег уже неделю")
    lem.lemmatize(text)
    first = lem.cache_stats()
    assert first["hits"] == 0 and first["misses"] > 0 and first["size"] == first["misses"]
    lem.lemmatize(text)
    lem.lemmatize(text)
    second = lem.cache_stats()
    assert second["hits"] == 2 * first["misses"]
    assert second["misses"] == first["misses"]
    assert second["hit_rate"] > first["hit_rate"]


def test_cache_is_bounded() -> None:
    lem = Lemmatizer(max_cache=3)
    lem.lemmatize("один два три четыре пять")
    assert lem.cache_stats()["size"] == 3


TEXTS = [
    normalize_text(t)
    for t in (
        "Третий день нет горячей воды в доме на Ленина 5",
        "Когда отремонтируют дороги в микрорайоне Северный?",
        "Автобусы маршрута 12 ходят раз в час",
        "Дети не могут попасть в детский сад, очереди огромные",
        "Спасибо врачам поликлиники за внимательное отношение",
        "Во дворах лежат сугробы, снег никто не убирает",
    )
] * 5


def test_thread_safety() -> None:
    expected = [Lemmatizer().lemmatize(t) for t in TEXTS]
    shared = Lemmatizer()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: [shared.lemmatize(t) for t in TEXTS], range(8)))
    for r in results:
        assert r == expected
    stats = shared.cache_stats()
    assert stats["hits"] + stats["misses"] == 8 * sum(len(tokenize(t)) for t in TEXTS)


def test_pickle_round_trip_rebuilds_cache(tmp_path) -> None:
    lem = Lemmatizer(max_cache=1000)
    before = lem.transform(TEXTS[:6])
    assert lem.cache_stats()["size"] > 0
    path = tmp_path / "lem.joblib"
    joblib.dump(lem, path)
    loaded = joblib.load(path)
    assert loaded.max_cache == 1000
    assert loaded.cache_stats()["size"] == 0, "the cache must not be pickled; it is rebuilt after loading"
    assert list(loaded.transform(TEXTS[:6])) == list(before)
    assert loaded.cache_stats()["misses"] > 0
