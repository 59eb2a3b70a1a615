"""The auto-hide queue, kept in the inbox row itself so that a restart loses none.

A result saved for moderation while auto-hide is on marks its row "due" (InboxStore.save_result, in the same
transaction); a worker claims a due row ("pending", once, across workers and processes) before calling VK,
then stores VK's answer ("hidden" or "failed"). A claim that a dead process left behind is taken again once
it is older than `stale_before` (the caller's bound: the longest a VK call can take, twice over). An edit
before the claim clears "due" (InboxStore.record_comment): the new text gets its own decision.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from training.runtime.inbox.records import CommentRef, as_utc
from training.runtime.inbox.table import COMMENT_KEY, HIDE_DUE, HIDE_PENDING, InboxRow


class HideQueue:
    """The due, claimed and finished auto-hides of one inbox database (`InboxStore.hides`)."""

    def __init__(self, session: sessionmaker[Session]) -> None:
        self._session = session

    @staticmethod
    def _claimable(stale_before: datetime | None) -> Any:
        """Due rows, and claims older than `stale_before` (their worker died before storing VK's answer)."""
        due = InboxRow.hide_status == HIDE_DUE
        if stale_before is None:
            return and_(due, InboxRow.deleted.is_(False))
        stale = and_(InboxRow.hide_status == HIDE_PENDING, InboxRow.hide_at < as_utc(stale_before))
        return and_(or_(due, stale), InboxRow.deleted.is_(False))

    def due(self, stale_before: datetime | None = None, limit: int = 64) -> list[int]:
        """Ids of the rows whose auto-hide is due (or was abandoned before `stale_before`), oldest first."""
        with self._session() as s:
            query = select(InboxRow.id).where(self._claimable(stale_before)).order_by(InboxRow.id).limit(limit)
            return [int(i) for i in s.execute(query).scalars()]

    def open_claims(self) -> int:
        """Claims still waiting for VK's answer (live ones, or ones a dead worker left behind)."""
        with self._session() as s:
            query = select(func.count()).select_from(InboxRow).where(InboxRow.hide_status == HIDE_PENDING)
            return int(s.execute(query).scalar_one())

    def claim(self, inbox_id: int, stale_before: datetime | None = None) -> CommentRef | None:
        """Take the auto-hide of a due row (once, across workers); None when it is not due (another worker
        has it, it was done, the comment was deleted or edited), unless its claim is older than
        `stale_before`."""
        now = datetime.now(UTC)
        with self._session.begin() as s:
            done = s.execute(
                update(InboxRow)
                .where(InboxRow.id == inbox_id, self._claimable(stale_before))
                .values(hide_status=HIDE_PENDING, hide_at=now, updated_at=now)
            )
            if not done.rowcount:  # type: ignore[attr-defined]
                return None
            row = s.get(InboxRow, inbox_id)
            assert row is not None
            return CommentRef(*(getattr(row, k) for k in COMMENT_KEY))

    def save(self, inbox_id: int, status: str, method: str, answer: dict[str, Any], attempts: int) -> None:
        """The auto-hide decision's outcome and VK's (last) answer."""
        now = datetime.now(UTC)
        with self._session.begin() as s:
            s.execute(
                update(InboxRow)
                .where(InboxRow.id == inbox_id)
                .values(
                    hide_status=status,
                    hide_method=method,
                    hide_answer=answer,
                    hide_attempts=attempts,
                    hide_at=now,
                    updated_at=now,
                )
            )
