"""Training on a small slice: candidates compared by CV, thresholds stored, extras rows carry weights."""

from __future__ import annotations

import pandas as pd

from training.train import TrainConfig, train_model


def _slice(corpus: pd.DataFrame, n: int = 900) -> pd.DataFrame:
    train = corpus[corpus["split"] == "train"]
    return train.sample(n=n, random_state=1).reset_index(drop=True)


def test_two_candidates_per_head_are_compared_and_recorded(corpus):
    config = TrainConfig(folds=3, families=("logreg:C=8", "linsvc:C=0.5"), progress=False, n_jobs=1)
    model, choices = train_model(_slice(corpus), config=config)
    assert {c.label for c in choices} == {*model.flags, model.urgent_label, "topic"}
    for c in choices:
        assert set(c.cv_scores) == {"logreg:C=8", "linsvc:C=0.5"}
        assert c.family == max(c.cv_scores, key=c.cv_scores.get)
    assert set(model.thresholds) == {*model.flags, model.urgent_label}
    assert all(0.0 < t <= 1.0 for t in model.thresholds.values())
    results = model.classify(["В подъезде сильно пахнет газом, срочно приезжайте!!!", "Спасибо за работу!"])
    assert len(results) == 2 and all(r["category"] in {"actionable", "no_question", "profanity",
                                                        "insult_commenter", "disrespect_authority"} for r in results)


def test_extra_rows_with_unknown_labels_train_only_their_heads(corpus):
    own = _slice(corpus, 600)
    extra = pd.DataFrame({
        "text": ["нормальный текст без ничего", "какой-то текст про погоду", "ещё одна фраза про футбол"] * 20,
        "profanity": [0.0] * 60, "disrespect_authority": [float("nan")] * 60,
        "insult_commenter": [float("nan")] * 60, "no_question": [float("nan")] * 60,
        "urgent": [float("nan")] * 60, "topic": [""] * 60, "weight": [0.3] * 60,
    })
    model, _ = train_model(own, config=TrainConfig(folds=3, families=("logreg",), progress=False, n_jobs=1),
                           extra_df=extra)
    assert model.metadata["extra_rows"] == 60 and model.metadata["train_rows"] == 600
