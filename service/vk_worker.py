"""The inbox worker: classifies stored comments off the request path, then applies the optional auto-hide.

/vk/callback only stores an event and answers "ok" (VK wants its answer within seconds and retries otherwise);
it then wakes this worker. The worker reads the pending rows from the database, not from memory, so nothing
is lost to a restart, and rows stored while no model is loaded stay pending until one is: it looks again
every `poll_seconds` and whenever woken. Texts are classified through the app's micro-batcher (off the event
loop, shared with /classify) on the serving model; a result is saved only for the text version it was
computed on (an edit in between makes the row pending again). Then, with VK_ACCESS_TOKEN and VK_AUTO_HIDE=1,
a comment whose action is the moderation action, and which carries one of VK_AUTO_HIDE_FLAGS (мат and insults
by default; disrespect to the authorities is left to a human), is deleted through the API method of its
kind, once (the row is claimed first, so two workers never both call VK), and the decision and VK's answer
are stored. The decision is stored with the result ("due"), so a restart between the two loses no hide:
every drain ends by hiding what is due, and a claim a dead process left behind is taken again once it is
older than the longest a VK call can take (the client's attempts, timeouts and backoff, twice over).

One worker per app and event loop: started on first use and, when the lifespan runs `inbox_worker(app)`, at
start-up (so rows left pending by a previous run are classified without waiting for the next event).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import orjson
from anyio import to_thread
from fastapi import FastAPI

from service.batcher import MicroBatcher
from service.logging_setup import json_lines_to_stderr
from service.settings import Settings
from service.vk_client import VkAnswer, VkClient
from service.vk_metrics import vk_metrics
from service.vk_schemas import KINDS
from training.runtime.inbox.store import InboxStore, inbox_store_for
from training.runtime.inbox.table import HIDE_DONE, HIDE_FAILED
from training.runtime.taxonomy import default_taxonomy

POLL_SECONDS = 2.0
BATCH_SIZE = 64
log = logging.getLogger("service.vk")


def moderation_actions() -> frozenset[str]:
    """The action of the moderation categories (data/taxonomy.yaml: `moderate`), without spelling it."""
    taxonomy = default_taxonomy()
    return frozenset(taxonomy.category_actions[f] for f in taxonomy.moderation_flags)


def inbox_store(app: FastAPI) -> InboxStore:
    """The app's inbox store (one per DATABASE_URL per process). Raises InboxDatabaseError."""
    store = getattr(app.state, "inbox_store", None)
    if store is None:
        json_lines_to_stderr(log, app.state.settings.log_level)  # service.vk's JSON lines, like the access log's
        store = app.state.inbox_store = inbox_store_for(app.state.settings.database_url)
    return store


def vk_client(app: FastAPI) -> VkClient | None:
    """The API client when auto-hide is on (VK_ACCESS_TOKEN and VK_AUTO_HIDE=1), else None. Tests may set
    `app.state.vk_client` (e.g. with a short backoff)."""
    settings: Settings = app.state.settings
    if not (settings.vk_auto_hide and settings.vk_access_token):
        return None
    client = getattr(app.state, "vk_client", None)
    if client is None:
        metrics = vk_metrics(app)
        client = app.state.vk_client = VkClient(
            settings.vk_api_base_url,
            settings.vk_access_token,
            settings.vk_api_version,
            # Not in Settings (yet): read when present, the client's defaults otherwise.
            max_attempts=settings.vk_retry_attempts,
            backoff_seconds=settings.vk_retry_backoff,
            observe=metrics.api_call,
        )
    return client


def _batcher(app: FastAPI) -> MicroBatcher:
    batcher = getattr(app.state, "batcher", None)
    if batcher is None:
        batcher = app.state.batcher = MicroBatcher()
    return batcher


class InboxWorker:
    def __init__(self, app: FastAPI, poll_seconds: float = POLL_SECONDS, batch_size: int = BATCH_SIZE) -> None:
        self.app = app
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.moderate = moderation_actions()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self.open_claims = 0  # hide claims waiting for VK's answer after the last drain

    def ensure_running(self) -> None:
        """Start the loop on the running event loop unless it already runs there."""
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._loop is not loop:
            self._loop, self._wakeup = loop, asyncio.Event()
            self._task = loop.create_task(self._run(), name="inbox-worker")

    def notify(self) -> None:
        """Something was stored: classify it now."""
        self.ensure_running()
        assert self._wakeup is not None
        self._wakeup.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        """Drain when woken, and every `poll_seconds` while something may still be pending (no model yet, an
        error); an idle worker does not query the database."""
        assert self._wakeup is not None
        wakeup = self._wakeup
        last_error = None
        dirty = True  # start-up: rows a previous run left pending
        while True:
            if wakeup.is_set() or dirty:
                wakeup.clear()
                try:
                    # Look again while no model is loaded, or while a hide claim is open (it may be abandoned).
                    dirty = await self.drain() is None or self.open_claims > 0
                    last_error = None
                except Exception as exc:  # the database went away, say: logged once per distinct error
                    dirty = True
                    message = f"{type(exc).__name__}: {str(exc)[:200]}"
                    if message != last_error:
                        last_error = message
                        log.error(json.dumps({"event": "inbox_worker_failed", "reason": message}))
            with suppress(TimeoutError):
                await asyncio.wait_for(wakeup.wait(), self.poll_seconds)

    async def drain(self) -> int | None:
        """Classify every pending row the serving model can take now; returns how many results were saved,
        None when no model is loaded (the rows stay pending; the worker looks again every poll_seconds)."""
        loaded = self.app.state.holder.get()
        if loaded is None:
            return None
        store = inbox_store(self.app)
        max_chars = self.app.state.settings.max_text_chars
        hiding = vk_client(self.app) is not None
        hide_flags = self.app.state.settings.auto_hide_flags
        seen: set[tuple[int, int]] = set()
        saved = 0
        while True:
            pending = await to_thread.run_sync(store.pending, self.batch_size)
            batch = [p for p in pending if (p.id, p.version) not in seen]
            if not batch:
                await self.hide_due(store)
                return saved
            seen.update((p.id, p.version) for p in batch)
            # Texts over MAX_TEXT_CHARS are classified on their first MAX_TEXT_CHARS characters.
            results = await self._classify(loaded.model, [p.text[:max_chars] for p in batch])
            for item, result in zip(batch, results, strict=True):
                if not isinstance(result, BaseException):
                    try:  # what the database's JSON column can hold (numpy scalars as numbers), as /classify sends
                        result = orjson.loads(orjson.dumps(result, option=orjson.OPT_SERIALIZE_NUMPY))
                    except (TypeError, orjson.JSONEncodeError) as exc:
                        result = exc
                if isinstance(result, BaseException):
                    await to_thread.run_sync(store.save_failure, item.id, item.version, type(result).__name__)
                    continue
                flags = result.get("flags") or {}
                hide = hiding and result.get("action") in self.moderate and any(flags.get(f) for f in hide_flags)
                saved_now = await to_thread.run_sync(
                    partial(store.save_result, item.id, item.version, result, loaded.version, hide=hide)
                )
                if saved_now:
                    saved += 1
                    self.app.state.metrics.observe_results([result["category"]])

    async def _classify(self, model: Any, texts: list[str]) -> list[dict[str, Any] | BaseException]:
        batcher = _batcher(self.app)
        try:
            return list(await batcher.classify(model, texts))
        except Exception:  # one text breaks the batch: classify them one by one, keep the error with its text
            out: list[dict[str, Any] | BaseException] = []
            for text in texts:
                try:
                    out.append((await batcher.classify(model, [text]))[0])
                except Exception as exc:
                    out.append(exc)
            return out

    async def hide_due(self, store: InboxStore) -> None:
        """Hide every due comment (and take over abandoned claims); a no-op while auto-hide is off."""
        client = vk_client(self.app)
        if client is None:
            self.open_claims = 0
            return
        while True:
            stale_before = datetime.now(UTC) - timedelta(seconds=2 * client.longest_call_seconds())
            due = await to_thread.run_sync(store.hides.due, stale_before, self.batch_size)
            if not due:
                break
            for inbox_id in due:
                await self._auto_hide(client, store, inbox_id, stale_before)
        self.open_claims = await to_thread.run_sync(store.hides.open_claims)

    async def _auto_hide(self, client: VkClient, store: InboxStore, inbox_id: int, stale_before: datetime) -> None:
        ref = await to_thread.run_sync(store.hides.claim, inbox_id, stale_before)
        if ref is None:  # another worker took it, or it stopped being due
            return
        kind = KINDS[ref.kind]
        params = kind.delete_params(ref)
        try:
            answer = await to_thread.run_sync(client.call, kind.delete_method, params)
        except Exception as exc:  # never lose the row: store the failure as VK's answer would be
            answer = VkAnswer(kind.delete_method, False, 0, {"error": {"transport": type(exc).__name__}})
        status = HIDE_DONE if answer.ok else HIDE_FAILED
        await to_thread.run_sync(store.hides.save, inbox_id, status, kind.delete_method, answer.body, answer.attempts)
        vk_metrics(self.app).hidden.labels(status).inc()


def get_worker(app: FastAPI) -> InboxWorker:
    worker = getattr(app.state, "inbox_worker", None)
    if worker is None:
        worker = app.state.inbox_worker = InboxWorker(app)
    return worker


@asynccontextmanager
async def inbox_worker(app: FastAPI) -> AsyncIterator[InboxWorker]:
    """For the lifespan: run the worker from start-up (pending rows of a previous run) until shutdown."""
    worker = get_worker(app)
    worker.notify()
    try:
        yield worker
    finally:
        await worker.stop()
