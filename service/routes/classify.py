"""POST /classify: the integrators' contract (SPEC.md). Thin: validate, classify through the micro-batcher,
answer with orjson (the response model documents the shape; the runtime core builds it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from service.batcher import MicroBatcher, app_batcher
from service.deps import check_api_key, check_json, loaded_model
from service.limits import batch_size_errors, raise_for, text_size_errors
from service.model_holder import LoadedModel
from service.responses import FastJSONResponse
from service.schemas import ClassifyRequest, ClassifyResponse, error_responses
from service.settings import Settings

router = APIRouter(tags=["classify"])

ERRORS = error_responses("invalid comments: the details name the index and field")


@dataclass(frozen=True)
class ClassifyContext:
    loaded: LoadedModel
    settings: Settings
    batcher: MicroBatcher


async def classify_context(request: Request) -> ClassifyContext:
    """The key (401), the content type (415) and the model (503) checked, in that order, and what the route
    needs, in ONE dependency: FastAPI's dependency solving costs tens of µs per dependency, and this is the
    hot path (require_api_key, require_json and get_loaded_model give the same answers elsewhere)."""
    settings: Settings = request.app.state.settings
    check_api_key(request, settings)
    check_json(request)
    return ClassifyContext(loaded_model(request.app.state.holder), settings, app_batcher(request))


@router.post(
    "/classify",
    response_model=ClassifyResponse,
    responses=ERRORS,
    summary="Классифицировать комментарии (флаги модерации, тема, срочность)",
)
async def classify(
    req: ClassifyRequest, request: Request, ctx: Annotated[ClassifyContext, Depends(classify_context)]
) -> Any:
    """One result per comment, in order, `id` echoed; scored off the event loop together with concurrent
    requests (service/batcher.py), on the model snapshot taken when the request started."""
    request.state.n_comments = len(req.comments)
    texts = [c.text for c in req.comments]
    loaded, settings = ctx.loaded, ctx.settings
    raise_for(batch_size_errors(len(texts), settings) + text_size_errors(texts, settings))
    if settings.log_texts:
        request.state.log_texts = texts
    results = await ctx.batcher.classify(loaded.model, texts)
    for comment, result in zip(req.comments, results, strict=True):
        result["id"] = comment.id
    request.app.state.metrics.observe_results([r["category"] for r in results])
    # Returned as a Response: FastAPI skips re-validating what the runtime core built (tests check the shape).
    return FastJSONResponse({"model_version": loaded.version, "results": results})
