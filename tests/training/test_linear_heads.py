"""The compiled heads give the very numbers each scikit-learn estimator gives."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from training.fit.candidates import make_estimator
from training.runtime.features import build_feature_pipeline
from training.runtime.heads import TriageHeads
from training.runtime.linear_heads import coef_owner


@pytest.fixture(scope="module")
def features_and_labels(corpus):
    df = corpus[corpus["split"] == "train"].sample(n=1200, random_state=3).reset_index(drop=True)
    X = build_feature_pipeline().fit_transform(df["text"].tolist()).tocsr()
    return X, df


@pytest.mark.parametrize("spec", ["logreg:C=8", "linsvc:C=0.5", "nblogreg:C=16"])
def test_compiled_probabilities_equal_sklearn(features_and_labels, spec):
    X, df = features_and_labels
    binary = {label: make_estimator(spec) for label in ("profanity", "no_question", "urgent")}
    topic_spec = "logreg:C=8" if spec.startswith("nblogreg") else spec  # nblogreg is binary only
    heads = TriageHeads(binary_heads=binary, topic_head=make_estimator(topic_spec, multiclass=True))
    heads.fit(X, df[["profanity", "no_question", "urgent", "topic"]])
    fast, slow = heads.predict_proba(X[:300]), heads.predict_proba_reference(X[:300])
    assert set(fast) == set(slow)
    for name in slow:
        np.testing.assert_allclose(fast[name], slow[name], rtol=1e-6, atol=1e-9, err_msg=name)
    assert fast["topic"].shape == (300, len(heads.topic_classes_))
    np.testing.assert_allclose(fast["topic"].sum(axis=1), 1.0, rtol=1e-9)
    # The estimators' coefficients are views of the compiled matrix, also after a pickle round trip.
    for copy in (heads, pickle.loads(pickle.dumps(heads))):
        owners = [coef_owner(e) for e in copy._estimators().values()]
        assert owners and all(np.shares_memory(o.coef_, copy.compiled_.W) for o in owners)
        again = copy.predict_proba_reference(X[:300])
        for name in slow:
            np.testing.assert_allclose(again[name], slow[name], rtol=1e-12, err_msg=name)


def test_unsupported_estimator_is_refused():
    from sklearn.naive_bayes import MultinomialNB

    from training.runtime.linear_heads import CompiledLinearHeads

    nb = MultinomialNB().fit(np.eye(3), [0, 1, 1])
    with pytest.raises(TypeError, match="cannot compile"):
        CompiledLinearHeads({"x": nb})


def test_fast_pipeline_path_equals_pipeline_predict_proba(trained_model, corpus):
    from training.runtime.model import pipeline_proba

    texts = corpus["text"].head(200).tolist()
    fast = pipeline_proba(trained_model.pipeline, texts)
    slow = trained_model.pipeline.predict_proba(texts)
    for name in slow:
        np.testing.assert_allclose(fast[name], slow[name], rtol=1e-6, atol=1e-9, err_msg=name)
