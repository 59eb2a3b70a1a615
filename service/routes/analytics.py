"""POST /analytics: classify a timestamped batch and return per-day topic counts, category shares,
urgent comment ids, topic spikes (the statistical test is returned in `method`) and incidents (complaints
about one problem grouped, each with its answer deadline; the rule is returned in `incidents.method`)."""

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
from training.runtime.analytics import AnalyticsError, analyze, build_frame, check_span, parse_timestamp
from training.runtime.batch import classify_in_chunks
from training.runtime.incidents import IncidentError, IncidentParams
from training.runtime.spikes import SpikeParams

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


class IncidentOptions(BaseModel):
    """Optional settings of the incident grouping; deadlines come from the taxonomy."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"window_hours": 48, "min_comments": 2, "now": "2025-01-26T12:00:00+03:00"}]}
    )

    window_hours: float = Field(
        default=IncidentParams.window_hours, gt=0, le=720, description="an incident spans at most this"
    )
    min_comments: int = Field(
        default=IncidentParams.min_comments, ge=1, le=MAX_ANALYTICS_COMMENTS, description="listed from this size"
    )
    now: str | None = Field(default=None, description="ISO 8601; overdue is judged against it (default: last comment)")

    @field_validator("now")
    @classmethod
    def _iso(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                parse_timestamp(v)
            except (ValueError, TypeError) as exc:
                raise ValueError("now is not ISO 8601 (e.g. 2025-01-26T12:00:00+03:00)") from exc
        return v


class AnalyticsRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    comments: list[AnalyticsComment] = Field(min_length=1, max_length=MAX_ANALYTICS_COMMENTS)
    spike: SpikeOptions | None = None
    incidents: IncidentOptions | None = None


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


class IncidentItem(BaseModel):
    id: str = Field(description="stable for the same input: topic, first comment and its time")
    topic: str
    route: str | None
    n_comments: int
    comment_ids: list[str | int] = Field(description="ids (positions when no id was sent), in time order")
    comment_indexes: list[int] = Field(description="positions in the request, in time order")
    first: str
    last: str
    typical_id: str | int = Field(description="the most typical comment (highest mean similarity to the others)")
    typical_index: int
    address: str | None = Field(description="normalised street and house, e.g. «ленин 5», when one was named")
    urgent: bool
    answer_hours: float
    deadline: str = Field(description="first + answer_hours")
    overdue: bool = Field(description="the reference time is past the deadline")


class Incidents(BaseModel):
    method: Method
    reference_time: str | None
    n_incidents: int = Field(description="all incidents, single comments included")
    n_single: int = Field(description="incidents smaller than min_comments, counted but not listed")
    n_single_overdue: int
    n_without_time: int
    items: list[IncidentItem] = Field(description="incidents of at least min_comments, largest first")


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
    incidents: Incidents


def _given_id(req: AnalyticsRequest, index: int) -> str | int:
    given = req.comments[index].id
    return given if given is not None else index


def _incidents(summary: dict[str, Any], req: AnalyticsRequest) -> dict[str, Any]:
    """The runtime's incidents (ids are request positions) with the caller's ids beside the positions."""
    for item in summary["items"]:
        item["comment_indexes"] = item["comment_ids"]
        item["comment_ids"] = [_given_id(req, i) for i in item["comment_indexes"]]
        item["typical_index"] = item["typical_id"]
        item["typical_id"] = _given_id(req, item["typical_index"])
    return summary


def _compute(loaded: LoadedModel, req: AnalyticsRequest) -> dict[str, Any]:
    """CPU-bound: runs in the threadpool so the event loop keeps serving other requests."""
    texts = [c.text for c in req.comments]
    results = classify_in_chunks(loaded.model, texts)
    frame = build_frame(results, [c.timestamp for c in req.comments], ids=list(range(len(texts))), texts=texts)
    params = SpikeParams(**req.spike.model_dump()) if req.spike else SpikeParams()
    options = req.incidents or IncidentOptions()
    incidents = IncidentParams(window_hours=options.window_hours, min_comments=options.min_comments)
    now = parse_timestamp(options.now) if options.now else None
    summary = analyze(frame, params=params, incidents=incidents, now=now).as_dict(include_texts=False)
    summary["incidents"] = _incidents(summary["incidents"], req)
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


def _stream_error(exc: AnalyticsError | IncidentError) -> dict[str, Any]:
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
    summary="Аналитика потока: темы по дням, доли категорий, срочные, всплески, инциденты",
)
async def analytics(
    req: AnalyticsRequest,
    loaded: Annotated[LoadedModel, Depends(get_loaded_model)],
    settings: Annotated[Settings, Depends(settings_dep)],
) -> dict[str, Any]:
    """Per-day topic counts, category shares, urgent ids, spikes and incidents of one timestamped batch; the
    spike test comes back in `method`, the incident rule in `incidents.method`. Texts are not echoed
    (personal data)."""
    check_limits(req, settings)
    try:
        return await run_in_threadpool(_compute, loaded, req)
    except (AnalyticsError, IncidentError) as exc:  # the runtime's own checks (span, calendar): 422, not 500
        raise RequestValidationError([_stream_error(exc)]) from exc
