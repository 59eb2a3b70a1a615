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


def recall_first_threshold(
    y_true: np.ndarray, scores: np.ndarray, min_precision: float = URGENT_MIN_PRECISION
) -> tuple[float, float]:
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


MODERATION_BETA = 0.5  # F0.5: a hidden legitimate comment costs more than a missed insult


def real_rate_threshold(
    y_true: np.ndarray,
    scores: np.ndarray,
    base_rate: float,
    negative_groups: np.ndarray | None = None,
    min_group: int = 200,
    beta: float = MODERATION_BETA,
) -> tuple[float, float]:
    """Threshold maximising F-beta at the real base rate, not at the corpus's.

    Recall comes from every positive. The false-positive rate is the mean of each real set's own rate
    (`negative_groups` names the set of each row, "" for our corpus; a set counts with at least
    `min_group` negatives), or of every negative when no real set qualifies. Precision is then what a
    page with `base_rate` positives would see, TPR·π / (TPR·π + FPR·(1−π)): a prior-shift correction of
    the corpus's own precision, which reflects its one-in-ten insults. Returns (threshold, F-beta).
    """
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(scores, dtype=float)
    if y.sum() == 0 or (~y).sum() == 0:
        return best_f1_threshold(y_true, scores)
    candidates = np.unique(s[y])
    tpr = _share_at_or_above(s[y], candidates)
    groups = np.asarray(negative_groups) if negative_groups is not None else np.full(len(y), "")
    real = [g for g in np.unique(groups[~y]) if g and ((groups == g) & ~y).sum() >= min_group]
    masks = [(groups == g) & ~y for g in real] or [~y]
    fpr = np.mean([_share_at_or_above(s[m], candidates) for m in masks], axis=0)
    precision = tpr * base_rate / np.maximum(tpr * base_rate + fpr * (1 - base_rate), 1e-12)
    b2 = beta * beta
    f = (1 + b2) * precision * tpr / np.maximum(b2 * precision + tpr, 1e-12)
    k = int(np.argmax(f))
    return float(candidates[k]), float(f[k])


def _share_at_or_above(values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    ordered = np.sort(values)
    return 1.0 - np.searchsorted(ordered, thresholds, side="left") / max(len(ordered), 1)
