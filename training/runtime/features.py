"""The text path shared by training and serving: normalise, then lemma n-grams + char n-grams + lexicon."""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline

from training.runtime.text.char_ngrams import FastCharNgramTfidf
from training.runtime.text.insults import RudeWordFeatures
from training.runtime.text.lemmatize import Lemmatizer
from training.runtime.text.normalize import TextNormalizer
from training.runtime.text.profanity import ProfanityFeatures


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
    """`word_vectors_weight` > 0 adds mean navec vectors (training/runtime/text/word_vectors.py) as a dense block;
    0 leaves them out (the real benchmark chose 1.0, see the README)."""
    words = Pipeline(
        [
            ("lemmas", Lemmatizer()),
            (
                "tfidf",
                TfidfVectorizer(
                    tokenizer=split_tokens,
                    token_pattern=None,
                    lowercase=False,
                    ngram_range=word_ngrams,
                    min_df=min_df,
                    sublinear_tf=True,
                    dtype=np.float32,
                ),
            ),
        ]
    )
    chars = FastCharNgramTfidf(
        analyzer="char_wb",
        ngram_range=char_ngrams,
        min_df=min_df,
        sublinear_tf=True,
        lowercase=False,
        max_features=max_char_features,
        dtype=np.float32,
    )
    blocks = [("words", words), ("chars", chars), ("lexicon", ProfanityFeatures(weight=lexicon_weight))]
    if rude_words_weight > 0:
        blocks.append(("rude_words", RudeWordFeatures(weight=rude_words_weight)))
    if word_vectors_weight > 0:
        from training.runtime.text.word_vectors import NavecMeanVectors

        blocks.append(("word_vectors", NavecMeanVectors(weight=word_vectors_weight)))
    return Pipeline([("normalize", TextNormalizer()), ("features", FeatureUnion(blocks))])
