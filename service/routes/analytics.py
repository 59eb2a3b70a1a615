"""POST /analytics: classify a timestamped batch and return per-day topic counts, category shares,
urgent comment ids and topic spikes (the statistical test is returned in `method`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.config import JsonDict

from service.deps import get_loaded_model, require_api_key, require_json, settings_dep
from service.limits import raise_for, text_size_errors
from service.model_holder import LoadedModel
from service.schemas import Comment, error_responses
from service.settings import Settings
from training.runtime.analytics import (
    AnalyticsError,
    SpikeParams,
    analyze,
    build_frame,
    check_span,
    parse_timestamp,
)
from training.runtime.batch import classify_in_chunks

MAX_ANALYTICS_COMMENTS = 20_000

router = APIRouter(tags=["analytics"])

ERRORS = error_responses("invalid comments or timestamps: the details name the index")

_EXAMPLE_COMMENT: JsonDict = {
    "id": "c1",
    "text": "Третий день не вывозят мусор на Ленина 5, контейнеры переполнены",
    "timestamp": "2025-01-25T09:15:00+03:00",
}
_EXAMPLE: JsonDict = {
    "comments": [
        _EXAMPLE_COMMENT,
        {
            "id": "c2",
            "text": "Во дворе дома 12 по Садовой сильно пахнет газом, срочно приезжайте!",
            "timestamp": "2025-01-25T10:02:00+03:00",
        },
        {"id": "c3", "text": "Спасибо за работу!", "timestamp": "2025-01-24T18:40:00+03:00"},
    ]
}


class AnalyticsComment(Comment):
    """A /classify comment (same id and text rules) with the time it was written."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE_COMMENT]})

    timestamp: str = Field(description="ISO 8601, e.g. 2025-01-25T09:15:00+03:00; the day is its own date")

    @field_validator("timestamp")
    @classmethod
    def _iso(cls, v: str) -> str:
        try:
            parse_timestamp(v)
        except (ValueError, TypeError) as exc:
            raise ValueError("timestamp is not ISO 8601 (e.g. 2025-01-25T09:15:00+03:00)") from exc
        return v


class SpikeOptions(BaseModel):
    """Optional overrides of the spike test; the defaults are the ones stated in `method`."""

    window_days: int = Field(default=SpikeParams.window_days, ge=2, le=90)
    min_history_days: int = Field(default=SpikeParams.min_history_days, ge=1, le=90)
    min_lambda: float = Field(default=SpikeParams.min_lambda, gt=0, le=100)
    alpha: float = Field(default=SpikeParams.alpha, gt=0, le=0.1)
    min_count: int = Field(default=SpikeParams.min_count, ge=1)
    min_ratio: float = Field(default=SpikeParams.min_ratio, ge=1)


class AnalyticsRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    comments: list[AnalyticsComment] = Field(min_length=1, max_length=MAX_ANALYTICS_COMMENTS)
    spike: SpikeOptions | None = None


class Method(BaseModel):
    name: str
    description: str
    params: dict[str, int | float]


class DayCounts(BaseModel):
    day: str
    counts: dict[str, int]


class DayShares(BaseModel):
    day: str
    total: int
    shares: dict[str, float]


class CategoryShares(BaseModel):
    overall: dict[str, float]
    per_day: list[DayShares]


class UrgentItem(BaseModel):
    index: int = Field(description="position in the request")
    id: str | None
    timestamp: str
    topic: str | None
    category: str
    urgent_score: float


class SpikeItem(BaseModel):
    topic: str
    day: str
    count: int
    baseline_mean: float
    expected: float
    ratio: float
    p_value: float
    history_days: int


class AnalyticsResponse(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model_version: str
    n_comments: int
    days: list[str]
    method: Method
    topic_counts: list[DayCounts]
    category_shares: CategoryShares
    urgent_ids: list[str | int] = Field(description="ids (positions when no id was sent), most recent first")
    urgent: list[UrgentItem]
    spikes: list[SpikeItem]


def _compute(loaded: LoadedModel, req: AnalyticsRequest) -> dict[str, Any]:
    """CPU-bound: runs in the threadpool so the event loop keeps serving other requests."""
    texts = [c.text for c in req.comments]
    results = classify_in_chunks(loaded.model, texts)
    frame = build_frame(results, [c.timestamp for c in req.comments], ids=list(range(len(texts))))
    params = SpikeParams(**req.spike.model_dump()) if req.spike else SpikeParams()
    summary = analyze(frame, params=params).as_dict(include_texts=False)
    urgent = []
    for u in summary["urgent"]:
        given = req.comments[u["id"]].id
        urgent.append(
            {
                "index": u["id"],
                "id": given,
                "timestamp": u["timestamp"],
                "topic": u["topic"],
                "category": u["category"],
                "urgent_score": u["urgent_score"],
            }
        )
    summary["urgent"] = urgent
    summary["urgent_ids"] = [u["id"] if u["id"] is not None else u["index"] for u in urgent]
    summary["model_version"] = loaded.version
    return summary


def _stream_error(exc: AnalyticsError) -> dict[str, Any]:
    """A problem of the batch as a whole (e.g. a span over MAX_SPAN_DAYS), in pydantic's error shape."""
    return {"loc": ("body", "comments"), "type": "value_error", "msg": str(exc)}


def span_errors(req: AnalyticsRequest) -> list[dict[str, Any]]:
    """The span of the timestamps against training.runtime.analytics.MAX_SPAN_DAYS, checked before anything
    is classified (every timestamp has already been validated as ISO 8601)."""
    try:
        check_span(parse_timestamp(c.timestamp) for c in req.comments)
    except AnalyticsError as exc:
        return [_stream_error(exc)]
    return []


def check_limits(req: AnalyticsRequest, settings: Settings) -> None:
    """Limits that come from settings, reported like pydantic errors (same shape as /classify)."""
    errors = text_size_errors([c.text for c in req.comments], settings) + span_errors(req)
    if req.spike and req.spike.min_history_days > req.spike.window_days:
        errors.append(
            {
                "loc": ("body", "spike", "min_history_days"),
                "type": "value_error",
                "msg": "min_history_days cannot exceed window_days",
            }
        )
    raise_for(errors)


@router.post(
    "/analytics",
    response_model=AnalyticsResponse,
    responses=ERRORS,
    dependencies=[Depends(require_api_key), Depends(require_json)],
    summary="Аналитика потока: темы по дням, доли категорий, срочные, всплески",
)
async def analytics(
    req: AnalyticsRequest,
    loaded: Annotated[LoadedModel, Depends(get_loaded_model)],
    settings: Annotated[Settings, Depends(settings_dep)],
) -> dict[str, Any]:
    """Per-day topic counts, category shares, urgent ids and spikes of one timestamped batch; the spike
    test and its threshold come back in `method`. Texts are not echoed (personal data)."""
    check_limits(req, settings)
    try:
        return await run_in_threadpool(_compute, loaded, req)
    except AnalyticsError as exc:  # the runtime's own checks (the span again): a 422, never a 500
        raise RequestValidationError([_stream_error(exc)]) from exc
