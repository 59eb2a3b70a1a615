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

from training.taxonomy import DEFAULT_TAXONOMY_PATH, PROJECT_ROOT

REGISTERED_MODEL = "comment-triage"
CHAMPION = "champion"
EXPERIMENT = "comment-triage"
PRIMARY_METRIC = "test_flags_macro_f1"

try:  # the pyfunc flavour needs mlflow at class-definition time; the rest of training does not
    import mlflow.pyfunc

    _PythonModel = mlflow.pyfunc.PythonModel
except ImportError:  # pragma: no cover
    _PythonModel = object


class TriagePyfunc(_PythonModel):
    """`mlflow models serve` and `mlflow.pyfunc.spark_udf` entry: a DataFrame with `text` in, results out."""

    def load_context(self, context: Any) -> None:
        import joblib

        from training.taxonomy import load_taxonomy

        self.model = joblib.load(context.artifacts["model"])
        # The taxonomy travels with the model: a Spark executor has no project checkout to read it from.
        self.taxonomy = load_taxonomy(context.artifacts["taxonomy"])

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        if isinstance(model_input, pd.DataFrame):
            texts = model_input["text" if "text" in model_input.columns else model_input.columns[0]]
        else:
            texts = pd.Series(model_input)
        results = self.model.classify(texts.astype(str).tolist(), self.taxonomy)
        rows = []
        for r in results:
            row = {"category": r["category"], "action": r["action"], "topic": r["topic"] or "",
                   "urgent": bool(r["urgent"]), "urgent_score": r["urgent_score"]}
            row.update({f"{k}": bool(v) for k, v in r["flags"].items()})
            row.update({f"{k}_score": v for k, v in r["scores"].items()})
            rows.append(row)
        return pd.DataFrame(rows)


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


def champion_metric(client: Any) -> tuple[str | None, float | None]:
    """(version, primary metric) of the current champion, or (None, None)."""
    try:
        mv = client.get_model_version_by_alias(REGISTERED_MODEL, CHAMPION)
    except Exception:  # no registered model or no alias yet
        return None, None
    metric = client.get_run(mv.run_id).data.metrics.get(PRIMARY_METRIC)
    return mv.version, metric


def log_training_run(
    *,
    bundle_dir: Path,
    params: dict[str, Any],
    metrics: dict[str, float],
    plots: list[Path],
    data_hash: str,
    head_choices: list[dict[str, Any]],
    promote_if: str = "not_worse",
) -> dict[str, Any]:
    """Log the run, register the model and move `champion` when the primary metric is not lower."""
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
    champ_version, champ_metric = champion_metric(client)
    new_metric = metrics[PRIMARY_METRIC]
    promoted = version is not None and (champ_metric is None or new_metric >= champ_metric)
    if promoted and promote_if != "never":
        client.set_registered_model_alias(REGISTERED_MODEL, CHAMPION, version)
    else:
        promoted = False
    return {"run_id": run_id, "registered_version": version, "promoted": promoted,
            "previous_champion": champ_version, "previous_champion_metric": champ_metric,
            "model_uri": info.model_uri}


def promote(registered_version: str) -> None:
    _setup()
    from mlflow import MlflowClient

    MlflowClient().set_registered_model_alias(REGISTERED_MODEL, CHAMPION, registered_version)


def _pip_requirements() -> list[str]:
    from training.bundle import library_versions

    v = library_versions()
    pins = {"scikit-learn": "scikit-learn", "numpy": "numpy", "scipy": "scipy", "pandas": "pandas",
            "joblib": "joblib", "pymorphy3": "pymorphy3", "pymorphy3-dicts-ru": "pymorphy3-dicts-ru",
            "navec": "navec", "natasha": "natasha"}  # natasha ships the navec vectors the model reads
    reqs = [f"{name}=={v[pkg]}" for pkg, name in pins.items() if pkg in v]
    return [*reqs, "pyyaml", "tqdm", f"mlflow=={v.get('mlflow', '')}".rstrip("=")]
