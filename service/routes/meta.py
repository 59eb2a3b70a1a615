"""Operational endpoints: liveness, readiness, the taxonomy, the model manifest and Prometheus metrics."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict

from service.deps import get_loaded_model
from service.model_holder import LoadedModel
from service.schemas import ErrorResponse, HealthResponse, ReadyResponse
from training.runtime.bundle import public_manifest
from training.runtime.feedback.rules import label_rules
from training.runtime.taxonomy import default_taxonomy

router = APIRouter(tags=["meta"])


class LabelsResponse(BaseModel):
    """data/taxonomy.yaml as served: flags, urgency, topics with routes, precedence, categories, actions."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"examples": [{**default_taxonomy().as_dict(), "label_rules": label_rules().as_dict()}]},
    )

    flags: list[dict[str, Any]]
    urgent: dict[str, Any]
    topics: list[dict[str, Any]]
    precedence: list[str]
    categories: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    urgent_action: str
    label_rules: dict[str, Any]  # training/runtime/feedback/rules.py: what POST /feedback and the page enforce


class VersionResponse(BaseModel):
    """The bundle manifest without file paths: version, data hash, thresholds, test metrics, libraries."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "version": "20250101-120000-abc123",
                    "created_at": "2025-01-01T12:00:00+00:00",
                    "data_hash": "abc123…",
                    "thresholds": {},
                    "test_metrics": {},
                    "library_versions": {},
                }
            ]
        },
    )

    version: str


@router.get("/health", response_model=HealthResponse, summary="Жив ли процесс (liveness)")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    response_model=ReadyResponse,
    responses={503: {"model": ReadyResponse}},
    summary="Готов ли сервис отвечать (модель загружена)",
)
async def ready(request: Request) -> Any:
    loaded = request.app.state.holder.get()
    if loaded is None:
        reason = getattr(request.app.state, "load_error", None) or "model not loaded"
        return JSONResponse(status_code=503, content={"status": "not ready", "model_version": None, "reason": reason})
    return {"status": "ready", "model_version": loaded.version, "reason": None}


@router.get("/labels", response_model=LabelsResponse, summary="Таксономия: флаги, темы, маршруты, действия")
async def labels() -> dict[str, Any]:
    return {**default_taxonomy().as_dict(), "label_rules": label_rules().as_dict()}


@router.get(
    "/version",
    response_model=VersionResponse,
    responses={503: {"model": ErrorResponse}},
    summary="Манифест обслуживаемой модели (без путей к файлам)",
)
async def version(loaded: Annotated[LoadedModel, Depends(get_loaded_model)]) -> dict[str, Any]:
    return public_manifest(loaded.manifest)


@router.get("/metrics", response_class=PlainTextResponse, summary="Метрики Prometheus")
async def metrics(request: Request) -> PlainTextResponse:
    """Counters summed over all workers; the Content-Type is prometheus_client's CONTENT_TYPE_LATEST."""
    body, content_type = request.app.state.metrics.exposition()
    return PlainTextResponse(body, media_type=content_type)
