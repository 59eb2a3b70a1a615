"""Moderators' corrections: POST /feedback, GET /feedback/export (corpus CSV), GET /feedback/{id}.

All three require X-API-Key when API_KEYS is set: the records hold comment texts (personal data).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, create_model, field_validator
from pydantic.config import JsonDict

from service.deps import require_api_key, settings_dep
from service.limits import raise_for, text_size_errors
from service.schemas import check_text_characters
from service.settings import Settings
from training.runtime.feedback.rules import TOPIC_KEY
from training.runtime.feedback.store import FeedbackError, FeedbackStore, store_for
from training.runtime.taxonomy import Taxonomy, default_taxonomy

router = APIRouter(tags=["feedback"])


def _build_feedback_model(taxonomy: Taxonomy) -> type[BaseModel]:
    """The request model, its flag and urgency fields named by the taxonomy (no label literals here). The
    consistency of the labels is the feedback store's rule (training/runtime/feedback/rules.py)."""
    urgent = taxonomy.urgent

    def strip_required(value: str, info: ValidationInfo) -> str:
        value = value.strip()
        if not value:
            raise ValueError(f"{info.field_name} must not be empty")
        return value

    fields: dict[str, Any] = {
        "id": (str, Field(max_length=200, description="id комментария")),
        "text": (str, Field(description="текст комментария")),
        **{f: (bool, Field(description=f"флаг {f}: true/false или 1/0")) for f in taxonomy.flags},
        TOPIC_KEY: (str | None, Field(default=None, description="тема (только для комментариев с вопросом)")),
        urgent: (bool, Field(default=False, description="срочно: угроза жизни, здоровью или имуществу")),
        "moderator": (str, Field(max_length=200, description="имя модератора")),
    }
    example: JsonDict = {
        "id": "c1",
        "text": "Третий день не вывозят мусор на Ленина 5, когда уберут?",
        **{f: 0 for f in taxonomy.flags},
        TOPIC_KEY: taxonomy.topic_ids[0],
        urgent: 0,
        "moderator": "Иванова",
    }
    return create_model(
        "FeedbackIn",
        __config__=ConfigDict(extra="forbid", json_schema_extra={"examples": [example]}),
        # The text rule of /classify and /analytics (service/schemas.py), first: a lone surrogate is reported
        # at its position in the text as sent, before the strip.
        __validators__={
            "_characters": field_validator("text")(check_text_characters),
            "_strip": field_validator("id", "text", "moderator")(strip_required),
        },
        **fields,
    )


if TYPE_CHECKING:
    FeedbackIn = BaseModel  # built at runtime from the taxonomy; to the type checker, some BaseModel
else:
    FeedbackIn = _build_feedback_model(default_taxonomy())


def get_store(request: Request, settings: Settings = Depends(settings_dep)) -> FeedbackStore:
    """The app's store if app.py created one, else one per DATABASE_URL created on first use."""
    store = getattr(request.app.state, "feedback_store", None)
    if store is None:
        store = store_for(settings.database_url)
        request.app.state.feedback_store = store
    return store


@router.post(
    "/feedback", dependencies=[Depends(require_api_key)], summary="Сохранить исправленную разметку комментария"
)
def post_feedback(
    item: FeedbackIn = Body(...),
    store: FeedbackStore = Depends(get_store),
    settings: Settings = Depends(settings_dep),
) -> dict[str, Any]:
    """Upsert by comment id; every change is kept in the history with the moderator and the time."""
    data = item.model_dump()
    raise_for(text_size_errors([data["text"]], settings, loc=lambda _: ("body", "text")))
    try:
        return store.upsert(data["id"], data["text"], {k: data[k] for k in store.label_keys}, data["moderator"])
    except FeedbackError as exc:
        raise RequestValidationError(
            [{"loc": ("body", field), "type": "value_error", "msg": message} for field, message in exc.problems]
        ) from exc


@router.get(
    "/feedback/export",
    dependencies=[Depends(require_api_key)],
    summary="Все исправления в формате data/comments.csv (split = train)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def export_feedback(store: FeedbackStore = Depends(get_store)) -> Response:
    """Cells a spreadsheet would evaluate as a formula (=, +, -, @, tab, CR first) start with an apostrophe;
    `python -m training retrain --feedback` drops it again."""
    return Response(
        content=store.export_csv(for_spreadsheet=True),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="feedback.csv"'},
    )


@router.get(
    "/feedback/{comment_id}",
    dependencies=[Depends(require_api_key)],
    summary="Текущая разметка комментария и история изменений",
)
def get_feedback(comment_id: str, store: FeedbackStore = Depends(get_store)) -> dict[str, Any]:
    record = store.get(comment_id)
    if record is None:
        raise HTTPException(status_code=404, detail=f"no feedback for comment id {comment_id!r}")
    return record
