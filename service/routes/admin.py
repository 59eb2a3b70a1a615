"""POST /admin/reload: verify a bundle, then swap it in atomically (a bad bundle keeps the old one)."""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.concurrency import run_in_threadpool

from service.deps import require_api_key, require_json_if_body, settings_dep
from service.errors import json_error
from service.loading import load_model, public_reason
from service.schemas import ErrorResponse, ReloadRequest, ReloadResponse
from service.settings import Settings
from training.runtime.bundle import BundleError

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_api_key)])
log = logging.getLogger("service.admin")


@router.post(
    "/reload",
    response_model=ReloadResponse,
    responses={
        401: {"model": ErrorResponse},
        409: {"model": ErrorResponse},
        415: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
    },
    dependencies=[Depends(require_json_if_body)],
    summary="Перезагрузить модель (models/latest или указанную версию)",
)
async def reload(
    request: Request,
    settings: Annotated[Settings, Depends(settings_dep)],
    body: Annotated[ReloadRequest | None, Body()] = None,
) -> Any:
    """Load models/latest (or `version`), check sha256 and labels, smoke-classify, then swap."""
    app = request.app
    previous = app.state.holder.get()
    previous_version = previous.version if previous else None
    try:
        loaded = await run_in_threadpool(load_model, app, body.version if body else None)
    except BundleError as exc:
        reason = public_reason(str(exc), settings)
        app.state.metrics.observe_reload("failed")
        log.warning(json.dumps({"event": "reload_failed", "reason": reason}, ensure_ascii=False))
        return json_error(409, f"reload refused: {reason}", model_version=previous_version)
    app.state.metrics.observe_reload("ok")
    log.info(json.dumps({"event": "reloaded", "model_version": loaded.version, "previous": previous_version}))
    return {"status": "reloaded", "model_version": loaded.version, "previous_version": previous_version}
