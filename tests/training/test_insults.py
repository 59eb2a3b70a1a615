"""Rude-word features: present whatever the length of the comment, and aimed (ты/вы, authorities) or not."""

from __future__ import annotations

import pytest

from training.runtime.text.insults import FEATURES, RudeWordFeatures
from training.runtime.text.normalize import normalize_text

RUDE = RudeWordFeatures(weight=1.0)


def _features(text: str) -> dict[str, float]:
    row = RUDE.transform([normalize_text(text)]).toarray()[0]
    return dict(zip(FEATURES, row, strict=True))


@pytest.mark.parametrize("text", ["Олег, ты идиот", "вы дура?", "какие же тут все тупые", "Хамло!", "клоуны"])
def test_rude_words_are_found(text):
    assert _features(text)["rude_word"] == 1.0


@pytest.mark.parametrize(
    "text",
    [
        "Тупик на улице Ленина",
        "хороший урожай",
        "продам дуршлаг",
        "лохматая собака",
        "хамство водителя",
        "Хамовники",
        "Олег, спасибо вам",
    ],
)
def test_innocent_look_alikes_are_not(text):
    assert _features(text)["rude_word"] == 0.0


def test_a_long_neutral_tail_does_not_dilute_the_feature():
    short = _features("Олег, ты идиот")
    long = _features("Олег, ты идиот, снег во дворе убрали ещё вчера, а контейнеры вывезли утром в семь")
    assert short == long and long["rude_and_you"] == 1.0


def test_whom_the_word_is_aimed_at():
    assert _features("клоуны в администрации")["rude_and_authority"] == 1.0
    assert _features("какие все тупые")["rude_other"] == 1.0
    assert _features("какие все тупые")["rude_and_you"] == 0.0
