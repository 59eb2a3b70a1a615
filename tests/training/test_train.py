"""Training on a small slice: candidates compared by CV, thresholds stored, extras rows carry weights."""

from __future__ import annotations

import pandas as pd
import pytest

from training.fit.train import TrainConfig, train_model

pytestmark = pytest.mark.slow  # trains models or executes notebooks


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
    assert len(results) == 2 and all(
        r["category"] in {"actionable", "no_question", "profanity", "insult_commenter", "disrespect_authority"}
        for r in results
    )


def test_extra_rows_with_unknown_labels_train_only_their_heads(corpus):
    own = _slice(corpus, 600)
    extra = pd.DataFrame(
        {
            "text": ["нормальный текст без ничего", "какой-то текст про погоду", "ещё одна фраза про футбол"] * 20,
            "profanity": [0.0] * 60,
            "disrespect_authority": [float("nan")] * 60,
            "insult_commenter": [float("nan")] * 60,
            "no_question": [float("nan")] * 60,
            "urgent": [float("nan")] * 60,
            "topic": [""] * 60,
            "weight": [0.3] * 60,
        }
    )
    model, _ = train_model(
        own, config=TrainConfig(folds=3, families=("logreg",), progress=False, n_jobs=1), extra_df=extra
    )
    assert model.metadata["extra_rows"] == 60 and model.metadata["train_rows"] == 600


def test_fold_matrices_equal_a_pipeline_fitted_on_the_fold(corpus):
    """CV fits vectorisers inside each fold: the fast path must equal fitting the pipeline on those rows."""
    import numpy as np

    from training.fit.folds import StatelessParts
    from training.runtime.features import build_feature_pipeline

    texts = _slice(corpus, 500)["text"].tolist()
    parts = StatelessParts(build_feature_pipeline(), texts)
    train_idx, test_idx = np.arange(0, 350), np.arange(350, 500)
    X_tr, X_te = parts.fold_matrices(train_idx, test_idx)
    reference = build_feature_pipeline()
    R_tr = reference.fit_transform([texts[i] for i in train_idx])
    R_te = reference.transform([texts[i] for i in test_idx])
    assert X_tr.shape == R_tr.shape and abs(X_tr - R_tr).max() == 0 and abs(X_te - R_te).max() == 0
    # A vocabulary fitted on all rows would be larger than the fold's: the fold must not see its test rows.
    assert X_tr.shape[1] < build_feature_pipeline().fit_transform(texts).shape[1]


def test_real_rate_threshold_rises_as_the_base_rate_falls():
    import numpy as np

    from training.fit.thresholds import real_rate_threshold

    rng = np.random.default_rng(0)
    y = np.r_[np.ones(300), np.zeros(3000)].astype(int)
    s = np.r_[rng.beta(5, 2, 300), rng.beta(2, 5, 3000)]
    groups = np.r_[[""] * 300, ["real"] * 3000]
    t_high, _ = real_rate_threshold(y, s, 0.10, negative_groups=groups)
    t_low, _ = real_rate_threshold(y, s, 0.01, negative_groups=groups)
    assert t_low > t_high
    # Real negatives that score higher than the corpus's push the threshold up further.
    s_hard = s.copy()
    s_hard[300:1800] = np.clip(s_hard[300:1800] + 0.2, 0, 1)
    groups_hard = np.r_[[""] * 300, ["hard"] * 1500, ["easy"] * 1500]
    t_hard, _ = real_rate_threshold(y, s_hard, 0.10, negative_groups=groups_hard)
    assert t_hard > t_high


def test_fit_all_leaves_the_pipeline_fitted_as_fit_transform_would(corpus):
    """The final model reuses CV's normalised and lemmatised texts: same matrix, same fitted pipeline."""
    from training.fit.folds import StatelessParts
    from training.runtime.features import build_feature_pipeline

    rows = _slice(corpus, 500)["text"].tolist()
    texts, unseen = rows[:400], rows[400:]
    pipeline = build_feature_pipeline()
    X = StatelessParts(pipeline, texts).fit_all()
    reference = build_feature_pipeline()
    R = reference.fit_transform(texts)
    assert X.shape == R.shape and abs(X - R).max() == 0
    assert abs(pipeline.transform(unseen) - reference.transform(unseen)).max() == 0
