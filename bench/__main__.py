"""`python -m bench` (make bench): ours side by side with a baseline, in process and over HTTP, in one run.

In process (bench/inprocess.py), pinned to one core with one BLAS/OpenMP thread: `load_bundle` +
`TriageModel.classify` against a naive scikit-learn pipeline fitted on our train split (bench/naive.py).
Over HTTP (bench/http.py, bench/wrk.py): `python -m service` against a bare FastAPI ceiling with our request and
response models and no model (bench/ceiling.py), both uvicorn with 2 workers, under the same wrk runs; plus
the server's peak RSS and its time from process start to /ready. Targets are printed beside the figures
(bench/report.py); a missed target never fails the run. Writes bench/results.md.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # before numpy is imported
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results.md"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    doc = __doc__ or ""
    parser = argparse.ArgumentParser(prog="python -m bench", description=doc.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=Path(os.environ.get("MODEL_DIR", ROOT / "models")))
    parser.add_argument(
        "--seconds",
        type=int,
        default=int(os.environ.get("BENCH_SECONDS", "30")),
        help="length of each wrk run (default: BENCH_SECONDS or 30)",
    )
    parser.add_argument("--batch", type=int, default=256, help="in-process batch size (default 256)")
    parser.add_argument("--singles", type=int, default=2000, help="in-process single-text calls per side")
    parser.add_argument("--skip-http", action="store_true", help="in-process figures only")
    parser.add_argument(
        "--datasets-dir", type=Path, default=None, help="where the public corpora live (default ../shared/datasets)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    warnings.filterwarnings("ignore")
    if not (args.model_dir / "latest").exists():
        print(f"error: no model in {args.model_dir} (run `make train`)", file=sys.stderr)
        return 2

    from bench.http import http_runs
    from bench.inprocess import in_process, summary_line
    from bench.naive import read_texts
    from bench.report import report
    from bench.wrk import ensure_wrk

    corpus = read_texts(args.datasets_dir)
    print(
        f"in process: {len(corpus.test_texts)} test texts, batches of {args.batch}, {args.singles} single calls "
        "per side, ours against the naive pipeline ...",
        flush=True,
    )
    inproc = in_process(args.model_dir, corpus, args.batch, args.singles)
    print(summary_line(inproc), flush=True)
    print(json.dumps({k: inproc[k] for k in ("model_version", "load_s", "naive_fit_s", "cache")}), flush=True)

    from bench.overhead import overhead

    print("per-request CPU of the web layer, in process (ASGI, no socket) ...", flush=True)
    inproc["overhead"] = overhead(args.model_dir, corpus.test_texts)
    print(json.dumps({k: round(v, 1) for k, v in inproc["overhead"].items()}), flush=True)

    http, http_error = None, None
    if args.skip_http:
        http_error = "--skip-http"
    elif not ensure_wrk():
        http_error = "wrk is not installed and `apt-get install -y wrk` failed"
    else:
        print(
            f"HTTP: wrk runs of {args.seconds} s (single comment at 16 and 64 connections, batches of 100 at 8), "
            "ours and the ceiling ...",
            flush=True,
        )
        try:
            http = http_runs(args.model_dir, corpus.test_texts, args.seconds)
        except RuntimeError as exc:
            http_error = str(exc).replace("\n", " ").replace("|", "/")[:300]
            print(f"HTTP benchmark failed: {exc}", file=sys.stderr)

    text = report(inproc, http, http_error, args.seconds)
    RESULTS.write_text(text, encoding="utf-8")
    print(text)
    print(f"written: {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
