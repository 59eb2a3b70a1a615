"""Service fixtures: apps built by create_app() on the session's real trained bundle."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings


def make_app(model_dir: Path, tmp_path: Path, **overrides) -> FastAPI:
    """An app on `model_dir`; the feedback store (untouched here) goes to tmp, never into the repo."""
    settings = Settings(model_dir=model_dir, database_url=f"sqlite:///{tmp_path / 'feedback.db'}", **overrides)
    return create_app(settings)


@pytest.fixture(scope="module")
def api(trained_model_dir, tmp_path_factory) -> Iterator[TestClient]:
    """The default app (open, default limits), model loaded by the lifespan; shared by a test module."""
    app = make_app(trained_model_dir, tmp_path_factory.mktemp("svc"))
    with TestClient(app) as client:
        yield client


@contextmanager
def open_clients() -> Iterator[Callable[..., TestClient]]:
    """`open_client(app, **TestClient kwargs)`: a started client (lifespan run); all are closed at the end."""
    clients: list[TestClient] = []

    def open_client(app: FastAPI, **kwargs: Any) -> TestClient:
        client = TestClient(app, **kwargs)
        client.__enter__()
        clients.append(client)
        return client

    try:
        yield open_client
    finally:
        for client in clients:
            client.__exit__(None, None, None)


@pytest.fixture
def app_factory(trained_model_dir, tmp_path) -> Iterator:
    """Build clients with other settings; every client is closed (lifespan shut down) after the test."""
    with open_clients() as open_client:

        def factory(model_dir: Path | None = None, raise_server_exceptions: bool = True, **overrides) -> TestClient:
            app = make_app(model_dir or trained_model_dir, tmp_path, **overrides)
            return open_client(app, raise_server_exceptions=raise_server_exceptions)

        yield factory
