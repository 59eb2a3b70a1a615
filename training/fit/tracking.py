"""MLflow: every training run logs params, data hash, test metrics, plots and a pyfunc model.

Default tracking is an embedded SQLite file in the project; MLFLOW_TRACKING_URI points elsewhere.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from training.fit.pyfunc import TriagePyfunc
from training.runtime.taxonomy import DEFAULT_TAXONOMY_PATH, PROJECT_ROOT

REGISTERED_MODEL = "comment-triage"
CHAMPION = "champion"
EXPERIMENT = "comment-triage"


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{PROJECT_ROOT / 'mlflow.db'}"


def _setup() -> Any:
    import mlflow

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module="mlflow")
    mlflow.set_tracking_uri(tracking_uri())
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        artifacts = None
        uri = tracking_uri()
        if uri.startswith("sqlite:///"):
            # Artifacts live beside the database file, so a throw-away tracking DB leaves nothing in the project.
            artifacts = (Path(uri.removeprefix("sqlite:///")).resolve().parent / "mlartifacts").as_uri()
        mlflow.create_experiment(EXPERIMENT, artifact_location=artifacts)
    mlflow.set_experiment(EXPERIMENT)
    return mlflow


def champion_version() -> str | None:
    """The registered version the `champion` alias points to, or None."""
    _setup()
    from mlflow import MlflowClient

    try:
        return MlflowClient().get_model_version_by_alias(REGISTERED_MODEL, CHAMPION).version
    except Exception:  # no registered model or no alias yet
        return None


def set_champion(registered_version: str) -> None:
    """Move the alias; only training/fit/promotion.py calls this, together with models/latest."""
    _setup()
    from mlflow import MlflowClient

    MlflowClient().set_registered_model_alias(REGISTERED_MODEL, CHAMPION, registered_version)


def log_training_run(
    *,
    bundle_dir: Path,
    params: dict[str, Any],
    metrics: dict[str, float],
    plots: list[Path],
    data_hash: str,
    head_choices: list[dict[str, Any]],
) -> dict[str, Any]:
    """Log the run and register the model; the `champion` alias is moved by training/fit/promotion.py."""
    mlflow = _setup()
    from mlflow import MlflowClient

    client = MlflowClient()
    with mlflow.start_run(run_name=bundle_dir.name) as run:
        mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        mlflow.set_tags({"data_hash": data_hash, "bundle_version": bundle_dir.name})
        mlflow.log_metrics(metrics)
        for p in plots:
            mlflow.log_artifact(str(p), artifact_path="plots")
        mlflow.log_dict({"head_choices": head_choices}, "model_comparison.json")
        mlflow.log_artifact(str(bundle_dir / "manifest.json"))
        example = pd.DataFrame({"text": ["Третий день нет горячей воды на Ленина 5, когда дадут?"]})
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=TriagePyfunc(),
            artifacts={"model": str(bundle_dir / "model.joblib"), "taxonomy": str(DEFAULT_TAXONOMY_PATH)},
            code_paths=[str(PROJECT_ROOT / "training")],
            pip_requirements=_pip_requirements(),
            input_example=example,
            registered_model_name=REGISTERED_MODEL,
        )
        run_id = run.info.run_id
    registered = client.search_model_versions(f"name='{REGISTERED_MODEL}' and run_id='{run_id}'")
    version = registered[0].version if registered else None
    return {"run_id": run_id, "registered_version": version, "model_uri": info.model_uri}


def _pip_requirements() -> list[str]:
    from training.runtime.bundle import library_versions

    v = library_versions()
    pins = {
        "scikit-learn": "scikit-learn",
        "numpy": "numpy",
        "scipy": "scipy",
        "pandas": "pandas",
        "joblib": "joblib",
        "pymorphy3": "pymorphy3",
        "pymorphy3-dicts-ru": "pymorphy3-dicts-ru",
        "navec": "navec",
        "natasha": "natasha",
    }  # natasha ships the navec vectors the model reads
    reqs = [f"{name}=={v[pkg]}" for pkg, name in pins.items() if pkg in v]
    return [*reqs, "pyyaml", "tqdm", f"mlflow=={v.get('mlflow', '')}".rstrip("=")]
