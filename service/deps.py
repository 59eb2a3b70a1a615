"""Dependencies shared by the routers: settings, the loaded model, the API-key check."""

from __future__ import annotations

import secrets

from fastapi import Depends, HTTPException, Request

from service.model_holder import LoadedModel, ModelHolder
from service.settings import Settings, get_settings


def settings_dep(request: Request) -> Settings:
    return getattr(request.app.state, "settings", None) or get_settings()


def get_holder(request: Request) -> ModelHolder:
    return request.app.state.holder


def get_loaded_model(holder: ModelHolder = Depends(get_holder)) -> LoadedModel:
    loaded = holder.get()
    if loaded is None:
        raise HTTPException(status_code=503, detail="model not loaded yet")
    return loaded


def require_api_key(request: Request, settings: Settings = Depends(settings_dep)) -> None:
    """Open when API_KEYS is empty; otherwise a valid X-API-Key header is required (401)."""
    keys = settings.api_key_set
    if not keys:
        return
    given = request.headers.get("x-api-key", "")
    if not any(secrets.compare_digest(given, k) for k in keys):
        raise HTTPException(status_code=401, detail="missing or invalid X-API-Key")
