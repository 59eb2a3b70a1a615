"""Archive scoring on Spark: a CSV or Parquet file of comments in, Parquet with every result field out.

The logged MLflow model (training/fit/pyfunc.py) runs inside `mlflow.pyfunc.spark_udf`, so each executor
classifies its partitions with the same bundle, taxonomy and code that `mlflow models serve` uses, and every
row gets the columns of `training/runtime/batch.py` `result_columns`, typed. The job never reads the project
checkout on the executors: the model carries its code and taxonomy. The same command runs on a laptop
(`--master local[*]`, the default) and on a cluster (`--master spark://host:7077`, or under `spark-submit`,
which chooses the master itself).

    python -m training.jobs.spark_score --input comments.csv --output scored.parquet [--master local[2]]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from training.jobs.spark_io import (
    INTERNAL_ROW,
    JobError,
    check_local_input,
    check_local_output,
    input_format,
    is_local,
    read_input,
    say,
    spark_error_line,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

# result_row leaves these cells empty ("") when there is nothing to score (no topic): the UDF hands them over
# as strings and the job turns them into nullable doubles, since Arrow cannot cast "" to a double.
EMPTY_WHEN_MISSING = ("topic_score",)


@dataclass(frozen=True)
class ResolvedModel:
    """A local copy of the logged model and the result columns it answers with."""

    uri: str
    path: Path
    flags: tuple[str, ...]
    urgent: str
    run_id: str | None

    @property
    def columns(self) -> list[str]:
        from training.runtime.batch import result_columns

        return result_columns(self.flags, self.urgent)


def result_types(flags: Sequence[str], urgent: str) -> dict[str, str]:
    """Each result column's Spark SQL type: flags and urgency as 0/1 ints, scores as doubles, the rest text."""
    from training.runtime.batch import result_columns  # the model's stack loads only once a model is needed

    ints = {*flags, urgent}
    doubles = {*(f"{f}_score" for f in flags), f"{urgent}_score", "topic_score"}
    return {c: "int" if c in ints else "double" if c in doubles else "string" for c in result_columns(flags, urgent)}


def _udf_struct(model: ResolvedModel) -> StructType:
    """The struct the UDF returns: the result types, with the may-be-empty numbers carried as strings."""
    from pyspark.sql.types import DoubleType, IntegerType, StringType, StructField, StructType

    spark_type = {"int": IntegerType(), "double": DoubleType(), "string": StringType()}
    types = result_types(model.flags, model.urgent)
    return StructType(
        [StructField(c, StringType() if c in EMPTY_WHEN_MISSING else spark_type[t], True) for c, t in types.items()]
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m training.jobs.spark_score",
        description="Score a CSV or Parquet file of comments with the logged MLflow model on Spark; write Parquet.",
    )
    p.add_argument("--input", required=True, help="CSV or Parquet file or directory (local path or any Spark URI)")
    p.add_argument("--output", required=True, help="Parquet directory to write")
    p.add_argument("--format", choices=["auto", "csv", "parquet"], default="auto", help="input format (auto: by name)")
    p.add_argument("--text-column", default="text", help="the column with the comment text (default: text)")
    p.add_argument(
        "--id-column", default=None, help="a column copied to the output (default: `id` when the input has one)"
    )
    p.add_argument("--keep-text", action="store_true", help="copy the text to the output (always, without an id)")
    p.add_argument(
        "--model-uri",
        default=None,
        help="MLflow model URI (default: models:/comment-triage@champion, the model that serves)",
    )
    p.add_argument("--master", default=None, help="Spark master (default: local[*], or the one spark-submit was given)")
    p.add_argument("--partitions", type=int, default=0, help="score in at least N partitions (default: the cores)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE", help="extra Spark configuration")
    return p.parse_args(argv)


def java_major(java: str) -> int:
    """The major version `java -version` reports (8 for 1.8.x)."""
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise JobError(f"cannot run {java} -version: {exc}") from exc
    text = out.stderr + out.stdout
    try:
        version = text.split('"')[1]
        parts = version.split(".")
        return int(parts[1]) if parts[0] == "1" else int(parts[0].split("-")[0].split("+")[0])
    except (IndexError, ValueError) as exc:
        raise JobError(f"cannot read the Java version from {java}: {text.strip()[:200]!r}") from exc


def require_java() -> None:
    """pyspark starts a JVM: fail with one line (and the fix) when there is none or it is too old."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home and (Path(home) / "bin" / "java").is_file() else None
    java = java or shutil.which("java")
    if java is None:
        raise JobError("Java not found: install a Java 17 runtime (scripts/ensure_java.sh) or set JAVA_HOME")
    needed = 17 if int(_pyspark_version().split(".")[0]) >= 4 else 8
    major = java_major(java)
    if major < needed:
        raise JobError(f"{java} is Java {major}; pyspark {_pyspark_version()} needs Java {needed} or newer")


def _pyspark_version() -> str:
    try:
        return metadata.version("pyspark")
    except metadata.PackageNotFoundError as exc:
        raise JobError(
            "pyspark is not installed: pip install 'comment-triage[spark]' (or run make spark-score)"
        ) from exc


def default_model_uri() -> str:
    """The registered model's `champion` alias: the model training/fit/promotion.py made the serving one."""
    from training.fit.tracking import CHAMPION, REGISTERED_MODEL

    return f"models:/{REGISTERED_MODEL}@{CHAMPION}"


def resolve_model(uri: str, dest: Path) -> ResolvedModel:
    """Download the model once on the driver (the UDF ships it to executors) and read its result columns."""
    import logging

    import mlflow
    from mlflow.models import Model

    from training.fit.tracking import tracking_uri
    from training.runtime.taxonomy import TaxonomyError, load_taxonomy

    logging.getLogger("mlflow").setLevel(logging.ERROR)  # after the import, which configures mlflow's logger
    store = tracking_uri()
    db = Path(store.removeprefix("sqlite:///")) if store.startswith("sqlite:///") else None
    if db is not None and not db.is_file() and uri.startswith(("models:/", "runs:/")):
        # MLflow would create an empty store here and then not find the model in it.
        raise JobError(f"cannot load model {uri!r}: no MLflow tracking store at {db} (set MLFLOW_TRACKING_URI)")
    mlflow.set_tracking_uri(store)
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(dest)))
    except Exception as exc:  # MlflowException, OSError, ...: all mean "no such model here"
        raise JobError(f"cannot load model {uri!r} (tracking store {_redacted(store)}): {_first_line(exc)}") from exc
    if not (local / "MLmodel").is_file():
        raise JobError(f"{uri!r} is not an MLflow model (no MLmodel file)")
    meta = Model.load(str(local / "MLmodel"))
    taxonomy_path = meta.flavors.get("python_function", {}).get("artifacts", {}).get("taxonomy", {}).get("path")
    if not taxonomy_path:
        raise JobError(f"{uri!r} is not a comment-triage model (it carries no taxonomy)")
    try:
        taxonomy = load_taxonomy(local / taxonomy_path)
    except TaxonomyError as exc:
        raise JobError(f"{uri!r}: {exc}") from exc
    model = ResolvedModel(uri=uri, path=local, flags=taxonomy.flags, urgent=taxonomy.urgent, run_id=meta.run_id)
    schema = meta.get_output_schema()
    if schema is not None and list(schema.input_names()) != model.columns:
        raise JobError(
            f"{uri!r} answers with columns {list(schema.input_names())}, this code writes {model.columns}: "
            "log the model again with this code (make train)"
        )
    return model


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def _redacted(uri: str) -> str:
    """A tracking URI without a password, fit for a message."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{parts.hostname}"))


def chosen_master(master: str | None) -> str | None:
    """--master, else local[*]; None under spark-submit, whose own --master (or its defaults) decides."""
    submitted = "PYSPARK_GATEWAY_PORT" in os.environ  # spark-submit started this process and owns the JVM
    return master or (None if submitted else "local[*]")


def start_spark(master: str | None, conf: Sequence[str]) -> SparkSession:
    """A session on `master` (None: the one spark-submit was given)."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("comment-triage spark-score")
    if master is not None:
        builder = builder.master(master)
    if master is not None and master.startswith("local"):
        # One machine: executors are this Python, the driver binds to loopback, no web UI port is opened.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = builder.config("spark.ui.enabled", "false")
    builder = builder.config("spark.ui.showConsoleProgress", "false").config("spark.log.level", "ERROR")
    for item in conf:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise JobError(f"--conf {item!r}: expected KEY=VALUE")
        builder = builder.config(key, value)
    return builder.getOrCreate()


def score(
    spark: SparkSession,
    df: DataFrame,
    model: ResolvedModel,
    *,
    text_column: str,
    id_column: str | None,
    keep_text: bool,
    partitions: int,
) -> DataFrame:
    """The scored frame: [id] [text] and every result column, in input order within and across partitions."""
    import mlflow
    from pyspark.sql import functions as F

    df = df.select(
        *([F.col(id_column)] if id_column else []),
        F.coalesce(F.col(text_column).cast("string"), F.lit("")).alias(text_column),
        F.monotonically_increasing_id().alias(INTERNAL_ROW),
    )
    target = partitions or spark.sparkContext.defaultParallelism
    have = df.rdd.getNumPartitions()
    if have < target:
        # A single CSV is one partition; a range split on the row number spreads it and keeps its order.
        df = df.repartitionByRange(target, INTERNAL_ROW).sortWithinPartitions(INTERNAL_ROW)
    say(f"scoring in {max(have, target)} partition(s) (input: {have})")
    udf = mlflow.pyfunc.spark_udf(spark, str(model.path), result_type=_udf_struct(model), env_manager="local")
    scored = df.withColumn("_result", udf(F.col(text_column)))
    out = []
    for c, t in result_types(model.flags, model.urgent).items():
        cell = F.col(f"_result.{c}")
        if c in EMPTY_WHEN_MISSING:
            cell = F.when(cell.isNull() | cell.isin("", "None", "nan"), F.lit(None)).otherwise(cell.cast(t))
        out.append(cell.cast(t).alias(c))
    keep = ([id_column] if id_column else []) + ([text_column] if keep_text or not id_column else [])
    return scored.select(*keep, *out)


def _quiet() -> None:
    """Progress is our one line per stage: no artifact download bars, no pandas-version warnings."""
    import logging
    import warnings

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # inherited by local workers
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support", category=FutureWarning)
    logging.getLogger("mlflow").setLevel(logging.ERROR)


def run(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    _quiet()
    master = chosen_master(args.master)
    # A path without a scheme is on this machine only when Spark runs here; on a cluster it is on the
    # cluster's file system, and Spark checks it once the session starts.
    here = master is not None and master.startswith("local")

    def on_this_machine(path: str) -> bool:
        return path.startswith("file:") or (here and is_local(path))

    fmt = input_format(args.input, args.format)
    if on_this_machine(args.input):
        check_local_input(args.input, fmt, args.text_column, args.id_column)
    if on_this_machine(args.output):
        check_local_output(args.output, args.overwrite)
    _pyspark_version()
    require_java()
    with tempfile.TemporaryDirectory(prefix="spark-score-") as tmp:
        model = resolve_model(args.model_uri or default_model_uri(), Path(tmp))
        took = time.monotonic() - t0
        say(f"model {model.uri} (run {model.run_id}), {len(model.columns)} result columns [{took:.1f} s]")
        t1 = time.monotonic()
        spark = start_spark(master, args.conf)
        try:
            sc = spark.sparkContext
            say(
                f"spark {spark.version} on {sc.master} ({sc.defaultParallelism} cores) "
                f"started in {time.monotonic() - t1:.1f} s"
            )
            df = read_input(spark, args.input, fmt)
            if args.text_column not in df.columns:
                raise JobError(f"{args.input}: no column {args.text_column!r}; columns are {df.columns}")
            id_column = args.id_column or ("id" if "id" in df.columns else None)
            if id_column is not None and id_column not in df.columns:
                raise JobError(f"{args.input}: no id column {id_column!r}; columns are {df.columns}")
            clash = {c for c in (id_column, args.text_column) if c} & set(model.columns)
            if clash:
                raise JobError(f"{args.input}: column(s) {sorted(clash)} clash with result columns; rename them")
            if id_column is None:
                say("no id column: the output keeps the text column to identify rows")
            scored = score(
                spark,
                df,
                model,
                text_column=args.text_column,
                id_column=id_column,
                keep_text=args.keep_text,
                partitions=args.partitions,
            )
            t2 = time.monotonic()
            scored.write.mode("overwrite" if args.overwrite else "errorifexists").parquet(args.output)
            rows = spark.read.parquet(args.output).count()
            took = time.monotonic() - t2
            say(f"scored and wrote {rows} rows to {args.output} in {took:.1f} s ({rows / max(took, 1e-9):.0f} rows/s)")
        finally:
            spark.stop()
    say(f"done in {time.monotonic() - t0:.1f} s")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """One line and exit 1 for every expected failure; Spark's own errors are cut to their message."""
    args = parse_args(argv)
    try:
        return run(args)
    except JobError as exc:
        print(f"spark-score: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        line = spark_error_line(exc)
        if line is None:
            raise
        print(f"spark-score: error: {line}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
