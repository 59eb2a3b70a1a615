"""Prediction heads on the shared feature matrix: one binary head per flag, a topic head, an urgent head."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from training.linear_heads import CompiledLinearHeads
from training.nb_logreg import NBLogisticRegression

if TYPE_CHECKING:
    import pandas as pd

TOPIC_HEAD = "topic"


FAMILIES = ("logreg", "linsvc", "nblogreg")
# Candidates compared per head by CV on the train split: "family" or "family:C=value".
# nblogreg is binary only: the topic head skips it.
# Compared by CV on every head. nblogreg (0.01–0.02 below everywhere) and logreg:C=8 (never ahead of C=32)
# stay available through TrainConfig.families but are not default candidates: each costs a third of `make train`.
DEFAULT_CANDIDATES = ("logreg:C=32", "linsvc:C=0.5")
BINARY_ONLY = ("nblogreg",)


def parse_candidate(spec: str) -> tuple[str, float | None]:
    family, _, rest = spec.partition(":")
    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r}; choose from {FAMILIES}")
    if not rest:
        return family, None
    key, _, value = rest.partition("=")
    if key != "C":
        raise ValueError(f"bad candidate {spec!r}: only C=<value> may follow the family")
    return family, float(value)


def make_estimator(spec: str, *, multiclass: bool = False, random_state: int = 0) -> BaseEstimator:
    """A candidate head; both families give probabilities (the SVM through sigmoid calibration)."""
    family, C = parse_candidate(spec)
    if family == "nblogreg":
        if multiclass:
            raise ValueError("nblogreg is a binary model; it cannot be the topic head")
        return NBLogisticRegression(C=C or 16.0, random_state=random_state)
    if family == "logreg":
        return LogisticRegression(C=C or (10.0 if multiclass else 8.0), max_iter=3000, class_weight="balanced",
                                  solver="lbfgs" if multiclass else "liblinear", random_state=random_state)
    return CalibratedClassifierCV(
        LinearSVC(C=C or 0.5, class_weight="balanced", random_state=random_state), method="sigmoid", cv=3,
        ensemble=False,  # one SVM on all rows + a calibrator fitted on its CV decisions: compilable, 3x cheaper
    )


def _fit_one(est: BaseEstimator, X, y: np.ndarray, w: np.ndarray) -> BaseEstimator:
    return clone(est).fit(X, y, sample_weight=w)


class TriageHeads(BaseEstimator):
    """Final Pipeline step: `fit(X, Y)` with Y a DataFrame holding every label column.

    `binary_heads` maps a label (the flags and urgent) to an estimator; the topic head learns only from
    rows that have a topic. `predict_proba` returns a dict label -> scores (topic -> n×k matrix).
    """

    def __init__(self, binary_heads: dict[str, BaseEstimator] | None = None,
                 topic_head: BaseEstimator | None = None, topic_column: str = TOPIC_HEAD, n_jobs: int = 1):
        self.binary_heads = binary_heads
        self.topic_head = topic_head
        self.topic_column = topic_column
        self.n_jobs = n_jobs

    def fit(self, X, Y: pd.DataFrame, sample_weight: np.ndarray | None = None) -> TriageHeads:
        """Labels may be NaN (unknown for rows from other corpora): those rows skip that head."""
        w = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        topics = Y[self.topic_column].fillna("").astype(str).to_numpy()
        has_topic = topics != ""
        jobs = [(self.topic_column, self.topic_head, has_topic, topics[has_topic])]  # the longest goes first
        for label, est in (self.binary_heads or {}).items():
            known = Y[label].notna().to_numpy()
            jobs.append((label, est, known, Y[label][known].astype(int).to_numpy()))
        # The heads are independent: fit them side by side (the topic head alone takes about half the time).
        fitted = Parallel(n_jobs=self.n_jobs, max_nbytes=None)(  # no read-only memmaps: liblinear writes
            delayed(_fit_one)(est, X[rows], y, w[rows]) for _, est, rows, y in jobs)
        self.topic_head_ = fitted[0]
        self.binary_heads_ = {label: f for (label, *_), f in zip(jobs[1:], fitted[1:], strict=True)}
        self.topic_classes_ = [str(c) for c in self.topic_head_.classes_]
        self.compiled_ = CompiledLinearHeads({**self.binary_heads_, self.topic_column: self.topic_head_})
        return self

    def predict_proba(self, X) -> dict[str, np.ndarray]:
        """All heads in one matrix product (see training/linear_heads.py)."""
        return self.compiled_.predict_proba(X)

    def predict_proba_reference(self, X) -> dict[str, np.ndarray]:
        """The same numbers through each scikit-learn estimator: the slow path the compiled one must match."""
        out = {label: est.predict_proba(X)[:, 1] for label, est in self.binary_heads_.items()}
        out[self.topic_column] = self.topic_head_.predict_proba(X)
        return out
