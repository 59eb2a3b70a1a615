"""The naive baseline of the in-process figures: what a first scikit-learn attempt at the same task looks like.

A `FeatureUnion` of a word TF-IDF (uni- and bigrams) and a char_wb TF-IDF (2-5 grams, 150k features), then one
`LogisticRegression` per label (`OneVsRestClassifier`, multi-label) over the four moderation/no-question flags
and urgent, fitted on our train split. No lemmatisation, no profanity normalisation, no topics, no decisions:
it only answers `predict_proba`, so it does less per text than `TriageModel.classify`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion, Pipeline


@dataclass
class Corpus:
    """The texts the bench needs: the test split (what is timed) and the train split with its labels."""

    test_texts: list[str]
    train_texts: list[str]
    train_labels: np.ndarray  # n_train x len(label_names), 0/1
    label_names: tuple[str, ...]
    real_texts: list[str]  # real VK comments (vk_gov_pages), read in place; empty when the set is absent


REAL_TEXTS = 2000


def read_real_texts(datasets_dir: Path | None) -> list[str]:
    """The first REAL_TEXTS comments and replies of vk_gov_pages (posts are the page's own announcements),
    in id order: real traffic, whose share of flagged comments (and so of evidence work) is the real one."""
    from training.datasets.real_sets import DEFAULT_DATASETS_DIR, RealDataMissing, vk_comments

    try:
        df = vk_comments(datasets_dir or DEFAULT_DATASETS_DIR)
    except (RealDataMissing, OSError):
        return []
    df = df[df["type"] != "post"].sort_values("id")
    return df["text"].astype(str).head(REAL_TEXTS).tolist()


def read_texts(datasets_dir: Path | None = None) -> Corpus:
    """data/comments.csv through training.datasets (reading only: no validation, no fit-time code), and the
    real VK comments when ../shared/datasets (or `datasets_dir`) has them."""
    from training.datasets.corpus import read_corpus, to_typed
    from training.runtime.taxonomy import default_taxonomy

    taxonomy = default_taxonomy()
    df = to_typed(read_corpus(taxonomy=taxonomy), taxonomy)
    labels = (*taxonomy.flags, taxonomy.urgent)
    train = df[df["split"] == "train"]
    return Corpus(
        test_texts=df[df["split"] == "test"]["text"].astype(str).tolist(),
        train_texts=train["text"].astype(str).tolist(),
        train_labels=train[list(labels)].to_numpy(dtype=np.int64),
        label_names=labels,
        real_texts=read_real_texts(datasets_dir),
    )


def naive_pipeline() -> Pipeline:
    features = FeatureUnion(
        [
            ("words", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)),
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True, max_features=150_000
                ),
            ),
        ]
    )
    return Pipeline([("features", features), ("clf", OneVsRestClassifier(LogisticRegression(max_iter=1000)))])


def fit_naive(corpus: Corpus) -> tuple[Pipeline, float]:
    """The fitted baseline and its fit time in seconds (not a benchmark figure: context only)."""
    pipe = naive_pipeline()
    start = time.perf_counter()
    pipe.fit(corpus.train_texts, corpus.train_labels)
    return pipe, time.perf_counter() - start
