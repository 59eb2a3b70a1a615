"""POST /vk/callback: VK's Callback API (5.x). Thin: check the secret, store the event, answer "ok".

- `confirmation` is answered with VK_CONFIRMATION as plain text (403 while it is not set). It needs no secret
  (VK's confirmation request may come without one) but a wrong one is refused.
- Every other event needs VK_SECRET set and its `secret` equal to it (compared in constant time): 403
  otherwise, so that nobody but VK can write into the inbox. With VK_SECRET empty, events are refused.
- Comment events are stored first (durably, idempotent on VK's retries: training/runtime/inbox/store.py), then
  "ok" goes back at once; classification and the auto-hide run in the inbox worker (service/vk_worker.py).
- Unknown event types get "ok" and are counted (triage_vk_events_total{outcome="unknown_type"}); malformed
  bodies get 400 (VK retries them); a database that cannot store the event gets 503 (VK retries, nothing lost).
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from service.deps import settings_dep
from service.errors import format_validation_errors, json_error
from service.settings import Settings
from service.vk_metrics import vk_metrics
from service.vk_schemas import CONFIRMATION, EVENT_EXAMPLE, CommentEvent, VkEvent, parse_comment_event
from service.vk_worker import get_worker, inbox_store
from training.runtime.inbox.records import Recorded
from training.runtime.inbox.store import InboxDatabaseError

router = APIRouter(tags=["vk"])
log = logging.getLogger("service.vk")
OK = "ok"


def _same(given: str, expected: str) -> bool:
    return secrets.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _refused(request: Request, status: int, reason: str, message: str, details: Any = None) -> JSONResponse:
    vk_metrics(request.app).refuse(reason)
    return json_error(status, message, details)


def _invalid(request: Request, exc: ValidationError, prefix: tuple[str, ...]) -> JSONResponse:
    errors = [{**e, "loc": (*prefix, *e.get("loc", ()))} for e in exc.errors(include_input=False)]
    details = format_validation_errors(errors)
    first = details[0]
    return _refused(request, 400, "malformed", f"invalid VK event: {first['field']}: {first['message']}", details)


@router.post(
    "/vk/callback",
    response_class=PlainTextResponse,
    summary="VK Callback API: события сообщества (новые, изменённые и удалённые комментарии)",
    responses={
        200: {"content": {"text/plain": {"example": OK}}, "description": "«ok» или строка подтверждения"},
        400: {"description": "тело — не JSON или не событие VK"},
        403: {"description": "неверный secret, не задан VK_SECRET или VK_CONFIRMATION"},
        503: {"description": "событие не удалось сохранить (VK повторит)"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": VkEvent.model_json_schema(), "example": EVENT_EXAMPLE}},
        }
    },
)
async def vk_callback(request: Request, settings: Settings = Depends(settings_dep)) -> Response:
    """Store the comment of the event and answer "ok" at once; see the module docstring."""
    try:
        data = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        return _refused(request, 400, "malformed", f"malformed JSON: {str(exc)[:120]}")
    try:
        event = VkEvent.model_validate(data)
    except ValidationError as exc:
        return _invalid(request, exc, ())

    if event.type == CONFIRMATION:
        if not settings.vk_confirmation:
            return _refused(request, 403, "no_confirmation", "VK_CONFIRMATION is not set: confirmation refused")
        if settings.vk_secret and event.secret is not None and not _same(event.secret, settings.vk_secret):
            return _refused(request, 403, "bad_secret", "secret does not match VK_SECRET")
        vk_metrics(request.app).event(event.type, "confirmed")
        return PlainTextResponse(settings.vk_confirmation)
    if not settings.vk_secret:
        return _refused(request, 403, "no_secret", "VK_SECRET is not set: events are refused")
    if event.secret is None or not _same(event.secret, settings.vk_secret):
        return _refused(request, 403, "bad_secret", "secret does not match VK_SECRET")

    try:
        parsed = parse_comment_event(event)
    except ValidationError as exc:
        return _invalid(request, exc, ("object",))
    if parsed is None:
        vk_metrics(request.app).event(event.type, "unknown_type")
        return PlainTextResponse(OK)
    try:
        store = inbox_store(request.app)
        recorded: Recorded
        if isinstance(parsed, CommentEvent):
            recorded = await run_in_threadpool(
                store.record_comment, parsed.comment, event.type, event.event_id, parsed.mode
            )
        else:
            recorded = await run_in_threadpool(
                store.record_delete, parsed.ref, event.type, event.event_id, parsed.deleter_id
            )
    except (SQLAlchemyError, InboxDatabaseError) as exc:
        vk_metrics(request.app).event(event.type, "store_failed")
        log.error(json.dumps({"event": "vk_event_not_stored", "type": event.type, "reason": type(exc).__name__}))
        return json_error(503, "the inbox database cannot store the event now; VK will retry it")
    vk_metrics(request.app).event(event.type, recorded.outcome)
    log.info(
        json.dumps(
            {
                "event": "vk_event",
                "type": event.type,
                "group_id": event.group_id,
                "event_id": event.event_id,
                "outcome": recorded.outcome,
                "inbox_id": recorded.inbox_id,
            }
        )
    )
    if recorded.pending:
        get_worker(request.app).notify()
    return PlainTextResponse(OK)
