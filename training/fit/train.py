"""Fit the feature pipeline and the heads, choose a model family per head and thresholds by CV on train."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from tqdm.auto import tqdm

from training.fit.candidates import BINARY_ONLY, DEFAULT_CANDIDATES, make_estimator
from training.fit.folds import StatelessParts
from training.fit.thresholds import best_f1_threshold, real_rate_threshold, recall_first_threshold
from training.runtime.features import build_feature_pipeline
from training.runtime.heads import TOPIC_HEAD, TriageHeads
from training.runtime.model import TriageModel
from training.runtime.taxonomy import Taxonomy, default_taxonomy

WEIGHT = "weight"
MIN_REAL_NEGATIVES = 200  # fewer labelled real negatives than this: the false-positive rate comes from all


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


def _category_key(data: pd.DataFrame, taxonomy: Taxonomy) -> np.ndarray:
    """Stratification key for the folds: the category by precedence (an unknown flag counts as 0)."""
    keys = np.full(len(data), "actionable", dtype=object)
    for flag in reversed(taxonomy.precedence[:-1]):
        keys[(data[flag].fillna(0) == 1).to_numpy()] = flag
    return keys


def _fold_job(
    parts: StatelessParts,
    heads: list[tuple[str, str, bool]],
    labels: dict[str, np.ndarray],
    known: dict[str, np.ndarray],
    w: np.ndarray,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    random_state: int,
) -> tuple[np.ndarray, dict[tuple[str, str], np.ndarray], dict[str, list[str]]]:
    """One CV fold: vectorisers fitted on the fold's training rows, then every candidate head."""
    X_tr, X_te = parts.fold_matrices(train_idx, test_idx)
    out: dict[tuple[str, str], np.ndarray] = {}
    classes: dict[str, list[str]] = {}
    for label, fam, multiclass in heads:
        rows = known[label][train_idx]
        est = make_estimator(fam, multiclass=multiclass, random_state=random_state)
        est.fit(X_tr[rows], labels[label][train_idx][rows], sample_weight=w[train_idx][rows])
        proba = est.predict_proba(X_te)
        out[(label, fam)] = proba if multiclass else proba[:, 1]
        if multiclass:
            classes[label] = [str(c) for c in est.classes_]
    return test_idx, out, classes


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
    own = train_df.assign(**{WEIGHT: 1.0, "source": "corpus"})
    data = pd.concat([own, extra_df], ignore_index=True) if extra_df is not None and len(extra_df) else own
    is_own = np.zeros(len(data), dtype=bool)
    is_own[: len(own)] = True
    source = data["source"].fillna("extra").astype(str).to_numpy()
    texts = data["text"].astype(str).tolist()

    t0 = time.perf_counter()
    features = build_feature_pipeline(**config.feature_params)
    weights = data[WEIGHT].to_numpy(dtype=float)
    binary_labels = [*taxonomy.flags, taxonomy.urgent]
    labels: dict[str, np.ndarray] = {}
    known: dict[str, np.ndarray] = {}
    for label in binary_labels:
        known[label] = data[label].notna().to_numpy()
        labels[label] = data[label].fillna(-1).astype(int).to_numpy()
    topic = data["topic"].fillna("").astype(str).to_numpy()
    labels[TOPIC_HEAD], known[TOPIC_HEAD] = topic, topic != ""

    # Every row gets out-of-fold scores; each head is judged on the rows that know its label, so the real
    # sets' training parts (their negatives above all) take part in choosing models and thresholds.
    skf = StratifiedKFold(n_splits=config.folds, shuffle=True, random_state=config.random_state)
    category = _category_key(data, taxonomy)
    strat = np.array([f"{c}|{s}" for c, s in zip(category, source, strict=True)], dtype=object)
    keys, counts = np.unique(strat, return_counts=True)
    rare = np.isin(strat, keys[counts < config.folds])
    # Too few of a category in one set to spread over the folds: they join our own rows of that category.
    strat[rare] = [f"{c}|corpus" for c in category[rare]]
    splits = list(skf.split(np.zeros(len(data)), strat))
    heads = [
        (label, fam, label == TOPIC_HEAD)
        for label in [*binary_labels, TOPIC_HEAD]
        for fam in config.families
        if not (label == TOPIC_HEAD and fam.partition(":")[0] in BINARY_ONLY)
    ]
    with tqdm(total=1, desc="features (normalise, lemmatise, lexicon)", disable=not config.progress) as bar:
        parts = StatelessParts(features, texts)
        bar.update(1)
    jobs = (delayed(_fold_job)(parts, heads, labels, known, weights, tr, te, config.random_state) for tr, te in splits)
    oof: dict[tuple[str, str], np.ndarray] = {}  # (label, candidate) -> out-of-fold scores of all rows
    topic_classes = np.array(sorted(set(topic[known[TOPIC_HEAD]])))
    with tqdm(
        total=len(splits),
        desc=f"cross-validating {len(heads)} heads, fold-fitted vectorisers",
        disable=not config.progress,
    ) as bar:
        for te, fold_scores, classes in Parallel(n_jobs=config.n_jobs, return_as="generator")(jobs):
            for key, val in fold_scores.items():
                if key[0] == TOPIC_HEAD:  # align a fold's classes with all classes (a fold may lack one)
                    full = np.zeros((len(te), len(topic_classes)))
                    cols = [int(np.searchsorted(topic_classes, c)) for c in classes[TOPIC_HEAD]]
                    full[:, cols] = val
                    val = full
                oof.setdefault(key, np.zeros((len(data),) + val.shape[1:]))[te] = val
            bar.update(1)
    truth = {label: labels[label][known[label]] for label in [*binary_labels, TOPIC_HEAD]}
    oof = {key: val[known[key[0]]] for key, val in oof.items()}
    groups = np.where(is_own, "", source)
    real_groups = {label: groups[known[label]] for label in binary_labels}

    choices: list[HeadChoice] = []
    chosen: dict[str, Any] = {}
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
            elif (base_rate := taxonomy.real_base_rate(label)) is not None:
                # Moderation flags: precision as a real page would see it (see thresholds.real_rate_threshold).
                thresholds_at[fam] = real_rate_threshold(
                    y_own, scores_fam, base_rate, negative_groups=real_groups[label], min_group=MIN_REAL_NEGATIVES
                )
                scores[fam] = thresholds_at[fam][1]
            else:
                thresholds_at[fam] = best_f1_threshold(y_own, scores_fam)
                scores[fam] = thresholds_at[fam][1]
        fam = max(scores, key=lambda f: (scores[f], -config.families.index(f)))  # ties: the earlier candidate
        choice = HeadChoice(label=label, family=fam, cv_scores={k: round(v, 4) for k, v in scores.items()})
        if fam in thresholds_at:
            choice.threshold, choice.cv_metric_at_threshold = thresholds_at[fam]
        choices.append(choice)
        chosen[label] = make_estimator(fam, multiclass=label == TOPIC_HEAD, random_state=config.random_state)

    triage_heads = TriageHeads(
        binary_heads={k: v for k, v in chosen.items() if k != TOPIC_HEAD},
        topic_head=chosen[TOPIC_HEAD],
        n_jobs=config.n_jobs,
    )
    with tqdm(total=1, desc="fitting the final pipeline on all rows", disable=not config.progress) as bar:
        X = parts.fit_all()
        triage_heads.fit(X, _labels_frame(data, taxonomy), sample_weight=weights)
        bar.update(1)
    pipeline = Pipeline([*features.steps, ("heads", triage_heads)])
    thresholds = {c.label: float(c.threshold) for c in choices if c.threshold is not None}
    model = TriageModel(
        pipeline=pipeline,
        thresholds=thresholds,
        flags=taxonomy.flags,
        urgent_label=taxonomy.urgent,
        topics=taxonomy.topic_ids,
        version=version,
        metadata={
            "train_seconds": round(time.perf_counter() - t0, 1),
            "train_rows": int(is_own.sum()),
            "extra_rows": int((~is_own).sum()),
            "rows_by_source": {k: int(v) for k, v in zip(*np.unique(source, return_counts=True), strict=True)},
            "head_choices": [c.__dict__ for c in choices],
        },
    )
    return model, choices
