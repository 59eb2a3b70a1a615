"""Loading a bundle into the app: verify, smoke-classify, then swap (the old model stays on failure).

Every outcome is one JSON line on the `service.model` logger, never with a comment text: `model_loaded`
(this worker's first model), `model_swapped` (one model replaced by another) or `model_load_failed`, each
with the version, the previous (still or formerly served) version, the trigger (startup, admin, pointer),
the worker's pid and the seconds verifying took (load_seconds). Loads after start-up count in
triage_model_reloads_total by outcome, and triage_model_info follows the version this worker serves.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

from fastapi import FastAPI

from service.logging_setup import json_lines_to_stderr
from service.model_holder import LoadedModel, ModelHolder
from service.preload import take_preloaded
from service.settings import Settings

WARMUP_TEXT = "прогрев модели: когда починят дорогу?"
MODEL_LOGGER = "service.model"
STARTUP, ADMIN, POINTER = "startup", "admin", "pointer"  # what made a worker load a bundle
log = logging.getLogger(MODEL_LOGGER)


def configure_model_logging(level: str = "info") -> None:
    """The model logger's JSON lines on stderr, like the access log's."""
    json_lines_to_stderr(log, level)


def public_reason(message: str, settings: Settings) -> str:
    """A load error as shown to clients: the server's absolute model path replaced by MODEL_DIR."""
    return message.replace(str(settings.model_dir), "MODEL_DIR")


def prepare_model(app: FastAPI, version: str | None = None, trigger: str = ADMIN) -> LoadedModel:
    """Verify a bundle and smoke-classify it without serving it; raises BundleError. A worker's first load
    takes the model its master preloaded before forking (service/preload.py) when it is that version: the
    master verified and smoke-classified it, so it is not checked again."""
    holder: ModelHolder = app.state.holder
    if trigger == STARTUP:
        preloaded = take_preloaded(holder.model_dir, version)
        if preloaded is not None:
            return preloaded
    # The smoke classification also warms pymorphy and sklearn's lazy state before the model serves.
    return holder.prepare(version, check=smoke_check)


def install_model(app: FastAPI, loaded: LoadedModel, trigger: str, load_seconds: float | None = None) -> LoadedModel:
    """Swap a prepared model in: readiness, metrics and one log line."""
    previous = app.state.holder.swap(loaded)
    app.state.load_error = None
    app.state.metrics.set_model_version(loaded.version)
    if trigger != STARTUP:
        app.state.metrics.observe_reload("ok")
    event = "model_swapped" if previous is not None else "model_loaded"
    previous_version = previous.version if previous else None
    _log(logging.INFO, event, loaded.version, previous_version, trigger, load_seconds=_rounded(load_seconds))
    return loaded


def record_failure(
    app: FastAPI, version: str | None, exc: BaseException, trigger: str, load_seconds: float | None = None
) -> str:
    """A refused bundle: the old model (if any) keeps serving; logged and counted. Returns the public reason."""
    reason = public_reason(str(exc), app.state.settings)
    current = app.state.holder.get()
    if current is None:
        app.state.load_error = reason
    if trigger != STARTUP:
        app.state.metrics.observe_reload("failed")
    previous = current.version if current else None
    _log(
        logging.ERROR,
        "model_load_failed",
        version,
        previous,
        trigger,
        reason=reason,
        load_seconds=_rounded(load_seconds),
    )
    return reason


def load_model(app: FastAPI, version: str | None = None, *, trigger: str = ADMIN) -> LoadedModel:
    """Load (and warm up) a bundle into the holder; raises BundleError and keeps the old model on failure."""
    started = time.perf_counter()
    try:
        loaded = prepare_model(app, version, trigger)
    except Exception as exc:
        record_failure(app, version, exc, trigger, time.perf_counter() - started)
        raise
    return install_model(app, loaded, trigger, time.perf_counter() - started)


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)


def _log(level: int, event: str, version: str | None, previous: str | None, trigger: str, **extra: Any) -> None:
    entry = {"event": event, "version": version, "previous": previous, "trigger": trigger, "pid": os.getpid()}
    log.log(level, json.dumps({**entry, **extra}, ensure_ascii=False))


def smoke_check(loaded: LoadedModel) -> None:
    """The check every bundle passes before it serves: one classification of a fixed text."""
    results = loaded.model.classify([WARMUP_TEXT])
    if len(results) != 1 or "category" not in results[0]:
        raise ValueError("classify() did not return one result per text")
