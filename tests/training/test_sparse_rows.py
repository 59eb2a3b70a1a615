"""The serving feature path (CSR arrays, one final matrix) equals scikit-learn's own transforms."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from training.runtime.fast_pipeline import pipeline_matrix
from training.runtime.sparse_rows import counted_rows, hstack_rows, rows_of


def test_hstack_rows_equals_scipy_hstack_with_empty_rows_and_dense_blocks():
    rng = np.random.default_rng(0)
    blocks = []
    for width, density in ((50, 0.1), (7, 0.0), (30, 0.5), (3, 1.0)):
        dense = rng.random((9, width)) * (rng.random((9, width)) < density)
        dense[4] = 0.0  # a row empty in every block
        blocks.append(dense)
    expected = sparse.hstack([sparse.csr_matrix(b) for b in blocks], format="csr")
    got = hstack_rows(
        [rows_of(sparse.csr_matrix(blocks[0])), rows_of(blocks[1]), rows_of(blocks[2]), rows_of(blocks[3])]
    )
    np.testing.assert_array_equal(got.indptr, expected.indptr)
    np.testing.assert_array_equal(got.indices, expected.indices)
    np.testing.assert_array_equal(got.data, expected.data)
    assert got.width == expected.shape[1]


def test_counted_rows_equals_summed_duplicates():
    rng = np.random.default_rng(1)
    docs, cols = rng.integers(0, 6, 500), rng.integers(0, 40, 500)
    expected = sparse.csr_matrix((np.ones(500), (docs, cols)), shape=(8, 40))
    expected.sum_duplicates()
    got = counted_rows(docs, cols, 8, 40).to_csr()
    assert (got != expected).nnz == 0 and got.has_sorted_indices


def test_pipeline_matrix_equals_the_pipelines_own_transform(trained_model, corpus):
    texts = corpus["text"].head(300).tolist() + ["", "   ", "ок", "x" * 3000, "[id1|Иван], а вы кто?"]
    pipeline = trained_model.pipeline
    fast = pipeline_matrix(pipeline, texts)
    slow = sparse.csr_matrix(pipeline[:-1].transform(texts))
    assert fast.shape == slow.shape
    np.testing.assert_allclose(fast.toarray(), slow.toarray(), rtol=1e-5, atol=1e-6)
    single = sparse.vstack([pipeline_matrix(pipeline, [t]) for t in texts[:40]])
    np.testing.assert_allclose(single.toarray(), fast[:40].toarray(), rtol=1e-6, atol=1e-7)
