"""The inbox's values: a comment's identity and content as VK sends them, what recording did, the filters of
GET /inbox, and a stored row as the API shows it. Shared by the store, the VK receiver and the routes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from training.runtime.feedback.table import iso_utc
from training.runtime.inbox.table import COMMENT_KEY, InboxRow

# What recording an event did to the inbox.
NEW, EDITED, RESTORED, UNCHANGED, DUPLICATE, DELETED, UNKNOWN_COMMENT = (
    "new",
    "edited",
    "restored",
    "unchanged",
    "duplicate",
    "deleted",
    "unknown_comment",
)
# How an incoming comment relates to what is stored: a new comment never overwrites a stored text (it may be
# a late copy of a comment already edited); an edit or a restore replaces it.
MODE_NEW, MODE_EDIT, MODE_RESTORE = "new", "edit", "restore"


@dataclass(frozen=True)
class CommentRef:
    """A comment's identity at its source: community, kind of object, object owner and id, comment id."""

    group_id: int
    kind: str
    owner_id: int
    object_id: int
    comment_id: int


@dataclass(frozen=True)
class IncomingComment:
    ref: CommentRef
    from_id: int | None
    date: datetime
    text: str

    def __post_init__(self) -> None:
        # PostgreSQL cannot store NUL in text, and a VK comment must never be refused (VK would retry it
        # forever): NUL becomes U+FFFD, as lone surrogates do before the model sees them.
        if "\x00" in self.text:
            object.__setattr__(self, "text", self.text.replace("\x00", "\ufffd"))


@dataclass(frozen=True)
class Recorded:
    outcome: str
    inbox_id: int | None
    pending: bool  # the row waits for a classification (tell the worker)


@dataclass(frozen=True)
class PendingComment:
    id: int
    version: int
    text: str


@dataclass(frozen=True)
class InboxFilter:
    """GET /inbox's filters; None means "any". Dates bound the comment's own date: from ≤ date < to."""

    category: str | None = None
    action: str | None = None
    topic: str | None = None
    urgent: bool | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None
    group_id: int | None = None
    kind: str | None = None
    status: str | None = None
    deleted: bool | None = None


def as_utc(ts: datetime) -> datetime:
    """`ts` in UTC (a naive time is taken as UTC); ValueError when its UTC instant falls outside the calendar
    (e.g. 0001-01-01T00:00:00+05:00), so that callers can refuse it instead of overflowing later."""
    if ts.tzinfo is None:
        return ts.replace(tzinfo=UTC)
    try:
        return ts.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time in UTC falls outside the years 1-9999") from None


def iso_or_none(ts: datetime | None) -> str | None:
    return None if ts is None else iso_utc(ts)


def record_dict(r: InboxRow) -> dict[str, Any]:
    """A row as the API shows it (GET /inbox, /inbox/{id})."""
    hide = None
    if r.hide_status is not None:
        hide = {
            "status": r.hide_status,
            "method": r.hide_method,
            "answer": r.hide_answer,
            "attempts": r.hide_attempts,
            "at": iso_or_none(r.hide_at),
        }
    return {
        "id": r.id,
        **{k: getattr(r, k) for k in COMMENT_KEY},
        "from_id": r.from_id,
        "date": iso_or_none(r.date),
        "text": r.text,
        "version": r.version,
        "last_event_type": r.last_event_type,
        "status": r.status,
        "error": r.error,
        "result": r.result,
        "model_version": r.model_version,
        "category": r.category,
        "action": r.action,
        "topic": r.topic,
        "urgent": r.urgent,
        "received_at": iso_or_none(r.received_at),
        "updated_at": iso_or_none(r.updated_at),
        "edited_at": iso_or_none(r.edited_at),
        "classified_at": iso_or_none(r.classified_at),
        "deleted": r.deleted,
        "deleted_at": iso_or_none(r.deleted_at),
        "deleter_id": r.deleter_id,
        "hide": hide,
    }
