"""Fit the feature pipeline and the heads, choose a model family per head and thresholds by CV on train."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from tqdm.auto import tqdm

from training.features import build_feature_pipeline
from training.heads import BINARY_ONLY, DEFAULT_CANDIDATES, TOPIC_HEAD, TriageHeads, make_estimator
from training.model import TriageModel
from training.taxonomy import Taxonomy, default_taxonomy
from training.thresholds import best_f1_threshold, recall_first_threshold

WEIGHT = "weight"


@dataclass
class TrainConfig:
    folds: int = 5
    families: tuple[str, ...] = DEFAULT_CANDIDATES  # model candidates, e.g. "logreg:C=8"
    random_state: int = 0
    n_jobs: int = 2
    feature_params: dict[str, Any] = field(default_factory=dict)
    progress: bool = True


@dataclass
class HeadChoice:
    label: str
    family: str
    cv_scores: dict[str, float]  # family -> CV F1 (binary) or accuracy (topic)
    threshold: float | None = None
    cv_metric_at_threshold: float | None = None


def _fit_predict(est, X, y, w, train_idx, test_idx):
    est = clone(est)
    kwargs = {"sample_weight": w[train_idx]} if w is not None else {}
    est.fit(X[train_idx], y[train_idx], **kwargs)
    return test_idx, est.predict_proba(X[test_idx])


def _oof_scores(est, X, y, w, own: np.ndarray, folds: int, random_state: int, n_jobs: int, multiclass: bool):
    """Out-of-fold probabilities for our own rows; rows from extra corpora always stay in training."""
    own_idx = np.where(own)[0]
    extra_idx = np.where(~own)[0]
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
    jobs = []
    for tr, te in skf.split(own_idx, y[own_idx]):
        jobs.append((np.concatenate([own_idx[tr], extra_idx]), own_idx[te]))
    parts = Parallel(n_jobs=n_jobs)(delayed(_fit_predict)(est, X, y, w, tr, te) for tr, te in jobs)
    n_classes = parts[0][1].shape[1]
    oof = np.zeros((len(y), n_classes))
    for te, proba in parts:
        oof[te] = proba
    return oof[own_idx] if multiclass else oof[own_idx, 1]


def _labels_frame(df: pd.DataFrame, taxonomy: Taxonomy) -> pd.DataFrame:
    cols = [*taxonomy.flags, taxonomy.urgent, "topic"]
    return df[cols].copy()


def train_model(
    train_df: pd.DataFrame,
    *,
    taxonomy: Taxonomy | None = None,
    config: TrainConfig | None = None,
    extra_df: pd.DataFrame | None = None,
    version: str = "unversioned",
) -> tuple[TriageModel, list[HeadChoice]]:
    """`train_df`: our rows (labels as ints, topic '' when none). `extra_df`: rows from other corpora with
    NaN where a label is unknown and a `weight` column."""
    taxonomy = taxonomy or default_taxonomy()
    config = config or TrainConfig()
    own = train_df.assign(**{WEIGHT: 1.0})
    data = pd.concat([own, extra_df], ignore_index=True) if extra_df is not None and len(extra_df) else own
    is_own = np.zeros(len(data), dtype=bool)
    is_own[: len(own)] = True
    texts = data["text"].astype(str).tolist()

    t0 = time.perf_counter()
    features = build_feature_pipeline(**config.feature_params)
    with tqdm(total=1, desc="features (normalise, lemmatise, tf-idf)", disable=not config.progress) as bar:
        X = features.fit_transform(texts).tocsr()
        bar.update(1)
    weights = data[WEIGHT].to_numpy(dtype=float)

    binary_labels = [*taxonomy.flags, taxonomy.urgent]
    choices: list[HeadChoice] = []
    chosen: dict[str, Any] = {}
    combos = [(label, fam) for label in [*binary_labels, TOPIC_HEAD] for fam in config.families
              if not (label == TOPIC_HEAD and fam.partition(":")[0] in BINARY_ONLY)]
    bar = tqdm(combos, desc="cross-validating heads", disable=not config.progress)
    oof: dict[tuple[str, str], np.ndarray] = {}   # (label, candidate) -> out-of-fold scores on our rows
    truth: dict[str, np.ndarray] = {}              # label -> true values of our rows for that head
    topic_classes: np.ndarray | None = None
    for label, fam in bar:
        bar.set_postfix_str(f"{label}/{fam}")
        multiclass = label == TOPIC_HEAD
        col = data[label]
        if multiclass:
            known = (col.astype(str) != "") & col.notna()
            y = col.astype(str).to_numpy()
        else:
            known = col.notna()
            y = col.fillna(-1).astype(int).to_numpy()
        rows = np.where(known.to_numpy())[0]
        est = make_estimator(fam, multiclass=multiclass, random_state=config.random_state)
        oof[(label, fam)] = _oof_scores(est, X[rows], y[rows], weights[rows], is_own[rows], config.folds,
                                        config.random_state, config.n_jobs, multiclass)
        truth[label] = y[rows][is_own[rows]]
        if multiclass:
            topic_classes = np.array(sorted(set(y[rows])))

    for label in [*binary_labels, TOPIC_HEAD]:
        y_own = truth[label]
        scores: dict[str, float] = {}
        thresholds_at: dict[str, tuple[float, float]] = {}  # candidate -> (threshold, its CV metric)
        for fam in config.families:
            if (label, fam) not in oof:
                continue
            scores_fam = oof[(label, fam)]
            if label == TOPIC_HEAD:
                scores[fam] = float(accuracy_score(y_own, topic_classes[scores_fam.argmax(axis=1)]))
            elif label == taxonomy.urgent:
                thresholds_at[fam] = recall_first_threshold(y_own, scores_fam)
                scores[fam] = float(f1_score(y_own, scores_fam >= thresholds_at[fam][0]))
            else:
                thresholds_at[fam] = best_f1_threshold(y_own, scores_fam)
                scores[fam] = thresholds_at[fam][1]
        fam = max(scores, key=lambda f: (scores[f], -config.families.index(f)))  # ties: the earlier candidate
        choice = HeadChoice(label=label, family=fam, cv_scores={k: round(v, 4) for k, v in scores.items()})
        if fam in thresholds_at:
            choice.threshold, choice.cv_metric_at_threshold = thresholds_at[fam]
        choices.append(choice)
        chosen[label] = make_estimator(fam, multiclass=label == TOPIC_HEAD, random_state=config.random_state)

    heads = TriageHeads(binary_heads={k: v for k, v in chosen.items() if k != TOPIC_HEAD},
                        topic_head=chosen[TOPIC_HEAD])
    with tqdm(total=1, desc="fitting final heads", disable=not config.progress) as bar:
        heads.fit(X, _labels_frame(data, taxonomy), sample_weight=weights)
        bar.update(1)
    pipeline = Pipeline([*features.steps, ("heads", heads)])
    thresholds = {c.label: float(c.threshold) for c in choices if c.threshold is not None}
    model = TriageModel(
        pipeline=pipeline,
        thresholds=thresholds,
        flags=taxonomy.flags,
        urgent_label=taxonomy.urgent,
        topics=taxonomy.topic_ids,
        version=version,
        metadata={"train_seconds": round(time.perf_counter() - t0, 1), "train_rows": int(is_own.sum()),
                  "extra_rows": int((~is_own).sum()),
                  "head_choices": [c.__dict__ for c in choices]},
    )
    return model, choices
