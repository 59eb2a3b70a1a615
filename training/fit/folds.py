"""Fold-wise fitting of the feature pipeline for cross-validation.

Normalising, lemmatising and the lexicon learn nothing from data, so cross-validation computes them once;
the vectorisers learn a vocabulary and IDF weights, so each fold fits its own on its training rows only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from sklearn.pipeline import FeatureUnion, Pipeline

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix


class StatelessParts:
    """The stateless steps of a feature pipeline applied once to every text."""

    def __init__(self, pipeline: Pipeline, texts: list[str]):
        self.union: FeatureUnion = pipeline.named_steps["features"]
        self.normalized = pipeline.named_steps["normalize"].fit_transform(texts)
        self.inputs: dict[str, np.ndarray | csr_matrix] = {}  # normalised texts or lemmas; stateless features
        for name, step in self.union.transformer_list:
            if isinstance(step, Pipeline):  # words: lemmas (stateless) -> vectoriser
                self.inputs[name] = step.steps[0][1].fit_transform(self.normalized)
            elif not getattr(step, "learns_from_data", True):
                self.inputs[name] = step.fit(self.normalized).transform(self.normalized).tocsr()
            else:
                self.inputs[name] = self.normalized

    def fit_all(self):
        """Fit the pipeline's own vectorisers on every row: the pipeline is then fitted, as by fit_transform
        on all texts, without normalising and lemmatising them a second time. Returns that feature matrix."""
        from scipy import sparse

        blocks = []
        for name, step in self.union.transformer_list:
            data = self.inputs[name]
            if not getattr(step, "learns_from_data", True):
                blocks.append(data)
            else:
                blocks.append((step.steps[-1][1] if isinstance(step, Pipeline) else step).fit_transform(data))
        return sparse.hstack(blocks, format="csr")

    def fold_matrices(self, train_idx: np.ndarray, test_idx: np.ndarray):
        """(X_train, X_test) with every vectoriser fitted on the fold's training rows only."""
        from scipy import sparse
        from sklearn.base import clone

        tr_blocks, te_blocks = [], []
        for name, step in self.union.transformer_list:
            data = self.inputs[name]
            if not getattr(step, "learns_from_data", True):
                tr_blocks.append(data[train_idx])
                te_blocks.append(data[test_idx])
                continue
            vec = clone(step.steps[-1][1] if isinstance(step, Pipeline) else step)
            tr_blocks.append(vec.fit_transform(data[train_idx]))
            te_blocks.append(vec.transform(data[test_idx]))
        return sparse.hstack(tr_blocks, format="csr"), sparse.hstack(te_blocks, format="csr")
