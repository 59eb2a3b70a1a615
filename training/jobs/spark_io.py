"""Input, output and errors of the Spark job: checked on the driver before a JVM is started, when possible.

A local input is checked here in milliseconds (exists, format, header); a remote one (hdfs://, s3a://, ...)
is checked by Spark after the session starts. Spark's and Py4J's errors are cut to the one line that says
what went wrong, so a failed run prints a message, not a Java stack trace.
"""

from __future__ import annotations

import csv
import gzip
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

INTERNAL_ROW = "__spark_score_row"  # the input order, kept through repartitioning; never written
CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2")
PARQUET_SUFFIXES = (".parquet", ".pq")
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit): ")


class JobError(Exception):
    """An expected failure (bad input, no model, no Java): printed as one line, exit code 1."""


def say(message: str) -> None:
    """A progress line on stderr (stdout stays free for whatever wraps the job)."""
    print(f"spark-score: {message}", file=sys.stderr, flush=True)


def is_local(path: str) -> bool:
    """True for a plain path or a file: URI; False for hdfs://, s3a://, gs:// and the like."""
    scheme = urlsplit(path).scheme
    return scheme in ("", "file") or len(scheme) == 1  # a one-letter scheme is a Windows drive


def _local(path: str) -> Path:
    return Path(urlsplit(path).path) if path.startswith("file:") else Path(path)


def input_format(path: str, fmt: str) -> str:
    """csv or parquet: as given, else by the name's suffix, else by the files a local directory holds."""
    if fmt != "auto":
        return fmt
    name = path.rstrip("/").lower()
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if is_local(path) and _local(path).is_dir():
        names = [p.name.lower() for p in _local(path).iterdir()]
        if any(n.endswith(PARQUET_SUFFIXES) for n in names):
            return "parquet"
        if any(n.endswith(CSV_SUFFIXES) for n in names):
            return "csv"
    raise JobError(f"cannot tell the format of {path}: pass --format csv or --format parquet")


def _first_file(root: Path, suffixes: tuple[str, ...]) -> Path | None:
    if root.is_file():
        return root
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name.lower().endswith(suffixes))
    return files[0] if files else None


def local_columns(path: str, fmt: str) -> list[str]:
    """The column names of a local CSV (its header) or Parquet file or directory (its schema)."""
    root = _local(path)
    first = _first_file(root, CSV_SUFFIXES if fmt == "csv" else PARQUET_SUFFIXES)
    if first is None:
        raise JobError(f"{path}: no {fmt} files in the directory")
    if fmt == "csv":
        opener = gzip.open if first.name.lower().endswith(".gz") else open
        try:
            with opener(first, "rt", encoding="utf-8", newline="") as f:
                header = next(csv.reader(f), None)
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise JobError(f"{path}: not a readable UTF-8 CSV ({exc})") from exc
        if not header:
            raise JobError(f"{path}: empty file, no header row")
        return [h.lstrip("\ufeff") if i == 0 else h for i, h in enumerate(header)]
    try:
        import pyarrow.parquet as pq
    except ImportError:  # Spark will read the schema itself
        return []
    try:
        return list(pq.read_schema(first).names)
    except Exception as exc:  # ArrowInvalid, OSError: not Parquet
        raise JobError(f"{path}: not a readable Parquet file ({str(exc).splitlines()[0][:200]})") from exc


def check_local_input(path: str, fmt: str, text_column: str, id_column: str | None) -> None:
    """Fail in milliseconds, before a JVM starts, on a missing file or column."""
    if not _local(path).exists():
        raise JobError(f"input not found: {path}")
    columns = local_columns(path, fmt)
    if not columns:
        return
    for role, col in (("text", text_column), ("id", id_column)):
        if col is not None and col not in columns:
            raise JobError(f"{path}: no {role} column {col!r}; columns are {columns}")


def check_local_output(path: str, overwrite: bool) -> None:
    if _local(path).exists() and not overwrite:
        raise JobError(f"output exists: {path} (pass --overwrite to replace it)")


def read_input(spark: SparkSession, path: str, fmt: str) -> DataFrame:
    """The comments as a DataFrame; CSV as pandas and our tools write it (quotes doubled, newlines inside)."""
    if fmt == "parquet":
        return spark.read.parquet(path)
    return spark.read.options(header=True, multiLine=True, escape='"', encoding="UTF-8", mode="FAILFAST").csv(path)


def spark_error_line(exc: BaseException) -> str | None:
    """One line for a Spark, Py4J or Python-worker error; None for anything else (a bug: keep the traceback)."""
    try:
        from py4j.protocol import Py4JError, Py4JJavaError
        from pyspark.errors import PySparkException
    except ImportError:
        return None
    if isinstance(exc, Py4JJavaError):
        text = str(exc.java_exception.toString())
    elif isinstance(exc, PySparkException | Py4JError):
        text = str(exc)
    else:
        return None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    if "Traceback (most recent call last)" in text:  # a Python worker failed: its last exception line says why
        raised = [line for line in lines if _EXCEPTION_LINE.match(line)]
        if raised:
            return raised[-1][:400]
    return lines[0][:400]
