"""Micro-batching: concurrent /classify requests share one model call.

A single comment costs ~1 ms in a call of its own and ~0.2 ms inside a batch: most of a lone call is fixed
per-call work (sparse-matrix set-up, one pass through every pipeline step). So requests that arrive while
the model is busy are classified together in the next call, off the event loop (one model thread per
worker), and each request gets back exactly its own results, in order. An idle model starts at once: waiting
for company (`max_wait`, 0 by default) cost a lone request 2 ms plus a timer and gained nothing under load,
where the model is busy and requests gather by themselves.

Bounds: a request waits at most `max_wait` before its batch starts, plus the model call in front of it;
a batch holds at most `max_comments` comments; a request that alone has `max_comments` or more goes straight
to its own call, so a huge request never makes small ones wait for it. Requests are validated before they
get here; if a batch still fails, its requests are retried one by one so only the failing one sees the error.
"""

from __future__ import annotations

import asyncio
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from training.runtime.model import TriageModel

MAX_WAIT_SECONDS = 0.0
MAX_BATCH_COMMENTS = 256


@dataclass
class _Item:
    model: TriageModel
    texts: list[str]
    future: asyncio.Future[list[dict[str, Any]]]
    arrived: float = field(default=0.0)


def _classify_items(model: TriageModel, items: list[_Item]) -> list[list[dict[str, Any]] | BaseException]:
    """One call for all items; on failure, one call per item so an error stays with its own request."""
    texts = [t for item in items for t in item.texts]
    try:
        results = model.classify(texts)
    except Exception:
        out: list[list[dict[str, Any]] | BaseException] = []
        for item in items:
            try:
                out.append(model.classify(item.texts))
            except Exception as exc:
                out.append(exc)
        return out
    split: list[list[dict[str, Any]] | BaseException] = []
    start = 0
    for item in items:
        split.append(results[start : start + len(item.texts)])
        start += len(item.texts)
    return split


class MicroBatcher:
    """One per worker process; its runner task lives on the event loop that first uses it."""

    def __init__(self, max_wait: float = MAX_WAIT_SECONDS, max_comments: int = MAX_BATCH_COMMENTS) -> None:
        self.max_wait = max_wait
        self.max_comments = max_comments
        self._pending: deque[_Item] = deque()
        self._n_pending = 0
        self._wakeup: asyncio.Event | None = None
        self._runner: asyncio.Task[None] | None = None
        # One thread for the batched calls: a batch is one call, and a second thread would only contend for
        # the GIL. Huge requests (max_comments or more) run on the default thread pool beside it.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="micro-batcher")
        self.batches = 0  # model calls made by the runner (for tests and the benchmark)
        self.batched_requests = 0

    async def classify(self, model: TriageModel, texts: list[str]) -> list[dict[str, Any]]:
        if len(texts) >= self.max_comments:
            return await run_in_threadpool(model.classify, texts)
        loop = asyncio.get_running_loop()
        item = _Item(model, texts, loop.create_future(), loop.time())
        self._pending.append(item)
        self._n_pending += len(texts)
        self._ensure_runner()
        assert self._wakeup is not None
        self._wakeup.set()
        return await item.future

    def _ensure_runner(self) -> None:
        if self._runner is None or self._runner.done():
            self._wakeup = asyncio.Event()
            self._runner = asyncio.get_running_loop().create_task(self._run(), name="micro-batcher")

    def _take(self) -> list[_Item]:
        """Whole requests, oldest first, up to max_comments (the first one always)."""
        batch: list[_Item] = []
        n = 0
        while self._pending and (not batch or n + len(self._pending[0].texts) <= self.max_comments):
            item = self._pending.popleft()
            self._n_pending -= len(item.texts)
            if item.future.done():  # the client went away
                continue
            batch.append(item)
            n += len(item.texts)
        return batch

    async def _gather(self) -> None:
        """Wait until max_wait after the oldest pending request, or until a batch is full."""
        assert self._wakeup is not None
        loop = asyncio.get_running_loop()
        deadline = self._pending[0].arrived + self.max_wait
        while self._n_pending < self.max_comments:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except TimeoutError:
                return

    async def _run(self) -> None:
        assert self._wakeup is not None
        while True:
            if not self._pending:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            if self.max_wait > 0:
                await self._gather()
            batch = self._take()
            if not batch:
                continue
            by_model: dict[int, list[_Item]] = {}
            for item in batch:  # a reload between requests: each request keeps the model it started with
                by_model.setdefault(id(item.model), []).append(item)
            for items in by_model.values():
                loop = asyncio.get_running_loop()
                outcomes = await loop.run_in_executor(self._executor, _classify_items, items[0].model, items)
                self.batches += 1
                self.batched_requests += len(items)
                for item, outcome in zip(items, outcomes, strict=True):
                    if item.future.done():
                        continue
                    if isinstance(outcome, BaseException):
                        item.future.set_exception(outcome)
                    else:
                        item.future.set_result(outcome)


async def get_batcher(request: Request) -> MicroBatcher:
    """The app's batcher (a dependency), created on first use in this worker."""
    return app_batcher(request)


def app_batcher(request: Request) -> MicroBatcher:
    """The app's batcher, created on first use in this worker."""
    batcher = getattr(request.app.state, "batcher", None)
    if batcher is None:
        batcher = request.app.state.batcher = MicroBatcher()
    return batcher
