"""`kill -9` of one uvicorn worker mid-load, then: does the service recover by itself?

uvicorn's Multiprocess supervisor (uvicorn/supervisors/multiprocess.py, keep_subprocess_alive) checks its
workers every 0.5 s and starts a new one for a dead one in the versions that have it; this is measured, not
assumed: the master's children are watched for a new worker pid, the server log for that pid's
"model_loaded" line (its lifespan finished: it serves), and /ready and a /classify probe must answer 200.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.soak_server import established, worker_pids


@dataclass
class KillReport:
    at: float = 0.0  # monotonic time of the kill (0: not done)
    killed: int | None = None
    workers_before: list[int] = field(default_factory=list)
    connections: dict[str, int] = field(default_factory=dict)  # client connections each worker held at the kill
    respawned: int | None = None  # the new worker's pid
    respawn_after: float | None = None  # s from the kill to the new pid
    loaded_after: float | None = None  # s from the kill to the new worker's model_loaded line
    ready_ok: bool = False  # /ready 200 and a /classify probe 200 after the new worker served
    watched: float = 0.0  # s watched after the kill
    note: str = ""

    def recovered(self, within: float) -> bool:
        return self.ready_ok and self.loaded_after is not None and self.loaded_after <= within


def model_loaded(log_path: Path, pid: int) -> bool:
    text = log_path.read_text(encoding="utf-8", errors="replace")
    return re.search(rf'"event": "model_loaded"[^\n]*"pid": {pid}\b', text) is not None


async def probe(client: httpx.AsyncClient) -> bool:
    try:
        ready = await client.get("/ready")
        r = await client.post("/classify", json={"comments": [{"text": "когда починят дорогу на Ленина?"}]})
    except httpx.TransportError:
        return False
    return ready.status_code == 200 and r.status_code == 200


async def kill_and_watch(
    report: KillReport,
    *,
    master: int,
    base: str,
    api_key: str,
    log_path: Path,
    delay: float,
    watch: float,
    workers: int,
) -> None:
    """After `delay` s SIGKILL the first worker, then watch up to `watch` s for a ready replacement.

    The /proc scans and log reads run in a thread: blocking this event loop would pause the load, let the
    workers drain, and the kill would then find nothing in flight."""
    loop = asyncio.get_running_loop()
    await asyncio.sleep(delay)
    report.workers_before = await asyncio.to_thread(worker_pids, master)
    if len(report.workers_before) < workers:
        report.note = f"only {len(report.workers_before)} workers found before the kill"
        if not report.workers_before:
            return
    port = int(base.rsplit(":", 1)[1])
    report.connections = await asyncio.to_thread(established, report.workers_before, port)
    report.killed = report.workers_before[0]
    os.kill(report.killed, signal.SIGKILL)
    report.at = loop.time()
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": api_key}, timeout=10) as client:
        while (elapsed := loop.time() - report.at) < watch:
            if report.respawned is None:
                new = [p for p in await asyncio.to_thread(worker_pids, master) if p not in report.workers_before]
                if new:
                    report.respawned, report.respawn_after = new[0], elapsed
            new_pid = report.respawned
            if new_pid and report.loaded_after is None and await asyncio.to_thread(model_loaded, log_path, new_pid):
                report.loaded_after = elapsed
            if report.loaded_after is not None and await probe(client):
                report.ready_ok = True
                break
            await asyncio.sleep(0.25)
    report.watched = loop.time() - report.at
    if report.respawned is None:
        report.note = "the master started no new worker"
