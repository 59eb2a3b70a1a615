"""The inbox store: the one place that reads and writes the inbox tables (table.py).

Recording is idempotent twice over, so that VK's retries and out-of-order deliveries never duplicate a row:
- on the event id: the first delivery inserts it into ``inbox_events``, a retry finds it there and changes
  nothing;
- on the comment key (group_id, kind, owner_id, object_id, comment_id): a unique constraint; a new-comment
  event for a comment already stored (an edit that came first, a re-sent event) leaves it as it is.
Both inserts are "insert, or do nothing on conflict" (SQLite and PostgreSQL: ON CONFLICT DO NOTHING; other
backends: a savepoint around the insert), followed by a locking re-read of the row, all in one transaction:
concurrent deliveries of one event, from threads or processes, serialise on the unique keys and only the first
one inserts. An edit keeps the replaced text and result in ``inbox_history`` and makes the row pending again; a
result is saved only for the text version it was computed on. VK does not promise the order of events: a
delete that comes before its comment is kept in ``inbox_deletions`` and the comment is stored deleted.

The auto-hide queue lives in the same rows (hide_queue.py, `InboxStore.hides`): saving a result for
moderation marks the row due, and an edit before the claim clears that.
"""

from __future__ import annotations

import builtins
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, Table, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from training.runtime.feedback.table import create_tables, make_engine
from training.runtime.inbox.hide_queue import HideQueue
from training.runtime.inbox.records import (
    DELETED,
    DUPLICATE,
    EDITED,
    MODE_NEW,
    MODE_RESTORE,
    NEW,
    RESTORED,
    UNCHANGED,
    UNKNOWN_COMMENT,
    CommentRef,
    InboxFilter,
    IncomingComment,
    PendingComment,
    Recorded,
    as_utc,
    iso_or_none,
    record_dict,
)
from training.runtime.inbox.table import (
    CLASSIFIED,
    COMMENT_KEY,
    EMPTY,
    FAILED,
    HIDE_DUE,
    PENDING,
    InboxBase,
    InboxDeletionRow,
    InboxEventRow,
    InboxHistoryRow,
    InboxRow,
)
from training.runtime.store_cache import StoreCache

MAX_LIMIT = 200
MAX_INCIDENT_ROWS = 20_000  # as many as POST /analytics takes in one request


class InboxDatabaseError(RuntimeError):
    """The inbox database cannot be opened."""


def _insert_ignore(s: Session, table: Table, values: dict[str, Any], keys: tuple[str, ...]) -> bool:
    """Insert `values` unless a row with the same `keys` exists (or is being inserted by a concurrent
    transaction, which this waits for); True when this call inserted it."""
    dialect = s.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        make = sqlite_insert if dialect == "sqlite" else pg_insert
        # RETURNING tells whether a row was inserted (rowcount is not reliable here across drivers).
        stmt = make(table).values(**values).on_conflict_do_nothing(index_elements=list(keys))
        return s.execute(stmt.returning(table.c[keys[0]])).first() is not None
    try:
        with s.begin_nested():
            s.execute(insert(table).values(**values))
        return True
    except IntegrityError:
        return False


class InboxStore:
    """Record VK's comment events, keep their classification and auto-hide outcome, list them for /inbox."""

    def __init__(self, url: str, *, create: bool = True):
        try:
            self.engine = make_engine(url)
            if create:
                create_tables(self.engine, InboxBase.metadata)
        except (SQLAlchemyError, ValueError, OSError) as exc:  # OSError: a SQLite directory that cannot be made
            raise InboxDatabaseError(
                f"cannot open the inbox database ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
            ) from exc
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self.hides = HideQueue(self._session)

    def close(self) -> None:
        self.engine.dispose()

    # ---------------------------------------------------------------------------------------- recording
    @staticmethod
    def _where(ref: CommentRef) -> list[Any]:
        return [getattr(InboxRow, k) == getattr(ref, k) for k in COMMENT_KEY]

    @staticmethod
    def _locked(s: Session, ref: CommentRef) -> InboxRow | None:
        return s.execute(select(InboxRow).where(*InboxStore._where(ref)).with_for_update()).scalar_one_or_none()

    @staticmethod
    def _claim_event(s: Session, group_id: int, event_id: str | None, event_type: str, now: datetime) -> bool:
        """True for the first delivery of `event_id` (always True without an id: old API versions)."""
        if event_id is None:
            return True
        values = {"group_id": group_id, "event_id": event_id, "type": event_type, "received_at": now}
        return _insert_ignore(s, InboxEventRow.__table__, values, ("group_id", "event_id"))  # type: ignore[arg-type]

    @staticmethod
    def _seen(s: Session, group_id: int, event_id: str) -> Recorded:
        row = s.get(InboxEventRow, (group_id, event_id))
        return Recorded(DUPLICATE, row.inbox_id if row is not None else None, False)

    @staticmethod
    def _link_event(s: Session, group_id: int, event_id: str | None, inbox_id: int) -> None:
        if event_id is not None:
            s.execute(
                update(InboxEventRow)
                .where(InboxEventRow.group_id == group_id, InboxEventRow.event_id == event_id)
                .values(inbox_id=inbox_id)
            )

    def record_comment(
        self, comment: IncomingComment, event_type: str, event_id: str | None = None, mode: str = MODE_NEW
    ) -> Recorded:
        """Store a new, edited or restored comment (see the module docstring for retries and races)."""
        ref, now = comment.ref, datetime.now(UTC)
        status = PENDING if comment.text.strip() else EMPTY
        with self._session.begin() as s:
            if not self._claim_event(s, ref.group_id, event_id, event_type, now):
                return self._seen(s, ref.group_id, event_id or "")
            values = {
                **{k: getattr(ref, k) for k in COMMENT_KEY},
                "from_id": comment.from_id,
                "date": as_utc(comment.date),
                "text": comment.text,
                "version": 1,
                "last_event_type": event_type,
                "status": status,
                "received_at": now,
                "updated_at": now,
                "deleted": False,
                "hide_attempts": 0,
            }
            inserted = _insert_ignore(s, InboxRow.__table__, values, COMMENT_KEY)  # type: ignore[arg-type]
            row = self._locked(s, ref)
            assert row is not None  # inserted now or before, and rows are never removed
            outcome = NEW if inserted else UNCHANGED
            if inserted:
                self._apply_early_delete(s, row, mode)
            if not inserted and mode != MODE_NEW and row.text != comment.text:
                s.add(
                    InboxHistoryRow(
                        inbox_id=row.id,
                        changed_at=now,
                        event_type=event_type,
                        version=row.version,
                        old_text=row.text,
                        old_result=row.result,
                        old_model_version=row.model_version,
                    )
                )
                row.text, row.version, row.status, row.edited_at = comment.text, row.version + 1, status, now
                row.result = row.model_version = row.category = row.action = row.topic = row.error = None
                row.urgent = row.classified_at = None
                if row.hide_status == HIDE_DUE:  # not claimed yet: the new text gets its own decision
                    row.hide_status = None
                outcome = EDITED
            if not inserted and mode == MODE_RESTORE and row.deleted:
                row.deleted, row.deleted_at, row.deleter_id = False, None, None
                outcome = RESTORED if outcome == UNCHANGED else outcome
            if not inserted:
                row.last_event_type, row.updated_at = event_type, now
            self._link_event(s, ref.group_id, event_id, row.id)
            return Recorded(outcome, row.id, row.status == PENDING)

    def record_delete(
        self, ref: CommentRef, event_type: str, event_id: str | None = None, deleter_id: int | None = None
    ) -> Recorded:
        """Mark a stored comment deleted (its text and result stay); an unknown comment is only noted."""
        now = datetime.now(UTC)
        with self._session.begin() as s:
            if not self._claim_event(s, ref.group_id, event_id, event_type, now):
                return self._seen(s, ref.group_id, event_id or "")
            row = self._locked(s, ref)
            if row is None:  # the comment comes later (or never): keep the delete for it
                values = {**{k: getattr(ref, k) for k in COMMENT_KEY}, "deleted_at": now, "deleter_id": deleter_id}
                _insert_ignore(s, InboxDeletionRow.__table__, {**values, "event_type": event_type}, COMMENT_KEY)  # type: ignore[arg-type]
                return Recorded(UNKNOWN_COMMENT, None, False)
            outcome = UNCHANGED
            if not row.deleted:
                row.deleted, row.deleted_at, row.deleter_id = True, now, deleter_id
                outcome = DELETED
            row.last_event_type, row.updated_at = event_type, now
            self._link_event(s, ref.group_id, event_id, row.id)
            return Recorded(outcome, row.id, False)

    @staticmethod
    def _apply_early_delete(s: Session, row: InboxRow, mode: str) -> None:
        """A comment just stored whose delete came first is stored deleted; a restore cancels that delete."""
        key = [getattr(InboxDeletionRow, k) == getattr(row, k) for k in COMMENT_KEY]
        early = s.execute(select(InboxDeletionRow).where(*key).with_for_update()).scalar_one_or_none()
        if early is None:
            return
        if mode != MODE_RESTORE:
            row.deleted, row.deleted_at, row.deleter_id = True, early.deleted_at, early.deleter_id
        s.execute(delete(InboxDeletionRow).where(*key))

    # ---------------------------------------------------------------------------------------- classification
    def pending(self, limit: int = 64) -> list[PendingComment]:
        """Rows waiting for a result, oldest first (also those left by a restart or a model not yet loaded)."""
        with self._session() as s:
            rows = s.execute(
                select(InboxRow.id, InboxRow.version, InboxRow.text)
                .where(InboxRow.status == PENDING)
                .order_by(InboxRow.id)
                .limit(limit)
            ).all()
            return [PendingComment(r.id, r.version, r.text) for r in rows]

    def _finish(self, inbox_id: int, version: int, hide: bool = False, **values: Any) -> bool:
        now = datetime.now(UTC)
        with self._session.begin() as s:
            done = s.execute(
                update(InboxRow)
                .where(InboxRow.id == inbox_id, InboxRow.version == version, InboxRow.status == PENDING)
                .values(updated_at=now, classified_at=now, **values)
            )
            if done.rowcount and hide:  # type: ignore[attr-defined]
                s.execute(
                    update(InboxRow)
                    .where(InboxRow.id == inbox_id, InboxRow.hide_status.is_(None), InboxRow.deleted.is_(False))
                    .values(hide_status=HIDE_DUE)
                )
            return bool(done.rowcount)  # type: ignore[attr-defined]

    def save_result(
        self, inbox_id: int, version: int, result: dict[str, Any], model_version: str, *, hide: bool = False
    ) -> bool:
        """Store the result computed on text `version`; False (nothing written) when the text changed since.
        `hide`: the result calls for the auto-hide (on, and a moderation action): the row becomes due."""
        return self._finish(
            inbox_id,
            version,
            hide,
            status=CLASSIFIED,
            error=None,
            result=result,
            model_version=model_version,
            category=result.get("category"),
            action=result.get("action"),
            topic=result.get("topic"),
            urgent=bool(result.get("urgent")),
        )

    def save_failure(self, inbox_id: int, version: int, error: str) -> bool:
        """The model could not classify this text (kept as failed until the next edit)."""
        return self._finish(inbox_id, version, status=FAILED, error=error[:300])

    # ---------------------------------------------------------------------------------------- reading
    @staticmethod
    def _filtered(query: Select[Any], f: InboxFilter) -> Select[Any]:
        for column in ("category", "action", "topic", "urgent", "group_id", "kind", "status", "deleted"):
            value = getattr(f, column)
            if value is not None:
                query = query.where(getattr(InboxRow, column) == value)
        if f.date_from is not None:
            query = query.where(InboxRow.date >= as_utc(f.date_from))
        if f.date_to is not None:
            query = query.where(InboxRow.date < as_utc(f.date_to))
        return query

    def list(self, f: InboxFilter | None = None, limit: int = 50, offset: int = 0) -> tuple[int, list[dict[str, Any]]]:
        """(total matching, one page of records), newest comment first."""
        f = f or InboxFilter()
        limit = max(1, min(limit, MAX_LIMIT))
        with self._session() as s:
            total = s.execute(self._filtered(select(func.count()).select_from(InboxRow), f)).scalar_one()
            rows = s.execute(
                self._filtered(select(InboxRow), f)
                .order_by(InboxRow.date.desc(), InboxRow.id.desc())
                .limit(limit)
                .offset(max(0, offset))
            ).scalars()
            return int(total), [record_dict(r) for r in rows]

    def incident_rows(
        self, f: InboxFilter, limit: int = MAX_INCIDENT_ROWS
    ) -> tuple[builtins.list[dict[str, Any]], bool]:
        """The classified, not deleted comments matching `f` as incident rows (training/runtime/incidents:
        id, text, timestamp, topic, urgent, action), the newest `limit` of them; True when more matched."""
        with self._session() as s:
            query = self._filtered(select(InboxRow), f).where(
                InboxRow.status == CLASSIFIED, InboxRow.deleted.is_(False)
            )
            found = list(s.execute(query.order_by(InboxRow.date.desc(), InboxRow.id.desc()).limit(limit + 1)).scalars())
            rows = [
                {
                    "id": r.id,
                    "text": r.text,
                    "timestamp": iso_or_none(r.date),
                    "topic": r.topic,
                    "urgent": bool(r.urgent),
                    "action": r.action,
                }
                for r in found[:limit]
            ]
            return rows, len(found) > limit

    def get(self, inbox_id: int) -> dict[str, Any] | None:
        """One record with its edit history (oldest first)."""
        with self._session() as s:
            row = s.get(InboxRow, inbox_id)
            if row is None:
                return None
            history = s.execute(
                select(InboxHistoryRow).where(InboxHistoryRow.inbox_id == inbox_id).order_by(InboxHistoryRow.id)
            ).scalars()
            record = record_dict(row)
            record["history"] = [
                {
                    "changed_at": iso_or_none(h.changed_at),
                    "event_type": h.event_type,
                    "version": h.version,
                    "old_text": h.old_text,
                    "old_result": h.old_result,
                    "old_model_version": h.old_model_version,
                }
                for h in history
            ]
            return record

    def count_events(self) -> int:
        with self._session() as s:
            return int(s.execute(select(func.count()).select_from(InboxEventRow)).scalar_one())


_stores: StoreCache[InboxStore] = StoreCache(InboxStore)


def inbox_store_for(url: str) -> InboxStore:
    """One store (engine + pool) per URL per process, created on first use."""
    return _stores.get(url)
