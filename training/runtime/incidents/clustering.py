"""The clustering behind group_incidents(): one topic's comments, in time order, into incidents.

A comment joins an open incident (one whose first comment is at most the window before it) when
* it has the incident's address (street and house), or
* it is linked to a member by text (a neighbour: cosine ≥ min_similarity, see similarity.neighbours(); or the
  same content lemmas) AND its cosine with the incident's centroid (the sum of the members' vectors) is at
  least min_centroid_similarity,
and never when the two name different places: two different addresses, or two different streets (a street
named alone, "на проспекте Ленина", counts for this). Of the incidents it could join it takes the one with its
address, else the one with the closest centroid (ties: the earliest); it never merges two incidents. So an
incident is a connected piece of the graph (same topic ∧ within the window ∧ (similar ∨ same address)) whose
every member was also close to the whole incident when it joined: what stops connected components from
chaining A to C through B when A and C have nothing in common.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from scipy import sparse

from training.runtime.incidents.similarity import neighbours


@dataclass(frozen=True)
class Place:
    """What a comment says about where: its street (maybe alone) and its full address key (maybe None)."""

    street: str | None = None
    key: str | None = None
    written: str | None = field(default=None, compare=False)  # the address as the comment wrote it

    def conflicts(self, other: Place) -> bool:
        if self.key and other.key:
            return self.key != other.key
        return bool(self.street and other.street and self.street != other.street)


Row = tuple[np.ndarray, np.ndarray]  # a sparse row as (feature indices, values)


def _dot(row: Row, total: dict[int, float]) -> float:
    get = total.get
    return sum(get(j, 0.0) * v for j, v in zip(row[0].tolist(), row[1].tolist(), strict=True))


@dataclass
class _Open:
    """An incident being built. The sum of its members' vectors is a dict (feature → weight): one dot product
    or one addition costs ~the comment's own non-zeros, where a scipy row operation costs far more."""

    start: datetime
    total: dict[int, float] = field(default_factory=dict)
    members: list[int] = field(default_factory=list)  # positions, in time order
    sq_norm: float = 0.0
    place: Place = Place()

    def centroid_similarity(self, row: Row) -> float:
        return _dot(row, self.total) / math.sqrt(self.sq_norm) if self.sq_norm > 0 else 0.0

    def add(self, pos: int, row: Row, place: Place) -> None:
        self.sq_norm += 2.0 * _dot(row, self.total) + float(row[1] @ row[1])
        total = self.total
        for j, v in zip(row[0].tolist(), row[1].tolist(), strict=True):
            total[j] = total.get(j, 0.0) + v
        self.members.append(pos)
        self.place = Place(street=self.place.street or place.street, key=self.place.key or place.key)


def cluster_topic(
    vectors: sparse.csr_matrix,
    times: list[datetime],
    places: list[Place],
    docs: list[str],
    window: timedelta,
    min_similarity: float,
    min_centroid_similarity: float,
) -> list[list[int]]:
    """Incidents of one topic's rows (already in time order) as lists of positions (see the module doc).
    `docs` are the rows' content lemmas: rows with the same ones are the same text (linked to each other)."""
    vectors = vectors.tocsr()
    distinct: dict[str, int] = {}
    doc_of = [distinct.setdefault(doc, len(distinct)) for doc in docs]
    first_row = {d: pos for pos, d in reversed(list(enumerate(doc_of)))}
    near = neighbours(vectors[[first_row[d] for d in range(len(distinct))]], doc_of, times, window, min_similarity)
    groups: list[_Open] = []
    by_key: dict[str, int] = {}
    by_doc: dict[int, set[int]] = {}  # text → the incidents that hold it
    for pos, (t, place, doc) in enumerate(zip(times, places, doc_of, strict=True)):
        lo, hi = vectors.indptr[pos], vectors.indptr[pos + 1]
        row = (vectors.indices[lo:hi], vectors.data[lo:hi])
        linked: set[int] = set()
        if hi > lo:  # a text with no content lemmas is linked to nothing
            for d in near[doc] | {doc}:
                held = by_doc.get(d)
                if held:
                    held -= {g for g in held if t - groups[g].start > window}  # closed for good
                    linked |= held
        candidates = linked | ({by_key[place.key]} if place.key and place.key in by_key else set())
        best, best_score = -1, -math.inf
        for g in sorted(candidates):
            group = groups[g]
            if t - group.start > window or place.conflicts(group.place):
                continue
            similarity = group.centroid_similarity(row)
            if place.key and place.key == group.place.key:
                score = 2.0 + similarity  # the same address wins over any text
            elif g in linked and similarity >= min_centroid_similarity:
                score = similarity
            else:
                continue
            if score > best_score:
                best, best_score = g, score
        if best < 0:
            groups.append(_Open(start=t))
            best = len(groups) - 1
        groups[best].add(pos, row, place)
        by_doc.setdefault(doc, set()).add(best)
        key = groups[best].place.key
        if key:
            by_key[key] = best
    return [g.members for g in groups]


def medoid(vectors: sparse.csr_matrix, members: list[int]) -> int:
    """The member with the highest mean similarity to the others (ties: the earliest)."""
    if len(members) < 3:
        return members[0]
    rows = vectors[members]
    total = sparse.csr_matrix(rows.sum(axis=0))
    own = np.asarray(rows.multiply(rows).sum(axis=1)).ravel()
    scores = np.asarray(rows.multiply(total).sum(axis=1)).ravel() - own
    return members[int(np.argmax(np.round(scores, 9)))]
