"""Classifying many comments: bounded chunks, and one flat row per result.

Every side that classifies more than one request's worth of comments (the CLI's predict, the service's
analytics and moderation page, the real-text benchmark) goes through `classify_in_chunks`, and every side
that writes results as a table (the CLI's CSV, the MLflow pyfunc's DataFrame, the page's CSV download) takes
its columns from `result_columns` and its cells from `result_row`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from training.runtime.model import TriageModel
from training.runtime.taxonomy import Taxonomy, default_taxonomy

CHUNK = 512  # bounds one pass's feature-matrix memory; larger chunks are not faster per comment


def iter_chunks(
    model: TriageModel, texts: Sequence[str], *, chunk: int = CHUNK, taxonomy: Taxonomy | None = None
) -> Iterator[list[dict[str, Any]]]:
    """The results of each chunk of `texts`, in order, as soon as it is classified."""
    if chunk < 1:
        raise ValueError(f"chunk must be positive, got {chunk}")
    taxonomy = taxonomy or default_taxonomy()
    for start in range(0, len(texts), chunk):
        yield model.classify(list(texts[start : start + chunk]), taxonomy)


def classify_in_chunks(
    model: TriageModel,
    texts: Sequence[str],
    *,
    chunk: int = CHUNK,
    taxonomy: Taxonomy | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """All results in input order; `progress(n)` is called with the size of each finished chunk."""
    out: list[dict[str, Any]] = []
    for results in iter_chunks(model, texts, chunk=chunk, taxonomy=taxonomy):
        out.extend(results)
        if progress is not None:
            progress(len(results))
    return out


def result_columns(flags: Sequence[str], urgent_label: str) -> list[str]:
    """The flat columns of one result, in the order every table writes them."""
    return [
        "category",
        "action",
        *flags,
        *(f"{f}_score" for f in flags),
        "topic",
        "topic_score",
        "route",
        urgent_label,
        f"{urgent_label}_score",
        "evidence",
    ]


def result_row(result: dict[str, Any], flags: Sequence[str], urgent_label: str) -> dict[str, Any]:
    """One result as flat cells: flags as 0/1, empty strings for no topic or route, evidence as `flag:text`
    items joined by | (an item without a flag: its text alone)."""
    topic = result["topic"]
    row: dict[str, Any] = {"category": result["category"], "action": result["action"]}
    row.update({f: int(bool(result["flags"][f])) for f in flags})
    row.update({f"{f}_score": result["scores"][f] for f in flags})
    row["topic"] = topic or ""
    row["topic_score"] = result["topic_scores"][topic] if topic else ""
    row["route"] = result["route"] or ""
    row[urgent_label] = int(bool(result["urgent"]))
    row[f"{urgent_label}_score"] = result["urgent_score"]
    row["evidence"] = "|".join(
        f"{e['flag']}:{e['text']}" if e.get("flag") else e["text"] for e in result.get("evidence", [])
    )
    return row
