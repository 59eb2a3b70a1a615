"""Service fixtures: apps built by create_app() on the session's real trained bundle."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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


@pytest.fixture
def app_factory(trained_model_dir, tmp_path) -> Iterator:
    """Build clients with other settings; every client is closed (lifespan shut down) after the test."""
    clients: list[TestClient] = []

    def factory(model_dir: Path | None = None, raise_server_exceptions: bool = True, **overrides) -> TestClient:
        app = make_app(model_dir or trained_model_dir, tmp_path, **overrides)
        client = TestClient(app, raise_server_exceptions=raise_server_exceptions)
        client.__enter__()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.__exit__(None, None, None)
