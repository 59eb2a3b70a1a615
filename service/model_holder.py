"""The serving model behind an atomic swap: a request takes one snapshot and finishes on it."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.bundle import load_bundle
from training.model import TriageModel


@dataclass(frozen=True)
class LoadedModel:
    model: TriageModel
    manifest: dict[str, Any]

    @property
    def version(self) -> str:
        return str(self.manifest.get("version", self.model.version))


class ModelHolder:
    def __init__(self, model_dir: Path):
        self.model_dir = Path(model_dir)
        self._current: LoadedModel | None = None
        self._lock = threading.Lock()

    @property
    def ready(self) -> bool:
        return self._current is not None

    def get(self) -> LoadedModel | None:
        return self._current  # one reference read: atomic

    def load(self, version: str | None = None) -> LoadedModel:
        """Load and verify, then swap. Raises training.bundle.BundleError and keeps the old model on failure."""
        with self._lock:
            model, manifest = load_bundle(self.model_dir, version)
            loaded = LoadedModel(model=model, manifest=manifest)
            self._current = loaded
            return loaded
