"""Text vectors of the comments being grouped, and their neighbours by cosine similarity.

Decision: a TF-IDF fitted on the batch being grouped, not the model's own TF-IDF block. The grouping takes
plain rows from any source (/analytics, the report, the inbox) and so needs no model bundle; the batch's own
idf makes the words that every comment of that stream uses ("двор", "снег" in a snowy week) weigh less than
the ones that tell its problems apart; and it knows the street names and words the model never saw.

The features: lemmas (the project's own normaliser and pymorphy3 lemmatiser, so "дворе"/"двор" and
"почистили"/"почистить" meet), without function words and placeholder tokens (numbers, mentions, links), as
sublinear TF-IDF word unigrams, l2-normalised: a dot product of two rows is their cosine similarity. Character
n-grams (3-5, within words) were tried for typos: on the 40-comment test stream they changed no incident, and
on 20,000 comments they made the neighbour search and the grouping about ten times slower (a row had ~210
non-zeros instead of ~12, and common n-grams make the sparse product nearly dense), so they are not used.

Neighbours: scikit-learn's NearestNeighbors (metric "cosine", brute force on the sparse rows), per topic
(only comments of one topic can share an incident) and per span of the time window, at most MAX_NEIGHBOURS
per comment, kept when their similarity reaches the threshold (see neighbours()).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import lru_cache

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.neighbors import NearestNeighbors

from training.runtime.text.lemmatize import Lemmatizer
from training.runtime.text.normalize import normalize_text

MAX_NEIGHBOURS = 30  # per comment: bounds the pairs a flood of near-identical comments can make
MAX_SPAN_TEXTS = 4000  # distinct texts per span of the search: bounds the work of a flood (see neighbours())

# Function words (as lemmas), which say nothing about which problem a comment is about.
STOP_LEMMAS = frozenset(
    "и в во не что он она оно они я ты мы вы на с со как а то весь так его но да к у же за бы по только ее мне"
    " было вот от меня еще нет о об из ему теперь когда даже ну ли если уже или ни быть него до вас опять уж"
    " вам ведь там потом себя ничего ей может тут где есть надо ней для тебя их чем сам чтобы без чего тоже"
    " себе под будет ж тогда кто этот это того потому какой совсем ним здесь почти мой тем нее сейчас куда"
    " зачем всех можно при хоть после над больше тот через наш ваш свой который очень просто почему сколько"
    " пожалуйста здравствуйте добрый спасибо уважаемый также ещё либо ведь вообще".split()
)


@lru_cache(maxsize=1)
def _lemmatizer() -> Lemmatizer:
    return Lemmatizer()


def content_lemmas(text: str) -> str:
    """The comment's lemmas that carry meaning, space-joined (what the vectors are built from)."""
    lemmas = _lemmatizer().lemmatize(normalize_text(text)).split()
    return " ".join(w for w in lemmas if w not in STOP_LEMMAS and not w.startswith("_") and any(c.isalnum() for c in w))


def text_vectors(texts: list[str]) -> sparse.csr_matrix:
    """doc_vectors() of the texts' content lemmas."""
    return doc_vectors([content_lemmas(t) for t in texts])


def _split(text: str) -> list[str]:
    return text.split()


def doc_vectors(docs: list[str]) -> sparse.csr_matrix:
    """One unit-norm row per content_lemmas() string (an empty one is a zero row, similar to nothing)."""
    if not any(docs):
        return sparse.csr_matrix((len(docs), 1), dtype=np.float64)
    vectorizer = TfidfVectorizer(
        tokenizer=_split, token_pattern=None, lowercase=False, sublinear_tf=True, dtype=np.float32
    )
    return vectorizer.fit_transform(docs).tocsr()


def neighbours(
    vectors: sparse.csr_matrix,
    doc_of: Sequence[int],
    times: Sequence[datetime],
    window: timedelta,
    min_similarity: float,
    k: int = MAX_NEIGHBOURS,
) -> list[set[int]]:
    """Similar texts: for each distinct text (doc_of maps a row, in time order, to its text's index), the
    other texts at cosine similarity ≥ min_similarity among its k nearest (and those that have it among theirs).

    Bounded work: identical texts are searched once; the rows, in time order, are cut into spans of at most
    `window` and MAX_SPAN_TEXTS distinct texts, and a text is compared with the texts of its span and of the
    one before (which hold every earlier text within the window unless a flood filled a span first: then with
    the last 4,000 to 8,000 texts before it); each keeps at most k neighbours, so the pairs kept are n·k, and
    the search costs at most n × 8,000 comparisons, not n². `vectors` has one row per distinct text.
    """
    n_docs = vectors.shape[0]
    out: list[set[int]] = [set() for _ in range(n_docs)]
    if n_docs < 2 or not times:
        return out
    empty = np.asarray(vectors.getnnz(axis=1)) == 0
    spans: list[set[int]] = [set()]
    start = times[0]
    for d, t in zip(doc_of, times, strict=True):
        if t - start > window or len(spans[-1]) >= MAX_SPAN_TEXTS:
            spans.append(set())
            start = t
        spans[-1].add(d)
    for span, queries in enumerate(spans):
        index = sorted(d for d in queries | (spans[span - 1] if span else set()) if not empty[d])
        asked = sorted(d for d in queries if not empty[d])
        if len(index) < 2 or not asked:
            continue
        search = NearestNeighbors(n_neighbors=min(k + 1, len(index)), metric="cosine", algorithm="brute")
        distances, found = search.fit(vectors[index]).kneighbors(vectors[asked])
        for d, dist, ind in zip(asked, distances, found, strict=True):
            for distance, local in zip(dist.tolist(), ind.tolist(), strict=True):
                other = index[local]
                if other != d and 1.0 - distance >= min_similarity:
                    out[d].add(other)
                    out[other].add(d)
    return out
