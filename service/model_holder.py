"""The serving model behind an atomic swap: a request takes one snapshot and finishes on it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.runtime.bundle import BundleError, load_bundle
from training.runtime.model import TriageModel


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

    def prepare(self, version: str | None = None, check: Callable[[LoadedModel], None] | None = None) -> LoadedModel:
        """Load and verify a candidate without serving it. Raises training.runtime.bundle.BundleError.

        `check` (e.g. a smoke classification) runs on the candidate; any exception it raises becomes a
        BundleError, so a bundle that unpickles but cannot classify is never returned.
        """
        model, manifest = load_bundle(self.model_dir, version)
        loaded = LoadedModel(model=model, manifest=manifest)
        if check is not None:
            try:
                check(loaded)
            except Exception as exc:
                raise BundleError(
                    f"bundle {loaded.version!r} failed the smoke test ({type(exc).__name__}: {exc})"
                ) from exc
        return loaded

    def swap(self, loaded: LoadedModel) -> LoadedModel | None:
        """Serve `loaded` from now on; returns the model it replaced (None for the first one)."""
        with self._lock:
            previous, self._current = self._current, loaded
            return previous

    def load(self, version: str | None = None, check: Callable[[LoadedModel], None] | None = None) -> LoadedModel:
        """Prepare, then swap. Raises BundleError and keeps the old model on failure."""
        loaded = self.prepare(version, check)
        self.swap(loaded)
        return loaded
