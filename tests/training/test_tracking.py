"""MLflow: a training run is logged, registered, and its pyfunc model answers like the bundle does."""

from __future__ import annotations

import pandas as pd
import pytest

from training.evaluate import flat_metrics


@pytest.fixture
def tracking(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    return tmp_path


def test_logged_pyfunc_model_predicts_and_champion_moves_only_when_not_worse(tracking, trained_model_dir,
                                                                              trained_model, corpus):
    import mlflow

    from training.bundle import latest_version, read_manifest
    from training.evaluate import evaluate
    from training.tracking import champion_metric, log_training_run

    bundle = trained_model_dir / latest_version(trained_model_dir)
    test = corpus[corpus["split"] == "test"].head(200).reset_index(drop=True)
    metrics = flat_metrics(evaluate(trained_model, test))
    first = log_training_run(bundle_dir=bundle, params={"note": "first"}, metrics=metrics, plots=[],
                             data_hash=read_manifest(trained_model_dir)["data_hash"], head_choices=[])
    assert first["promoted"] and str(first["registered_version"]) == "1"
    assert (tracking / "mlartifacts").is_dir()  # artifacts beside the throw-away tracking DB

    worse = {**metrics, "test_flags_macro_f1": metrics["test_flags_macro_f1"] - 0.1}
    second = log_training_run(bundle_dir=bundle, params={"note": "worse"}, metrics=worse, plots=[],
                              data_hash="x", head_choices=[])
    assert not second["promoted"] and str(second["previous_champion"]) == "1"
    client = mlflow.MlflowClient()
    version, value = champion_metric(client)
    assert str(version) == "1" and value == pytest.approx(metrics["test_flags_macro_f1"])

    texts = ["В подъезде сильно пахнет газом, срочно!!!", "Спасибо за работу!", "х*йня а не дорога на Ленина"]
    model = mlflow.pyfunc.load_model(first["model_uri"])
    out = model.predict(pd.DataFrame({"text": texts}))
    expected = trained_model.classify(texts)
    assert list(out["category"]) == [r["category"] for r in expected]
    assert list(out["topic"]) == [r["topic"] or "" for r in expected]
