"""In-process figures: ours (`load_bundle` + `TriageModel.classify`) against the naive pipeline (bench/naive.py).

Both run pinned to one core with one BLAS/OpenMP thread (set by bench/__main__.py before numpy is imported), on
the same texts in the same batches. The passes alternate (ours, naive, ours, naive, ...) and so do the blocks of
single-text calls, so that load from other processes on a shared machine falls on both sides alike.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from bench.naive import Corpus, fit_naive

WARM_PASSES = 3
SINGLE_BLOCK = 250  # single-text calls per side before switching to the other one


@contextmanager
def one_core() -> Iterator[int]:
    original = os.sched_getaffinity(0)
    core = sorted(original)[0]
    os.sched_setaffinity(0, {core})
    try:
        yield core
    finally:
        os.sched_setaffinity(0, original)


def percentile(values: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(values), p))


def lemmatizer_of(model: Any) -> Any:
    """The lemma cache of the word branch, for its hit rate (None if the pipeline has no such step)."""
    try:
        for name, step in model.pipeline.named_steps["features"].transformer_list:
            if name == "words":
                return step.named_steps["lemmas"]
    except (AttributeError, KeyError):
        return None
    return None


def timed_pass(fn: Callable[[list[str]], object], texts: list[str], batch: int) -> float:
    """Comments per second for one pass over `texts` in batches of `batch`."""
    start = time.perf_counter()
    for i in range(0, len(texts), batch):
        fn(texts[i : i + batch])
    return len(texts) / (time.perf_counter() - start)


def single_latencies(
    sides: dict[str, Callable[[list[str]], object]], texts: list[str], n: int
) -> dict[str, list[float]]:
    """`n` one-text calls per side in milliseconds, the sides taking turns every SINGLE_BLOCK calls."""
    out: dict[str, list[float]] = {name: [] for name in sides}
    for block_start in range(0, n, SINGLE_BLOCK):
        block = range(block_start, min(n, block_start + SINGLE_BLOCK))
        for name, fn in sides.items():
            for i in block:
                text = [texts[i % len(texts)]]
                start = time.perf_counter()
                fn(text)
                out[name].append((time.perf_counter() - start) * 1000)
    return out


def real_texts_figures(
    sides: dict[str, Callable[[list[str]], object]], texts: list[str], batch: int, singles: int
) -> dict[str, Any]:
    """The same measures on real VK comments (after the test split's passes, so both sides are warm)."""
    warm: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(WARM_PASSES):
        for name, fn in sides.items():
            warm[name].append(timed_pass(fn, texts, batch))
    latencies = single_latencies(sides, texts, singles)
    out: dict[str, Any] = {"n_texts": len(texts)}
    for name in sides:
        out[name] = {
            "warm_cps": max(warm[name]),
            "single_p50_ms": percentile(latencies[name], 50),
            "single_p99_ms": percentile(latencies[name], 99),
        }
    out["ratio_cps"] = out["ours"]["warm_cps"] / out["naive"]["warm_cps"]
    return out


def in_process(model_dir: Path, corpus: Corpus, batch: int, singles: int) -> dict[str, Any]:
    """Ours and the naive pipeline side by side: cold and warm batched throughput, single-text latency."""
    from training.runtime.bundle import load_bundle

    print(f"  fitting the naive pipeline on {len(corpus.train_texts)} train texts ...", flush=True)
    naive, naive_fit_s = fit_naive(corpus)
    texts = corpus.test_texts
    with one_core() as core:
        start = time.perf_counter()
        model, manifest = load_bundle(model_dir)
        load_s = time.perf_counter() - start
        lemmatizer = lemmatizer_of(model)
        sides: dict[str, Callable[[list[str]], object]] = {"ours": model.classify, "naive": naive.predict_proba}
        for fn in sides.values():
            fn(["прогрев"])
        cold = {name: timed_pass(fn, texts, batch) for name, fn in sides.items()}  # ours: lemma cache empty
        warm: dict[str, list[float]] = {name: [] for name in sides}
        for _ in range(WARM_PASSES):
            for name, fn in sides.items():
                warm[name].append(timed_pass(fn, texts, batch))
        latencies = single_latencies(sides, texts, singles)
        real = real_texts_figures(sides, corpus.real_texts, batch, singles) if corpus.real_texts else None
        cache = lemmatizer.cache_stats() if lemmatizer is not None else {}
    out: dict[str, Any] = {
        "model_version": manifest.get("version"),
        "n_texts": len(texts),
        "n_train": len(corpus.train_texts),
        "labels": list(corpus.label_names),
        "batch": batch,
        "single_n": singles,
        "core": core,
        "load_s": load_s,
        "naive_fit_s": naive_fit_s,
        "cache": cache,
        "real": real,
    }
    for name in sides:
        out[name] = {
            "cold_cps": cold[name],
            "warm_cps": max(warm[name]),
            "warm_runs": warm[name],
            "single_p50_ms": percentile(latencies[name], 50),
            "single_p99_ms": percentile(latencies[name], 99),
        }
    ours, base = out["ours"], out["naive"]
    out["ratio_cps"] = ours["warm_cps"] / base["warm_cps"]
    out["ratio_single_p50"] = ours["single_p50_ms"] / base["single_p50_ms"]
    return out


def summary_line(r: dict[str, Any]) -> str:
    o, n = r["ours"], r["naive"]
    return (
        f"  ours {o['warm_cps']:,.0f} comments/s (cold {o['cold_cps']:,.0f}), single p50 {o['single_p50_ms']:.2f} ms"
        f" p99 {o['single_p99_ms']:.2f} ms | naive {n['warm_cps']:,.0f} comments/s, single p50 "
        f"{n['single_p50_ms']:.2f} ms p99 {n['single_p99_ms']:.2f} ms | ours/naive: throughput "
        f"{r['ratio_cps']:.2f}x, single p50 {r['ratio_single_p50']:.2f}x"
    )
