"""Prometheus counters of the VK receiver, exposed on /metrics with the app's own metrics (service/metrics.py).

One worker: registered in the app's registry. Several workers (multiprocess mode): registered nowhere, like
the app's metrics, and merged from the per-process files by the app's collector.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter

from service.metrics import PREFIX

# Event types become label values only when they look like VK's (lower-case words), so that a label set stays
# bounded whatever is posted with a valid secret.
_TYPE_RE = re.compile(r"^[a-z_]{1,40}$")
_lock = threading.Lock()


def type_label(event_type: str) -> str:
    return event_type if _TYPE_RE.match(event_type) else "other"


def _registry(metrics: Any) -> CollectorRegistry | None:
    """The app's registry in single-process mode (None in multiprocess mode: values go to the files)."""
    if getattr(metrics, "multiprocess", False):
        return None
    registry = getattr(metrics, "registry", None)
    return registry if isinstance(registry, CollectorRegistry) else None


class VkMetrics:
    def __init__(self, registry: CollectorRegistry | None) -> None:
        p = PREFIX
        self.events = Counter(
            f"{p}_vk_events", "VK Callback API events by type and outcome.", ["type", "outcome"], registry=registry
        )
        self.refused = Counter(f"{p}_vk_refused", "VK events refused, by reason.", ["reason"], registry=registry)
        self.api_calls = Counter(
            f"{p}_vk_api_calls", "VK API call attempts by method and outcome.", ["method", "outcome"], registry=registry
        )
        self.hidden = Counter(f"{p}_vk_auto_hide", "Auto-hide decisions by outcome.", ["outcome"], registry=registry)

    def event(self, event_type: str, outcome: str) -> None:
        self.events.labels(type_label(event_type), outcome).inc()

    def refuse(self, reason: str) -> None:
        self.refused.labels(reason).inc()

    def api_call(self, method: str, outcome: str) -> None:
        self.api_calls.labels(method, outcome).inc()


def vk_metrics(app: FastAPI) -> VkMetrics:
    """The app's VK counters, created on first use (once per app and process)."""
    with _lock:
        existing = getattr(app.state, "vk_metrics", None)
        if existing is None:
            existing = app.state.vk_metrics = VkMetrics(_registry(app.state.metrics))
        return existing
