"""bench/results.md: one table of ours beside its baseline (the naive pipeline in process, the ceiling over HTTP),
with the targets and a verdict for each. A missed target is reported, never raised."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.wrk import THREADS, TIMEOUT

# key: (operator, target, how the target is written in the table)
TARGETS: dict[str, tuple[str, float, str]] = {
    "inproc_ratio": (">=", 3.0, "≥ 3× naive"),
    "http64_rps_ratio": (">=", 0.5, "≥ 0.5× ceiling"),
    "http64_p99_ratio": ("<=", 2.0, "p99 ≤ 2× ceiling"),
    "batch_cps": (">=", 8000.0, "≥ 8,000"),
    "errors": ("<=", 0, "0"),
    "pss_mb": ("<=", 400.0, "≤ 400"),
    "ready_s": ("<=", 5.0, "≤ 5"),
}
Row = tuple[str, str, str, str, str, str]
NAGLE_SUSPECT_MS = 30.0  # a fixed answer slower than this on one connection is a TCP stall, not work


def verdict(key: str, value: float | None) -> str:
    if value is None:
        return "NOT MEASURED"
    op, target, _ = TARGETS[key]
    return "MET" if (value >= target if op == ">=" else value <= target) else "NOT MET"


def fmt(v: float | None, digits: int = 1) -> str:
    return "n/a" if v is None else f"{v:,.{digits}f}"


def ratio(a: float, b: float, digits: int = 2) -> str:
    return f"{a / b:.{digits}f}×" if b else "n/a"


def row(measure: str, ours: str, base: str, rel: str = "", key: str | None = None, value: float | None = None) -> Row:
    return (measure, ours, base, rel, TARGETS[key][2] if key else "", verdict(key, value) if key else "")


def warm_row(measure: str, figures: dict[str, Any]) -> Row:
    """Warm batched throughput, ours against the naive pipeline, judged against the ≥ 3× target."""
    o, n = figures["ours"], figures["naive"]
    return row(
        measure,
        fmt(o["warm_cps"]),
        fmt(n["warm_cps"]),
        ratio(o["warm_cps"], n["warm_cps"]),
        "inproc_ratio",
        figures["ratio_cps"],
    )


def real_rows(r: dict[str, Any]) -> list[Row]:
    """The in-process measures on real VK comments, when the set was there."""
    real = r.get("real")
    if not real:
        return [row("In process on real VK comments (vk_gov_pages)", "not run: the set is absent", "—")]
    o, n, size = real["ours"], real["naive"], f"{real['n_texts']:,} real VK comments"
    return [
        warm_row(f"In process, comments/s on {size} (1 core, batches of {r['batch']}, best of warm passes)", real),
        row(
            f"In process, single-comment latency p50 / p99 on {size}, ms",
            f"{fmt(o['single_p50_ms'], 2)} / {fmt(o['single_p99_ms'], 2)}",
            f"{fmt(n['single_p50_ms'], 2)} / {fmt(n['single_p99_ms'], 2)}",
            ratio(o["single_p50_ms"], n["single_p50_ms"]),
        ),
    ]


def inproc_rows(r: dict[str, Any]) -> list[Row]:
    o, n, cache = r["ours"], r["naive"], r["cache"]
    return [
        warm_row(f"In process, comments/s (1 core, batches of {r['batch']}, best of warm passes)", r),
        row(
            "In process, comments/s (first pass; ours: cold lemma cache)",
            fmt(o["cold_cps"]),
            fmt(n["cold_cps"]),
            ratio(o["cold_cps"], n["cold_cps"]),
        ),
        row(
            f"In process, single-comment latency p50, ms ({r['single_n']:,} calls)",
            fmt(o["single_p50_ms"], 2),
            fmt(n["single_p50_ms"], 2),
            ratio(o["single_p50_ms"], n["single_p50_ms"]),
        ),
        row(
            "In process, single-comment latency p99, ms",
            fmt(o["single_p99_ms"], 2),
            fmt(n["single_p99_ms"], 2),
            ratio(o["single_p99_ms"], n["single_p99_ms"]),
        ),
        row(
            "Lemmatizer cache hit rate (ours, after all in-process runs)",
            f"{cache.get('hit_rate', 0):.1%} ({cache.get('hits', 0):,} hits, {cache.get('misses', 0):,} misses)",
            "—",
        ),
    ]


def http_rows(h: dict[str, Any]) -> list[Row]:
    o, c = h["ours"], h["ceiling"]
    a1, b1 = o["single1"], c["single1"]
    rows: list[Row] = [
        row(
            "HTTP single comment, 1 connection (3 s probe): p50 / p99 ms (ratio: p50)",
            f"{fmt(a1['p50_ms'], 2)} / {fmt(a1['p99_ms'], 2)}",
            f"{fmt(b1['p50_ms'], 2)} / {fmt(b1['p99_ms'], 2)}",
            ratio(a1["p50_ms"], b1["p50_ms"]),
        )
    ]
    for scenario, title in (
        ("single16", "HTTP single comment, 16 connections"),
        ("single64", "HTTP single comment, 64 connections"),
        ("batch100", "HTTP batches of 100, 8 connections"),
    ):
        a, b = o[scenario], c[scenario]
        is64, is_batch = scenario == "single64", scenario == "batch100"
        rps_key = "http64_rps_ratio" if is64 else None
        rows.append(
            row(
                f"{title}: req/s",
                fmt(a["req_per_s"]),
                fmt(b["req_per_s"]),
                ratio(a["req_per_s"], b["req_per_s"]),
                rps_key,
                a["req_per_s"] / b["req_per_s"] if b["req_per_s"] else None,
            )
        )
        if is_batch:
            rows.append(
                row(
                    f"{title}: comments/s",
                    fmt(a["comments_per_s"]),
                    fmt(b["comments_per_s"]),
                    ratio(a["comments_per_s"], b["comments_per_s"]),
                    "batch_cps",
                    a["comments_per_s"],
                )
            )
        digits = 1 if is_batch else 2
        rows.append(
            row(
                f"{title}: p50 / p95 / p99 ms (ratio: p99)",
                " / ".join(fmt(a[k], digits) for k in ("p50_ms", "p95_ms", "p99_ms")),
                " / ".join(fmt(b[k], digits) for k in ("p50_ms", "p95_ms", "p99_ms")),
                ratio(a["p99_ms"], b["p99_ms"]),
                "http64_p99_ratio" if is64 else None,
                a["p99_ms"] / b["p99_ms"] if b["p99_ms"] else None,
            )
        )
        rows.append(
            row(f"{title}: errors (non-2xx + socket)", str(a["errors"]), str(b["errors"]), "", "errors", a["errors"])
        )
    rows.append(
        row(
            f"Memory of the server after the runs (master + {h['workers']} workers, Pss summed: shared pages once), MB",
            f"{fmt(o['pss_mb'])} ({rss_parts(o, 'pss_mb')})",
            f"{fmt(c['pss_mb'])} ({rss_parts(c, 'pss_mb')})",
            "",
            "pss_mb",
            o["pss_mb"],
        )
    )
    rows.append(
        row(
            "Peak RSS of the server (VmHWM summed: a page shared by k processes counts k times), MB",
            f"{fmt(o['rss_mb'])} ({rss_parts(o)})",
            f"{fmt(c['rss_mb'])} ({rss_parts(c)})",
        )
    )
    loads = ", ".join(f"{x:.1f}" for x in o.get("load_s", []))
    rows.append(
        row(
            "Process start to first /ready 200, s",
            fmt(o["ready_s"], 2) + (f" (model load per worker: {loads} s)" if loads else ""),
            fmt(c["ready_s"], 2),
            "",
            "ready_s",
            o["ready_s"],
        )
    )
    rows.append(
        row(
            "Process start to every worker's start-up complete, s",
            fmt(o["all_workers_s"], 2),
            fmt(c["all_workers_s"], 2),
        )
    )
    return rows


def rss_parts(r: dict[str, Any], key: str = "mb") -> str:
    return " + ".join(f"{p['kind']} {p[key]:.0f}" for p in r["processes"])


def cpu_name() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor()
    return next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), platform.processor())


def overhead_rows(o: dict[str, float] | None) -> list[Row]:
    """bench/overhead.py: median CPU µs per request through the ASGI app, in process."""
    if not o:
        return []
    web = o["classify_us"] - o["model_us"]
    log_line = o["health_us"] - o["health_no_log_us"]
    return [
        row(
            "Web layer, CPU per single-comment /classify in process (ASGI, model call excluded), µs",
            f"{fmt(web)} (request {fmt(o['classify_us'])} − model {fmt(o['model_us'])})",
            fmt(o["ceiling_classify_us"]),
            ratio(web, o["ceiling_classify_us"]),
        ),
        row(
            "Middleware, CPU per GET /health in process (key guard, body guard, headers, metrics, access log), µs",
            f"{fmt(o['health_us'])} (of which the access-log line {fmt(log_line)})",
            "",
        ),
    ]


def report(inproc: dict[str, Any], http: dict[str, Any] | None, http_error: str | None, seconds: int) -> str:
    rows = inproc_rows(inproc) + real_rows(inproc) + overhead_rows(inproc.get("overhead"))
    if http:
        rows += http_rows(http)
    else:
        rows.append(("HTTP benchmarks, peak RSS, start-up time", f"not run: {http_error}", "", "", "", "NOT MEASURED"))
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` on {datetime.now(UTC).isoformat(timespec='seconds')}; model "
        f"`{inproc['model_version']}`; {os.cpu_count()} CPUs ({cpu_name()}); Python {platform.python_version()}.",
        f"Texts: the {inproc['n_texts']} test-split comments of data/comments.csv (HTTP too), and in process also "
        "the first real VK comments and replies of ../shared/datasets/vk_gov_pages (read in place; flagged "
        "comments, which get evidence, are rarer there than in our test split). In process: pinned to one core, "
        "OMP/OPENBLAS/MKL threads = 1; ours = `load_bundle` + `TriageModel.classify` (flags, topic, urgency, "
        "decisions, evidence); baseline = the naive pipeline (bench/naive.py: word 1-2-gram + char_wb 2-5-gram "
        f"TF-IDF, one-vs-rest LogisticRegression over {', '.join(inproc['labels'])}; `predict_proba` only), fitted "
        f"on the {inproc['n_train']:,} train-split comments in {inproc['naive_fit_s']:.1f} s; passes and blocks of "
        "single calls alternate between the two.",
        f"HTTP: wrk ({THREADS} threads, --latency, --timeout {TIMEOUT}, Lua POST bodies, {seconds} s per run, after "
        "a discarded warm-up) against `python -m service` and the ceiling `python -m bench.ceiling` (bare FastAPI, "
        "our request/response models, a fixed result, no model), both uvicorn with WORKERS=2 on loopback, each run "
        "against ours then the ceiling; wrk and the servers share the machine's CPUs.",
        "Ratios are ours / baseline: above 1 is better for throughput, below 1 is better for latency.",
        "",
        "| Measure | Ours | Baseline (naive / ceiling) | Ours / baseline | Target | Verdict |",
        "|---|---|---|---|---|---|",
        *["| " + " | ".join(r) + " |" for r in rows],
        "",
        *notes(http),
    ]
    return "\n".join(lines)


def notes(http: dict[str, Any] | None) -> list[str]:
    """Remarks the figures call for (none when there is nothing to say)."""
    if not http:
        return []
    out = []
    probe = http["ceiling"]["single1"]["p50_ms"]
    if probe >= NAGLE_SUSPECT_MS:
        out += [
            f"Note: the ceiling (no model, a fixed answer) takes {probe:.1f} ms per request on one keep-alive "
            "connection, where a bare app takes about a millisecond: the ~40 ms is the delayed-ACK stall of "
            "Nagle's algorithm. With WORKERS > 1 uvicorn binds the listening socket itself with proto 0, so asyncio "
            "never sets TCP_NODELAY on accepted connections (uvicorn issue #3149; `--workers 1` is not affected). "
            "Ours pays it too, and it caps both servers' single-comment req/s at about "
            f"connections / {probe / 1000:.3f} s, so the single-comment ratios compare two stalled servers.",
            "",
        ]
    return out
