"""Per-request cost of our web layer, in process: the ASGI app called directly, no socket, no uvicorn.

Each figure is the median CPU time of one request (`time.thread_time` over the whole call, on one thread
with the model call inline), so it is the cost a worker pays, not latency: the ceiling app's /classify, our
/health (every middleware: access log, metrics, security headers, key guard, body guard), the same with the
access log off (LOG_LEVEL=warning: the difference is the log line), and our /classify of one comment against
the model call alone (the difference is validation, the micro-batcher's hand-off, metrics and JSON).
"""

from __future__ import annotations

import asyncio
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

from bench.ceiling import create_app as ceiling_app
from service.app import create_app
from service.batcher import MicroBatcher
from service.loading import STARTUP, load_model
from service.logging_setup import log as access_log
from service.settings import Settings
from training.runtime.model import TriageModel

Call = Callable[[], Awaitable[int]]
ROUNDS = 10


def asgi_call(app: Any, method: str, path: str, body: bytes = b"") -> Call:
    """One request through `app` as uvicorn would make it; returns the status."""
    headers = [
        (b"host", b"bench"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }

    async def call() -> int:
        sent = False
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app({**scope, "state": {}}, receive, send)
        return status

    return call


async def _cpu_samples(call: Call, n: int) -> list[float]:
    times = []
    for _ in range(n):
        start = time.thread_time()
        status = await call()
        times.append(time.thread_time() - start)
        if status != 200:
            raise RuntimeError(f"benchmark request answered {status}")
    return times


class InlineBatcher(MicroBatcher):
    """The model call on the calling thread, so that thread_time sees all of it (the hand-off to the
    batcher's thread is the only cost this leaves out; bench/http.py measures it in the real thing)."""

    async def classify(self, model: TriageModel, texts: list[str]) -> list[dict[str, Any]]:
        return model.classify(texts)


def _app(model_dir: Path, tmp: str) -> Any:
    settings = Settings(model_dir=model_dir, log_level="info", database_url=f"sqlite:///{tmp}/fb.db")
    app = create_app(settings)
    load_model(app, None, trigger=STARTUP)
    app.state.batcher = InlineBatcher()
    return app


def overhead(model_dir: Path, texts: list[str], n: int = 2000) -> dict[str, float]:
    """Median CPU µs per request for each case above (and the model call alone on the same texts)."""
    body = orjson.dumps({"comments": [{"id": "c1", "text": texts[0]}]})
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp:
        devnull = open(os.devnull, "w")  # noqa: SIM115 (closed below): the log lines are written, to nowhere
        try:
            ours_info = _app(model_dir, tmp)
            for handler in access_log.handlers:
                if isinstance(handler, logging.StreamHandler):
                    handler.setStream(devnull)
            model = ours_info.state.holder.get().model
            out: dict[str, float] = {}

            async def model_only() -> int:
                model.classify([texts[0]])
                return 200

            health = asgi_call(ours_info, "GET", "/health")
            cases: dict[str, tuple[Call, int]] = {
                "ceiling_classify_us": (asgi_call(ceiling_app(), "POST", "/classify", body), logging.INFO),
                "health_us": (health, logging.INFO),
                "health_no_log_us": (health, logging.WARNING),
                "classify_us": (asgi_call(ours_info, "POST", "/classify", body), logging.INFO),
                "model_us": (model_only, logging.INFO),
            }

            async def run() -> None:
                # Rounds of every case in turn, so that a slower stretch of the machine hits all of them.
                samples: dict[str, list[float]] = {name: [] for name in cases}
                for round_ in range(ROUNDS + 1):
                    for name, (call, level) in cases.items():
                        access_log.setLevel(level)
                        taken = await _cpu_samples(call, max(1, n // ROUNDS))
                        if round_:  # the first round warms up
                            samples[name] += taken
                access_log.setLevel(logging.INFO)
                out.update({name: statistics.median(v) * 1e6 for name, v in samples.items()})

            asyncio.run(run())
        finally:
            devnull.close()
    return out
