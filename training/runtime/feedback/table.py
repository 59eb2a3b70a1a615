"""The feedback tables (SQLAlchemy 2.0, any URL; SQLite by default, in WAL mode so readers never block the writer).

- ``feedback``: the current labels per comment id (text, labels as JSON, who changed them last and when);
- ``feedback_history``: one row per change (comment id, moderator, timestamp, old and new labels as JSON).

``labels`` is a JSON object ``{<flag>: 0|1, ..., "topic": str|null, <urgent>: 0|1}`` whose keys come from the
taxonomy (training/runtime/feedback/rules.py). Only training/runtime/feedback/store.py queries these tables.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, MetaData, String, Text, create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAME_CHARS = 200  # comment ids and moderator names: VARCHAR(200), which PostgreSQL enforces (SQLite does not)
# The PostgreSQL advisory lock every process takes around creating our tables (any constant, shared by all).
CREATE_TABLES_LOCK = 0x74726961


class Base(DeclarativeBase):
    pass


class FeedbackRow(Base):
    __tablename__ = "feedback"

    comment_id: Mapped[str] = mapped_column(String(NAME_CHARS), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    labels: Mapped[dict[str, Any]] = mapped_column(JSON)
    moderator: Mapped[str] = mapped_column(String(NAME_CHARS))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class FeedbackHistoryRow(Base):
    __tablename__ = "feedback_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    comment_id: Mapped[str] = mapped_column(ForeignKey("feedback.comment_id"), index=True)
    moderator: Mapped[str] = mapped_column(String(NAME_CHARS))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    old_labels: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    new_labels: Mapped[dict[str, Any]] = mapped_column(JSON)
    old_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    new_text: Mapped[str] = mapped_column(Text)


def iso_utc(ts: datetime) -> str:
    """The timestamp as ISO 8601 in UTC. SQLite drops the zone (every timestamp we write is UTC); PostgreSQL
    hands it back in the server's TimeZone (e.g. +03:00), the same instant, converted here."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).isoformat(timespec="seconds")


WAL_SWITCH_SECONDS = 10.0


def _switch_to_wal(cur: Any) -> None:
    """`PRAGMA journal_mode=WAL`, retried: several processes opening one fresh file at once (uvicorn workers)
    race on the switch, and SQLite answers "database is locked" at once there, without the busy timeout."""
    deadline = time.monotonic() + WAL_SWITCH_SECONDS
    delay = 0.005
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


def make_engine(url: str) -> Engine:
    """An engine for any SQLAlchemy URL; SQLite gets WAL, a busy timeout and BEGIN IMMEDIATE writes."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    database = parsed.database
    in_memory = not database or database == ":memory:"
    if not in_memory:
        assert database is not None  # in_memory covers a missing database
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
            _switch_to_wal(cur)
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Take the write lock up front: two moderators saving the same new id cannot both insert it.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def create_tables(engine: Engine, metadata: MetaData) -> None:
    """`metadata.create_all`, safe when several processes open one fresh database at once (uvicorn workers):
    its check-then-create would race on PostgreSQL ("relation already exists"), so there it runs under a
    transaction-scoped advisory lock; on SQLite the transaction's BEGIN IMMEDIATE already serialises it."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CREATE_TABLES_LOCK})
        metadata.create_all(conn)
