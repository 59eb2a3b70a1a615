"""Archive scoring on Spark: the job's rows equal the bundle's own results, and its failures are one line.

The Spark tests run the real job (`python -m training.jobs.spark_score`, and the same file under
`spark-submit`) on a local Spark with the model logged into a throw-away MLflow store. Locally they skip
without pyspark or Java; in CI (CI=true) they fail instead, so a missing install step cannot pass unseen.
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from training.jobs.spark_io import input_format
from training.jobs.spark_score import java_major, result_types
from training.runtime.batch import result_columns, result_row
from training.runtime.taxonomy import PROJECT_ROOT, default_taxonomy

JOB = [sys.executable, "-m", "training.jobs.spark_score"]
ARROW_TYPES = {"int": "int32", "double": "double", "string": "string"}


def _java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def _require_spark() -> None:
    """Skip on a developer's machine without pyspark or Java; fail in CI, where both must be installed."""
    missing = []
    if importlib.util.find_spec("pyspark") is None:
        missing.append("pyspark (pip install -e '.[spark]')")
    java = _java()
    if java is None or java_major(java) < 17:
        missing.append("Java 17+ (scripts/ensure_java.sh)")
    if missing:
        message = "the Spark job needs " + " and ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def _env(store: Path, **extra: str) -> dict[str, str]:
    """The job's environment: a throw-away tracking store, loopback only, nothing from the network."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK_", "SPARK_"))}
    env.update(
        MLFLOW_TRACKING_URI=f"sqlite:///{store / 'mlflow.db'}",
        SPARK_LOCAL_IP="127.0.0.1",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def _run(args: list[str], env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*JOB, *map(str, args)], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def logged_model(trained_model_dir, tmp_path_factory) -> dict:
    """The session bundle logged and registered in a temporary store, with the `champion` alias on it."""
    _require_spark()
    import mlflow

    from training.fit.tracking import log_training_run, set_champion
    from training.runtime.bundle import latest_version

    store = tmp_path_factory.mktemp("spark_mlflow")
    previous = mlflow.get_tracking_uri()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")
        info = log_training_run(
            bundle_dir=trained_model_dir / latest_version(trained_model_dir),
            params={"note": "spark test"},
            metrics={},
            plots=[],
            data_hash="spark-test",
            head_choices=[],
        )
        set_champion(str(info["registered_version"]))
    mlflow.set_tracking_uri(previous)
    return {**info, "store": store}


def _assert_rows_equal(table: pd.DataFrame, expected: list[dict], columns: list[str]) -> None:
    """Every cell as result_row gives it: floats within 1e-6, an empty topic_score read back as null."""
    assert len(table) == len(expected)
    for i, want in enumerate(expected):
        got = table.iloc[i]
        for c in columns:
            w, g = want[c], got[c]
            if w == "" and c.endswith("_score"):
                assert g is None or (isinstance(g, float) and math.isnan(g)), (i, c, g)
            elif isinstance(w, float):
                assert abs(float(g) - w) <= 1e-6, (i, c, g, w)
            else:
                assert g == w, (i, c, g, w)


def _assert_schema(path: Path, model, keep: list[str]) -> None:
    import pyarrow.parquet as pq

    schema = pq.read_schema(next(path.glob("*.parquet")))
    types = result_types(model.flags, model.urgent_label)
    assert schema.names == [*keep, *result_columns(model.flags, model.urgent_label)]
    for c, t in types.items():
        assert str(schema.field(c).type) == ARROW_TYPES[t], (c, schema.field(c).type)


@pytest.mark.slow
def test_spark_job_scores_2000_comments_exactly_like_the_bundle(logged_model, trained_model, corpus, tmp_path):
    comments = corpus[corpus["split"] == "test"].head(2000).reset_index(drop=True)[["id", "text"]]
    assert len(comments) == 2000
    source, out = tmp_path / "comments.csv", tmp_path / "scored.parquet"
    comments.to_csv(source, index=False)  # real texts: quotes, commas and line breaks inside cells

    t0 = time.monotonic()
    proc = _run(["--input", source, "--output", out, "--master", "local[2]"], _env(logged_model["store"]))
    wall = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr[-4000:]
    started = re.search(r"started in ([\d.]+) s", proc.stderr)
    scored = re.search(r"wrote (\d+) rows .* in ([\d.]+) s", proc.stderr)
    assert started and scored and scored.group(1) == "2000", proc.stderr[-2000:]
    print(
        f"\nspark-score, 2000 comments on local[2]: wall {wall:.1f} s, spark start {started.group(1)} s, "
        f"score+write {scored.group(2)} s"
    )
    assert "models:/comment-triage@champion" in proc.stderr  # the default URI: the champion alias

    table = pd.read_parquet(out)
    assert table["id"].tolist() == comments["id"].tolist()  # ids kept, and the input order with them
    assert "text" not in table.columns  # with ids the texts are not copied
    flags, urgent = trained_model.flags, trained_model.urgent_label
    expected = [result_row(r, flags, urgent) for r in trained_model.classify(comments["text"].tolist())]
    _assert_rows_equal(table, expected, result_columns(flags, urgent))
    _assert_schema(out, trained_model, ["id"])
    assert table["topic_score"].isna().sum() == sum(r["topic_score"] == "" for r in expected)


@pytest.mark.slow
def test_the_same_job_runs_under_spark_submit_on_parquet_without_ids(logged_model, trained_model, corpus, tmp_path):
    texts: list[str | None] = [*corpus["text"].head(30), "", None]
    source, out = tmp_path / "archive.parquet", tmp_path / "scored"
    pd.DataFrame({"message": texts, "region": "77"}).to_parquet(source)
    submit = Path(sys.executable).parent / "spark-submit"
    assert submit.is_file(), "pyspark installs bin/spark-submit beside the venv's python"
    env = _env(logged_model["store"], PYSPARK_PYTHON=sys.executable)  # what a cluster's executors get told
    proc = subprocess.run(
        [str(submit), "--master", "local[1]", str(PROJECT_ROOT / "training/jobs/spark_score.py")]
        + ["--input", str(source), "--output", str(out), "--text-column", "message"]
        + ["--model-uri", logged_model["model_uri"]],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    log = proc.stdout + proc.stderr  # spark-submit hands the Python driver's stderr to its own stdout
    assert proc.returncode == 0, log[-4000:]
    assert "on local[1]" in log, log[-4000:]  # spark-submit's master, not the job's default local[*]

    table = pd.read_parquet(out)
    assert table["message"].tolist() == [t or "" for t in texts]  # no id column: the text identifies rows
    flags, urgent = trained_model.flags, trained_model.urgent_label
    expected = [result_row(r, flags, urgent) for r in trained_model.classify([t or "" for t in texts])]
    _assert_rows_equal(table, expected, result_columns(flags, urgent))
    _assert_schema(out, trained_model, ["message"])


def _one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("spark-score: error: "), proc.stderr[-2000:]
    return lines[0]


@pytest.fixture
def comments_csv(tmp_path) -> Path:
    path = tmp_path / "c.csv"
    pd.DataFrame({"id": ["a", "b"], "text": ["Когда починят дорогу?", "Спасибо"]}).to_csv(path, index=False)
    return path


def test_missing_input_text_column_and_existing_output_fail_before_spark_starts(comments_csv, tmp_path):
    env = _env(tmp_path)
    line = _one_error_line(_run(["--input", tmp_path / "nope.csv", "--output", tmp_path / "o"], env))
    assert "input not found" in line and "nope.csv" in line
    line = _run(["--input", comments_csv, "--output", tmp_path / "o", "--text-column", "body"], env)
    assert "no text column 'body'" in _one_error_line(line) and "['id', 'text']" in _one_error_line(line)
    (tmp_path / "taken").mkdir()
    line = _one_error_line(_run(["--input", comments_csv, "--output", tmp_path / "taken"], env))
    assert "output exists" in line and "--overwrite" in line
    line = _one_error_line(_run(["--input", tmp_path / "c.json", "--output", tmp_path / "o"], env))
    assert "cannot tell the format" in line


@pytest.mark.slow
def test_an_unknown_model_uri_fails_with_one_line(logged_model, comments_csv, tmp_path):
    args = ["--input", comments_csv, "--output", tmp_path / "o"]
    line = _one_error_line(_run([*args, "--model-uri", "models:/no-such-model@x"], _env(logged_model["store"])))
    assert "cannot load model 'models:/no-such-model@x'" in line and "not found" in line
    # No store where MLFLOW_TRACKING_URI points: said so, and no empty store is left behind.
    line = _one_error_line(_run(args, _env(tmp_path / "nowhere")))
    assert "'models:/comment-triage@champion'" in line and "no MLflow tracking store" in line
    assert not (tmp_path / "nowhere").exists() and not (tmp_path / "o").exists()


@pytest.mark.slow
def test_missing_java_fails_with_one_line_that_names_the_fix(comments_csv, tmp_path):
    if importlib.util.find_spec("pyspark") is None:
        _require_spark()
    env = _env(tmp_path, PATH=str(tmp_path / "empty-bin"))
    env.pop("JAVA_HOME", None)
    line = _one_error_line(_run(["--input", comments_csv, "--output", tmp_path / "o"], env))
    assert "Java not found" in line and "scripts/ensure_java.sh" in line


def test_result_types_cover_every_result_column():
    taxonomy = default_taxonomy()
    types = result_types(taxonomy.flags, taxonomy.urgent)
    assert list(types) == result_columns(taxonomy.flags, taxonomy.urgent)
    assert {types[f] for f in (*taxonomy.flags, taxonomy.urgent)} == {"int"}
    assert {types[c] for c in types if c.endswith("_score")} == {"double"}
    assert types["category"] == types["topic"] == types["route"] == types["evidence"] == "string"


def test_input_format_by_name_by_directory_or_as_given(tmp_path):
    from training.jobs.spark_io import JobError

    assert input_format("a/b.CSV", "auto") == "csv" and input_format("x.csv.gz", "auto") == "csv"
    assert input_format("s3a://bucket/year=2025/part.parquet", "auto") == "parquet"
    assert input_format("hdfs:///archive/comments", "parquet") == "parquet"
    (tmp_path / "part-0001.snappy.parquet").write_bytes(b"")
    assert input_format(str(tmp_path), "auto") == "parquet"
    with pytest.raises(JobError, match="--format"):
        input_format("hdfs:///archive/comments", "auto")
