"""The inbox tables, in the feedback database (DATABASE_URL; the engine comes from feedback/table.py's make_engine).

- ``inbox``: one row per comment of a source page, keyed by (group_id, kind, owner_id, object_id, comment_id):
  VK's ids, the author and date, the current text and its version, the classification (status, the full
  result as JSON, the model version, and category/action/topic/urgent as columns for the filters), the
  deletion mark, and the auto-hide decision with VK's answer;
- ``inbox_events``: every delivered event id (VK retries an event until it hears "ok"): a retry finds its id
  here and changes nothing;
- ``inbox_history``: the text, result and model version an edit replaced;
- ``inbox_deletions``: a delete that arrived before its comment (VK does not promise the order): the comment
  is stored deleted when it comes.

Only training/runtime/inbox/store.py queries these tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Row statuses: waiting for a model, classified, classification failed, nothing to classify (no text).
PENDING, CLASSIFIED, FAILED, EMPTY = "pending", "classified", "failed", "empty"
STATUSES = (PENDING, CLASSIFIED, FAILED, EMPTY)
# Auto-hide states: due (classified for moderation while auto-hide was on), claimed by a worker, hidden
# through the API, refused or failed (VK's answer is kept).
HIDE_DUE, HIDE_PENDING, HIDE_DONE, HIDE_FAILED = "due", "pending", "hidden", "failed"
COMMENT_KEY = ("group_id", "kind", "owner_id", "object_id", "comment_id")


class InboxBase(DeclarativeBase):
    """Separate metadata from the feedback tables: each store creates only its own tables."""


class InboxRow(InboxBase):
    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint(*COMMENT_KEY, name="uq_inbox_comment"),
        Index("ix_inbox_date_id", "date", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_id: Mapped[int] = mapped_column(BigInteger, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    owner_id: Mapped[int] = mapped_column(BigInteger)
    object_id: Mapped[int] = mapped_column(BigInteger)
    comment_id: Mapped[int] = mapped_column(BigInteger)
    from_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    date: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    text: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    last_event_type: Mapped[str] = mapped_column(String(64))

    status: Mapped[str] = mapped_column(String(16), index=True)
    error: Mapped[str | None] = mapped_column(String(300), nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    model_version: Mapped[str | None] = mapped_column(String(100), nullable=True)
    category: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    action: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    topic: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    urgent: Mapped[bool | None] = mapped_column(Boolean, nullable=True, index=True)

    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    edited_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    classified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    deleter_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    hide_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    hide_method: Mapped[str | None] = mapped_column(String(64), nullable=True)
    hide_answer: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    hide_attempts: Mapped[int] = mapped_column(Integer, default=0)
    hide_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class InboxEventRow(InboxBase):
    __tablename__ = "inbox_events"

    group_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    inbox_id: Mapped[int | None] = mapped_column(ForeignKey("inbox.id"), nullable=True)


class InboxHistoryRow(InboxBase):
    __tablename__ = "inbox_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    inbox_id: Mapped[int] = mapped_column(ForeignKey("inbox.id"), index=True)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    event_type: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)  # the version this change replaced
    old_text: Mapped[str] = mapped_column(Text)
    old_result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    old_model_version: Mapped[str | None] = mapped_column(String(100), nullable=True)


class InboxDeletionRow(InboxBase):
    __tablename__ = "inbox_deletions"

    group_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    owner_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    object_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    comment_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    deleted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deleter_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    event_type: Mapped[str] = mapped_column(String(64))
