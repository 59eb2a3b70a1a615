"""Test-split metrics, the quality bars, and the plots logged with every training run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_curve,
    precision_recall_fscore_support,
)

from training.runtime.heads import TOPIC_HEAD
from training.runtime.model import TriageModel
from training.runtime.taxonomy import Taxonomy, default_taxonomy

QUALITY_BARS = {
    "flags_macro_f1": 0.85,
    "profanity_f1": 0.97,
    "topic_accuracy_actionable": 0.85,
    "urgent_recall": 0.90,
    "urgent_precision": 0.70,
}


def evaluate(model: TriageModel, df: pd.DataFrame, taxonomy: Taxonomy | None = None) -> dict[str, Any]:
    """Per-label precision/recall/F1, macro-F1 over the flags, topic accuracy and category accuracy."""
    taxonomy = taxonomy or default_taxonomy()
    texts = df["text"].astype(str).tolist()
    scores = model.predict_scores(texts)
    results = model.decide(scores, taxonomy)
    metrics: dict[str, Any] = {"rows": len(df), "labels": {}}
    for label in [*taxonomy.flags, taxonomy.urgent]:
        y = df[label].astype(int).to_numpy()
        pred = scores[label] >= model.thresholds[label]
        p, r, f, _ = precision_recall_fscore_support(y, pred, average="binary", zero_division=0)
        metrics["labels"][label] = {
            "precision": round(float(p), 4),
            "recall": round(float(r), 4),
            "f1": round(float(f), 4),
            "support": int(y.sum()),
        }
    metrics["flags_macro_f1"] = round(float(np.mean([metrics["labels"][f]["f1"] for f in taxonomy.flags])), 4)
    has_topic = (df["topic"].astype(str) != "").to_numpy()
    topic_pred = np.array(model.topics)[scores[TOPIC_HEAD].argmax(axis=1)]
    y_topic = df["topic"].astype(str).to_numpy()
    metrics["topic_accuracy_actionable"] = round(float(accuracy_score(y_topic[has_topic], topic_pred[has_topic])), 4)
    metrics["topic_macro_f1"] = round(float(f1_score(y_topic[has_topic], topic_pred[has_topic], average="macro")), 4)
    true_cat = [taxonomy.category_for({f: bool(int(r[f])) for f in taxonomy.flags}) for _, r in df.iterrows()]
    pred_cat = [r["category"] for r in results]
    metrics["category_accuracy"] = round(float(accuracy_score(true_cat, pred_cat)), 4)
    metrics["_confusion"] = {
        "category": (list(taxonomy.categories), confusion_matrix(true_cat, pred_cat, labels=list(taxonomy.categories))),
        "topic": (
            list(model.topics),
            confusion_matrix(y_topic[has_topic], topic_pred[has_topic], labels=list(model.topics)),
        ),
    }
    metrics["_scores"] = {
        label: (df[label].astype(int).to_numpy(), scores[label]) for label in [*taxonomy.flags, taxonomy.urgent]
    }
    # Per-row decisions, so two models scored on the same rows can be compared pairwise (fit/promotion.py).
    metrics["_decisions"] = {
        label: scores[label] >= model.thresholds[label] for label in [*taxonomy.flags, taxonomy.urgent]
    }
    return metrics


def public_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """Without the arrays kept for plotting."""
    return {k: v for k, v in metrics.items() if not k.startswith("_")}


def flat_metrics(metrics: dict[str, Any], prefix: str = "test_") -> dict[str, float]:
    out = {}
    for label, m in metrics["labels"].items():
        for k in ("precision", "recall", "f1"):
            out[f"{prefix}{label}_{k}"] = m[k]
    for k in ("flags_macro_f1", "topic_accuracy_actionable", "topic_macro_f1", "category_accuracy"):
        out[f"{prefix}{k}"] = metrics[k]
    return out


def quality_bars(metrics: dict[str, Any], taxonomy: Taxonomy | None = None) -> list[tuple[str, float, float, bool]]:
    """(name, value, bar, met) for each bar of the training issue."""
    taxonomy = taxonomy or default_taxonomy()
    lex, urgent = metrics["labels"][taxonomy.lexicon_flag], metrics["labels"][taxonomy.urgent]
    values = {
        "flags_macro_f1": metrics["flags_macro_f1"],
        "profanity_f1": lex["f1"],
        "topic_accuracy_actionable": metrics["topic_accuracy_actionable"],
        "urgent_recall": urgent["recall"],
        "urgent_precision": urgent["precision"],
    }
    return [(k, values[k], bar, values[k] >= bar) for k, bar in QUALITY_BARS.items()]


def format_metrics(metrics: dict[str, Any]) -> str:
    lines = [f"test rows: {metrics['rows']}", f"{'label':<22}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}"]
    for label, m in metrics["labels"].items():
        lines.append(f"{label:<22}{m['precision']:>10.3f}{m['recall']:>10.3f}{m['f1']:>10.3f}{m['support']:>9}")
    lines.append(f"flags macro-F1: {metrics['flags_macro_f1']:.3f}")
    lines.append(
        f"topic accuracy on actionable: {metrics['topic_accuracy_actionable']:.3f}   "
        f"topic macro-F1: {metrics['topic_macro_f1']:.3f}"
    )
    lines.append(f"category accuracy: {metrics['category_accuracy']:.3f}")
    lines.append("quality bars:")
    for name, value, bar, met in quality_bars(metrics):
        lines.append(f"  {name:<28} {value:.3f}  (bar {bar:.2f})  {'MET' if met else 'NOT MET'}")
    return "\n".join(lines)


def save_plots(metrics: dict[str, Any], out_dir: Path) -> list[Path]:
    """Confusion matrices (category, topic) and precision-recall curves as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, (labels, cm) in metrics["_confusion"].items():
        fig, ax = plt.subplots(figsize=(8, 7))
        ax.imshow(cm, cmap="Blues")
        ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=8)
        ax.set_yticks(range(len(labels)), labels, fontsize=8)
        for i in range(cm.shape[0]):
            for j in range(cm.shape[1]):
                if cm[i, j]:
                    ax.text(
                        j,
                        i,
                        str(int(cm[i, j])),
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if cm[i, j] > cm.max() / 2 else "black",
                    )
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{name} confusion matrix (test split)")
        fig.tight_layout()
        path = out_dir / f"confusion_{name}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    fig, ax = plt.subplots(figsize=(7, 6))
    for label, (y, s) in metrics["_scores"].items():
        if y.sum() == 0:
            continue
        p, r, _ = precision_recall_curve(y, s)
        ax.plot(r, p, label=label)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title("precision-recall curves (test split)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = out_dir / "pr_curves.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(path)
    return paths
