"""MLflow: a training run is logged, registered, and its pyfunc model answers like the bundle does."""

from __future__ import annotations

import pandas as pd
import pytest

from training.evaluation.metrics import flat_metrics


@pytest.fixture
def tracking(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    return tmp_path


def test_logged_pyfunc_model_predicts_like_the_bundle_and_the_alias_moves_with_latest(
    tracking, trained_model_dir, trained_model, corpus
):
    import mlflow

    from training.evaluation.metrics import evaluate
    from training.fit.promotion import move_pointers
    from training.fit.tracking import champion_version, log_training_run
    from training.runtime.batch import result_columns
    from training.runtime.bundle import latest_version, read_manifest

    bundle = trained_model_dir / latest_version(trained_model_dir)
    test = corpus[corpus["split"] == "test"].head(200).reset_index(drop=True)
    metrics = flat_metrics(evaluate(trained_model, test))
    first = log_training_run(
        bundle_dir=bundle,
        params={"note": "first"},
        metrics=metrics,
        plots=[],
        data_hash=read_manifest(trained_model_dir)["data_hash"],
        head_choices=[],
    )
    assert str(first["registered_version"]) == "1" and champion_version() is None  # logging never promotes
    assert (tracking / "mlartifacts").is_dir()  # artifacts beside the throw-away tracking DB
    second = log_training_run(
        bundle_dir=bundle, params={"note": "second"}, metrics=metrics, plots=[], data_hash="x", head_choices=[]
    )
    model_dir = tracking / "models"
    import shutil

    shutil.copytree(trained_model_dir, model_dir)
    assert move_pointers(model_dir, bundle.name, second["registered_version"])
    assert str(champion_version()) == "2" and latest_version(model_dir) == bundle.name
    # A pointer that cannot move takes the alias back with it.
    with pytest.raises(Exception):  # noqa: B017 - BundleError: no such bundle
        move_pointers(model_dir, "no-such-version", first["registered_version"])
    assert str(champion_version()) == "2" and latest_version(model_dir) == bundle.name

    texts = ["В подъезде сильно пахнет газом, срочно!!!", "Спасибо за работу!", "х*йня а не дорога на Ленина"]
    model = mlflow.pyfunc.load_model(first["model_uri"])
    out = model.predict(pd.DataFrame({"text": texts}))
    expected = trained_model.classify(texts)
    assert list(out["category"]) == [r["category"] for r in expected]
    assert list(out["topic"]) == [r["topic"] or "" for r in expected]
    assert list(out.columns) == result_columns(trained_model.flags, trained_model.urgent_label)
