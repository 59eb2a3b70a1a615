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
import sys
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from pydantic import ValidationError

from service.server_options import serve
from service.settings import Settings, get_settings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LEGACY_MULTIPROC_ENV = "prometheus_multiproc_dir"  # still honoured by prometheus_client
STATE_ENV = "TRIAGE_STATE_DIR"  # = service.serving_state.STATE_ENV (not imported: keeps this process light)


@contextmanager
def run_dir(env: str, prefix: str, workers: int, drop: tuple[str, ...] = ()) -> Iterator[str | None]:
    """A new empty directory in `env` while uvicorn runs (None for one worker, whose state lives in memory).

    Any inherited setting is dropped first and never reused: a directory from an earlier run would carry its
    counters or its pin into this one."""
    for name in (env, *drop):
        os.environ.pop(name, None)
    if workers <= 1:
        yield None
        return
    path = tempfile.mkdtemp(prefix=prefix)  # unique and empty, mode 0700
    os.environ[env] = path
    try:
        yield path
    finally:
        os.environ.pop(env, None)
        shutil.rmtree(path, ignore_errors=True)


def metrics_dir(workers: int) -> AbstractContextManager[str | None]:
    """The per-run PROMETHEUS_MULTIPROC_DIR (service/metrics.py sums the workers' files in it)."""
    return run_dir(MULTIPROC_ENV, "triage-metrics-", workers, drop=(LEGACY_MULTIPROC_ENV,))


def state_dir(workers: int) -> AbstractContextManager[str | None]:
    """The per-run serving-state directory (the admin pin every worker follows, service/serving_state.py)."""
    return run_dir(STATE_ENV, "triage-state-", workers)


NOT_SERVED = ("pandas", "matplotlib", "mlflow")


def keep_serving_lean() -> None:
    """A serving process imports no pandas, matplotlib or MLflow. The import contracts keep our own code off
    them; this keeps optional third-party probes off too (scikit-learn imports pandas whenever it is
    installed, as in a development environment: ~50 MB a process). Importing them now fails at once, and
    scikit-learn treats that as "not installed". Called before anything imports scikit-learn."""
    for name in NOT_SERVED:
        if name not in sys.modules:
            sys.modules[name] = None  # type: ignore[assignment]


def settings_or_exit() -> Settings:
    """The settings, or one line per invalid variable and exit code 2 (never a traceback)."""
    try:
        return get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = ".".join(str(p) for p in error["loc"]).upper() or "settings"
            secret = any(word in name for word in ("KEY", "SECRET", "TOKEN", "URL"))  # a URL may hold a password
            got = "" if secret else f" (got {error.get('input')!r})"
            print(f"error: invalid setting {name}: {error['msg']}{got}", file=sys.stderr)
        raise SystemExit(2) from None


def main() -> None:
    keep_serving_lean()
    s = settings_or_exit()
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
            preload=True,
        )


if __name__ == "__main__":
    main()
