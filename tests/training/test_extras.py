"""Adapters for the public corpora: read in place, mapped onto our labels, licences respected."""

from __future__ import annotations

import numpy as np
import pytest

from training.datasets.extras import DEFAULT_DATASETS_DIR, ExtraDataError, kursk_topic, load_extras
from training.runtime.taxonomy import default_taxonomy

needs_datasets = pytest.mark.skipif(not DEFAULT_DATASETS_DIR.is_dir(), reason="../shared/datasets not present")


def test_unknown_extra_is_refused():
    with pytest.raises(ExtraDataError, match="unknown extra corpus"):
        load_extras(["no_such_corpus"])


def test_non_commercial_corpus_needs_explicit_permission():
    with pytest.raises(ExtraDataError, match="non-commercial"):
        load_extras(["ok_ru_toxic_positives"])


def test_missing_datasets_dir_is_a_clear_error(tmp_path):
    with pytest.raises(ExtraDataError, match="not found"):
        load_extras(["ru_paradetox"], tmp_path)


def test_kursk_topic_mapping():
    assert kursk_topic("8", "Нарушение расписания") == "public_transport"
    assert kursk_topic("3", "Неработающее наружное освещение") == "landscaping"
    assert kursk_topic("0", "Очистка от снега и наледи дорог") == "waste_snow"
    assert kursk_topic("3", "Нарушение теплоснабжения многоквартирного дома") == "housing_utilities"
    assert kursk_topic("12", "Тестовая") is None


@needs_datasets
@pytest.mark.parametrize("name", ["ru_toxic_2ch_pikabu", "ru_paradetox", "kursk_citizen_appeals"])
def test_adapter_maps_onto_our_labels(name):
    tax = default_taxonomy()
    df = load_extras([name], weight=0.25)
    assert len(df) > 500
    assert set(df["source"]) == {name}
    assert (df["weight"] == 0.25).all()
    for col in (*tax.flags, tax.urgent):
        values = set(df[col].dropna().unique())
        assert values <= {0.0, 1.0}, (col, values)
    topics = set(df["topic"]) - {""}
    assert topics <= set(tax.topic_ids)
    if name == "kursk_citizen_appeals":
        assert (df["no_question"] == 0).all() and len(topics) >= 8
    if name == "ru_paradetox":
        negatives = df[df["profanity"] == 0]
        assert len(negatives) > 1000 and (negatives["insult_commenter"] == 0).all()
    if name == "ru_toxic_2ch_pikabu":
        # Weak labels: each row speaks for profanity or insult or both; the rest stays unknown (NaN).
        assert np.isnan(df["disrespect_authority"]).all()
        assert df["profanity"].notna().sum() > 0 and df["insult_commenter"].notna().sum() > 0
