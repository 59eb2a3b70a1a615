"""The feature matrix as plain CSR arrays until the very end: one scipy matrix per call instead of nine.

A single comment used to pass through nine scipy sparse constructions (counts, TF-IDF, five feature blocks,
their hstack), each validating its arrays and choosing index dtypes: together more than the arithmetic.
Here the TF-IDF blocks count and weight straight into (indptr, indices, data) arrays, the blocks are
stacked side by side with numpy, and one `csr_matrix` is built for the heads. The numbers are the same as
scikit-learn's own transforms (tests/training/test_fast_tfidf.py, tests/training/test_sparse_rows.py).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfTransformer, TfidfVectorizer

# Built once per fitted vectorizer (scikit-learn builds it on every transform); kept outside the object so
# that it is never pickled into a bundle.
_ANALYZERS: weakref.WeakKeyDictionary[TfidfVectorizer, Callable[[str], list[str]]] = weakref.WeakKeyDictionary()


@dataclass
class Rows:
    """A CSR matrix as arrays: row i holds indices[indptr[i]:indptr[i+1]] (sorted) and their data."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    width: int

    @property
    def n_rows(self) -> int:
        return len(self.indptr) - 1

    def to_csr(self) -> sparse.csr_matrix:
        return sparse.csr_matrix((self.data, self.indices, self.indptr), shape=(self.n_rows, self.width))


def rows_of(matrix: Any) -> Rows:
    """Any block output (scipy sparse or dense) as Rows, without copying a CSR matrix's arrays."""
    if sparse.issparse(matrix):
        csr = matrix.tocsr()
        if not csr.has_sorted_indices:
            csr = csr.sorted_indices()
        return Rows(csr.indptr, csr.indices, csr.data, csr.shape[1])
    dense = np.asarray(matrix)
    rows, cols = np.nonzero(dense)
    indptr = np.zeros(dense.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=dense.shape[0]), out=indptr[1:])
    return Rows(indptr, cols, dense[rows, cols], dense.shape[1])


def counted_rows(doc_of: np.ndarray, cols: np.ndarray, n_docs: int, width: int) -> Rows:
    """Counts of (doc, column) pairs as Rows with sorted indices (what CountVectorizer's matrix holds)."""
    keys, counts = np.unique(doc_of.astype(np.int64) * width + cols.astype(np.int64), return_counts=True)
    docs = keys // width
    indptr = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(np.bincount(docs, minlength=n_docs), out=indptr[1:])
    return Rows(indptr, (keys - docs * width).astype(np.int32), counts, width)


def tfidf_rows(counts: Rows, tfidf: TfidfTransformer, dtype: Any) -> Rows:
    """`tfidf.transform(counts)` on Rows: sublinear tf, idf, then the l2 (or l1) norm of each row."""
    data = counts.data.astype(dtype)
    if tfidf.sublinear_tf:
        np.log(data, out=data)
        data += 1.0
    if tfidf.use_idf:
        data *= tfidf.idf_[counts.indices].astype(dtype, copy=False)
    if tfidf.norm is not None:
        row_of = np.repeat(np.arange(counts.n_rows), np.diff(counts.indptr))
        if tfidf.norm == "l2":
            norms = np.sqrt(np.bincount(row_of, weights=data * data, minlength=counts.n_rows))
        elif tfidf.norm == "l1":
            norms = np.bincount(row_of, weights=np.abs(data), minlength=counts.n_rows)
        else:
            raise ValueError(f"unsupported norm {tfidf.norm!r}")
        norms[norms == 0.0] = 1.0
        data /= norms[row_of].astype(dtype, copy=False)
    return Rows(counts.indptr, counts.indices, data, counts.width)


def word_tfidf_rows(vectorizer: TfidfVectorizer, docs: list[str]) -> Rows:
    """`vectorizer.transform(docs)` for a word-analyzer TfidfVectorizer: its own analyzer and vocabulary."""
    analyze = _ANALYZERS.get(vectorizer)
    if analyze is None:
        analyze = _ANALYZERS[vectorizer] = vectorizer.build_analyzer()
    vocabulary = vectorizer.vocabulary_
    doc_of: list[int] = []
    cols: list[int] = []
    for i, doc in enumerate(docs):
        for term in analyze(doc):
            j = vocabulary.get(term)
            if j is not None:
                cols.append(j)
                doc_of.append(i)
    counts = counted_rows(np.array(doc_of, dtype=np.int64), np.array(cols, dtype=np.int64), len(docs), len(vocabulary))
    if vectorizer.binary:
        counts.data.fill(1)
    return tfidf_rows(counts, vectorizer._tfidf, vectorizer.dtype)


def hstack_rows(blocks: list[Rows]) -> Rows:
    """The blocks side by side (what `sparse.hstack(..., format="csr")` gives), in one numpy pass."""
    n = blocks[0].n_rows
    lengths = np.stack([np.diff(b.indptr) for b in blocks])  # blocks × rows
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths.sum(axis=0), out=indptr[1:])
    before = np.cumsum(lengths, axis=0) - lengths  # entries of earlier blocks in the same row
    total = int(indptr[-1])
    indices = np.empty(total, dtype=np.int64)
    data = np.empty(total, dtype=np.result_type(*[b.data.dtype for b in blocks]))
    offset = 0
    for b, block in enumerate(blocks):
        k = len(block.indices)
        if k:
            row_of = np.repeat(np.arange(n), lengths[b])
            within = np.arange(k) - block.indptr[:-1][row_of]
            dest = indptr[:-1][row_of] + before[b][row_of] + within
            indices[dest] = block.indices + offset
            data[dest] = block.data
        offset += block.width
    return Rows(indptr, indices, data, offset)
