"""POST /admin/reload: verify a bundle here, then point every worker at it (a bad bundle changes nothing).

With a version the bundle is pinned: every worker serves it until the next reload, whatever models/latest
says. Without one the pin is dropped and models/latest serves again. The other workers follow within
service.serving_state.POINTER_POLL_SECONDS plus one load, each verifying the bundle itself.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.concurrency import run_in_threadpool

from service.deps import require_admin_key, require_json_if_body, settings_dep
from service.errors import json_error
from service.loading import public_reason
from service.schemas import ErrorResponse, ReloadRequest, ReloadResponse
from service.serving_state import point_to, serving_state
from service.settings import Settings
from training.runtime.bundle import BundleError

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin_key)])


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
    summary="Перезагрузить модель во всех воркерах (models/latest или закреплённую версию)",
)
async def reload(
    request: Request,
    settings: Annotated[Settings, Depends(settings_dep)],
    body: Annotated[ReloadRequest | None, Body()] = None,
) -> Any:
    """Check sha256 and labels and smoke-classify `version` (omitted: models/latest), then make it the
    serving pointer of every worker (pinned, or following models/latest) and swap it in here. The outcome is
    logged (model_swapped / model_load_failed) and counted in triage_model_reloads_total."""
    app = request.app
    state = serving_state(app)
    async with state.lock:
        previous = app.state.holder.get()
        previous_version = previous.version if previous else None
        try:
            loaded = await run_in_threadpool(point_to, app, state, body.version if body else None)
        except BundleError as exc:
            reason = public_reason(str(exc), settings)
            return json_error(409, f"reload refused: {reason}", model_version=previous_version)
    return {"status": "reloaded", "model_version": loaded.version, "previous_version": previous_version}
