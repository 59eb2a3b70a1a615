"""pymorphy3 lemmatisation with a per-token cache shared by every thread of a process."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from functools import cached_property

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

TOKEN_RE = re.compile(r"_[a-z]+_|[\w*]+|[^\w\s.,:;!?()\"'«»\-–—/\\|\[\]]")


def tokenize(text: str) -> list[str]:
    """Words (with placeholder tokens and mask stars kept) and emoji/pictographs as tokens."""
    return TOKEN_RE.findall(text)


class Lemmatizer(TransformerMixin, BaseEstimator):
    """Normalised text in, space-joined lemmas out.

    The cache maps a token to its lemma; a dict read or write is atomic under the GIL, and misses take a
    lock so that the analyzer is never entered from two threads at once.
    """

    def __init__(self, max_cache: int = 200_000):
        self.max_cache = max_cache

    def fit(self, X: Iterable[str], y: object = None) -> Lemmatizer:
        return self

    @cached_property
    def _state(self) -> dict:
        import pymorphy3

        return {"morph": pymorphy3.MorphAnalyzer(), "cache": {}, "lock": threading.Lock(), "hits": 0, "misses": 0}

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state.pop("_state", None)  # the analyzer and cache are rebuilt after unpickling
        return state

    def lemma(self, token: str) -> str:
        st = self._state
        cached = st["cache"].get(token)
        if cached is not None:
            st["hits"] += 1
            return cached
        st["misses"] += 1
        if token.startswith("_") or not any("а" <= c <= "я" for c in token) or "*" in token:
            lemma = token
        else:
            with st["lock"]:
                lemma = st["morph"].parse(token)[0].normal_form.replace("ё", "е")
        if len(st["cache"]) < self.max_cache:
            st["cache"][token] = lemma
        return lemma

    def lemmatize(self, text: str) -> str:
        return " ".join(self.lemma(t) for t in tokenize(text))

    def transform(self, X: Iterable[str]) -> np.ndarray:
        return np.array([self.lemmatize(t) for t in X], dtype=object)

    def cache_stats(self) -> dict[str, float]:
        st = self._state
        total = st["hits"] + st["misses"]
        return {
            "hits": st["hits"],
            "misses": st["misses"],
            "hit_rate": st["hits"] / total if total else 0.0,
            "size": len(st["cache"]),
        }
