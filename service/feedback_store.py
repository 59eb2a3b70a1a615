"""Moderators' corrected labels, kept in a real database so retraining can learn from them.

Two tables (SQLAlchemy 2.0, any URL; SQLite by default, in WAL mode so readers never block the writer):

- ``feedback``: the current labels per comment id (text, labels as JSON, who changed them last and when);
- ``feedback_history``: one row per change (comment id, moderator, timestamp, old and new labels as JSON).

``labels`` is a JSON object ``{<flag>: 0|1, ..., "topic": str|null, <urgent>: 0|1}`` whose keys come from the
taxonomy. training/retrain.py reads the same ``feedback`` table (comment_id, text, labels) without importing
the service, so keep those three columns stable.
"""

from __future__ import annotations

import csv
import io
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    event,
    select,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from training.corpus import columns
from training.taxonomy import Taxonomy, default_taxonomy

TOPIC_KEY = "topic"
EXPORT_SPLIT = "train"  # feedback never lands in the test split


class Base(DeclarativeBase):
    pass


class FeedbackRow(Base):
    __tablename__ = "feedback"

    comment_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    labels: Mapped[dict[str, Any]] = mapped_column(JSON)
    moderator: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class FeedbackHistoryRow(Base):
    __tablename__ = "feedback_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    comment_id: Mapped[str] = mapped_column(ForeignKey("feedback.comment_id"), index=True)
    moderator: Mapped[str] = mapped_column(String(200))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    old_labels: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    new_labels: Mapped[dict[str, Any]] = mapped_column(JSON)
    old_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    new_text: Mapped[str] = mapped_column(Text)


def _iso(ts: datetime) -> str:
    # SQLite drops the zone; every timestamp we write is UTC.
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.isoformat(timespec="seconds")


def make_engine(url: str) -> Engine:
    """An engine for any SQLAlchemy URL; SQLite gets WAL, a busy timeout and BEGIN IMMEDIATE writes."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    database = parsed.database
    in_memory = not database or database == ":memory:"
    if not in_memory:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 10}}
    if in_memory:
        from sqlalchemy.pool import StaticPool

        kwargs["poolclass"] = StaticPool
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (below) instead of pysqlite's deferred transaction handling.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if not in_memory:
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Take the write lock up front: two moderators saving the same new id cannot both insert it.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class FeedbackStore:
    """Upsert by comment id with a full history; export in the corpus CSV format."""

    def __init__(self, url: str, taxonomy: Taxonomy | None = None):
        self.taxonomy = taxonomy or default_taxonomy()
        self.engine = make_engine(url)
        Base.metadata.create_all(self.engine)
        self._session = sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    @property
    def label_keys(self) -> list[str]:
        return [*self.taxonomy.flags, TOPIC_KEY, self.taxonomy.urgent]

    def normalise_labels(self, labels: dict[str, Any]) -> dict[str, Any]:
        """Flags and urgency as 0/1, topic as a string or None, keys in taxonomy order."""
        out: dict[str, Any] = {f: int(bool(labels[f])) for f in self.taxonomy.flags}
        out[TOPIC_KEY] = labels.get(TOPIC_KEY) or None
        out[self.taxonomy.urgent] = int(bool(labels[self.taxonomy.urgent]))
        return out

    def upsert(self, comment_id: str, text: str, labels: dict[str, Any], moderator: str) -> dict[str, Any]:
        """Store the labels; a history row is written only when text or labels actually change."""
        new = self.normalise_labels(labels)
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
            old_labels = None if created else dict(row.labels)
            old_text = None if created else row.text
            changed = created or old_labels != new or old_text != text
            if created:
                row = FeedbackRow(comment_id=comment_id, text=text, labels=new, moderator=moderator,
                                  created_at=now, updated_at=now)
                s.add(row)
            elif changed:
                row.text, row.labels, row.moderator, row.updated_at = text, new, moderator, now
            if changed:
                s.flush()
                s.add(FeedbackHistoryRow(comment_id=comment_id, moderator=moderator, changed_at=now,
                                         old_labels=old_labels, new_labels=new,
                                         old_text=old_text if old_text != text else None, new_text=text))
            record = self._record(row)
        return {**record, "created": created, "changed": changed}

    def _record(self, row: FeedbackRow) -> dict[str, Any]:
        return {"id": row.comment_id, "text": row.text, "labels": self.normalise_labels(row.labels),
                "moderator": row.moderator, "created_at": _iso(row.created_at), "updated_at": _iso(row.updated_at)}

    def get(self, comment_id: str) -> dict[str, Any] | None:
        """The current record with its history, oldest change first."""
        with self._session() as s:
            row = s.get(FeedbackRow, comment_id)
            if row is None:
                return None
            hist = s.execute(
                select(FeedbackHistoryRow).where(FeedbackHistoryRow.comment_id == comment_id)
                .order_by(FeedbackHistoryRow.id)
            ).scalars().all()
            record = self._record(row)
            record["history"] = [
                {"moderator": h.moderator, "changed_at": _iso(h.changed_at), "old_labels": h.old_labels,
                 "new_labels": h.new_labels, "text_changed": h.old_text is not None}
                for h in hist
            ]
            return record

    def count(self) -> int:
        with self._session() as s:
            return len(s.execute(select(FeedbackRow.comment_id)).all())

    def export_rows(self) -> list[dict[str, Any]]:
        """Rows in the column format of data/comments.csv, oldest update first, split always 'train'."""
        with self._session() as s:
            rows = s.execute(select(FeedbackRow).order_by(FeedbackRow.updated_at, FeedbackRow.comment_id)).scalars()
            out = []
            for r in rows:
                labels = self.normalise_labels(r.labels)
                item: dict[str, Any] = {"id": r.comment_id, "text": r.text}
                item.update({f: labels[f] for f in self.taxonomy.flags})
                item[TOPIC_KEY] = labels[TOPIC_KEY] or ""
                item[self.taxonomy.urgent] = labels[self.taxonomy.urgent]
                item["split"] = EXPORT_SPLIT
                out.append(item)
            return out

    def export_csv(self) -> str:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns(self.taxonomy), lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.export_rows())
        return buf.getvalue()


_stores: dict[str, FeedbackStore] = {}
_stores_lock = threading.Lock()


def store_for(url: str) -> FeedbackStore:
    """One store (engine + pool) per URL per process, created on first use."""
    with _stores_lock:
        store = _stores.get(url)
        if store is None:
            store = _stores[url] = FeedbackStore(url)
        return store
