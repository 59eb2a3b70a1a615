"""Shared fixtures: one real model trained once per test session on the real corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.corpus import load_corpus
from training.taxonomy import PROJECT_ROOT

FAST_FAMILIES = ("logreg",)


@pytest.fixture(scope="session")
def corpus():
    return load_corpus()


@pytest.fixture(scope="session")
def trained_model_dir(tmp_path_factory, corpus) -> Path:
    """A real bundle (models/<version> + models/latest) trained on data/comments.csv, without MLflow."""
    from training.pipeline_run import run_training
    from training.train import TrainConfig

    out = tmp_path_factory.mktemp("models")
    run_training(corpus, model_dir=out, config=TrainConfig(folds=3, families=FAST_FAMILIES, progress=False),
                 track=False)
    return out


@pytest.fixture(scope="session")
def trained_model(trained_model_dir):
    from training.bundle import load_bundle

    model, _ = load_bundle(trained_model_dir)
    return model


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT
