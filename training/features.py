"""The text path shared by training and serving: normalise, then lemma n-grams + char n-grams + lexicon."""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline

from training.text.char_ngrams import FastCharNgramTfidf
from training.text.insults import RudeWordFeatures
from training.text.lemmatize import Lemmatizer
from training.text.normalize import TextNormalizer
from training.text.profanity import ProfanityFeatures


def split_tokens(text: str) -> list[str]:
    """The lemmatiser already tokenised: lemmas are space-separated."""
    return text.split()


def build_feature_pipeline(
    *,
    word_ngrams: tuple[int, int] = (1, 2),
    char_ngrams: tuple[int, int] = (2, 5),
    min_df: int = 2,
    max_char_features: int = 150_000,
    lexicon_weight: float = 3.0,
    word_vectors_weight: float = 1.0,
    rude_words_weight: float = 3.0,
) -> Pipeline:
    """`word_vectors_weight` > 0 adds mean navec vectors (training/text/word_vectors.py) as a dense block;
    0 leaves them out (the real benchmark chose 1.0, see the README)."""
    words = Pipeline([
        ("lemmas", Lemmatizer()),
        ("tfidf", TfidfVectorizer(tokenizer=split_tokens, token_pattern=None, lowercase=False,
                                  ngram_range=word_ngrams, min_df=min_df, sublinear_tf=True, dtype=np.float32)),
    ])
    chars = FastCharNgramTfidf(analyzer="char_wb", ngram_range=char_ngrams, min_df=min_df, sublinear_tf=True,
                            lowercase=False, max_features=max_char_features, dtype=np.float32)
    blocks = [("words", words), ("chars", chars), ("lexicon", ProfanityFeatures(weight=lexicon_weight))]
    if rude_words_weight > 0:
        blocks.append(("rude_words", RudeWordFeatures(weight=rude_words_weight)))
    if word_vectors_weight > 0:
        from training.text.word_vectors import NavecMeanVectors

        blocks.append(("word_vectors", NavecMeanVectors(weight=word_vectors_weight)))
    return Pipeline([("normalize", TextNormalizer()), ("features", FeatureUnion(blocks))])


# --- fold-wise fitting ---------------------------------------------------------------------------------------
# Normalising, lemmatising and the lexicon learn nothing from data, so cross-validation computes them once;
# the vectorisers learn a vocabulary and IDF weights, so each fold fits its own on its training rows only.


class StatelessParts:
    """The stateless steps of a feature pipeline applied once to every text."""

    def __init__(self, pipeline: Pipeline, texts: list[str]):
        self.union: FeatureUnion = pipeline.named_steps["features"]
        self.normalized = pipeline.named_steps["normalize"].fit_transform(texts)
        self.inputs: dict[str, object] = {}
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
