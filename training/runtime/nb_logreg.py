"""Naive-Bayes-scaled logistic regression (NB-LR, Wang & Manning 2012) for binary heads.

Each feature is scaled by its log-count ratio between classes before a logistic regression; on short,
sparse texts this often beats plain logistic regression. It stays linear (coef × ratio), so the compiled
heads of training/linear_heads.py can serve it.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression


class NBLogisticRegression(ClassifierMixin, BaseEstimator):
    def __init__(self, C: float = 16.0, alpha: float = 1.0, random_state: int = 0):
        self.C = C
        self.alpha = alpha
        self.random_state = random_state

    def fit(self, X, y, sample_weight: np.ndarray | None = None) -> NBLogisticRegression:
        y = np.asarray(y)
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        # Magnitudes: dense blocks (word vectors) hold negative values, counts do not.
        magnitude = abs(X)
        pos = self.alpha + np.asarray(magnitude[y == 1].T @ w[y == 1]).ravel()
        neg = self.alpha + np.asarray(magnitude[y == 0].T @ w[y == 0]).ravel()
        self.ratio_ = np.log((pos / pos.sum()) / (neg / neg.sum()))
        self.lr_ = LogisticRegression(
            C=self.C, solver="liblinear", class_weight="balanced", max_iter=3000, random_state=self.random_state
        )
        self.lr_.fit(X.multiply(self.ratio_).tocsr(), y, sample_weight=w)
        self.classes_ = self.lr_.classes_
        # The same model as one linear function of the unscaled features.
        self.coef_ = self.lr_.coef_ * self.ratio_
        self.intercept_ = self.lr_.intercept_
        return self

    def predict_proba(self, X) -> np.ndarray:
        return self.lr_.predict_proba(X.multiply(self.ratio_).tocsr())

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]
