"""Per-label decision thresholds chosen on out-of-fold probabilities of the train split."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import precision_recall_curve

URGENT_MIN_PRECISION = 0.75  # a margin above the 0.70 product bar


def best_f1_threshold(y_true: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """Threshold maximising F1; returns (threshold, f1)."""
    precision, recall, thresholds = precision_recall_curve(y_true, scores)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    k = int(np.argmax(f1[:-1])) if len(thresholds) else 0
    return (float(thresholds[k]) if len(thresholds) else 0.5), float(f1[k])


def recall_first_threshold(y_true: np.ndarray, scores: np.ndarray,
                           min_precision: float = URGENT_MIN_PRECISION) -> tuple[float, float]:
    """Lowest threshold (highest recall) whose precision stays ≥ min_precision; else the best F2.

    Missing a gas leak costs more than an extra escalation, so urgent favours recall.
    Returns (threshold, recall at that threshold).
    """
    precision, recall, thresholds = precision_recall_curve(y_true, scores)
    ok = np.where(precision[:-1] >= min_precision)[0]
    if len(ok):
        k = int(ok[np.argmax(recall[ok])])
        return float(thresholds[k]), float(recall[k])
    f2 = 5 * precision * recall / np.maximum(4 * precision + recall, 1e-12)
    k = int(np.argmax(f2[:-1]))
    return float(thresholds[k]), float(recall[k])
