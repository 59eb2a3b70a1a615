"""`python -m training {validate-data,train,eval,predict,...}`: clear errors, non-zero exits, progress bars."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from training.runtime.taxonomy import PROJECT_ROOT, TaxonomyError

DEFAULT_MODEL_DIR = PROJECT_ROOT / "models"


class CliError(Exception):
    """A user-facing error: printed without a traceback, exit code 2."""


def _corpus(path: str | None):
    from training.datasets.corpus import CorpusError, load_corpus

    try:
        return load_corpus(path)
    except CorpusError as exc:
        raise CliError(str(exc)) from exc


def cmd_validate(args: argparse.Namespace) -> int:
    from training.datasets.corpus import CorpusError, format_report, read_corpus, validate_corpus

    try:
        df = read_corpus(args.corpus)
    except CorpusError as exc:
        raise CliError(str(exc)) from exc
    report = validate_corpus(df, check_targets=not args.no_targets)
    print(format_report(report))
    return 0 if report.ok else 1


def cmd_train(args: argparse.Namespace) -> int:
    from training.datasets.extras import ExtraDataError, available_default_extras
    from training.evaluation.metrics import format_metrics
    from training.fit.run import run_training
    from training.fit.train import TrainConfig

    corpus = _corpus(args.corpus)
    config = TrainConfig(folds=args.folds, n_jobs=args.jobs)
    datasets = Path(args.datasets_dir) if args.datasets_dir else None
    extras = args.extra if args.extra else ([] if args.no_extras else available_default_extras(datasets))
    print("training on data/comments.csv" + (f" + {', '.join(extras)}" if extras else " alone"))
    try:
        result = run_training(
            corpus,
            model_dir=Path(args.model_dir),
            extras=extras,
            datasets_dir=datasets,
            extra_weight=args.extra_weight,
            allow_non_commercial=args.allow_non_commercial,
            config=config,
            track=not args.no_mlflow,
            force=args.force,
        )
    except ExtraDataError as exc:
        raise CliError(str(exc)) from exc
    print(f"\nmodel {result.model.version} saved to {result.bundle_dir}")
    print(f"training took {result.model.metadata['train_seconds']} s")
    print("model family per head (CV on train; F1 for flags/urgent, accuracy for topic):")
    for c in result.model.metadata["head_choices"]:
        thr = f", threshold {c['threshold']:.3f}" if c["threshold"] is not None else ""
        print(f"  {c['label']:<22} {c['family']:<7} cv={c['cv_scores']}{thr}")
    print(format_metrics(result.metrics))
    from training.evaluation.real_eval import format_real_eval

    print(format_real_eval(result.real, model_version=result.model.version))
    if result.tracking:
        print(f"MLflow run {result.tracking['run_id']}, registered version {result.tracking['registered_version']}")
    return 0


def _load(model_dir: str, version: str | None):
    from training.runtime.bundle import BundleError, load_bundle

    try:
        return load_bundle(model_dir, version)
    except BundleError as exc:
        raise CliError(str(exc)) from exc


def cmd_eval(args: argparse.Namespace) -> int:
    from training.evaluation.metrics import evaluate, format_metrics

    model, manifest = _load(args.model_dir, args.version)
    corpus = _corpus(args.corpus)
    test = corpus[corpus["split"] == "test"].reset_index(drop=True)
    metrics = evaluate(model, test)
    print(f"model {manifest['version']} on the test split of {args.corpus or 'data/comments.csv'}")
    print(format_metrics(metrics))
    return 0


def _read_comments(path: str, column: str, id_column: str) -> tuple[list[str] | None, list[str]]:
    """(ids or None, texts) from a CSV (its id column is kept when present) or a text file, one per line."""
    p = Path(path)
    if path != "-" and not p.exists():
        raise CliError(f"input file not found: {path}")
    try:
        stream = sys.stdin if path == "-" else p.open(encoding="utf-8-sig", newline="")
        with stream:
            if path != "-" and p.suffix.lower() == ".csv":
                reader = csv.DictReader(stream)
                fields = reader.fieldnames or []
                if column not in fields:
                    raise CliError(f"{path}: no column {column!r}; columns are {fields}")
                rows = list(reader)
                ids = [r[id_column] or "" for r in rows] if id_column in fields else None
                return ids, [r[column] or "" for r in rows]
            lines = [line.rstrip("\r\n") for line in stream]
    except UnicodeDecodeError as exc:
        raise CliError(f"{path}: not UTF-8 text ({exc})") from exc
    except csv.Error as exc:
        raise CliError(f"{path}: not a readable CSV ({exc})") from exc
    return None, [line for line in lines if line.strip()]


def cmd_predict(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from training.runtime.batch import iter_chunks, result_columns, result_row

    model, _ = _load(args.model_dir, args.version)
    ids, texts = _read_comments(args.input, args.text_column, args.id_column)
    if not texts:
        raise CliError(f"{args.input}: no comments to classify")
    flags, urgent = model.flags, model.urgent_label
    out = sys.stdout if args.output == "-" else open(args.output, "w", newline="", encoding="utf-8")
    id_cols = [args.id_column] if ids is not None else []
    writer = csv.DictWriter(out, fieldnames=[*id_cols, "text", *result_columns(flags, urgent)])
    writer.writeheader()
    done = 0
    with tqdm(total=len(texts), desc="classifying", disable=args.output == "-") as bar:
        for results in iter_chunks(model, texts):
            for k, r in enumerate(results):
                i = done + k
                writer.writerow(
                    {
                        **({args.id_column: ids[i]} if ids is not None else {}),
                        "text": texts[i],
                        **result_row(r, flags, urgent),
                    }
                )
            done += len(results)
            bar.update(len(results))
    if out is not sys.stdout:
        out.close()
        print(f"wrote {len(texts)} rows to {args.output}", file=sys.stderr)
    return 0


def cmd_eval_real(args: argparse.Namespace) -> int:
    """The real-text benchmark on a saved bundle: printed, and written as Markdown."""
    from training.evaluation.real_eval import format_real_eval, run_real_eval

    model, manifest = _load(args.model_dir, args.version)
    datasets = Path(args.datasets_dir) if args.datasets_dir else None
    if datasets is not None and not datasets.is_dir():
        raise CliError(f"datasets directory not found: {datasets}")
    sections = run_real_eval(model, datasets)
    if all(s.skipped for s in sections):
        raise CliError("no real set found under the datasets directory (pass --datasets-dir)")
    version = str(manifest["version"])
    print(format_real_eval(sections, model_version=version))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(format_real_eval(sections, model_version=version, markdown=True), encoding="utf-8")
    print(f"written to {out}")
    return 0


def cmd_lexicon_audit(args: argparse.Namespace) -> int:
    """Every distinct string the мат lexicon matches across the real sets, with counts."""
    from training.evaluation.lexicon_audit import run_lexicon_audit

    datasets = Path(args.datasets_dir) if args.datasets_dir else None
    try:
        summary = run_lexicon_audit(datasets, Path(args.out))
    except FileNotFoundError as exc:
        raise CliError(str(exc)) from exc
    print(summary)
    return 0


def cmd_toxic_benchmark(args: argparse.Namespace) -> int:
    from training.experiments.toxic_benchmark import run_toxic_benchmark

    try:
        print(run_toxic_benchmark(Path(args.datasets_dir) if args.datasets_dir else None))
    except FileNotFoundError as exc:
        raise CliError(str(exc)) from exc
    return 0


def cmd_compare_extras(args: argparse.Namespace) -> int:
    from training.experiments.extras_experiment import compare_extras

    corpus = _corpus(args.corpus)
    print(compare_extras(corpus, args.extra, Path(args.datasets_dir) if args.datasets_dir else None, args.extra_weight))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Classify a timestamped CSV stream and write DIR/report.html with charts, spikes, incidents and urgent
    comments (and DIR/incidents.md, printed too)."""
    import pandas as pd
    from tqdm.auto import tqdm

    from training.reporting.stream_report import incidents_markdown, write_report
    from training.runtime.analytics import AnalyticsError, analyze, build_frame, parse_timestamp, parse_timestamps
    from training.runtime.incidents import IncidentParams

    if not 0 < args.incident_window_hours <= 720:
        raise CliError(f"--incident-window-hours must be in (0, 720], got {args.incident_window_hours:g}")
    if args.incident_min_comments < 1:
        raise CliError(f"--incident-min-comments must be at least 1, got {args.incident_min_comments}")
    try:
        now = parse_timestamp(args.now) if args.now else None
    except ValueError as exc:
        raise CliError(f"--now: {exc} (e.g. 2025-01-26T12:00:00+03:00)") from exc

    path = Path(args.comments)
    if not path.exists():
        raise CliError(f"input file not found: {args.comments}")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError as exc:
        raise CliError(f"{args.comments}: the file is empty") from exc
    except Exception as exc:
        raise CliError(f"{args.comments}: not a readable CSV ({exc})") from exc
    for col in (args.text_column, args.timestamp_column):
        if col not in df.columns:
            raise CliError(f"{args.comments}: no column {col!r}; columns are {list(df.columns)}")
    if df.empty:
        raise CliError(f"{args.comments}: no comments (only a header)")
    try:  # data row 1 is line 2 of the file, after the header
        timestamps = parse_timestamps(df[args.timestamp_column].tolist(), row_label="line", first_row=2)
    except AnalyticsError as exc:
        raise CliError(f"{args.comments}: {exc}") from exc
    keep = [i for i, t in enumerate(df[args.text_column]) if t.strip()]
    if not keep:
        raise CliError(f"{args.comments}: every {args.text_column!r} value is empty")
    if len(keep) < len(df):
        print(f"skipped {len(df) - len(keep)} rows with an empty {args.text_column!r}", file=sys.stderr)
    texts = [df[args.text_column].iat[i] for i in keep]
    ids = df[args.id_column].iloc[keep].tolist() if args.id_column in df.columns else [i + 2 for i in keep]
    model, manifest = _load(args.model_dir, args.version)
    results: list[dict] = []
    batch = 512
    for start in tqdm(range(0, len(texts), batch), desc="classifying", unit="batch"):
        results.extend(model.classify(texts[start : start + batch]))
    incidents = IncidentParams(window_hours=args.incident_window_hours, min_comments=args.incident_min_comments)
    frame = build_frame(results, [timestamps[i] for i in keep], ids=ids, texts=texts)
    analytics = analyze(frame, incidents=incidents, now=now)
    page = write_report(analytics, args.out, source=path.name, model_version=str(manifest["version"]))
    listed = analytics.incidents.listed if analytics.incidents else []
    print(
        f"{len(texts)} comments over {len(analytics.days)} days, {len(analytics.spikes)} spike(s), "
        f"{len(analytics.urgent)} urgent, {len(listed)} incident(s); report written to {page}"
    )
    for s in analytics.spikes:
        print(f"  spike {s.day} {s.topic}: {s.count} vs λ={s.expected:.2f} (x{s.ratio:.1f}, p={s.p_value:.1e})")
    print()
    print(incidents_markdown(analytics), end="")
    return 0


def cmd_retrain(args: argparse.Namespace) -> int:
    """Corpus + moderators' feedback -> candidate; promoted by the one rule of training/fit/promotion.py."""
    import os

    from training.fit.retrain import RetrainError, read_feedback_csv, read_feedback_db, retrain
    from training.fit.train import TrainConfig
    from training.runtime.bundle import BundleError

    try:
        if args.feedback:
            feedback = read_feedback_csv(args.feedback)
            print(f"feedback from {args.feedback}")
        else:
            url = args.database_url or os.environ.get("DATABASE_URL")
            default_db = PROJECT_ROOT / "feedback.db"
            if url is None and default_db.exists():
                url = f"sqlite:///{default_db}"
            feedback = read_feedback_db(url) if url else None
            print("feedback from the feedback database" if url else "no feedback source: corpus only")
        retrain(
            _corpus(args.corpus),
            feedback,
            model_dir=Path(args.model_dir),
            config=TrainConfig(folds=args.folds, n_jobs=args.jobs),
            track=not args.no_mlflow,
            force=args.force,
        )
    except (RetrainError, BundleError) as exc:
        raise CliError(str(exc)) from exc
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def corpus_opt(p: argparse.ArgumentParser) -> None:
        p.add_argument("--corpus", default=None, help="labelled CSV (default: data/comments.csv)")

    def model_opts(p: argparse.ArgumentParser) -> None:
        p.add_argument("--model-dir", default=str(DEFAULT_MODEL_DIR), help="bundle directory (default: models/)")
        p.add_argument("--version", default=None, help="bundle version (default: the one in models/latest)")

    p = sub.add_parser("validate-data", help="check the corpus and print its counts")
    corpus_opt(p)
    p.add_argument("--no-targets", action="store_true", help="skip the corpus-size targets")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("train", help="train, evaluate on the test split, save a bundle, log to MLflow")
    corpus_opt(p)
    p.add_argument("--model-dir", default=str(DEFAULT_MODEL_DIR))
    p.add_argument(
        "--extra",
        action="append",
        default=[],
        metavar="NAME",
        help="train on these public corpora instead of the default ones (repeatable)",
    )
    p.add_argument(
        "--no-extras", action="store_true", help="train from data/ alone, even when the public corpora are present"
    )
    p.add_argument("--datasets-dir", default=None, help="where the public corpora live (default ../shared/datasets)")
    p.add_argument(
        "--extra-weight",
        type=float,
        default=None,
        help="one sample weight for every extra set (default: each set's own, see training/datasets/extras.py)",
    )
    p.add_argument("--allow-non-commercial", action="store_true", help="permit CC BY-NC-SA corpora (experiments only)")
    p.add_argument("--folds", type=int, default=5, help="CV folds for model and threshold choice")
    p.add_argument("--jobs", type=int, default=2, help="parallel CV jobs")
    p.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")
    p.add_argument(
        "--force",
        action="store_true",
        help="promote the new model even when it is worse than the champion beyond noise",
    )
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="print test-split metrics and the quality bars of a saved model")
    corpus_opt(p)
    model_opts(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("predict", help="classify a CSV (column --text-column) or a text file (one per line)")
    p.add_argument("input", help="CSV or text file, or - for stdin")
    p.add_argument("-o", "--output", default="-", help="output CSV (default stdout)")
    p.add_argument("--text-column", default="text")
    p.add_argument("--id-column", default="id", help="kept in every output row when the CSV has it (default: id)")
    model_opts(p)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("eval-real", help="the real-text benchmark (R0-R5) on a saved model")
    model_opts(p)
    p.add_argument("--datasets-dir", default=None, help="where the public corpora live (default ../shared/datasets)")
    p.add_argument("--out", default=str(PROJECT_ROOT / "reports" / "real_eval.md"), help="Markdown report")
    p.set_defaults(func=cmd_eval_real)

    p = sub.add_parser("lexicon-audit", help="R6: every string the мат lexicon matches in the real sets")
    p.add_argument("--datasets-dir", default=None)
    p.add_argument("--out", default=str(PROJECT_ROOT / "reports" / "lexicon_audit.tsv"))
    p.set_defaults(func=cmd_lexicon_audit)

    p = sub.add_parser("toxic-benchmark", help="our pipeline on ru_toxic_2ch_pikabu, 80/20 split")
    p.add_argument("--datasets-dir", default=None)
    p.set_defaults(func=cmd_toxic_benchmark)

    p = sub.add_parser("compare-extras", help="test metrics with and without each extra corpus")
    corpus_opt(p)
    p.add_argument("--extra", action="append", default=[], metavar="NAME")
    p.add_argument("--datasets-dir", default=None)
    p.add_argument("--extra-weight", type=float, default=0.3)
    p.set_defaults(func=cmd_compare_extras)

    p = sub.add_parser("report", help="classify a timestamped CSV, write an HTML report with spikes and incidents")
    p.add_argument("comments", help="CSV with a text and a timestamp (ISO 8601) column")
    p.add_argument("--text-column", default="text")
    p.add_argument("--timestamp-column", default="timestamp")
    p.add_argument("--id-column", default="id", help="echoed in the urgent table when present (default: id)")
    p.add_argument("--out", default="report", help="output directory (default: report/)")
    p.add_argument(
        "--incident-window-hours", type=float, default=72.0, help="an incident spans at most this (default: 72)"
    )
    p.add_argument(
        "--incident-min-comments", type=int, default=2, help="list incidents of at least this many comments (2)"
    )
    p.add_argument("--now", default=None, help="ISO 8601 time overdue is judged at (default: the last comment)")
    model_opts(p)
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("retrain", help="retrain with moderators' feedback; promote by the one promotion rule")
    corpus_opt(p)
    p.add_argument("--model-dir", default=str(DEFAULT_MODEL_DIR))
    p.add_argument(
        "--feedback",
        default=None,
        metavar="FILE",
        help="CSV from GET /feedback/export (default: read the feedback database)",
    )
    p.add_argument(
        "--database-url",
        default=None,
        metavar="URL",
        help="feedback database (default: $DATABASE_URL, else feedback.db in the project if present)",
    )
    p.add_argument("--folds", type=int, default=5, help="CV folds for model and threshold choice")
    p.add_argument("--jobs", type=int, default=2, help="parallel CV jobs")
    p.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")
    p.add_argument(
        "--force",
        action="store_true",
        help="promote the candidate even when it is worse than the champion beyond noise",
    )
    p.set_defaults(func=cmd_retrain)

    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except TaxonomyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
