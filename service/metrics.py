"""Prometheus metrics written by hand: no extra dependency, and the text format is simple.

One registry per app (per worker process): request counts by route and status, a latency histogram by
route, results per category, comments classified, and the serving model version as a labelled gauge.
"""

from __future__ import annotations

import threading
from collections import defaultdict

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
PREFIX = "triage"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**kv: str) -> str:
    return "{" + ",".join(f'{k}="{_escape(str(v))}"' for k, v in kv.items()) + "}"


def _fmt(v: float) -> str:
    return repr(float(v)) if v != int(v) else str(int(v))


class Metrics:
    """Thread-safe counters; `render()` produces the Prometheus text exposition format 0.0.4."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self.latency_buckets: dict[str, list[int]] = {}
        self.latency_sum: dict[str, float] = defaultdict(float)
        self.latency_count: dict[str, int] = defaultdict(int)
        self.results: dict[str, int] = defaultdict(int)
        self.comments = 0
        self.model_version: str | None = None
        self.reloads: dict[str, int] = defaultdict(int)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(method, route, str(status))] += 1
            buckets = self.latency_buckets.setdefault(route, [0] * len(LATENCY_BUCKETS))
            for i, bound in enumerate(LATENCY_BUCKETS):
                if seconds <= bound:
                    buckets[i] += 1
            self.latency_sum[route] += seconds
            self.latency_count[route] += 1

    def observe_results(self, categories: list[str]) -> None:
        with self._lock:
            self.comments += len(categories)
            for c in categories:
                self.results[c] += 1

    def observe_reload(self, outcome: str) -> None:
        with self._lock:
            self.reloads[outcome] += 1

    def set_model_version(self, version: str | None) -> None:
        with self._lock:
            self.model_version = version

    def render(self) -> str:
        p = PREFIX
        out: list[str] = []
        with self._lock:
            out += [f"# HELP {p}_http_requests_total HTTP requests by method, route template and status.",
                    f"# TYPE {p}_http_requests_total counter"]
            for (method, route, status), n in sorted(self.requests.items()):
                out.append(f"{p}_http_requests_total{_labels(method=method, route=route, status=status)} {n}")
            out += [f"# HELP {p}_http_request_duration_seconds Request latency by route template.",
                    f"# TYPE {p}_http_request_duration_seconds histogram"]
            h = f"{p}_http_request_duration_seconds"
            for route in sorted(self.latency_buckets):
                for bound, n in zip(LATENCY_BUCKETS, self.latency_buckets[route], strict=True):
                    out.append(f"{h}_bucket{_labels(route=route, le=_fmt(bound))} {n}")
                count = self.latency_count[route]
                out.append(f"{h}_bucket{_labels(route=route, le='+Inf')} {count}")
                out.append(f"{h}_sum{_labels(route=route)} {self.latency_sum[route]:.6f}")
                out.append(f"{h}_count{_labels(route=route)} {count}")
            out += [f"# HELP {p}_results_total Classified comments by primary category.",
                    f"# TYPE {p}_results_total counter"]
            for category, n in sorted(self.results.items()):
                out.append(f"{p}_results_total{_labels(category=category)} {n}")
            out += [f"# HELP {p}_comments_total Comments classified.", f"# TYPE {p}_comments_total counter",
                    f"{p}_comments_total {self.comments}"]
            out += [f"# HELP {p}_model_reloads_total Model reload attempts by outcome.",
                    f"# TYPE {p}_model_reloads_total counter"]
            for outcome, n in sorted(self.reloads.items()):
                out.append(f"{p}_model_reloads_total{_labels(outcome=outcome)} {n}")
            out += [f"# HELP {p}_model_info The model version being served (value 1).",
                    f"# TYPE {p}_model_info gauge"]
            if self.model_version is not None:
                out.append(f"{p}_model_info{_labels(version=self.model_version)} 1")
            out += [f"# HELP {p}_model_ready 1 when a model is loaded.", f"# TYPE {p}_model_ready gauge",
                    f"{p}_model_ready {1 if self.model_version is not None else 0}"]
        return "\n".join(out) + "\n"
