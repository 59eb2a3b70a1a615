"""Retrain on the corpus plus moderators' feedback; promote only a candidate that is not worse.

Feedback comes from the CSV that ``GET /feedback/export`` returns (``--feedback FILE``) or straight from the
feedback database (``--database-url URL``, table ``feedback`` with columns comment_id, text, labels JSON,
written by service/feedback_store.py; training does not import the service). Feedback wins on conflicts (same
id or same normalised text replaces the corpus row's labels); feedback whose text is a TEST-split text is
dropped, so the fixed test split stays a fair yardstick for the champion-versus-candidate comparison.

Promotion (MLflow alias ``champion`` and ``models/latest``) happens only when the flags' macro-F1 is not lower
and no label's F1 drops by more than ``MAX_LABEL_DROP``. A running service picks the new model up through
``POST /admin/reload``; this module never calls it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from training.bundle import BundleError, latest_version, load_bundle, set_latest_version
from training.corpus import (
    SPLITS,
    CorpusError,
    ValidationReport,
    _check_rows,
    canonical_text,
    columns,
    read_csv_strings,
    to_typed,
)
from training.evaluate import evaluate
from training.taxonomy import Taxonomy, default_taxonomy
from training.train import TrainConfig

MAX_LABEL_DROP = 0.02
FEEDBACK_TABLE = "feedback"
TOPIC = "topic"
TRAIN_SPLIT, TEST_SPLIT = SPLITS
_EPS = 1e-9  # metrics are rounded to 4 decimals; equal means equal
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
    _check_rows(df, taxonomy, report)
    if report.errors:
        shown = "\n  ".join(report.errors[:10])
        raise RetrainError(f"{source}: {len(report.errors)} invalid feedback rows:\n  {shown}")
    return to_typed(df, taxonomy)


def read_feedback_csv(path: str | Path, taxonomy: Taxonomy | None = None) -> pd.DataFrame:
    """The export of GET /feedback/export (the corpus column format)."""
    taxonomy = taxonomy or default_taxonomy()
    path = Path(path)
    try:
        df = read_csv_strings(path, "feedback file")
    except CorpusError as exc:
        raise RetrainError(str(exc)) from exc
    return _validated(df, str(path), taxonomy)


def read_feedback_db(url: str, taxonomy: Taxonomy | None = None) -> pd.DataFrame:
    """The current labels straight from the feedback table (any SQLAlchemy URL)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    taxonomy = taxonomy or default_taxonomy()
    try:
        engine = create_engine(url)
    except (SQLAlchemyError, ValueError) as exc:
        raise RetrainError(f"invalid database URL: {exc}") from exc
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(f"SELECT comment_id, text, labels FROM {FEEDBACK_TABLE} ORDER BY updated_at, comment_id")
            ).all()
    except SQLAlchemyError as exc:
        raise RetrainError(f"cannot read table {FEEDBACK_TABLE!r} from the feedback database "
                           f"({type(exc).__name__}); is it the service's DATABASE_URL?") from exc
    finally:
        engine.dispose()
    records = []
    for comment_id, comment_text, labels in rows:
        labels = json.loads(labels) if isinstance(labels, str) else labels
        rec: dict[str, Any] = {"id": comment_id, "text": comment_text}
        for key in (*taxonomy.flags, taxonomy.urgent):
            rec[key] = str(int(labels.get(key, 0)))
        rec[TOPIC] = labels.get(TOPIC) or ""
        records.append(rec)
    df = pd.DataFrame(records, columns=[c for c in columns(taxonomy) if c != "split"])
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
        return [f"feedback rows: {self.feedback_rows}",
                f"dropped (text or id of a test-split row; feedback never lands in the test split): "
                f"{self.dropped_test}",
                f"corpus rows relabelled by feedback: {self.replaced}",
                f"new training rows from feedback: {self.added}"]


def merge_feedback(corpus: pd.DataFrame, feedback: pd.DataFrame,
                   taxonomy: Taxonomy | None = None) -> tuple[pd.DataFrame, MergeReport]:
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


# --- the promotion rule ---------------------------------------------------------------------------------

@dataclass
class PromotionDecision:
    promote: bool
    reasons: list[str]

    def __bool__(self) -> bool:
        return self.promote


def should_promote(champion_metrics: dict[str, Any] | None, candidate_metrics: dict[str, Any],
                   max_label_drop: float = MAX_LABEL_DROP) -> PromotionDecision:
    """Pure rule: macro-F1 over the flags not lower, and no label's F1 lower by more than max_label_drop."""
    if champion_metrics is None:
        return PromotionDecision(True, ["no champion to compare with"])
    reasons = []
    old, new = champion_metrics["flags_macro_f1"], candidate_metrics["flags_macro_f1"]
    if new < old - _EPS:
        reasons.append(f"flags macro-F1 {new:.4f} < champion {old:.4f}")
    for label, m in champion_metrics["labels"].items():
        cand = candidate_metrics["labels"].get(label)
        if cand is None:
            reasons.append(f"{label}: missing from the candidate's metrics")
        elif cand["f1"] < m["f1"] - max_label_drop - _EPS:
            reasons.append(f"{label} F1 {cand['f1']:.4f} drops {m['f1'] - cand['f1']:.4f} "
                           f"(> {max_label_drop:.2f}) from {m['f1']:.4f}")
    if reasons:
        return PromotionDecision(False, reasons)
    return PromotionDecision(True, [f"flags macro-F1 {new:.4f} >= {old:.4f}, no label F1 drops by more "
                                    f"than {max_label_drop:.2f}"])


def format_comparison(champion_metrics: dict[str, Any] | None, candidate_metrics: dict[str, Any],
                      decision: PromotionDecision, taxonomy: Taxonomy | None = None) -> str:
    """The side-by-side table on the fixed test split, with the verdict."""
    taxonomy = taxonomy or default_taxonomy()

    def cell(v: float | None) -> str:
        return f"{v:>10.4f}" if v is not None else f"{'-':>10}"

    rows: list[tuple[str, float | None, float]] = []
    for label in [*taxonomy.flags, taxonomy.urgent]:
        old = champion_metrics["labels"][label]["f1"] if champion_metrics else None
        rows.append((label, old, candidate_metrics["labels"][label]["f1"]))
    for key in ("flags_macro_f1", "topic_accuracy_actionable"):
        rows.append((key, champion_metrics[key] if champion_metrics else None, candidate_metrics[key]))
    lines = [f"{'label':<28}{'champion F1':>12}{'candidate F1':>13}{'delta':>9}"]
    for label, old, new in rows:
        delta = f"{new - old:>+9.4f}" if old is not None else f"{'-':>9}"
        lines.append(f"{label:<28}{cell(old):>12}{cell(new):>13}{delta}")
    verdict = "PROMOTE" if decision.promote else "KEEP CHAMPION"
    lines.append(f"verdict: {verdict} ({'; '.join(decision.reasons)})")
    return "\n".join(lines)


# --- the run --------------------------------------------------------------------------------------------

@dataclass
class RetrainResult:
    candidate_version: str
    champion_version: str | None
    decision: PromotionDecision
    merge: MergeReport
    table: str
    candidate_metrics: dict[str, Any]
    champion_metrics: dict[str, Any] | None
    tracking: dict[str, Any] | None


def retrain(corpus: pd.DataFrame, feedback: pd.DataFrame | None, *, model_dir: str | Path,
            config: TrainConfig | None = None, track: bool = True, taxonomy: Taxonomy | None = None,
            echo: Any = print) -> RetrainResult:
    """Train a candidate on corpus + feedback, compare with the champion on the test split, maybe promote."""
    from training.pipeline_run import run_training

    taxonomy = taxonomy or default_taxonomy()
    model_dir = Path(model_dir)
    if feedback is None:
        feedback = pd.DataFrame(columns=columns(taxonomy))
    merged, merge = merge_feedback(corpus, feedback, taxonomy)
    for line in merge.lines():
        echo(line)
    test_df = merged[merged["split"] == TEST_SPLIT].reset_index(drop=True)

    champion_version, champion_metrics = None, None
    try:
        champion_version = latest_version(model_dir)
    except BundleError:
        echo(f"no champion in {model_dir} (no models/latest): the candidate is promoted if it trains")
    if champion_version is not None:
        champion, _ = load_bundle(model_dir, champion_version, taxonomy)
        champion_metrics = evaluate(champion, test_df, taxonomy)

    result = run_training(merged, model_dir=model_dir, config=config or TrainConfig(), track=track,
                          set_latest=False, promote_if="never", taxonomy=taxonomy,
                          params={"retrain": True, "feedback_rows": merge.feedback_rows,
                                  "feedback_dropped_test": merge.dropped_test,
                                  "feedback_replaced": merge.replaced, "feedback_added": merge.added,
                                  "champion_version": champion_version or "none"})
    candidate_metrics = result.metrics
    decision = should_promote(champion_metrics, candidate_metrics)
    table = format_comparison(champion_metrics, candidate_metrics, decision, taxonomy)
    echo(f"champion {champion_version or '-'} vs candidate {result.model.version} on the test split "
         f"({len(test_df)} rows)")
    echo(table)
    if decision.promote:
        set_latest_version(model_dir, result.model.version)
        registered = (result.tracking or {}).get("registered_version")
        if registered is not None:
            from training.tracking import promote

            promote(registered)
        echo(f"promoted {result.model.version}: {model_dir / 'latest'} updated"
             + (f", MLflow alias champion -> version {registered}" if registered is not None else ""))
        echo("a running service loads it on POST /admin/reload")
    else:
        echo(f"kept {champion_version}; the candidate bundle stays in {result.bundle_dir} (not promoted)")
    return RetrainResult(candidate_version=result.model.version, champion_version=champion_version,
                         decision=decision, merge=merge, table=table, candidate_metrics=candidate_metrics,
                         champion_metrics=champion_metrics, tracking=result.tracking)
