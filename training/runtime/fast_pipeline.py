"""The fitted Pipeline's feature matrix for serving: the very same steps, minus per-call overheads.

Each step's own fitted parameters are used; only the plumbing differs. scikit-learn validates parameters
and inputs twice per TF-IDF step, FeatureUnion goes through joblib even when sequential, and every block
builds its own scipy matrix; for one comment that plumbing cost more than the arithmetic. Here the TF-IDF
blocks produce CSR arrays (training/runtime/sparse_rows.py), the union stacks them, and one matrix is built.
tests/training/test_fast_tfidf.py checks every block and the scores against scikit-learn's own path.
"""

from __future__ import annotations

from typing import Any

import sklearn
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline

from training.runtime.sparse_rows import Rows, hstack_rows, rows_of, tfidf_rows, word_tfidf_rows
from training.runtime.text.char_ngrams import FastCharNgramTfidf


def _rows(step: Any, X: Any) -> Rows | None:
    """`step.transform(X)` as Rows for the TF-IDF steps, our dense blocks and pipelines or unions of them;
    None (nothing computed) for any other step."""
    if type(step) is TfidfVectorizer and step.analyzer == "word":
        return word_tfidf_rows(step, list(X))
    if isinstance(step, FastCharNgramTfidf) and step._fast():
        return tfidf_rows(step._count_rows([str(d) for d in X]), step._tfidf, step.dtype)
    dense = getattr(step, "dense_features", None)
    if dense is not None:
        return rows_of(dense(X))
    if isinstance(step, Pipeline):
        for _, inner in step.steps[:-1]:
            X = transform_step(inner, X)
        return _rows_or_matrix(step.steps[-1][1], X)
    if isinstance(step, FeatureUnion) and not step.transformer_weights:
        return hstack_rows([_rows_or_matrix(t, X) for _, t in step.transformer_list])
    return None


def _rows_or_matrix(step: Any, X: Any) -> Rows:
    rows = _rows(step, X)
    return rows if rows is not None else rows_of(transform_step(step, X))


def transform_step(step: Any, X: Any) -> Any:
    """One fitted step's transform (a CSR matrix for the sparse blocks)."""
    rows = _rows(step, X)
    if rows is not None:
        return rows.to_csr()
    # Our own transformers' `transform` is wrapped by scikit-learn's set_output machinery (container
    # detection on every call); no step of ours is configured to output DataFrames, so call it unwrapped.
    unwrapped = getattr(type(step).transform, "__wrapped__", None)
    if unwrapped is not None and getattr(step, "_sklearn_output_config", None) is None:
        return unwrapped(step, X)
    return step.transform(X)


def pipeline_matrix(pipeline: Pipeline, texts: list[str]) -> sparse.csr_matrix | Any:
    """The matrix the final step of `pipeline` reads for `texts`."""
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        X: Any = texts
        for _, step in pipeline.steps[:-1]:
            X = transform_step(step, X)
        return X
