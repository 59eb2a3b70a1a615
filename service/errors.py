"""Every error leaves as JSON `{"error": ..., "details": [...]}` without a traceback or an echo of the input."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("service.app")


def json_error(
    status: int,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if details is not None:
        body["details"] = details
    body.update(extra)
    return JSONResponse(status_code=status, content=body, headers=headers)


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
        index = next(
            (loc[i + 1] for i, p in enumerate(loc[:-1]) if p == "comments" and isinstance(loc[i + 1], int)), None
        )
        msg = str(err.get("msg", "invalid value"))
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
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
    return json_error(exc.status_code, str(message or "error"), headers=getattr(exc, "headers", None), detail=detail)


async def unhandled_handler(request: Request, exc: Exception) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None)
    log.error("unhandled error (request_id=%s): %s", request_id, type(exc).__name__, exc_info=exc)
    # Sent by Starlette's outermost error middleware, outside the access-log one: add the id here.
    headers = {"X-Request-ID": request_id} if request_id else None
    return json_error(500, "internal server error", headers=headers, request_id=request_id)
