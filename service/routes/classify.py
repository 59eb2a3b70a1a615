"""POST /classify: the integrators' contract (SPEC.md). Thin: validate, one vectorised model call, answer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError

from service.deps import get_loaded_model, require_api_key, require_json, settings_dep
from service.model_holder import LoadedModel
from service.schemas import ClassifyRequest, ClassifyResponse, error_responses
from service.settings import Settings

router = APIRouter(tags=["classify"])

ERRORS = error_responses("invalid comments: the details name the index and field")


def check_limits(req: ClassifyRequest, settings: Settings) -> None:
    """The limits that come from settings (MAX_BATCH, MAX_TEXT_CHARS), reported like pydantic errors."""
    errors: list[dict[str, Any]] = []
    if len(req.comments) > settings.max_batch:
        errors.append({"loc": ("body", "comments"), "type": "too_long",
                       "msg": f"too many comments: {len(req.comments)}, the limit is {settings.max_batch}"})
    for i, c in enumerate(req.comments):
        if len(c.text) > settings.max_text_chars:
            errors.append({"loc": ("body", "comments", i, "text"), "type": "string_too_long",
                           "msg": f"text has {len(c.text)} characters, "
                                  f"the limit is {settings.max_text_chars}"})
    if errors:
        raise RequestValidationError(errors)


@router.post("/classify", response_model=ClassifyResponse, responses=ERRORS,
             dependencies=[Depends(require_api_key), Depends(require_json)],
             summary="Классифицировать комментарии (флаги модерации, тема, срочность)")
async def classify(
    req: ClassifyRequest,
    request: Request,
    loaded: Annotated[LoadedModel, Depends(get_loaded_model)],
    settings: Annotated[Settings, Depends(settings_dep)],
) -> dict[str, Any]:
    """One result per comment, in order, `id` echoed; the batch is scored in one vectorised call off the
    event loop, on the model snapshot taken when the request started."""
    request.state.n_comments = len(req.comments)
    check_limits(req, settings)
    texts = [c.text for c in req.comments]
    if settings.log_texts:
        request.state.log_texts = texts
    results = await run_in_threadpool(loaded.model.classify, texts)
    for comment, result in zip(req.comments, results, strict=True):
        result["id"] = comment.id
    request.app.state.metrics.observe_results([r["category"] for r in results])
    return {"model_version": loaded.version, "results": results}
