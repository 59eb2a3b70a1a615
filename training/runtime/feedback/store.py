"""Moderators' corrected labels, kept in a real database so retraining can learn from them.

The one place that reads and writes the feedback tables: upsert with history, the current record, the export
in the corpus CSV format, and the rows retraining learns from. The service and `python -m training retrain`
both come here; the rules a record must keep are in rules.py.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from training.runtime.feedback.rules import TOPIC_KEY, LabelRules, record_columns
from training.runtime.feedback.table import (
    NAME_CHARS,
    Base,
    FeedbackHistoryRow,
    FeedbackRow,
    create_tables,
    iso_utc,
    make_engine,
)
from training.runtime.store_cache import StoreCache
from training.runtime.taxonomy import Taxonomy, default_taxonomy

EXPORT_SPLIT = "train"  # feedback never lands in the test split
# A spreadsheet evaluates a cell that starts with one of these (=HYPERLINK(...), +cmd|..., -2+3, @SUM, or a
# tab or CR before them): the export for people prefixes such cells with an apostrophe, the spreadsheets' own
# "this is text" mark.
SPREADSHEET_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
SPREADSHEET_PREFIX = "'"


def spreadsheet_safe(cell: Any) -> Any:
    """A text cell starting with a SPREADSHEET_TRIGGERS character gets SPREADSHEET_PREFIX in front. So does
    one that already starts with the prefix, so that `spreadsheet_original` undoes exactly this and every
    text comes back as it was."""
    if isinstance(cell, str) and cell[:1] and cell[:1] in (*SPREADSHEET_TRIGGERS, SPREADSHEET_PREFIX):
        return SPREADSHEET_PREFIX + cell
    return cell


def spreadsheet_original(cell: str) -> str:
    """The cell as it was before `spreadsheet_safe`: one leading prefix dropped where that added it."""
    if cell[:1] == SPREADSHEET_PREFIX and cell[1:2] and cell[1:2] in (*SPREADSHEET_TRIGGERS, SPREADSHEET_PREFIX):
        return cell[1:]
    return cell


# PostgreSQL's text cannot hold NUL, and no database driver encodes a lone UTF-16 surrogate: refused up front
# as a field error (a 4xx), not left to fail inside the database as a 500. SQLite would take NUL; refusing it
# everywhere keeps the two backends alike.
UNSTORABLE_RE = re.compile("[\x00\ud800-\udfff]")


def storable_problems(fields: dict[str, str]) -> list[tuple[str, str]]:
    """(field, message) for each value a database cannot store as it is."""
    out: list[tuple[str, str]] = []
    for name, value in fields.items():
        bad = UNSTORABLE_RE.search(value)
        if bad is not None:
            where = f"at position {bad.start()}"
            out.append((name, f"{name} contains a character that cannot be stored (NUL or lone surrogate) {where}"))
        if name != "text" and len(value) > NAME_CHARS:
            out.append((name, f"{name} is longer than {NAME_CHARS} characters"))
    return out


class FeedbackDatabaseError(RuntimeError):
    """The feedback database cannot be opened or is not the service's."""


class FeedbackError(ValueError):
    """Labels that break a rule; `problems` holds (field, message) pairs."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(f"{f}: {m}" for f, m in problems))
        self.problems = problems


class FeedbackStore:
    """Upsert by comment id with a full history; export in the corpus CSV format."""

    def __init__(self, url: str, taxonomy: Taxonomy | None = None, *, create: bool = True):
        """`create=False` (readers such as retraining) refuses a database without the feedback table instead
        of creating an empty one: a wrong DATABASE_URL must not read as "no feedback"."""
        self.taxonomy = taxonomy or default_taxonomy()
        self.rules = LabelRules(self.taxonomy)
        try:
            self.engine = make_engine(url)
            if create:
                create_tables(self.engine, Base.metadata)
            elif not inspect(self.engine).has_table(FeedbackRow.__tablename__):
                raise FeedbackDatabaseError(
                    f"the database has no {FeedbackRow.__tablename__!r} table; is it the service's DATABASE_URL?"
                )
        except (SQLAlchemyError, ValueError) as exc:
            if isinstance(exc, FeedbackDatabaseError):
                raise
            raise FeedbackDatabaseError(
                f"cannot open the feedback database ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
            ) from exc
        self._session = sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    @property
    def label_keys(self) -> list[str]:
        return self.rules.keys

    def upsert(self, comment_id: str, text: str, labels: dict[str, Any], moderator: str) -> dict[str, Any]:
        """Store the labels (FeedbackError when they break a rule); a history row is written only when text
        or labels actually change."""
        new = self.rules.normalise(labels)
        problems = storable_problems({"id": comment_id, "text": text, "moderator": moderator})
        problems += self.rules.problems(new)
        if problems:
            raise FeedbackError(problems)
        for attempt in range(2):
            try:
                return self._upsert_once(comment_id, text, new, moderator)
            except IntegrityError:  # a concurrent insert of the same id on a non-SQLite backend: retry as update
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _upsert_once(self, comment_id: str, text: str, new: dict[str, Any], moderator: str) -> dict[str, Any]:
        now = datetime.now(UTC)
        with self._session.begin() as s:
            row = s.execute(
                select(FeedbackRow).where(FeedbackRow.comment_id == comment_id).with_for_update()
            ).scalar_one_or_none()
            created = row is None
            old_labels = None if row is None else dict(row.labels)
            old_text = None if row is None else row.text
            changed = created or old_labels != new or old_text != text
            if row is None:
                row = FeedbackRow(
                    comment_id=comment_id, text=text, labels=new, moderator=moderator, created_at=now, updated_at=now
                )
                s.add(row)
            elif changed:
                row.text, row.labels, row.moderator, row.updated_at = text, new, moderator, now
            if changed:
                s.flush()
                s.add(
                    FeedbackHistoryRow(
                        comment_id=comment_id,
                        moderator=moderator,
                        changed_at=now,
                        old_labels=old_labels,
                        new_labels=new,
                        old_text=old_text if old_text != text else None,
                        new_text=text,
                    )
                )
            record = self._record(row)
        return {**record, "created": created, "changed": changed}

    def _record(self, row: FeedbackRow) -> dict[str, Any]:
        return {
            "id": row.comment_id,
            "text": row.text,
            "labels": self.rules.normalise(row.labels),
            "moderator": row.moderator,
            "created_at": iso_utc(row.created_at),
            "updated_at": iso_utc(row.updated_at),
        }

    def get(self, comment_id: str) -> dict[str, Any] | None:
        """The current record with its history, oldest change first."""
        with self._session() as s:
            row = s.get(FeedbackRow, comment_id)
            if row is None:
                return None
            hist = (
                s.execute(
                    select(FeedbackHistoryRow)
                    .where(FeedbackHistoryRow.comment_id == comment_id)
                    .order_by(FeedbackHistoryRow.id)
                )
                .scalars()
                .all()
            )
            record = self._record(row)
            record["history"] = [
                {
                    "moderator": h.moderator,
                    "changed_at": iso_utc(h.changed_at),
                    "old_labels": h.old_labels,
                    "new_labels": h.new_labels,
                    "text_changed": h.old_text is not None,
                }
                for h in hist
            ]
            return record

    def count(self) -> int:
        with self._session() as s:
            return len(s.execute(select(FeedbackRow.comment_id)).all())

    def export_rows(self) -> list[dict[str, Any]]:
        """Rows in the column format of data/comments.csv (labels as 0/1, no topic as ""), oldest update
        first, split always 'train': what GET /feedback/export writes and what retraining reads."""
        with self._session() as s:
            rows = s.execute(select(FeedbackRow).order_by(FeedbackRow.updated_at, FeedbackRow.comment_id)).scalars()
            out = []
            for r in rows:
                labels = self.rules.normalise(r.labels)
                item: dict[str, Any] = {"id": r.comment_id, "text": r.text}
                item.update({k: labels[k] for k in self.taxonomy.flags})
                item[TOPIC_KEY] = labels[TOPIC_KEY] or ""
                item[self.taxonomy.urgent] = labels[self.taxonomy.urgent]
                item["split"] = EXPORT_SPLIT
                out.append(item)
            return out

    def export_csv(self, for_spreadsheet: bool = False) -> str:
        """The export as CSV text. `for_spreadsheet` (GET /feedback/export, a file people open in Excel or
        LibreOffice) makes every cell inert there: see `spreadsheet_safe`; retraining reads it back with
        `spreadsheet_original`."""
        rows = self.export_rows()
        if for_spreadsheet:
            rows = [{k: spreadsheet_safe(v) for k, v in row.items()} for row in rows]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=record_columns(self.taxonomy), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buf.getvalue()


_stores: StoreCache[FeedbackStore] = StoreCache(FeedbackStore)


def store_for(url: str) -> FeedbackStore:
    """One store (engine + pool) per URL per process, created on first use."""
    return _stores.get(url)
