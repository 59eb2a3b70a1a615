"""One serving state across uvicorn workers: the serving pointer, and the watcher every worker runs on it.

The *serving pointer* names the version every worker should serve: the version an admin pinned with
`POST /admin/reload {"version": V}` if there is one, else `models/latest` (which only the promotion rule,
training/fit/promotion.py, moves). The pin is run-scoped state, never written into models/: with several
workers it is the file `serving_pointer` in this run's state directory (STATE_ENV, made fresh and empty by
`python -m service` before uvicorn spawns the workers, removed when it returns); with one process (WORKERS=1,
apps built in tests) it is kept in memory. The file holds the pinned version, or nothing: follow
models/latest. Both are replaced atomically (os.replace), so a reader sees the old or the new text.

Each worker checks the pointer every POINTER_POLL_SECONDS (a stat of one or two tiny files and a read of
them). When the pointer was rewritten and names a version other than the one served, the worker verifies
that bundle off the event loop (sha256, labels, smoke classification: `service.loading`) and swaps. A bundle
that fails is not served: the worker keeps its model, logs and counts the failure once, and tries again
only when the pointer is rewritten (a new pin, any `/admin/reload`, latest moving). So after a reload or a
promotion every worker serves the new version within POINTER_POLL_SECONDS plus one bundle load.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from anyio import to_thread
from fastapi import FastAPI

from service.loading import (
    ADMIN,
    POINTER,
    STARTUP,
    configure_model_logging,
    install_model,
    load_model,
    prepare_model,
    record_failure,
)
from service.model_holder import LoadedModel
from training.runtime.bundle import LATEST, BundleError, latest_version

STATE_ENV = "TRIAGE_STATE_DIR"  # set by service.__main__.state_dir for WORKERS > 1
STATE_FILE = "serving_pointer"
POINTER_POLL_SECONDS = 1.0
# The outcomes of one check of the pointer.
UNCHANGED, CURRENT, SWAPPED, FAILED, INVALID = "unchanged", "current", "swapped", "failed", "invalid"
log = logging.getLogger("service.model")

Stamp = tuple[int, ...] | None


@dataclass(frozen=True)
class Pointer:
    """What the serving pointer says now, and which writes it comes from (to tell a rewrite from no change)."""

    version: str | None  # None: the pointer names nothing usable (see `error`)
    pinned: bool
    stamp: tuple[Stamp, ...]
    error: str | None = None


def _stamp(path: Path) -> Stamp:
    """The identity of a file's last atomic replacement (new inode, mtime, size); None when it is missing."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


def _valid_version(text: str) -> bool:
    return bool(text) and "/" not in text and "\\" not in text and not text.startswith(".")


class ServingState:
    """The serving pointer of one run, shared through `state_dir` by every worker (in memory without one)."""

    def __init__(self, model_dir: str | Path, state_dir: str | Path | None = None) -> None:
        self.model_dir = Path(model_dir)
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self._memory_pin: str | None = None
        self._memory_writes = 0
        # Serialises /admin/reload and the watcher within a worker (re-made for each event loop by the lifespan).
        self.lock = asyncio.Lock()

    @classmethod
    def from_env(cls, model_dir: str | Path) -> ServingState:
        return cls(model_dir, os.environ.get(STATE_ENV) or None)

    @property
    def state_file(self) -> Path | None:
        return self.state_dir / STATE_FILE if self.state_dir is not None else None

    # ---------------------------------------------------------------------------------- writing
    def pin(self, version: str) -> None:
        """Every worker serves `version` until the next pin or `follow_latest()`."""
        if not _valid_version(version):
            raise BundleError(f"invalid version {version!r}")
        self._write(version)

    def follow_latest(self) -> None:
        """Drop the pin: every worker follows models/latest (the write itself tells them to re-check)."""
        self._write(None)

    def _write(self, version: str | None) -> None:
        path = self.state_file
        if path is None:
            self._memory_pin = version
            self._memory_writes += 1
            return
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(f"{version}\n" if version else "")
            os.replace(tmp, path)
        except BaseException:
            with suppress(OSError):
                os.unlink(tmp)
            raise

    # ---------------------------------------------------------------------------------- reading
    def pinned(self) -> tuple[str | None, Stamp]:
        """The pinned version ('' when the pin is unreadable or invalid, None when not pinned) and its stamp."""
        path = self.state_file
        if path is None:
            return self._memory_pin, (self._memory_writes,)
        stamp = _stamp(path)
        if stamp is None:
            return None, None
        try:
            text = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None, None
        except (OSError, UnicodeDecodeError):
            return "", stamp
        if not text:
            return None, stamp
        return (text if _valid_version(text) else ""), stamp

    def pointer(self) -> Pointer:
        """The serving pointer now: a cheap stat and read of one or two tiny files, never raises."""
        try:
            pin, pin_stamp = self.pinned()
        except OSError as exc:
            return Pointer(None, True, (None,), f"cannot read the serving pointer ({exc})")
        if pin == "":
            return Pointer(None, True, (pin_stamp,), "the pinned version is unreadable or invalid")
        if pin is not None:
            return Pointer(pin, True, (pin_stamp,))
        latest_stamp = _stamp(self.model_dir / LATEST)
        try:
            return Pointer(latest_version(self.model_dir), False, (pin_stamp, latest_stamp))
        except (BundleError, OSError, UnicodeDecodeError) as exc:
            return Pointer(None, False, (pin_stamp, latest_stamp), str(exc))


def serving_state(app: FastAPI) -> ServingState:
    """The app's serving state (made on first use from STATE_ENV and the app's MODEL_DIR)."""
    state = getattr(app.state, "serving", None)
    if state is None:
        state = ServingState.from_env(app.state.settings.model_dir)
        app.state.serving = state
    return state


def point_to(app: FastAPI, state: ServingState, version: str | None) -> LoadedModel:
    """/admin/reload (in a worker thread, holding `state.lock`): verify `version` (None: models/latest) in
    this worker, then make it the serving pointer for every worker, then serve it here. A refused bundle
    changes neither the pointer nor the model (raises BundleError)."""
    target = version
    started = time.perf_counter()
    try:
        if target is None:
            target = latest_version(state.model_dir)
        candidate = prepare_model(app, target)
    except Exception as exc:
        record_failure(app, target, exc, ADMIN, time.perf_counter() - started)
        raise
    load_seconds = time.perf_counter() - started
    if version is None:
        state.follow_latest()
    else:
        state.pin(version)
    return install_model(app, candidate, ADMIN, load_seconds)


class PointerWatcher:
    """Follows the serving pointer in one worker: each pointer write is acted on at most once."""

    def __init__(self, app: FastAPI, state: ServingState, interval: float = POINTER_POLL_SECONDS) -> None:
        self.app = app
        self.state = state
        self.interval = interval
        self._seen: Pointer | None = None
        self._last_error: str | None = None

    async def check(self, trigger: str = POINTER) -> str:
        """One look at the pointer; loads and swaps (off the event loop) when it was rewritten to another version."""
        async with self.state.lock:
            pointer = self.state.pointer()
            if pointer == self._seen:
                return UNCHANGED
            self._seen = pointer
            if pointer.version is None:
                record_failure(self.app, None, BundleError(pointer.error or "no serving pointer"), trigger)
                return INVALID
            current = self.app.state.holder.get()
            if current is not None and current.version == pointer.version:
                return CURRENT
            try:
                await to_thread.run_sync(lambda: load_model(self.app, pointer.version, trigger=trigger))
            except Exception:  # logged and counted by load_model; kept until the pointer is rewritten
                return FAILED
            return SWAPPED

    async def run(self) -> None:
        """Check every `interval` seconds until cancelled; a check that raises is logged, never fatal."""
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            next_at = max(next_at + self.interval, loop.time())
            await asyncio.sleep(next_at - loop.time())
            try:
                await self.check()
                self._last_error = None
            except Exception as exc:
                message = f"{type(exc).__name__}: {exc}"
                if message != self._last_error:  # once per distinct error, not once a second
                    self._last_error = message
                    log.error(json.dumps({"event": "serving_pointer_check_failed", "reason": message}))


@asynccontextmanager
async def follow_serving_pointer(app: FastAPI, interval: float = POINTER_POLL_SECONDS) -> AsyncIterator[PointerWatcher]:
    """The lifespan's part: load what the pointer names, then follow it in the background until shutdown.

    A failed first load leaves the app up and not ready (/ready says why), like any refused bundle."""
    configure_model_logging(app.state.settings.log_level)
    state = serving_state(app)
    state.lock = asyncio.Lock()  # bound to this event loop
    watcher = PointerWatcher(app, state, interval)
    app.state.watcher = watcher
    await watcher.check(trigger=STARTUP)
    task = asyncio.create_task(watcher.run(), name="serving-pointer-watcher")
    try:
        yield watcher
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
