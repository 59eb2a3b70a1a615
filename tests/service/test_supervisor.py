"""WORKERS > 1: the master preloads the model and forks the workers (service/supervisor.py).

A real `python -m service` with two workers: the workers take the master's model instead of loading their
own, a worker killed with SIGKILL is replaced by a new fork that serves again quickly, and SIGTERM stops all.
"""

from __future__ import annotations

import json
import os
import signal
import time

import httpx
import pytest

from bench.soak_server import children, established
from tests.conftest import running_service_process


def model_events(log: str) -> list[dict]:
    events = []
    for line in log.splitlines():
        if line.startswith("{") and '"event": "model_' in line:
            events.append(json.loads(line))
    return events


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def two_workers(trained_model_dir, tmp_path):
    log_path = tmp_path / "server.log"
    env = {"WORKERS": "2", "MODEL_DIR": str(trained_model_dir), "DATABASE_URL": f"sqlite:///{tmp_path / 'fb.db'}"}
    with running_service_process(env, log_path) as (proc, base):
        wait_for(lambda: len(model_events(log_path.read_text())) >= 2, 120, "both workers to load a model")
        yield proc, base, log_path


def classify_ok(http: httpx.Client) -> bool:
    try:
        r = http.post("/classify", json={"comments": [{"text": "когда отремонтируют дорогу на Ленина?"}]})
    except httpx.TransportError:
        return False
    return r.status_code == 200 and len(r.json()["results"]) == 1


def test_workers_take_the_preloaded_model_and_a_killed_one_is_replaced(two_workers):
    proc, base, log_path = two_workers
    log = log_path.read_text()
    assert "Preloaded model" in log
    started = model_events(log)
    assert {e["trigger"] for e in started} == {"startup"}
    assert all(e["load_seconds"] < 1.0 for e in started), started  # no unpickling in the workers
    workers = set(children(proc.pid))
    assert {e["pid"] for e in started} == workers and len(workers) == 2

    # Keep-alive clients are spread over the workers (each listens on its own SO_REUSEPORT socket): with 16
    # connections, all of them landing on one worker has a probability of 2 / 2**16.
    port = int(base.rsplit(":", 1)[1])
    clients = [httpx.Client(base_url=base, timeout=10) for _ in range(16)]
    try:
        assert all(classify_ok(c) for c in clients)
        held = established(sorted(workers), port)
        assert all(held[str(pid)] >= 1 for pid in workers), held
    finally:
        for c in clients:
            c.close()

    with httpx.Client(base_url=base, timeout=10) as http:
        assert classify_ok(http)
        victim = sorted(workers)[0]
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)

        def two_workers_again() -> set[int] | None:
            alive = set(children(proc.pid)) - {victim}
            return alive if len(alive) == 2 else None

        replacement = wait_for(two_workers_again, 10, "a replacement worker")
        new_pid = (replacement - workers).pop()
        wait_for(lambda: any(e["pid"] == new_pid for e in model_events(log_path.read_text())), 10, "its model")
        recovered_after = time.monotonic() - killed_at
        assert recovered_after < 5.0, recovered_after
        assert all(classify_ok(http) for _ in range(20))
    assert "died (signal SIGKILL)" in log_path.read_text()

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert not set(children(proc.pid))
