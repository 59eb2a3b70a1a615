"""The serving feature path (training/runtime/fast_pipeline.py) equals scikit-learn's own transform on real
comments, block by block, and the scores equal the reference estimators'."""

from __future__ import annotations

import numpy as np
import sklearn

from training.runtime.fast_pipeline import transform_step


def test_every_feature_block_equals_sklearn_transform(trained_model, corpus):
    texts = corpus["text"].head(300).tolist() + ["", "   ", "ок", "x" * 3000]
    normalize, union = trained_model.pipeline.steps[0][1], trained_model.pipeline.steps[1][1]
    normalized = normalize.transform(texts)
    for name, block in union.transformer_list:
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            fast = transform_step(block, normalized)
        slow = block.transform(normalized)
        fast = fast.toarray() if hasattr(fast, "toarray") else np.asarray(fast)
        slow = slow.toarray() if hasattr(slow, "toarray") else np.asarray(slow)
        assert fast.shape == slow.shape, name
        np.testing.assert_allclose(fast, slow, rtol=1e-5, atol=1e-6, err_msg=name)


def test_scores_equal_the_reference_path(trained_model, corpus):
    texts = corpus["text"].head(200).tolist()
    fast = trained_model.predict_scores(texts)
    heads = trained_model.pipeline.steps[-1][1]
    X = trained_model.pipeline[:-1].transform(texts)  # scikit-learn's own transforms, end to end
    reference = heads.predict_proba_reference(X)
    for label in trained_model.flags:
        np.testing.assert_allclose(fast[label], reference[label], atol=1e-5, err_msg=label)
