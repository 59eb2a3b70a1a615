"""Shared fixtures: one real model trained once per test session on the real corpus."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from training.datasets.corpus import read_corpus, to_typed
from training.runtime.taxonomy import PROJECT_ROOT, default_taxonomy

pytest_plugins = ["tests.db_fixtures"]  # db_url (SQLite + PostgreSQL), pg_url, pg_server

FAST_FAMILIES = ("logreg",)
# Tests that use these fixtures train the session model (~1-2 min once) or start servers: marked slow.
SLOW_FIXTURES = {"trained_model_dir", "trained_model", "service_process"}


def pytest_collection_modifyitems(config, items) -> None:
    """`slow` for tests needing the trained model or a server, `e2e` (and slow) for tests/e2e."""
    for item in items:
        if "e2e" in item.path.parts:
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.slow)
        elif SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def corpus():
    """The corpus as training reads it. Validation (duplicates, shortcut audit: ~12 s) is tested on its own
    in tests/data and tests/training/test_corpus_validation.py, so the fixture only reads and types it."""
    return to_typed(read_corpus(), default_taxonomy())


@pytest.fixture(scope="session")
def trained_model_dir(tmp_path_factory, corpus) -> Path:
    """A real bundle (models/<version> + models/latest) trained on data/comments.csv, without MLflow.

    TRIAGE_TEST_MODEL_DIR names an existing bundle directory to use instead, for iterating on a few tests
    locally (CI never sets it); tests may write into it, so point it at a copy."""
    existing = os.environ.get("TRIAGE_TEST_MODEL_DIR")
    if existing:
        return Path(existing)
    from training.fit.run import run_training
    from training.fit.train import TrainConfig

    out = tmp_path_factory.mktemp("models")
    run_training(
        corpus, model_dir=out, config=TrainConfig(folds=3, families=FAST_FAMILIES, progress=False), track=False
    )
    return out


@pytest.fixture(scope="session")
def trained_model(trained_model_dir):
    from training.runtime.bundle import load_bundle

    model, _ = load_bundle(trained_model_dir)
    return model


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_service(
    env_overrides: dict[str, str],
    log_path: Path,
    ready_timeout: float = 120.0,
    argv: list[str] | None = None,
    ready_path: str = "/ready",
):
    """`python -m service` (or `python <argv>`) as a real subprocess on a free loopback port; yields the base
    URL once `ready_path` answers 200."""
    with running_service_process(env_overrides, log_path, ready_timeout, argv, ready_path) as (_, base):
        yield base


@contextmanager
def running_service_process(
    env_overrides: dict[str, str],
    log_path: Path,
    ready_timeout: float = 120.0,
    argv: list[str] | None = None,
    ready_path: str = "/ready",
):
    """`running_service`, yielding (the subprocess, the base URL): for tests that signal or inspect it."""
    import httpx

    port = free_port()
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "WORKERS": "1", "API_KEYS": "", **env_overrides}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, *(argv or ["-m", "service"])],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            if proc.poll() is not None:
                pytest.fail(f"server exited with {proc.returncode}: {log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}{ready_path}", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server not ready in {ready_timeout:.0f} s: {log_path.read_text()[-2000:]}")
            time.sleep(0.3)
        yield proc, base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def service_process():
    """The `running_service` context manager, for tests that need a real uvicorn subprocess."""
    return running_service
