"""Mean navec word vectors (natasha's news embeddings, shipped inside the package, loaded offline).

General language knowledge our corpus cannot give: words it never names still land near their kin.
A dense block beside the n-grams; it learns nothing from our data, so cross-validation computes it once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin

NAVEC_FILE = Path("data") / "emb" / "navec_news_v1_1B_250K_300d_100q.tar"
_TOKEN = re.compile(r"[а-я]+(?:-[а-я]+)?")


@lru_cache(maxsize=1)
def load_navec():
    """The navec news model that the natasha package ships (no download).

    The package is located, not imported: importing natasha loads its parsers and NER models, hundreds of MB
    a serving worker has no use for.
    """
    from importlib.util import find_spec

    from navec import Navec

    spec = find_spec("natasha")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("natasha is not installed (pip install natasha): its navec vectors are needed")
    return Navec.load(str(Path(next(iter(spec.submodule_search_locations))) / NAVEC_FILE))


@lru_cache(maxsize=200_000)
def _word_vector(word: str) -> np.ndarray | None:
    """One word's decoded vector (navec stores them quantised); cached, as comments repeat their words."""
    navec = load_navec()
    return navec[word] if word in navec else None


class NavecMeanVectors(TransformerMixin, BaseEstimator):
    """L2-normalised mean vector of the known words of a normalised text, times `weight`."""

    learns_from_data = False

    def __init__(self, weight: float = 1.0):
        self.weight = weight

    def fit(self, X: Iterable[str], y: object = None) -> NavecMeanVectors:
        self.dim_ = load_navec().pq.dim
        return self

    def transform(self, X: Iterable[str]) -> sparse.csr_matrix:
        return sparse.csr_matrix(self.dense_features(X))

    def dense_features(self, X: Iterable[str]) -> np.ndarray:
        """`transform` as a dense array (serving stacks the blocks itself: training/runtime/fast_pipeline.py)."""
        rows = []
        for text in X:
            vecs = [v for v in map(_word_vector, _TOKEN.findall(text)) if v is not None]
            v = np.mean(vecs, axis=0) if vecs else np.zeros(self.dim_, dtype=np.float32)
            norm = float(np.linalg.norm(v))
            rows.append(v / norm if norm else v)
        return np.asarray(rows, dtype=np.float32).reshape(-1, self.dim_) * self.weight
