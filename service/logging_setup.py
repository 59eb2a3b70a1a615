"""JSON-lines access log and the request-id / metrics middleware.

One line per request: request id, method, path, status, latency_ms, n_comments. Comment texts are personal
data: they are logged only when LOG_TEXTS=1 (the /classify route puts them into the request state then).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.metrics import Metrics

ACCESS_LOGGER = "service.access"
REQUEST_ID_HEADER = "x-request-id"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
log = logging.getLogger(ACCESS_LOGGER)


def json_lines_to_stderr(logger: logging.Logger, level: str = "info") -> None:
    """Give `logger` its own stderr handler that writes the JSON message as is (idempotent): uvicorn
    configures only its own loggers, so without it our lines would be dropped below WARNING."""
    logger.setLevel(level.upper())
    if not any(getattr(h, "_triage_json", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler._triage_json = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    # Propagate so that test log capture and any root config still see the lines; the root logger has no
    # handler under uvicorn, so nothing is printed twice.
    logger.propagate = True


def configure_logging(level: str = "info") -> None:
    """The access log's JSON lines on stderr."""
    json_lines_to_stderr(log, level)


def route_label(scope: Scope) -> str:
    """The route template (/classify, /admin/reload), never the raw path: bounded metric cardinality."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class AccessLogMiddleware:
    """Outermost middleware: request id in and out, one JSON log line and metrics per request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        given = _header(scope, REQUEST_ID_HEADER)
        request_id = given if given and _SAFE_ID.match(given) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("ascii")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - start
            self.metrics.observe_request(scope["method"], route_label(scope), status, elapsed)
            entry: dict[str, Any] = {
                "request_id": request_id,
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "latency_ms": round(elapsed * 1000, 2),
                "n_comments": state.get("n_comments"),
            }
            if "log_texts" in state:
                entry["texts"] = state["log_texts"]
            if log.isEnabledFor(logging.INFO):
                log.info(json.dumps(entry, ensure_ascii=False))


def _header(scope: Scope, name: str) -> str | None:
    raw = name.encode("latin-1")
    for k, v in scope.get("headers", []):
        if k == raw:
            return v.decode("latin-1")
    return None
