"""Every head is linear, so serving computes all of them with ONE sparse×dense product.

Scoring through each scikit-learn estimator costs a fixed ~1 ms of input checks per head per call (and a
calibrated SVM ensemble several times that); a single comment must be scored in well under 5 ms. After
`fit`, the heads are compiled into one weight matrix plus the exact post-processing each estimator would
apply (logistic, softmax, or sigmoid calibration with normalisation), so the probabilities are the same
numbers `predict_proba` gives, computed in one pass. `tests/training/test_linear_heads.py` checks equality.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, softmax
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression

from training.runtime.nb_logreg import NBLogisticRegression


@dataclass
class _Head:
    start: int  # first decision column of this head in the compiled matrix
    width: int  # number of decision columns
    kind: str  # "logistic" | "softmax" | "sigmoid_calibrated"
    cal_a: np.ndarray | None = None  # per column: p = expit(-(a * d + b))
    cal_b: np.ndarray | None = None


class CompiledLinearHeads:
    """Weights of all heads side by side: D = X @ W + b, then each head's own link function."""

    def __init__(self, estimators: dict[str, object]):
        columns, biases = [], []
        self.heads: dict[str, _Head] = {}
        start = 0
        for name, est in estimators.items():
            coef, intercept, head = _linear_parts(est)
            head.start = start
            columns.append(coef)
            biases.append(intercept)
            self.heads[name] = head
            start += head.width
        self.W = np.ascontiguousarray(np.vstack(columns).T, dtype=np.float64)
        self.b = np.concatenate(biases).astype(np.float64)

    def share_weights(self, estimators: dict[str, object]) -> int:
        """Point each estimator's coefficients at its columns of W (a view) instead of a copy of the same
        numbers: the copies are as large as W (24 MB for the shipped model) and serving never reads them,
        only the reference path does. Returns how many arrays now share W's memory."""
        shared = 0
        for name, est in estimators.items():
            head = self.heads.get(name)
            owner = coef_owner(est)
            if head is None or owner is None:
                continue
            view = self.W[:, head.start : head.start + head.width].T
            coef = getattr(owner, "coef_", None)
            if isinstance(coef, np.ndarray) and coef.shape == view.shape and np.array_equal(coef, view):
                setattr(owner, "coef_", view)  # noqa: B010 (owner is any of three estimator types)
                shared += 1
        return shared

    def predict_proba(self, X) -> dict[str, np.ndarray]:
        D = np.asarray(X @ self.W) + self.b
        out = {}
        for name, h in self.heads.items():
            d = D[:, h.start : h.start + h.width]
            if h.kind == "logistic":
                out[name] = expit(d[:, 0])
            elif h.kind == "softmax":
                out[name] = softmax(d, axis=1)
            else:
                assert h.cal_a is not None and h.cal_b is not None  # set for every "sigmoid_calibrated" head
                p = expit(-(h.cal_a * d + h.cal_b))
                if h.width == 1:
                    out[name] = p[:, 0]
                else:
                    total = p.sum(axis=1, keepdims=True)
                    out[name] = np.divide(p, total, out=np.full_like(p, 1.0 / h.width), where=total != 0)
            np.clip(out[name], 0.0, 1.0, out=out[name])
        return out


def coef_owner(est: object) -> object | None:
    """The object whose `coef_` the compiled matrix copied (see _linear_parts)."""
    if isinstance(est, (NBLogisticRegression, LogisticRegression)):
        return est
    if isinstance(est, CalibratedClassifierCV) and len(est.calibrated_classifiers_) == 1:
        return est.calibrated_classifiers_[0].estimator
    return None


def _linear_parts(est: object) -> tuple[np.ndarray, np.ndarray, _Head]:
    if isinstance(est, NBLogisticRegression):
        return est.coef_, est.intercept_, _Head(0, 1, "logistic")
    if isinstance(est, LogisticRegression):
        coef = est.coef_
        kind = "logistic" if coef.shape[0] == 1 else "softmax"
        return coef, est.intercept_, _Head(0, coef.shape[0], kind)
    if isinstance(est, CalibratedClassifierCV):
        if len(est.calibrated_classifiers_) != 1 or est.method != "sigmoid":
            raise TypeError("only CalibratedClassifierCV(method='sigmoid', ensemble=False) can be compiled")
        cc = est.calibrated_classifiers_[0]
        coef, intercept = cc.estimator.coef_, np.atleast_1d(cc.estimator.intercept_)
        a = np.array([c.a_ for c in cc.calibrators], dtype=np.float64)
        b = np.array([c.b_ for c in cc.calibrators], dtype=np.float64)
        return coef, intercept, _Head(0, coef.shape[0], "sigmoid_calibrated", a, b)
    raise TypeError(f"cannot compile {type(est).__name__}: not a supported linear model")
