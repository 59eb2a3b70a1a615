"""GET /inbox: the comments VK pushed (service/routes/vk.py), with their results, newest first, paginated.

Requires X-API-Key when API_KEYS is set (the rows hold comment texts: personal data). Filters are checked
against the taxonomy (422 for an unknown category, action or topic); dates bound the comment's own date.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.exc import SQLAlchemyError

from service.deps import require_api_key
from service.schemas import ErrorResponse
from service.vk_schemas import KINDS, comment_url
from service.vk_worker import get_worker, inbox_store
from training.runtime.inbox.records import InboxFilter, as_utc
from training.runtime.inbox.store import MAX_INCIDENT_ROWS, MAX_LIMIT, InboxDatabaseError, InboxStore
from training.runtime.inbox.table import STATUSES
from training.runtime.incidents import IncidentError, IncidentParams, group_incidents
from training.runtime.taxonomy import default_taxonomy

router = APIRouter(tags=["inbox"])
MAX_VK_ID = 2**62  # VK's ids fit in 64-bit integers (SQLite and PostgreSQL refuse larger ones: a 422, not a 500)
TAXONOMY = default_taxonomy()
CHOICES: dict[str, tuple[str, ...]] = {
    "category": TAXONOMY.categories,
    "action": TAXONOMY.actions,
    "topic": TAXONOMY.topic_ids,
    "kind": tuple(KINDS),
    "status": STATUSES,
}


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "missing or invalid X-API-Key (when API_KEYS is set)"},
    422: {"model": ErrorResponse, "description": "unknown filter value, a bad date or page"},
    503: {"model": ErrorResponse, "description": "the inbox database is unavailable"},
}


class CommentRange(BaseModel):
    """Which stored comments: their date range (from ≤ date < to, in UTC) and community."""

    model_config = ConfigDict(extra="forbid")

    date_from: datetime | None = Field(default=None, description="дата комментария не раньше (ISO 8601, UTC)")
    date_to: datetime | None = Field(default=None, description="дата комментария раньше (ISO 8601, UTC)")
    group_id: int | None = Field(default=None, ge=1, le=MAX_VK_ID, description="id сообщества VK")

    @field_validator("date_from", "date_to")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else as_utc(value)  # outside the calendar in UTC: a 422

    def filters(self) -> InboxFilter:
        return InboxFilter(date_from=self.date_from, date_to=self.date_to, group_id=self.group_id)


def _choice(field: str, description: str) -> Any:
    return Field(default=None, description=description, json_schema_extra={"enum": list(CHOICES[field])})


class InboxQuery(CommentRange):
    """The filters of GET /inbox (all optional) and the page."""

    category: str | None = _choice("category", "основная категория")
    action: str | None = _choice("action", "действие")
    topic: str | None = _choice("topic", "тема")
    urgent: bool | None = Field(default=None, description="только срочные (true) или только несрочные (false)")
    kind: str | None = _choice("kind", "где оставлен: стена, фото, видео, обсуждение, товар")
    status: str | None = _choice("status", "pending — ждёт модели, classified, failed, empty — без текста")
    deleted: bool | None = Field(default=None, description="только удалённые (true) или только неудалённые (false)")
    limit: int = Field(default=50, ge=1, le=MAX_LIMIT, description="комментариев на странице")
    offset: int = Field(default=0, ge=0, le=10_000_000, description="сколько пропустить (постранично)")

    @field_validator("category", "action", "topic", "kind", "status")
    @classmethod
    def _known(cls, value: str | None, info: Any) -> str | None:
        if value is not None and value not in CHOICES[info.field_name]:
            raise ValueError(f"unknown {info.field_name} {value!r}; expected one of {list(CHOICES[info.field_name])}")
        return value

    @model_validator(mode="after")
    def _range(self) -> InboxQuery:
        if self.date_from is not None and self.date_to is not None and self.date_from > self.date_to:
            raise ValueError("date_from must not be after date_to")
        return self

    def filters(self) -> InboxFilter:
        return InboxFilter(**self.model_dump(exclude={"limit", "offset"}))


class InboxHide(BaseModel):
    status: str = Field(
        description="due (ждёт очереди), pending (идёт запрос к VK), hidden (удалён через API VK) или failed"
    )
    method: str | None = Field(description="метод API VK, например wall.deleteComment")
    answer: dict[str, Any] | None = Field(description="ответ VK как есть (без ключа доступа)")
    attempts: int
    at: str | None


class InboxItem(BaseModel):
    id: int
    group_id: int
    kind: str = Field(description="wall, photo, video, board или market")
    owner_id: int = Field(description="владелец записи, фото, видео, темы или товара")
    object_id: int = Field(description="id записи (post_id), фото, видео, темы или товара")
    comment_id: int
    from_id: int | None
    date: str = Field(description="дата комментария (UTC)")
    text: str
    version: int = Field(description="1 + число правок текста")
    last_event_type: str
    status: str
    error: str | None
    result: dict[str, Any] | None = Field(description="результат как у /classify; null, пока не классифицирован")
    model_version: str | None
    category: str | None
    action: str | None
    topic: str | None
    urgent: bool | None
    received_at: str
    updated_at: str
    edited_at: str | None
    classified_at: str | None
    deleted: bool
    deleted_at: str | None
    deleter_id: int | None
    hide: InboxHide | None = Field(description="автоскрытие (VK_AUTO_HIDE=1): решение и ответ VK")
    url: str | None = Field(default=None, description="комментарий на vk.com")
    history: list[dict[str, Any]] | None = Field(default=None, description="прежние тексты (только GET /inbox/{id})")


EXAMPLE_ITEM: dict[str, Any] = {
    "id": 17,
    "group_id": 123456,
    "kind": "wall",
    "owner_id": -123456,
    "object_id": 321,
    "comment_id": 1234,
    "from_id": 56789,
    "date": "2024-12-02T04:00:00+00:00",
    "text": "[club123456|Администрация], когда отремонтируют дорогу на улице Ленина?",
    "version": 1,
    "last_event_type": "wall_reply_new",
    "status": "classified",
    "error": None,
    "result": {"category": "actionable", "action": "answer", "topic": "roads", "urgent": False},
    "model_version": "20250101-120000-abc123",
    "category": "actionable",
    "action": "answer",
    "topic": "roads",
    "urgent": False,
    "received_at": "2024-12-02T04:00:01+00:00",
    "updated_at": "2024-12-02T04:00:01+00:00",
    "edited_at": None,
    "classified_at": "2024-12-02T04:00:01+00:00",
    "deleted": False,
    "deleted_at": None,
    "deleter_id": None,
    "hide": None,
    "url": "https://vk.com/wall-123456_321?reply=1234",
}


class InboxPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"total": 1, "limit": 50, "offset": 0, "items": [EXAMPLE_ITEM]}]}
    )

    total: int = Field(description="сколько комментариев подходит под фильтры")
    limit: int
    offset: int
    items: list[InboxItem] = Field(description="новые сначала (по дате комментария)")


def _item(record: dict[str, Any]) -> dict[str, Any]:
    url = comment_url(record["kind"], record["owner_id"], record["object_id"], record["comment_id"])
    return {**record, "url": url}


def _unavailable(exc: Exception) -> HTTPException:
    return HTTPException(status_code=503, detail=f"the inbox database is unavailable ({type(exc).__name__})")


@router.get(
    "/inbox",
    response_model=InboxPage,
    responses=ERRORS,
    dependencies=[Depends(require_api_key)],
    summary="Входящие комментарии VK с результатами: фильтры, новые сначала, постранично",
)
async def list_inbox(request: Request, query: Annotated[InboxQuery, Query()]) -> Any:
    try:
        store = inbox_store(request.app)
        get_worker(request.app).ensure_running()  # rows a previous run left pending
        total, records = await run_in_threadpool(store.list, query.filters(), query.limit, query.offset)
    except (SQLAlchemyError, InboxDatabaseError) as exc:
        raise _unavailable(exc) from exc
    return {"total": total, "limit": query.limit, "offset": query.offset, "items": [_item(r) for r in records]}


class IncidentQuery(CommentRange):
    """Which stored comments to group (classified, not deleted) and how."""

    window_hours: float = Field(default=IncidentParams.window_hours, gt=0, le=720, description="окно инцидента, ч")
    min_comments: int = Field(
        default=IncidentParams.min_comments, ge=1, le=MAX_INCIDENT_ROWS, description="от скольких"
    )
    now: datetime | None = Field(default=None, description="просрочка — на этот момент (по умолчанию: сейчас)")

    @field_validator("now")
    @classmethod
    def _now_utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else as_utc(value)


class InboxIncident(BaseModel):
    id: str
    topic: str
    route: str | None
    n_comments: int
    comment_ids: list[int] = Field(description="id комментариев во входящих (GET /inbox/{id}), по времени")
    first: str
    last: str
    typical_id: int = Field(description="самый типичный комментарий")
    typical_text: str
    address: str | None = Field(description="нормализованные улица и дом, например «ленин 5»")
    address_text: str | None = Field(description="адрес, как его написал житель, например «ул. Ленина, д. 5»")
    urgent: bool
    answer_hours: float
    deadline: str = Field(description="первый комментарий + answer_hours")
    overdue: bool


class InboxIncidents(BaseModel):
    method: dict[str, Any] = Field(description="правило группировки и его параметры")
    reference_time: str | None
    n_comments: int = Field(description="сколько классифицированных комментариев сгруппировано")
    truncated: bool = Field(description=f"подошло больше {MAX_INCIDENT_ROWS}: взяты самые новые")
    n_incidents: int
    n_single: int
    n_single_overdue: int
    items: list[InboxIncident] = Field(description="инциденты от min_comments комментариев, крупные сначала")


def _incidents(store: InboxStore, query: IncidentQuery) -> dict[str, Any]:
    rows, truncated = store.incident_rows(query.filters())
    params = IncidentParams(window_hours=query.window_hours, min_comments=query.min_comments)
    report = group_incidents(rows, TAXONOMY, params, now=query.now or datetime.now(UTC))
    out = report.as_dict(include_texts=True)
    out.pop("n_without_time", None)  # every inbox comment has VK's date
    return {**out, "n_comments": len(rows), "truncated": truncated}


@router.get(
    "/inbox/incidents",
    response_model=InboxIncidents,
    responses=ERRORS,
    dependencies=[Depends(require_api_key)],
    summary="Инциденты во входящих: жалобы на одну проблему одним пунктом, со сроком ответа",
)
async def inbox_incidents(request: Request, query: Annotated[IncidentQuery, Query()]) -> Any:
    """The stored, classified comments grouped as POST /analytics groups them (training/runtime/incidents):
    same topic, within the window, same address or similar text; overdue is judged against `now`."""
    try:
        store = inbox_store(request.app)
        return await run_in_threadpool(_incidents, store, query)
    except (SQLAlchemyError, InboxDatabaseError) as exc:
        raise _unavailable(exc) from exc
    except IncidentError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc


@router.get(
    "/inbox/{inbox_id}",
    response_model=InboxItem,
    dependencies=[Depends(require_api_key)],
    summary="Один входящий комментарий с историей правок",
)
async def get_inbox_item(request: Request, inbox_id: Annotated[int, Path(ge=1, le=MAX_VK_ID)]) -> Any:
    try:
        record = await run_in_threadpool(inbox_store(request.app).get, inbox_id)
    except (SQLAlchemyError, InboxDatabaseError) as exc:
        raise _unavailable(exc) from exc
    if record is None:
        raise HTTPException(status_code=404, detail=f"no inbox comment {inbox_id}")
    return _item(record)
