"""The soak's traffic: N connections of /classify (single comments and small batches) and a reload ticker.

Every request is kept as one Sample (start, end, status or error kind, served version), so the report can
look at any window afterwards: the requests in flight when a worker was killed, the versions served after a
reload. Times are time.monotonic() seconds.
"""

from __future__ import annotations

import asyncio
import csv
import random
from collections import Counter
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.soak_server import ROOT

CONNECT, READ, TIMEOUT, OTHER = "connect", "read", "timeout", "other"  # transport error kinds


@dataclass(frozen=True)
class Sample:
    start: float
    end: float
    status: int | None  # None: no response (see error)
    error: str | None = None  # CONNECT, READ (read/write/protocol: the peer went away), TIMEOUT, OTHER
    version: str | None = None  # model_version of a 200
    detail: str | None = None  # the exception's class, for an error

    @property
    def failed(self) -> bool:
        """No answer, a 5xx, or a 200 whose body is not one result per comment."""
        return self.error is not None or (self.status is not None and self.status >= 500)


@dataclass
class Reload:
    kind: str  # valid, missing, tampered
    version: str
    start: float
    end: float = 0.0
    status: int | None = None
    error: str | None = None
    served: str | None = None  # model_version in the answer

    @property
    def expected(self) -> int:
        return 200 if self.kind == "valid" else 409

    @property
    def ok(self) -> bool:
        return self.status == self.expected and (self.kind != "valid" or self.served == self.version)


@dataclass
class Traffic:
    samples: list[Sample] = field(default_factory=list)
    reloads: list[Reload] = field(default_factory=list)


def corpus_test_texts(path: Path = ROOT / "data" / "comments.csv") -> list[str]:
    """The texts of the corpus's test split (read with csv: the soak needs no pandas)."""
    with path.open(encoding="utf-8", newline="") as f:
        texts = [row["text"] for row in csv.DictReader(f) if row.get("split") == "test" and row["text"].strip()]
    if not texts:
        raise ValueError(f"no test texts in {path}")
    return texts


def error_kind(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return TIMEOUT
    if isinstance(exc, httpx.ConnectError):
        return CONNECT
    if isinstance(exc, httpx.ReadError | httpx.WriteError | httpx.RemoteProtocolError):
        return READ
    return OTHER


def payload(rng: random.Random, texts: list[str]) -> dict:
    """Half single comments, half batches of 2-8."""
    n = 1 if rng.random() < 0.5 else rng.randint(2, 8)
    return {"comments": [{"id": f"s{i}", "text": rng.choice(texts)} for i in range(n)]}


async def connection(client: httpx.AsyncClient, texts: list[str], stop_at: float, seed: int, out: list[Sample]):
    """One client connection: /classify back to back until `stop_at`."""
    loop = asyncio.get_running_loop()
    rng = random.Random(seed)
    while loop.time() < stop_at:
        body = payload(rng, texts)
        start = loop.time()
        try:
            r = await client.post("/classify", json=body)
        except httpx.TransportError as exc:
            out.append(Sample(start, loop.time(), None, error_kind(exc), detail=type(exc).__name__))
            continue
        version = None
        if r.status_code == 200:
            try:
                data = r.json()
                version = data["model_version"]
                if len(data["results"]) != len(body["comments"]):
                    raise ValueError("one result per comment expected")
            except (ValueError, KeyError, TypeError) as exc:
                out.append(Sample(start, loop.time(), r.status_code, OTHER, detail=f"bad body: {exc}"))
                continue
        out.append(Sample(start, loop.time(), r.status_code, None, version))


async def reload_ticker(
    client: httpx.AsyncClient, cycle: list[tuple[str, str]], every: float, stop_at: float, out: list[Reload]
):
    """POST /admin/reload every `every` seconds (one at a time: a slow reload delays the next), cycling."""
    loop = asyncio.get_running_loop()
    next_at = loop.time() + every
    i = 0
    while True:
        await asyncio.sleep(max(0.0, next_at - loop.time()))
        if loop.time() >= stop_at:
            return
        kind, version = cycle[i % len(cycle)]
        i += 1
        rec = Reload(kind, version, loop.time())
        out.append(rec)
        try:
            r = await client.post("/admin/reload", json={"version": version}, timeout=120)
            rec.status = r.status_code
            try:
                rec.served = r.json().get("model_version")
            except ValueError:
                pass
        except httpx.TransportError as exc:
            rec.error = error_kind(exc)
        rec.end = loop.time()
        next_at = max(next_at + every, loop.time())


async def run_traffic(
    base: str,
    api_key: str,
    texts: list[str],
    *,
    seconds: float,
    connections: int,
    reload_cycle: list[tuple[str, str]],
    reload_every: float,
    side_task=None,
) -> Traffic:
    """The load and the reload ticker for `seconds`; `side_task()` (the kill) runs beside them.

    Each connection is its own AsyncClient holding one keep-alive connection: with one shared pool of 64,
    httpcore 1.0 left most requests waiting in the pool beside idle connections (a quarter of the rate)."""
    traffic = Traffic()
    loop = asyncio.get_running_loop()
    stop_at = loop.time() + seconds
    headers = {"X-API-Key": api_key}
    timeout = httpx.Timeout(30.0, connect=5.0)
    one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=base, headers=headers, limits=one, timeout=timeout)
            )
            for _ in range(connections)
        ]
        # A new connection per reload (as an operator's curl): either worker may take it.
        no_keepalive = httpx.Limits(max_keepalive_connections=0)
        admin = await stack.enter_async_context(
            httpx.AsyncClient(base_url=base, headers=headers, limits=no_keepalive, timeout=timeout)
        )
        jobs = [connection(c, texts, stop_at, seed, traffic.samples) for seed, c in enumerate(clients)]
        jobs.append(reload_ticker(admin, reload_cycle, reload_every, stop_at, traffic.reloads))
        if side_task is not None:
            jobs.append(side_task())
        await asyncio.gather(*jobs)
    return traffic


def summarize(samples: list[Sample]) -> dict:
    statuses = Counter(s.status for s in samples if s.status is not None)
    errors = Counter(s.error for s in samples if s.error is not None)
    return {
        "requests": len(samples),
        "ok": statuses.get(200, 0) - errors.get(OTHER, 0) if samples else 0,
        "statuses": dict(sorted(statuses.items())),
        "errors": dict(sorted(errors.items())),
        "5xx": sum(n for code, n in statuses.items() if code >= 500),
    }
