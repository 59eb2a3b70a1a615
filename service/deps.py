"""Dependencies shared by the routers: settings, the loaded model, the API-key and admin-key checks.

They are `async def` on purpose: FastAPI runs a plain `def` dependency on the thread pool, and five such
hops per /classify request (each a thread switch and a GIL hand-over) cost more under load than the model
call itself. None of them blocks."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from service.model_holder import LoadedModel, ModelHolder
from service.settings import Settings, get_settings


async def settings_dep(request: Request) -> Settings:
    return getattr(request.app.state, "settings", None) or get_settings()


async def get_holder(request: Request) -> ModelHolder:
    return request.app.state.holder


def loaded_model(holder: ModelHolder) -> LoadedModel:
    """The model being served, or a 503 while none is loaded."""
    loaded = holder.get()
    if loaded is None:
        raise HTTPException(status_code=503, detail=MODEL_NOT_LOADED)
    return loaded


async def get_loaded_model(holder: Annotated[ModelHolder, Depends(get_holder)]) -> LoadedModel:
    return loaded_model(holder)


API_KEY_INVALID = "missing or invalid X-API-Key"
MODEL_NOT_LOADED = "model not loaded yet"
ADMIN_DISABLED = "admin endpoints are disabled: set API_KEYS"


def api_key_valid(given: bytes, settings: Settings) -> bool:
    """True when no keys are configured or `given` (raw bytes) is one of them, as UTF-8. Constant-time per
    key on bytes (compare_digest refuses non-ASCII str), and every key is compared so timing does not tell
    which one matched."""
    keys = settings.api_key_set
    if not keys:
        return True
    matches = [secrets.compare_digest(given.strip(), k.encode("utf-8")) for k in keys]
    return any(matches)


def api_key_refusal(given: bytes, settings: Settings) -> tuple[int, str] | None:
    """(status, message) when `given` does not open an API endpoint, else None; what require_api_key raises
    and the key guard (service/auth_guard.py) answers before any body is read."""
    return None if api_key_valid(given, settings) else (401, API_KEY_INVALID)


def admin_key_refusal(given: bytes, settings: Settings) -> tuple[int, str] | None:
    """As api_key_refusal, but admin endpoints are never open: 403 when no keys are configured."""
    if not settings.api_key_set:
        return 403, ADMIN_DISABLED
    return api_key_refusal(given, settings)


def given_key(request: Request) -> bytes:
    # Starlette decodes header values as latin-1: encoding back gives the bytes the client sent.
    return request.headers.get("x-api-key", "").encode("latin-1")


def check_api_key(request: Request, settings: Settings) -> None:
    """Open when API_KEYS is empty; otherwise a valid X-API-Key header is required (401)."""
    refusal = api_key_refusal(given_key(request), settings)
    if refusal is not None:
        raise HTTPException(status_code=refusal[0], detail=refusal[1])


async def require_api_key(request: Request, settings: Annotated[Settings, Depends(settings_dep)]) -> None:
    """`check_api_key` as a dependency."""
    check_api_key(request, settings)


async def require_admin_key(request: Request, settings: Annotated[Settings, Depends(settings_dep)]) -> None:
    """Admin endpoints always need a key: refused (403) while API_KEYS is empty, a valid X-API-Key otherwise
    (401). Compared in constant time by api_key_valid."""
    refusal = admin_key_refusal(given_key(request), settings)
    if refusal is not None:
        raise HTTPException(status_code=refusal[0], detail=refusal[1])


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def check_json(request: Request) -> None:
    """415 unless the body is declared as JSON (checked before the body is validated)."""
    if not _is_json(request.headers.get("content-type")):
        raise HTTPException(status_code=415, detail="Content-Type must be application/json")


async def require_json(request: Request) -> None:
    """`check_json` as a dependency."""
    check_json(request)


async def require_json_if_body(request: Request) -> None:
    """For endpoints whose body is optional: a non-empty body must be declared as JSON (415)."""
    if await request.body() and not _is_json(request.headers.get("content-type")):
        raise HTTPException(status_code=415, detail="Content-Type must be application/json")
