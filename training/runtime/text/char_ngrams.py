"""Character n-gram TF-IDF whose transform counts n-grams with numpy instead of a Python loop.

scikit-learn's `char_wb` analyzer builds every n-gram as a Python string (≈400 per comment), which made it
the slowest step of serving. Fitting stays scikit-learn's (same vocabulary, same idf); `transform` encodes
each character as a 12-bit id, packs an n-gram into one 64-bit key (n ≤ 5) and looks keys up in the sorted
vocabulary with `searchsorted`. The counts are exactly those of `CountVectorizer`
(tests/training/test_char_ngrams.py compares them on the whole corpus).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from training.runtime.sparse_rows import Rows, counted_rows

_BITS = 12
_UNKNOWN = (1 << _BITS) - 1  # a character the vocabulary never saw: no n-gram holding it can match
_SEP = 0  # between padded words and documents
_MAX_N = 5


class FastCharNgramTfidf(TfidfVectorizer):
    """`TfidfVectorizer(analyzer="char_wb")` with a vectorised transform; other settings fall back."""

    def fit(self, raw_documents: Iterable[str], y: object = None) -> FastCharNgramTfidf:
        super().fit(raw_documents, y)
        self._build_index()
        return self

    def fit_transform(self, raw_documents: Iterable[str], y: object = None):
        X = super().fit_transform(raw_documents, y)
        self._build_index()
        return X

    def _fast(self) -> bool:
        return bool(self.analyzer == "char_wb" and self.ngram_range[1] <= _MAX_N and getattr(self, "alphabet_", None))

    def _build_index(self) -> None:
        chars = sorted({c for term in self.vocabulary_ for c in term})
        if len(chars) >= _UNKNOWN or self.analyzer != "char_wb" or self.ngram_range[1] > _MAX_N:
            self.alphabet_ = None  # too many distinct characters to pack: use scikit-learn's path
            return
        self.alphabet_ = {c: i + 1 for i, c in enumerate(chars)}
        keys = np.array([self._key([self.alphabet_[c] for c in term]) for term in self.vocabulary_], dtype=np.uint64)
        cols = np.fromiter(self.vocabulary_.values(), dtype=np.int64, count=len(self.vocabulary_))
        order = np.argsort(keys)
        self.keys_, self.cols_ = keys[order], cols[order]

    @staticmethod
    def _key(ids: list[int]) -> int:
        key = len(ids) << 60
        for j, cid in enumerate(ids):
            key |= cid << (_BITS * (len(ids) - 1 - j))
        return key

    def _lookup_table(self) -> np.ndarray:
        lut = self.__dict__.get("_lut")
        if lut is None:
            alphabet = self.alphabet_
            assert alphabet is not None  # only the fast path (_fast: an alphabet was built) looks n-grams up
            size = max(0x10000, max(ord(c) for c in alphabet) + 1)
            lut = np.full(size, _UNKNOWN, dtype=np.uint64)
            for c, i in alphabet.items():
                lut[ord(c)] = i
            self._lut = lut
        return lut

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state.pop("_lut", None)  # rebuilt on first use
        return state

    def _counts(self, docs: list[str]) -> sparse.csr_matrix:
        rows = self._count_rows(docs)
        rows.data = rows.data.astype(self.dtype)
        return rows.to_csr()

    def _count_rows(self, docs: list[str]) -> Rows:
        """The n-gram counts of `docs` as CSR arrays with sorted indices (CountVectorizer's matrix)."""
        pieces = ["\x00".join(f" {w} " for w in d.replace("\x00", "\uffff").split()) + "\x00" for d in docs]
        lengths = np.fromiter((len(p) for p in pieces), dtype=np.int64, count=len(pieces))
        codes = np.frombuffer("".join(pieces).encode("utf-32-le"), dtype=np.uint32)
        lut = self._lookup_table()
        inside = codes < len(lut)
        ids = np.full(len(codes), _UNKNOWN, dtype=np.uint64)
        ids[inside] = lut[codes[inside]]
        ids[codes == 0] = _SEP
        doc_of = np.repeat(np.arange(len(docs)), lengths)
        bad = np.concatenate([[0], np.cumsum((ids == _SEP) | (ids == _UNKNOWN))])
        rows, cols = [], []
        lo, hi = self.ngram_range
        for n in range(lo, hi + 1):
            m = len(ids) - n + 1
            if m <= 0:
                continue
            key = np.full(m, np.uint64(n) << np.uint64(60), dtype=np.uint64)
            for j in range(n):
                key |= ids[j : j + m] << np.uint64(_BITS * (n - 1 - j))
            valid = (bad[n : n + m] - bad[:m]) == 0
            key = key[valid]
            pos = np.searchsorted(self.keys_, key)
            pos[pos == len(self.keys_)] = 0
            hit = self.keys_[pos] == key
            rows.append(doc_of[:m][valid][hit])
            cols.append(self.cols_[pos[hit]])
        r = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        c = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
        return counted_rows(r, c, len(docs), len(self.vocabulary_))

    def transform(self, raw_documents: Iterable[str]):
        if not self._fast():
            return super().transform(raw_documents)
        counts = self._counts([str(d) for d in raw_documents])
        return self._tfidf.transform(counts, copy=False)
