"""The FastAPI application factory: `create_app()` is what `python -m service` runs (uvicorn factory=True).

The model is loaded once at start-up (lifespan) into `app.state.holder`; when that fails the app still
starts and /ready answers 503 with the reason. Every error leaves as JSON without a traceback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import http_exception_handler, json_error, unhandled_handler, validation_handler
from service.loading import load_model, public_reason
from service.logging_setup import AccessLogMiddleware, configure_logging
from service.metrics import Metrics
from service.model_holder import ModelHolder
from service.routes import admin, analytics, classify, feedback, meta, ui
from service.settings import Settings, get_settings

log = logging.getLogger("service.app")
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    try:
        loaded = await to_thread.run_sync(load_model, app)
        log.info(json.dumps({"event": "model_loaded", "model_version": loaded.version}))
    except Exception as exc:  # BundleError, but also anything else: the app must start and say why
        app.state.load_error = public_reason(str(exc), settings)
        log.error(json.dumps({"event": "model_load_failed", "reason": app.state.load_error}, ensure_ascii=False))
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
        response = json_error(
            413, f"request body too large: the limit is {self.max_body_bytes} bytes", headers={"Connection": "close"}
        )
        await response(scope, receive, send)


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

    for module in (classify, meta, admin, feedback, analytics, ui):
        app.include_router(module.router)

    app.add_exception_handler(RequestValidationError, validation_handler)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_exception_handler)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, unhandled_handler)
    app.add_middleware(BodyGuardMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(AccessLogMiddleware, metrics=app.state.metrics)  # added last = outermost
    return app
