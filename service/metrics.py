"""Prometheus metrics through prometheus_client, summed over all uvicorn workers.

One worker (the tests, WORKERS=1): every `Metrics()` owns its own `CollectorRegistry`, so several apps in
one process never share counters. Several workers: `python -m service` puts a fresh PROMETHEUS_MULTIPROC_DIR
into the environment before uvicorn spawns them; prometheus_client then keeps every value in per-process
mmap files there, and `render()` merges all files with `MultiProcessCollector`, whichever worker answers.

Gauge modes across workers: `triage_model_ready` is "livemin" (1 only when every live worker has a model:
a worker without one answers 503 to its share of the requests, which "max" would hide); `triage_model_info`
is "livemax" (a version is listed while at least one live worker serves it: after a reload in one worker,
both versions show until the others reload). Prometheus_client cannot delete a label set from the mmap
files, so a retired version is set to 0 and left out of the exposition. "live" modes drop a worker's gauges
when it exits (at exit, or swept at the next scrape after a crash), which uvicorn has no hook for.
"""

from __future__ import annotations

import atexit
import glob
import os
import re
import threading
from collections.abc import Iterable, Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    values,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
PREFIX = "triage"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Anything else (typos, scanners, 1,000 invented verbs) is one "other" series, not one series per name.
STANDARD_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
MODEL_INFO = f"{PREFIX}_model_info"
_LIVE_GAUGE_FILE = re.compile(r"^gauge_live[a-z]+_(\d+)\.db$")
disable_created_metrics()  # the OpenMetrics-only `_created` series, absent in multiprocess mode anyway


def method_label(method: str) -> str:
    """The method as a label value: bounded to the standard set plus "other" (methods are case-sensitive)."""
    return method if method in STANDARD_METHODS else "other"


def multiprocess_enabled() -> bool:
    """True when prometheus_client chose its mmap values (decided once, at import, from the environment)."""
    return bool(getattr(values.ValueClass, "_multiprocess", False))


class Metrics:
    """Request, result, reload and model metrics of one app; `render()` gives the Prometheus text format.

    Multiprocess mode allows one instance per worker process (its values are keyed by pid in the files)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: str | None = None
        self.multiprocess = multiprocess_enabled()
        # Multiprocess: values live in the mmap files, so the metric objects are registered nowhere and the
        # exposition registry holds only the collector that merges every worker's files.
        own = None if self.multiprocess else CollectorRegistry()
        p = PREFIX
        self._requests = Counter(
            f"{p}_http_requests",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=own,
        )
        self._latency = Histogram(
            f"{p}_http_request_duration_seconds",
            "Request latency by route template.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=own,
        )
        self._results = Counter(f"{p}_results", "Classified comments by primary category.", ["category"], registry=own)
        self._comments = Counter(f"{p}_comments", "Comments classified.", registry=own)
        self._reloads = Counter(f"{p}_model_reloads", "Model reload attempts by outcome.", ["outcome"], registry=own)
        self._model_info = Gauge(
            MODEL_INFO,
            "The model version being served (value 1).",
            ["version"],
            registry=own,
            multiprocess_mode="livemax",
        )
        self._model_ready = Gauge(
            f"{p}_model_ready", "1 when a model is loaded.", registry=own, multiprocess_mode="livemin"
        )
        if self.multiprocess:
            self._dir = os.environ[MULTIPROC_ENV]
            self._registry = CollectorRegistry(auto_describe=False)
            MultiProcessCollector(self._registry, path=self._dir)
            atexit.register(mark_process_dead, os.getpid(), self._dir)  # this worker's gauges go with it
        else:
            assert own is not None
            self._registry = own

    @property
    def registry(self) -> CollectorRegistry:
        """The exposition registry (single process: where other modules' counters register)."""
        return self._registry

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self._requests.labels(method_label(method), route, str(status)).inc()
        self._latency.labels(route).observe(seconds)

    def observe_results(self, categories: list[str]) -> None:
        self._comments.inc(len(categories))
        for c in categories:
            self._results.labels(c).inc()

    def observe_reload(self, outcome: str) -> None:
        self._reloads.labels(outcome).inc()

    def set_model_version(self, version: str | None) -> None:
        """Swap the info series: the previous version must stop being reported by this worker."""
        with self._lock:
            old = self._version
            if old is not None and old != version:
                self._model_info.labels(old).set(0)  # multiprocess: stays in the file at 0, not exposed
                if not self.multiprocess:
                    self._model_info.remove(old)
            if version is not None:
                self._model_info.labels(version).set(1)
            self._model_ready.set(0 if version is None else 1)
            self._version = version

    def render(self) -> str:
        """The text exposition (version 0.0.4, also valid 1.0.0), summed over workers in multiprocess mode."""
        if self.multiprocess:
            self._sweep_dead_workers()
        return generate_latest(_Exposed(self._registry)).decode("utf-8")

    def exposition(self) -> tuple[bytes, str]:
        """Body and Content-Type for the /metrics response."""
        return self.render().encode("utf-8"), CONTENT_TYPE_LATEST

    def _sweep_dead_workers(self) -> None:
        """Drop the "live" gauge files of workers that died without running their exit hook (killed)."""
        pids = set()
        for path in glob.glob(os.path.join(self._dir, "gauge_live*_*.db")):
            m = _LIVE_GAUGE_FILE.match(os.path.basename(path))
            if m:
                pids.add(int(m.group(1)))
        for pid in pids:
            if not _alive(pid):
                mark_process_dead(pid, self._dir)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _without_retired_versions(metrics: Iterable[Metric]) -> Iterator[Metric]:
    """Multiprocess gauges cannot be deleted from their files: a version set to 0 is retired, not shown."""
    for metric in metrics:
        if metric.name == MODEL_INFO:
            metric.samples = [s for s in metric.samples if s.value != 0]
        yield metric


class _Exposed:
    """The registry as /metrics shows it (what generate_latest needs is only `collect()`)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        return _without_retired_versions(self.registry.collect())
