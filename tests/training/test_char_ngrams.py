"""The vectorised char n-gram TF-IDF equals scikit-learn's on our corpus and on odd inputs."""

from __future__ import annotations

import pickle

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from training.runtime.text.char_ngrams import FastCharNgramTfidf
from training.runtime.text.normalize import normalize_text

PARAMS = dict(
    analyzer="char_wb",
    ngram_range=(2, 5),
    min_df=2,
    sublinear_tf=True,
    lowercase=False,
    max_features=150_000,
    dtype=np.float32,
)
ODD = ["", "   ", "a", "😀 ok", "x\x00y", "ёжик 𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "word\tword\n\nword", "ъ" * 50]


def test_same_matrix_as_sklearn(corpus):
    texts = [normalize_text(t) for t in corpus["text"]]
    train, test = texts[:4000], texts[4000:] + ODD
    ref = TfidfVectorizer(**PARAMS).fit(train)
    fast = FastCharNgramTfidf(**PARAMS).fit(train)
    assert fast.vocabulary_ == ref.vocabulary_
    A, B = ref.transform(test), fast.transform(test)
    assert A.shape == B.shape and A.nnz == B.nnz
    assert abs(A - B).max() < 1e-6
    again = pickle.loads(pickle.dumps(fast))
    assert abs(again.transform(test) - A).max() < 1e-6


def test_falls_back_to_sklearn_for_other_analyzers():
    params = {**PARAMS, "analyzer": "char", "min_df": 1}
    docs = ["абв где", "где абв ё"]
    fast, ref = FastCharNgramTfidf(**params).fit(docs), TfidfVectorizer(**params).fit(docs)
    assert abs(fast.transform(docs) - ref.transform(docs)).max() < 1e-6
