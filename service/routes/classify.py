"""POST /classify: the integrators' contract (SPEC.md). Thin: validate, classify through the micro-batcher,
answer with orjson (the response model documents the shape; the runtime core builds it)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from service.batcher import MicroBatcher, get_batcher
from service.deps import get_loaded_model, require_api_key, require_json, settings_dep
from service.limits import batch_size_errors, raise_for, text_size_errors
from service.model_holder import LoadedModel
from service.responses import FastJSONResponse
from service.schemas import ClassifyRequest, ClassifyResponse, error_responses
from service.settings import Settings

router = APIRouter(tags=["classify"])

ERRORS = error_responses("invalid comments: the details name the index and field")


@router.post(
    "/classify",
    response_model=ClassifyResponse,
    responses=ERRORS,
    dependencies=[Depends(require_api_key), Depends(require_json)],
    summary="Классифицировать комментарии (флаги модерации, тема, срочность)",
)
async def classify(
    req: ClassifyRequest,
    request: Request,
    loaded: Annotated[LoadedModel, Depends(get_loaded_model)],
    settings: Annotated[Settings, Depends(settings_dep)],
    batcher: Annotated[MicroBatcher, Depends(get_batcher)],
) -> Any:
    """One result per comment, in order, `id` echoed; scored off the event loop together with concurrent
    requests (service/batcher.py), on the model snapshot taken when the request started."""
    request.state.n_comments = len(req.comments)
    texts = [c.text for c in req.comments]
    raise_for(batch_size_errors(len(texts), settings) + text_size_errors(texts, settings))
    if settings.log_texts:
        request.state.log_texts = texts
    results = await batcher.classify(loaded.model, texts)
    for comment, result in zip(req.comments, results, strict=True):
        result["id"] = comment.id
    request.app.state.metrics.observe_results([r["category"] for r in results])
    # Returned as a Response: FastAPI skips re-validating what the runtime core built (tests check the shape).
    return FastJSONResponse({"model_version": loaded.version, "results": results})
