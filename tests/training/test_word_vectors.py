"""Mean navec vectors: loaded offline from natasha's package, normalised, and they carry meaning."""

from __future__ import annotations

import numpy as np

from training.runtime.features import build_feature_pipeline
from training.runtime.text.word_vectors import NavecMeanVectors


def _vec(model: NavecMeanVectors, text: str) -> np.ndarray:
    return model.transform([text]).toarray()[0]


def test_rows_are_unit_vectors_and_unknown_text_is_zero():
    model = NavecMeanVectors().fit([])
    X = model.transform(["мусор не вывозят", "qwerty 123", ""]).toarray()
    assert X.shape == (3, 300)
    assert np.isclose(np.linalg.norm(X[0]), 1.0)
    assert not X[1].any() and not X[2].any()


def test_words_the_corpus_never_names_land_near_their_kin():
    model = NavecMeanVectors().fit([])
    insult, insult2, bus = _vec(model, "болван"), _vec(model, "тупица"), _vec(model, "автобус")
    assert insult @ insult2 > insult @ bus


def test_block_is_part_of_the_pipeline_and_can_be_left_out():
    texts = ["мусор не вывозят неделю", "спасибо за работу", "мусор опять не вывезли", "спасибо большое"]
    with_vectors = build_feature_pipeline(min_df=1).fit_transform(texts)
    without = build_feature_pipeline(min_df=1, word_vectors_weight=0).fit_transform(texts)
    assert with_vectors.shape[1] == without.shape[1] + 300
