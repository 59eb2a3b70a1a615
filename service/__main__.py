"""`python -m service`: run uvicorn with HOST/PORT/WORKERS/LOG_LEVEL from the environment.

With WORKERS > 1 each worker is its own process, so Prometheus values must be shared through files: a fresh
PROMETHEUS_MULTIPROC_DIR is made for this run before uvicorn spawns the workers (they inherit the environment)
and removed when uvicorn returns. A directory from an earlier run is never reused: its counters would be
added to this run's, and a crashed run's gauges would still look live.

The same holds for the serving state (service/serving_state.py): a fresh TRIAGE_STATE_DIR per run holds the
version an admin pinned, which every worker follows; a pin from an earlier run must not outlive it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from service.server_options import serve
from service.settings import get_settings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LEGACY_MULTIPROC_ENV = "prometheus_multiproc_dir"  # still honoured by prometheus_client
STATE_ENV = "TRIAGE_STATE_DIR"  # = service.serving_state.STATE_ENV (not imported: keeps this process light)


@contextmanager
def metrics_dir(workers: int) -> Iterator[str | None]:
    """A new empty multiprocess directory in the environment while uvicorn runs (None for one worker).

    Any inherited setting is dropped first: one worker keeps its values in memory, several get this run's
    own directory."""
    for name in (MULTIPROC_ENV, LEGACY_MULTIPROC_ENV):
        os.environ.pop(name, None)
    if workers <= 1:
        yield None
        return
    path = tempfile.mkdtemp(prefix="triage-metrics-")  # unique and empty, mode 0700
    os.environ[MULTIPROC_ENV] = path
    try:
        yield path
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(path, ignore_errors=True)


@contextmanager
def state_dir(workers: int) -> Iterator[str | None]:
    """A new empty serving-state directory in the environment while uvicorn runs (None for one worker,
    whose state lives in memory). An inherited setting is dropped, never reused."""
    os.environ.pop(STATE_ENV, None)
    if workers <= 1:
        yield None
        return
    path = tempfile.mkdtemp(prefix="triage-state-")  # unique and empty, mode 0700
    os.environ[STATE_ENV] = path
    try:
        yield path
    finally:
        os.environ.pop(STATE_ENV, None)
        shutil.rmtree(path, ignore_errors=True)


def main() -> None:
    s = get_settings()
    with metrics_dir(s.workers), state_dir(s.workers):
        serve(
            "service.app:create_app",
            s,
            factory=True,
            host=s.host,
            port=s.port,
            workers=s.workers,
            log_level=s.log_level,
            access_log=False,
        )


if __name__ == "__main__":
    main()
