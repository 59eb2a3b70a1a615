"""Shortcut audit: how well a label can be read off surface cues alone, by 5-fold CV ROC-AUC.

A corpus in which insults, and only insults, begin with a name or VK markup teaches the model that being
addressed is an insult; real threads are full of neutral replies that begin that way. A small logistic
regression that sees only the cues below must not predict a moderation flag well.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from training.runtime.taxonomy import Taxonomy, default_taxonomy
from training.runtime.text.insults import SECOND_PERSON

MAX_MODERATION_AUC = 0.80

_MARKUP_START = re.compile(r"^\s*\[(?:id|club|public)\d+\|[^\]]*\]")
_NAME_START = re.compile(r"^\s*[А-ЯЁA-Z][а-яёa-z]+(?:\s+[А-ЯЁA-Z][а-яёa-z]+)?\s*,")
_EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]")
_QUOTES = re.compile(r"[«»\"“”„]")
CUES = (
    "markup_start",
    "name_start",
    "second_person",
    "question",
    "exclamation",
    "log_length",
    "digits",
    "caps_share",
    "emoji",
    "quotes",
)


def surface_cues(texts: list[str]) -> np.ndarray:
    """One row of the ten cues per text."""
    rows = []
    for t in texts:
        letters = [c for c in t if c.isalpha()]
        rows.append(
            (
                float(bool(_MARKUP_START.match(t))),
                float(bool(_NAME_START.match(t))),
                float(bool(SECOND_PERSON.search(t.lower().replace("ё", "е")))),
                float("?" in t),
                float("!" in t),
                float(np.log1p(len(t))),
                float(any(c.isdigit() for c in t)),
                sum(c.isupper() for c in letters) / max(1, len(letters)),
                float(bool(_EMOJI.search(t))),
                float(bool(_QUOTES.search(t))),
            )
        )
    return np.asarray(rows)


@dataclass
class ShortcutAudit:
    auc: dict[str, float]
    failing: list[str]

    def format(self) -> str:
        lines = [
            f"shortcut audit (ROC-AUC of a surface-cue model, 5-fold CV; a moderation flag fails above "
            f"{MAX_MODERATION_AUC:.2f}):"
        ]
        for label, auc in self.auc.items():
            mark = "  FAIL" if label in self.failing else ""
            lines.append(f"  {label:<22} {auc:.3f}{mark}")
        return "\n".join(lines)


def audit_shortcuts(df: pd.DataFrame, taxonomy: Taxonomy | None = None, random_state: int = 0) -> ShortcutAudit:
    """`df` with a text column and 0/1 label columns (strings or ints)."""
    taxonomy = taxonomy or default_taxonomy()
    X = surface_cues(df["text"].astype(str).tolist())
    auc: dict[str, float] = {}
    for label in [*taxonomy.flags, taxonomy.urgent]:
        y = df[label].astype(int).to_numpy()
        if y.sum() < 5 or (1 - y).sum() < 5:
            continue
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, class_weight="balanced"))
        cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=random_state)
        scores = cross_val_predict(model, X, y, cv=cv, method="predict_proba")[:, 1]
        auc[label] = float(roc_auc_score(y, scores))
    failing = [k for k in taxonomy.moderation_flags if auc.get(k, 0.0) > MAX_MODERATION_AUC]
    return ShortcutAudit(auc=auc, failing=failing)
