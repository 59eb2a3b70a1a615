"""The model the master loaded before forking the workers (service/supervisor.py), for their start-up.

Only a worker's first load uses it, and only when the serving pointer still names the same version in the
same model directory; every later load (a reload, the pointer moving) reads and verifies the bundle from
disk as before. The preloaded bundle was verified (sha256, labels) and smoke-classified by the master.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from service.model_holder import LoadedModel, ModelHolder
from training.runtime.bundle import BundleError, latest_version

log = logging.getLogger("uvicorn.error")
_preloaded: tuple[Path, LoadedModel] | None = None


def preload_latest(model_dir: Path, check: Callable[[LoadedModel], None] | None = None) -> LoadedModel | None:
    """Load what models/latest names into this process (the master); None, logged, when that fails: the
    workers then load (and report the failure on /ready) themselves."""
    global _preloaded
    started = time.perf_counter()
    try:
        version = latest_version(model_dir)
        loaded = ModelHolder(model_dir).prepare(version, check=check)
    except (BundleError, OSError) as exc:
        log.warning("no model preloaded before forking the workers: %s", exc)
        return None
    _preloaded = (Path(model_dir).resolve(), loaded)
    log.info("Preloaded model %s in %.2f s before forking the workers", loaded.version, time.perf_counter() - started)
    return loaded


def take_preloaded(model_dir: Path, version: str | None) -> LoadedModel | None:
    """The preloaded model when it is `version` of `model_dir`, else None."""
    if _preloaded is None or version is None:
        return None
    where, loaded = _preloaded
    if where != Path(model_dir).resolve() or loaded.version != version:
        return None
    return loaded
