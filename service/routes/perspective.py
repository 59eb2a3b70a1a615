"""POST /v1alpha1/comments:analyze: Perspective's AnalyzeComment, so that a Perspective client only changes its
base URL. Thin: parse, let the runtime core check and translate (training/runtime/perspective.py), classify
through the micro-batcher like /classify.

Every refusal of this route leaves in Google's error shape (`{"error": {code, message, status, details}}`), not
the service's own `{"error": "..."}`: the route class below converts validation errors and HTTP exceptions
for this router only; the app's global handlers stay as they are.

Nothing of the text is kept: no database, no inbox, no log line (the access log gets the count only; with
LOG_TEXTS=1 the text is logged like /classify's, except when the request says `doNotStore: true`).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from email.message import Message
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.auth_guard import query_key
from service.batcher import MicroBatcher, get_batcher
from service.deps import api_key_refusal, get_loaded_model, settings_dep
from service.model_holder import LoadedModel
from service.perspective_schemas import (
    AnalyzeCommentRequest,
    AnalyzeCommentResponse,
    GoogleErrorResponse,
    google_validation_error,
)
from service.responses import FastJSONResponse
from service.settings import Settings
from training.runtime.perspective import (
    AttributeRequest,
    PerspectiveError,
    analyze_response,
    google_error,
    plan_analysis,
)

PATH = "/v1alpha1/comments:analyze"
API_KEY_INVALID = "API key not valid. Please pass a valid API key."


def _is_json(content_type: str | None) -> bool:
    message = Message()
    message["content-type"] = content_type or ""
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


class GoogleErrorsRoute(APIRoute):
    """This router's refusals in Google's error shape: a body that is not JSON, pydantic's validation errors,
    and HTTP exceptions raised by dependencies (the key, no model loaded)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def google_errors(request: Request) -> Response:
            if not _is_json(request.headers.get("content-type")):
                message = "Invalid JSON payload received. Content-Type must be application/json."
                return JSONResponse(google_error(400, message), status_code=400)
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return JSONResponse(google_validation_error(exc.errors()), status_code=400)
            except StarletteHTTPException as exc:
                message = exc.detail if isinstance(exc.detail, str) else "error"
                return JSONResponse(google_error(exc.status_code, message), status_code=exc.status_code)

        return google_errors


router = APIRouter(tags=["perspective"], route_class=GoogleErrorsRoute)


def require_perspective_key(request: Request, settings: Annotated[Settings, Depends(settings_dep)]) -> None:
    """The key as Perspective clients send it (`?key=`) or as our other clients do (X-API-Key); the key guard
    (service/auth_guard.py) checks it first, this is the route's own check (defence in depth)."""
    given = request.headers.get("x-api-key", "").encode("latin-1") or query_key(request.scope)
    if api_key_refusal(given, settings) is not None:
        raise StarletteHTTPException(status_code=401, detail=API_KEY_INVALID)


@router.post(
    PATH,
    response_model=AnalyzeCommentResponse,
    responses={
        400: {"model": GoogleErrorResponse, "description": "Perspective's INVALID_ARGUMENT (errorType in details)"},
        401: {"model": GoogleErrorResponse, "description": "missing or invalid key (`?key=` or X-API-Key)"},
        503: {"model": GoogleErrorResponse, "description": "no model loaded yet"},
    },
    dependencies=[Depends(require_perspective_key)],
    summary="Perspective API: оценить комментарий (TOXICITY, PROFANITY, INSULT, …) — совместимо с comments:analyze",
)
async def analyze_comment(
    req: AnalyzeCommentRequest,
    request: Request,
    loaded: Annotated[LoadedModel, Depends(get_loaded_model)],
    settings: Annotated[Settings, Depends(settings_dep)],
    batcher: Annotated[MicroBatcher, Depends(get_batcher)],
) -> Any:
    """Perspective's answer for one comment, scored by the same model call as /classify."""
    text = (req.comment.text if req.comment else None) or ""
    requested = {
        name: AttributeRequest(p.score_type, p.score_threshold) if p else AttributeRequest()
        for name, p in (req.requested_attributes or {}).items()
    }
    try:
        plan = plan_analysis(
            text,
            requested,
            max_chars=settings.max_text_chars,
            text_type=req.comment.type if req.comment else None,
            languages=req.languages or (),
            drop_unsupported=bool(req.drop_unsupported_attributes),
        )
    except PerspectiveError as exc:
        return JSONResponse(exc.body(), status_code=exc.code)
    result = None
    if plan.attributes:
        request.state.n_comments = 1
        if settings.log_texts and not req.do_not_store:
            request.state.log_texts = [text]
        [result] = await batcher.classify(loaded.model, [text])
        request.app.state.metrics.observe_results([result["category"]])
    body = analyze_response(
        result, text, plan, span_annotations=bool(req.span_annotations), client_token=req.client_token
    )
    return FastJSONResponse(body)
