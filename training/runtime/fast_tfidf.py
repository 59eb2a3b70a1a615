"""TF-IDF weighting of a count matrix with a fitted TfidfTransformer's own parameters, without its per-call
input validation.

For one comment, scikit-learn's `TfidfTransformer.transform` spends ~0.25 ms in `check_array`, dataframe
detection and `normalize`'s validation for a few microseconds of arithmetic, and a comment passes through two
of them (words and chars). This is the same arithmetic (sublinear tf, idf, l2 or l1 norm) on the fitted
`idf_`; tests/training/test_fast_tfidf.py checks it equals `transform` on real comments.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfTransformer, TfidfVectorizer


def apply_tfidf(counts: sparse.csr_matrix, tfidf: TfidfTransformer) -> sparse.csr_matrix:
    """`tfidf.transform(counts)` for a CSR count matrix (modified in place when it is already float)."""
    X = counts if counts.dtype.kind == "f" else counts.astype(np.float64)
    X.sum_duplicates()
    data = X.data
    if tfidf.sublinear_tf:
        np.log(data, out=data)
        data += 1.0
    if tfidf.use_idf:
        data *= tfidf.idf_[X.indices].astype(data.dtype, copy=False)
    if tfidf.norm is not None:
        rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
        if tfidf.norm == "l2":
            norms = np.sqrt(np.bincount(rows, weights=data * data, minlength=X.shape[0]))
        elif tfidf.norm == "l1":
            norms = np.bincount(rows, weights=np.abs(data), minlength=X.shape[0])
        else:
            raise ValueError(f"unsupported norm {tfidf.norm!r}")
        norms[norms == 0.0] = 1.0
        data /= norms[rows].astype(data.dtype, copy=False)
    return X


def vectorize(vectorizer: TfidfVectorizer, docs: list[str]) -> sparse.csr_matrix:
    """`vectorizer.transform(docs)`: the fitted vocabulary's counts, then `apply_tfidf`."""
    _, counts = vectorizer._count_vocab(docs, fixed_vocab=True)
    if vectorizer.binary:
        counts.data.fill(1)
    return apply_tfidf(counts.astype(vectorizer.dtype), vectorizer._tfidf)
