"""The FastAPI application factory: `create_app()` is what `python -m service` runs (uvicorn factory=True).

The model is loaded once at start-up (lifespan) into `app.state.holder`; when that fails the app still
starts and /ready answers 503 with the reason. Every error leaves as JSON without a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.auth_guard import AuthGuardMiddleware
from service.errors import http_exception_handler, json_error, unhandled_handler, validation_handler
from service.logging_setup import AccessLogMiddleware, configure_logging
from service.metrics import Metrics
from service.model_holder import ModelHolder
from service.refusal import DISCARD_MULTIPLE, refuse
from service.routes import admin, analytics, classify, feedback, inbox, meta, perspective, ui, vk
from service.security_headers import SecurityHeadersMiddleware
from service.serving_state import follow_serving_pointer
from service.settings import Settings, get_settings
from service.vk_worker import inbox_worker

log = logging.getLogger("service.app")
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Loads what the serving pointer names (a failure leaves the app up, /ready says why), then follows the
    # pointer every POINTER_POLL_SECONDS until shutdown so that every worker serves the same version; the
    # inbox worker classifies stored VK comments that are still pending (service/vk_worker.py).
    async with follow_serving_pointer(app), inbox_worker(app):
        yield


# --------------------------------------------------------------------------------------- body guard
class BodyGuardMiddleware:
    """Refuse bodies over MAX_BODY_BYTES (413) from Content-Length and from the streamed size, bodies not
    received within BODY_TIMEOUT (408: a client that stalls or trickles its body), and JSON bodies that are
    not UTF-8 (400), before any route parses them.

    A 413 is sent after the rest of the body has been read and discarded (service/refusal.py: at most
    DISCARD_MULTIPLE × MAX_BODY_BYTES, within BODY_TIMEOUT), so that clients still sending it (urllib,
    requests) receive it instead of a connection reset; it always closes the connection."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, body_timeout: float = 30.0) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout
        self.max_discard_bytes = DISCARD_MULTIPLE * max_body_bytes

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
        outcome, body = "timeout", b""
        with anyio.move_on_after(self.body_timeout):
            outcome, body = await self._read(receive)
        if outcome == "disconnect":
            return
        if outcome == "timeout":
            message = f"request body not received within {self.body_timeout:g} s"
            await json_error(408, message, headers={"Connection": "close"})(scope, receive, send)
            return
        if outcome in ("too_large", "too_large_ended"):
            await self._too_large(scope, receive, send, already_read=len(body), ended=outcome == "too_large_ended")
            return
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

    async def _read(self, receive: Receive) -> tuple[str, bytes]:
        """("ok", body), ("disconnect", b""), or ("too_large", what was read up to the limit) with "_ended"
        when the message that crossed the limit was the body's last (then there is nothing left to discard)."""
        chunks: list[bytes] = []
        total = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return "disconnect", b""
            chunk = message.get("body", b"")
            total += len(chunk)
            chunks.append(chunk)
            more = message.get("more_body", False)
            if total > self.max_body_bytes:
                return ("too_large" if more else "too_large_ended"), b"".join(chunks)
        return "ok", b"".join(chunks)

    async def _too_large(
        self, scope: Scope, receive: Receive, send: Send, already_read: int = 0, ended: bool = False
    ) -> None:
        response = json_error(413, f"request body too large: the limit is {self.max_body_bytes} bytes")
        budget = max(0, self.max_discard_bytes - already_read)
        await refuse(
            scope,
            receive,
            send,
            response,
            max_discard_bytes=budget,
            timeout=self.body_timeout,
            close=True,
            body_ended=ended,
        )


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

    for module in (classify, meta, admin, feedback, analytics, ui, vk, inbox, perspective):
        app.include_router(module.router)

    app.add_exception_handler(RequestValidationError, validation_handler)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_exception_handler)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, unhandled_handler)
    # Each middleware added wraps the ones before it. Innermost, the body guard reads and checks the body
    # (413, 408, 400); around it the key guard refuses unauthenticated requests before any body is read;
    # around that the security headers go on every answer, the guards' included; the access log (request id,
    # one line, metrics) is added last = outermost, so it sees every answer.
    app.add_middleware(BodyGuardMiddleware, max_body_bytes=settings.max_body_bytes, body_timeout=settings.body_timeout)
    app.add_middleware(AuthGuardMiddleware, settings=settings)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(AccessLogMiddleware, metrics=app.state.metrics)
    return app
