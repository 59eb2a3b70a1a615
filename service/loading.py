"""Loading a bundle into the app: verify, smoke-classify, then swap (the old model stays on failure)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from service.model_holder import LoadedModel, ModelHolder
from service.settings import Settings

WARMUP_TEXT = "прогрев модели: когда починят дорогу?"


def public_reason(message: str, settings: Settings) -> str:
    """A load error as shown to clients: the server's absolute model path replaced by MODEL_DIR."""
    return message.replace(str(settings.model_dir), "MODEL_DIR")


def load_model(app: FastAPI, version: str | None = None) -> LoadedModel:
    """Load (and warm up) a bundle into the holder; raises BundleError and keeps the old model on failure."""
    holder: ModelHolder = app.state.holder
    # The smoke classification runs before the swap and also warms pymorphy and sklearn's lazy state.
    loaded = holder.load(version, check=lambda candidate: _smoke(candidate.model))
    app.state.load_error = None
    app.state.metrics.set_model_version(loaded.version)
    return loaded


def _smoke(model: Any) -> None:
    results = model.classify([WARMUP_TEXT])
    if len(results) != 1 or "category" not in results[0]:
        raise ValueError("classify() did not return one result per text")
