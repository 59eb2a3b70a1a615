"""Prediction heads on the shared feature matrix: one binary head per flag, a topic head, an urgent head."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, clone

from training.runtime.linear_heads import CompiledLinearHeads

if TYPE_CHECKING:
    import pandas as pd

TOPIC_HEAD = "topic"


def _fit_one(est: BaseEstimator, X, y: np.ndarray, w: np.ndarray) -> BaseEstimator:
    return clone(est).fit(X, y, sample_weight=w)


class TriageHeads(BaseEstimator):
    """Final Pipeline step: `fit(X, Y)` with Y a DataFrame holding every label column.

    `binary_heads` maps a label (the flags and urgent) to an estimator; the topic head learns only from
    rows that have a topic. `predict_proba` returns a dict label -> scores (topic -> n×k matrix).
    """

    def __init__(
        self,
        binary_heads: dict[str, BaseEstimator] | None = None,
        topic_head: BaseEstimator | None = None,
        topic_column: str = TOPIC_HEAD,
        n_jobs: int = 1,
    ):
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
            delayed(_fit_one)(est, X[rows], y, w[rows]) for _, est, rows, y in jobs
        )
        self.topic_head_ = fitted[0]
        self.binary_heads_ = {label: f for (label, *_), f in zip(jobs[1:], fitted[1:], strict=True)}
        self.topic_classes_ = [str(c) for c in self.topic_head_.classes_]
        estimators = self._estimators()
        self.compiled_ = CompiledLinearHeads(estimators)
        self.compiled_.share_weights(estimators)
        return self

    def _estimators(self) -> dict[str, BaseEstimator]:
        return {**self.binary_heads_, self.topic_column: self.topic_head_}

    def __setstate__(self, state: dict) -> None:
        """A loaded model's estimators share the compiled weights again (a pickle stores a view as a copy)."""
        super().__setstate__(state)
        if "compiled_" in self.__dict__:
            self.compiled_.share_weights(self._estimators())

    def predict_proba(self, X) -> dict[str, np.ndarray]:
        """All heads in one matrix product (see training/linear_heads.py)."""
        return self.compiled_.predict_proba(X)

    def predict_proba_reference(self, X) -> dict[str, np.ndarray]:
        """The same numbers through each scikit-learn estimator: the slow path the compiled one must match."""
        out = {label: est.predict_proba(X)[:, 1] for label, est in self.binary_heads_.items()}
        out[self.topic_column] = self.topic_head_.predict_proba(X)
        return out
