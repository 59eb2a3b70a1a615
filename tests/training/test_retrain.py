"""Retraining on feedback: conflicts, test-split exclusion, the comparison table and the promotion rule."""

from __future__ import annotations

import csv
import shutil

import pytest

from training.cli import main as cli_main
from training.datasets.corpus import columns
from training.fit.retrain import RetrainError, merge_feedback, read_feedback_csv, retrain, text_key
from training.fit.train import TrainConfig
from training.runtime.bundle import latest_version, read_manifest
from training.runtime.taxonomy import default_taxonomy

TAX = default_taxonomy()
NQ = TAX.no_question_flag


def _row(id_, text, topic=None, **flags):
    row = {"id": id_, "text": text, **{f: 0 for f in TAX.flags}, "topic": topic or "", TAX.urgent: 0, "split": "train"}
    if topic is None:
        row[NQ] = 1
    row.update(flags)
    return row


@pytest.fixture
def feedback_csv(tmp_path, corpus):
    """A few corrected rows: one relabels a train row, one repeats a test-split text, two are new."""
    train = corpus[(corpus["split"] == "train") & (corpus[NQ] == 0)].iloc[0]
    test = corpus[corpus["split"] == "test"].iloc[0]
    other_topic = next(t for t in TAX.topic_ids if t != train["topic"])
    rows = [
        _row("fb-train", train["text"], topic=other_topic),
        # Same text as a test row up to case and trailing punctuation: must never reach training.
        _row("fb-test", "  " + test["text"].upper() + "!!", topic=None),
        _row("fb-new-1", "Подскажите, когда откроют бассейн на Садовой после ремонта?", topic="culture_sport"),
        _row("fb-new-2", "Спасибо огромное всем, кто убирал двор в субботу!", topic=None),
    ]
    path = tmp_path / "feedback.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=columns(TAX))
        w.writeheader()
        w.writerows(rows)
    return path, train, test, other_topic


def test_merge_feedback_wins_and_skips_test_texts(corpus, feedback_csv):
    path, train, test, other_topic = feedback_csv
    feedback = read_feedback_csv(path)
    merged, report = merge_feedback(corpus, feedback)
    assert (report.feedback_rows, report.dropped_test, report.replaced, report.added) == (4, 1, 1, 2)
    assert report.dropped_test_ids == ["fb-test"]
    m_train = merged[merged["split"] == "train"]
    keys = m_train["text"].map(text_key)
    assert text_key(test["text"]) not in set(keys)
    relabelled = m_train[keys == text_key(train["text"])]
    assert len(relabelled) == 1 and relabelled.iloc[0]["topic"] == other_topic
    assert len(m_train) == (corpus["split"] == "train").sum() + 2
    # The test split is untouched, row for row.
    assert merged[merged["split"] == "test"]["text"].tolist() == corpus[corpus["split"] == "test"]["text"].tolist()


def test_retrain_prints_table_and_follows_the_rule(
    tmp_path, monkeypatch, capsys, corpus, trained_model_dir, feedback_csv
):
    import mlflow
    from mlflow import MlflowClient

    from training.fit.tracking import CHAMPION, EXPERIMENT, REGISTERED_MODEL

    model_dir = tmp_path / "models"
    shutil.copytree(trained_model_dir, model_dir)
    champion_version = latest_version(model_dir)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    # Keep the artifacts in tmp_path (the default for sqlite tracking is the project's mlartifacts/).
    mlflow.create_experiment(EXPERIMENT, artifact_location=(tmp_path / "mlartifacts").as_uri())

    result = retrain(
        corpus,
        read_feedback_csv(feedback_csv[0]),
        model_dir=model_dir,
        config=TrainConfig(folds=3, families=("logreg",), progress=False),
    )
    out = capsys.readouterr().out
    print(out)
    assert "paired bootstrap on the fixed test split" in out and "promotion:" in out
    for label in [*TAX.flags, TAX.urgent, "flags_macro_f1"]:
        assert label in out
    assert "dropped (text or id of a test-split row; feedback never lands in the test split): 1" in out
    assert result.merge.dropped_test == 1
    assert result.champion_version == champion_version
    manifest = read_manifest(model_dir, result.candidate_version)
    assert manifest["train_rows"] == (corpus["split"] == "train").sum() + 2
    assert manifest["test_rows"] == (corpus["split"] == "test").sum()

    # Both pointers follow the decision together.
    assert result.decision.comparison is not None and result.decision.comparison.rows == manifest["test_rows"]
    client = MlflowClient(uri)
    registered = result.tracking["registered_version"]
    if result.decision.promote:
        assert latest_version(model_dir) == result.candidate_version
        assert client.get_model_version_by_alias(REGISTERED_MODEL, CHAMPION).version == registered
        assert "PROMOTE" in out
    else:
        assert latest_version(model_dir) == champion_version
        assert "KEEP CHAMPION" in out
        with pytest.raises(Exception):  # noqa: B017 - MLflow raises its own error when no alias is set
            client.get_model_version_by_alias(REGISTERED_MODEL, CHAMPION)


def test_bad_feedback_source_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,text\n1,привет\n", encoding="utf-8")
    with pytest.raises(RetrainError, match="missing columns"):
        read_feedback_csv(bad)
    assert (
        cli_main(
            ["retrain", "--feedback", str(tmp_path / "missing.csv"), "--model-dir", str(tmp_path / "m"), "--no-mlflow"]
        )
        == 2
    )
    assert "error: feedback file not found" in capsys.readouterr().err
    db = tmp_path / "empty.db"
    assert (
        cli_main(["retrain", "--database-url", f"sqlite:///{db}", "--model-dir", str(tmp_path / "m"), "--no-mlflow"])
        == 2
    )
    assert "the database has no 'feedback' table" in capsys.readouterr().err
    assert not db.exists() or "feedback" not in db.read_bytes().decode("latin-1")  # no empty table was created


def test_spreadsheet_safe_export_round_trips_through_read_feedback_csv(tmp_path):
    """GET /feedback/export prefixes formula-looking cells with '; retraining reads the original text back."""
    from training.runtime.feedback.store import FeedbackStore

    texts = {
        "fb-formula": '=HYPERLINK("http://example.invalid/x","Подробнее")',
        "fb-minus": "-5 градусов в квартире, когда дадут отопление?",
        "fb-plus": "+7 900 000-00-00, трубу прорвало, когда приедут?",
        "fb-at": "@администрация когда уберут снег во дворе?",
        "fb-quote": "'=уже с апострофом, когда починят лифт?",
        "fb-plain": "Когда починят лифт в доме 5?",
        "-fb-id": "Почему не убирают снег на Садовой?",
    }
    topic = TAX.topic_ids[0]
    store = FeedbackStore(f"sqlite:///{tmp_path / 'fb.db'}")
    try:
        for cid, text in texts.items():
            labels = {f: 0 for f in TAX.flags} | {"topic": topic, TAX.urgent: 0}
            store.upsert(cid, text, labels, "Иванова")
        path = tmp_path / "export.csv"
        path.write_text(store.export_csv(for_spreadsheet=True), encoding="utf-8")
    finally:
        store.close()
    raw = path.read_text(encoding="utf-8")
    assert "'=HYPERLINK(" in raw and "'-5 градусов" in raw  # what a spreadsheet sees is inert
    feedback = read_feedback_csv(path)
    assert dict(zip(feedback["id"], feedback["text"], strict=True)) == texts
