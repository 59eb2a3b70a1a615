"""Retrain on the corpus plus moderators' feedback; the one promotion rule (training/fit/promotion.py) decides.

Feedback comes from the CSV that ``GET /feedback/export`` returns (``--feedback FILE``) or straight from the
feedback database (``--database-url URL``) through the feedback store (training/runtime/feedback/store.py), the
same module the service writes with. Feedback wins on conflicts (same id or same normalised text replaces the
corpus row's labels); feedback whose text is a TEST-split text is dropped, so the fixed test split stays a fair
yardstick for the champion-versus-candidate comparison. A running service picks a promoted model up through
``POST /admin/reload``; this module never calls it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from training.datasets.corpus import (
    SPLITS,
    CorpusError,
    ValidationReport,
    canonical_text,
    check_rows,
    columns,
    read_csv_strings,
    to_typed,
)
from training.fit.promotion import PromotionDecision
from training.fit.train import TrainConfig
from training.runtime.feedback.store import FeedbackDatabaseError, FeedbackStore, spreadsheet_original
from training.runtime.taxonomy import Taxonomy, default_taxonomy

TRAIN_SPLIT, TEST_SPLIT = SPLITS
_PUNCT_EDGES = re.compile(r"^[\s\W_]+|[\s\W_]+$")


class RetrainError(ValueError):
    """The feedback source cannot be read or holds invalid rows."""


def text_key(text: str) -> str:
    """Normalised text for conflict detection: case, ё/е, whitespace and edge punctuation do not matter."""
    return _PUNCT_EDGES.sub("", canonical_text(str(text)))


# --- reading feedback -------------------------------------------------------------------------------------


def _validated(df: pd.DataFrame, source: str, taxonomy: Taxonomy) -> pd.DataFrame:
    """Same per-row rules as the corpus; rows go to the train split whatever the source said."""
    missing = [c for c in columns(taxonomy) if c not in df.columns and c != "split"]
    if missing:
        raise RetrainError(f"{source}: missing columns {missing}; expected {columns(taxonomy)}")
    df = df.copy()
    df["split"] = TRAIN_SPLIT
    df = df[columns(taxonomy)].astype(str).reset_index(drop=True)
    report = ValidationReport()
    check_rows(df, taxonomy, report)
    if report.errors:
        shown = "\n  ".join(report.errors[:10])
        raise RetrainError(f"{source}: {len(report.errors)} invalid feedback rows:\n  {shown}")
    return to_typed(df, taxonomy)


def read_feedback_csv(path: str | Path, taxonomy: Taxonomy | None = None) -> pd.DataFrame:
    """The export of GET /feedback/export (the corpus column format). The apostrophe that export puts before
    cells a spreadsheet would evaluate (=HYPERLINK(…), -5 градусов…) is dropped, so the texts are the
    moderators' own."""
    taxonomy = taxonomy or default_taxonomy()
    path = Path(path)
    try:
        df = read_csv_strings(path, "feedback file")
    except CorpusError as exc:
        raise RetrainError(str(exc)) from exc
    df = df.map(spreadsheet_original)
    return _validated(df, str(path), taxonomy)


def read_feedback_db(url: str, taxonomy: Taxonomy | None = None) -> pd.DataFrame:
    """The current labels straight from the feedback store (any SQLAlchemy URL)."""
    from sqlalchemy.exc import SQLAlchemyError

    taxonomy = taxonomy or default_taxonomy()
    try:
        store = FeedbackStore(url, taxonomy, create=False)
    except FeedbackDatabaseError as exc:
        raise RetrainError(str(exc)) from exc
    try:
        rows = store.export_rows()
    except SQLAlchemyError as exc:
        raise RetrainError(
            f"cannot read the feedback table ({type(exc).__name__}); is it the service's DATABASE_URL?"
        ) from exc
    finally:
        store.close()
    df = pd.DataFrame(rows, columns=columns(taxonomy)).astype(str)
    return _validated(df, "feedback database", taxonomy)


# --- merging --------------------------------------------------------------------------------------------


@dataclass
class MergeReport:
    feedback_rows: int = 0
    dropped_test: int = 0
    replaced: int = 0
    added: int = 0
    dropped_test_ids: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"feedback rows: {self.feedback_rows}",
            f"dropped (text or id of a test-split row; feedback never lands in the test split): {self.dropped_test}",
            f"corpus rows relabelled by feedback: {self.replaced}",
            f"new training rows from feedback: {self.added}",
        ]


def merge_feedback(
    corpus: pd.DataFrame, feedback: pd.DataFrame, taxonomy: Taxonomy | None = None
) -> tuple[pd.DataFrame, MergeReport]:
    """Corpus with feedback applied to its train split; the test split is returned untouched."""
    taxonomy = taxonomy or default_taxonomy()
    cols = columns(taxonomy)
    report = MergeReport(feedback_rows=len(feedback))
    test = corpus[corpus["split"] == TEST_SPLIT]
    train = corpus[corpus["split"] != TEST_SPLIT]
    test_keys = {text_key(t) for t in test["text"]}
    test_ids = set(test["id"].astype(str))
    fb = feedback.copy()
    fb["_key"] = fb["text"].map(text_key)
    on_test = fb["_key"].isin(test_keys) | fb["id"].astype(str).isin(test_ids)
    report.dropped_test = int(on_test.sum())
    report.dropped_test_ids = fb.loc[on_test, "id"].astype(str).tolist()
    # Later rows win (the export is ordered by update time).
    fb = fb[~on_test].drop_duplicates("_key", keep="last").drop_duplicates("id", keep="last")
    fb_keys, fb_ids = set(fb["_key"]), set(fb["id"].astype(str))
    train_keys = train["text"].map(text_key)
    conflict = train_keys.isin(fb_keys) | train["id"].astype(str).isin(fb_ids)
    report.replaced = int(conflict.sum())
    matched = fb["_key"].isin(set(train_keys)) | fb["id"].astype(str).isin(set(train["id"].astype(str)))
    report.added = int((~matched).sum())
    fb_rows = fb.drop(columns="_key").assign(split=TRAIN_SPLIT)[cols]
    # A feedback id may coincide with an unrelated corpus id: keep ids unique for the bundle's data hash.
    kept = train[~conflict]
    clash = fb_rows["id"].astype(str).isin(set(kept["id"].astype(str)))
    fb_rows.loc[clash, "id"] = "fb-" + fb_rows.loc[clash, "id"].astype(str)
    merged = pd.concat([kept[cols], fb_rows, test[cols]], ignore_index=True)
    return to_typed(merged, taxonomy), report


# --- the run --------------------------------------------------------------------------------------------


@dataclass
class RetrainResult:
    candidate_version: str
    champion_version: str | None
    decision: PromotionDecision
    merge: MergeReport
    candidate_metrics: dict[str, Any]
    tracking: dict[str, Any] | None


def retrain(
    corpus: pd.DataFrame,
    feedback: pd.DataFrame | None,
    *,
    model_dir: str | Path,
    config: TrainConfig | None = None,
    track: bool = True,
    force: bool = False,
    taxonomy: Taxonomy | None = None,
    echo: Any = print,
) -> RetrainResult:
    """Train a candidate on corpus + feedback; the promotion rule compares it with the champion on the test
    split and moves models/latest and the MLflow alias together, or neither."""
    from training.fit.run import run_training

    taxonomy = taxonomy or default_taxonomy()
    model_dir = Path(model_dir)
    if feedback is None:
        feedback = pd.DataFrame(columns=columns(taxonomy))
    merged, merge = merge_feedback(corpus, feedback, taxonomy)
    for line in merge.lines():
        echo(line)
    result = run_training(
        merged,
        model_dir=model_dir,
        config=config or TrainConfig(),
        track=track,
        force=force,
        taxonomy=taxonomy,
        echo=echo,
        params={
            "retrain": True,
            "feedback_rows": merge.feedback_rows,
            "feedback_dropped_test": merge.dropped_test,
            "feedback_replaced": merge.replaced,
            "feedback_added": merge.added,
        },
    )
    if result.promotion.decision.promote:
        echo("a running service loads it on POST /admin/reload")
    return RetrainResult(
        candidate_version=result.model.version,
        champion_version=result.promotion.champion_version,
        decision=result.promotion.decision,
        merge=merge,
        candidate_metrics=result.metrics,
        tracking=result.tracking,
    )
