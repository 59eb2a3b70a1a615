"""The FastAPI application factory: `create_app()` is what `python -m service` runs (uvicorn factory=True).

The model is loaded once at start-up (lifespan) into `app.state.holder`; when that fails the app still
starts and /ready answers 503 with the reason. Every error leaves as JSON without a traceback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.logging_setup import AccessLogMiddleware, configure_logging
from service.metrics import Metrics
from service.model_holder import ModelHolder
from service.settings import Settings, get_settings

log = logging.getLogger("service.app")
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
WARMUP_TEXT = "прогрев модели: когда починят дорогу?"


def json_error(status: int, message: str, details: list[dict[str, Any]] | None = None,
               headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if details is not None:
        body["details"] = details
    body.update(extra)
    return JSONResponse(status_code=status, content=body, headers=headers)


def public_reason(message: str, settings: Settings) -> str:
    """A load error as shown to clients: the server's absolute model path replaced by MODEL_DIR."""
    return message.replace(str(settings.model_dir), "MODEL_DIR")


def load_model(app: FastAPI, version: str | None = None) -> Any:
    """Load (and warm up) a bundle into the holder; raises BundleError and keeps the old model on failure."""
    holder: ModelHolder = app.state.holder
    # The smoke classification runs before the swap and also warms pymorphy and sklearn's lazy state.
    loaded = holder.load(version, check=lambda candidate: _smoke(candidate.model))
    app.state.load_error = None
    app.state.metrics.set_model_version(loaded.version)
    return loaded


def _smoke(model: Any) -> None:
    results = model.classify([WARMUP_TEXT])
    if len(results) != 1 or "category" not in results[0]:
        raise ValueError("classify() did not return one result per text")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    try:
        loaded = await to_thread.run_sync(load_model, app)
        log.info(json.dumps({"event": "model_loaded", "model_version": loaded.version}))
    except Exception as exc:  # BundleError, but also anything else: the app must start and say why
        app.state.load_error = public_reason(str(exc), settings)
        log.error(json.dumps({"event": "model_load_failed", "reason": app.state.load_error},
                             ensure_ascii=False))
    yield


# --------------------------------------------------------------------------------------- body guard
class BodyGuardMiddleware:
    """Refuse bodies over MAX_BODY_BYTES (413) from Content-Length and from the streamed size, and JSON
    bodies that are not UTF-8 (400), before any route parses them."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await json_error(400, "invalid Content-Length header")(scope, receive, send)
                return
            if declared > self.max_body_bytes:
                await self._too_large(scope, receive, send)
                return
        chunks: list[bytes] = []
        total = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.max_body_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
        if body and "json" in content_type:
            try:
                body.decode("utf-8")
            except UnicodeDecodeError as exc:
                response = json_error(400, f"request body is not valid UTF-8 (byte {exc.start})")
                await response(scope, receive, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = json_error(413, f"request body too large: the limit is {self.max_body_bytes} bytes",
                              headers={"Connection": "close"})
        await response(scope, receive, send)


# --------------------------------------------------------------------------------------- error handlers
def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [p for p in loc if p != "body"]
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "body"


def format_validation_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pydantic errors -> [{field: 'comments[3].text', index: 3, message, type}], no input echo."""
    details = []
    for err in errors:
        loc = list(err.get("loc", ()))
        index = next((loc[i + 1] for i, p in enumerate(loc[:-1])
                      if p == "comments" and isinstance(loc[i + 1], int)), None)
        msg = str(err.get("msg", "invalid value"))
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        details.append({"field": _field_path(loc), "index": index, "message": msg, "type": err.get("type")})
    return details


async def validation_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        e = errors[0]
        reason = (e.get("ctx") or {}).get("error", "JSON decode error")
        pos = e.get("loc", ("body", None))[-1]
        return json_error(400, f"malformed JSON: {reason} at position {pos}")
    details = format_validation_errors(errors)
    if any(d["type"] == "model_attributes_type" and d["field"] == "body" for d in details):
        return json_error(422, "request body must be a JSON object", details)
    if len(details) == 1:
        d = details[0]
        return json_error(422, f"invalid request: {d['field']}: {d['message']}", details)
    return json_error(422, f"invalid request: {len(details)} problems", details)


async def http_exception_handler(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail
    if isinstance(detail, str):
        return json_error(exc.status_code, detail, headers=getattr(exc, "headers", None))
    message = detail.get("error") if isinstance(detail, dict) else None
    return json_error(exc.status_code, str(message or "error"), headers=getattr(exc, "headers", None),
                      detail=detail)


async def unhandled_handler(request: Request, exc: Exception) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None)
    log.error("unhandled error (request_id=%s): %s", request_id, type(exc).__name__, exc_info=exc)
    # Sent by Starlette's outermost error middleware, outside the access-log one: add the id here.
    headers = {"X-Request-ID": request_id} if request_id else None
    return json_error(500, "internal server error", headers=headers, request_id=request_id)


# --------------------------------------------------------------------------------------- factory
def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; the model itself is loaded by the lifespan, once per process."""
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    app = FastAPI(
        title="Comment triage",
        version="1.0",
        summary="Модерация и маршрутизация комментариев госпабликов: мат, неуважение к власти, "
                "оскорбления, нет вопроса; тема, срочность.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.holder = ModelHolder(settings.model_dir)
    app.state.metrics = Metrics()
    app.state.load_error = "model is loading"

    from service.routes import admin, analytics, classify, feedback, meta, ui

    for module in (classify, meta, admin, feedback, analytics, ui):
        app.include_router(module.router)

    app.add_exception_handler(RequestValidationError, validation_handler)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_exception_handler)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, unhandled_handler)
    app.add_middleware(BodyGuardMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(AccessLogMiddleware, metrics=app.state.metrics)  # added last = outermost
    return app
