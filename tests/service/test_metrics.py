"""/metrics through prometheus_client: exact counts in one process, sums over uvicorn workers, bounded labels."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from prometheus_client import CONTENT_TYPE_LATEST, values
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from service.__main__ import MULTIPROC_ENV, metrics_dir
from service.metrics import STANDARD_METHODS, Metrics

ROADS_TEXT = "Третий месяц яма на дороге у дома 12 по Садовой, когда заделают?"
REQUESTS = "triage_http_requests_total"
LATENCY_COUNT = "triage_http_request_duration_seconds_count"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of an exposition, keyed by sample name and label set (the official parser)."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def series(samples: Samples, name: str) -> list[dict[str, str]]:
    return [dict(labels) for (n, labels) in samples if n == name]


# --------------------------------------------------------------------------------------- one process
def test_counters_count_requests_made_through_the_app(app_factory):
    client = app_factory()
    for _ in range(5):
        assert client.get("/health").status_code == 200
    for _ in range(3):
        r = client.post("/classify", json={"comments": [{"text": ROADS_TEXT}, {"text": "Спасибо!"}]})
        assert r.status_code == 200
    version = r.json()["model_version"]
    m = client.get("/metrics")
    assert m.status_code == 200 and m.headers["content-type"] == CONTENT_TYPE_LATEST
    s = parse(m.text)
    assert value(s, REQUESTS, method="GET", route="/health", status="200") == 5
    assert value(s, REQUESTS, method="POST", route="/classify", status="200") == 3
    assert value(s, LATENCY_COUNT, route="/health") == 5
    assert value(s, "triage_http_request_duration_seconds_bucket", route="/classify", le="+Inf") == 3
    assert value(s, "triage_comments_total") == 6
    assert sum(v for (n, _), v in s.items() if n == "triage_results_total") == 6
    assert series(s, "triage_model_info") == [{"version": version}]
    assert value(s, "triage_model_info", version=version) == 1
    assert value(s, "triage_model_ready") == 1


def test_each_app_has_its_own_registry(app_factory):
    first, second = app_factory(), app_factory()
    for _ in range(4):
        first.get("/health")
    second.get("/health")
    assert value(parse(first.get("/metrics").text), REQUESTS, method="GET", route="/health", status="200") == 4
    assert value(parse(second.get("/metrics").text), REQUESTS, method="GET", route="/health", status="200") == 1


def test_odd_method_names_share_one_other_series(app_factory):
    client = app_factory()
    odd = ["M1", "PROPFIND", "BREW", *(f"X{i}" for i in range(40))]  # httpx upper-cases names itself
    for method in odd:
        client.request(method, "/health")
    client.request("M1", "/no-such-page")
    s = parse(client.get("/metrics").text)
    methods = {labels["method"] for labels in series(s, REQUESTS)}
    assert methods <= STANDARD_METHODS | {"other"} and "other" in methods
    assert value(s, REQUESTS, method="other", route="/health", status="405") == len(odd)
    assert value(s, REQUESTS, method="other", route="unmatched", status="404") == 1
    assert len(series(s, REQUESTS)) <= 5  # not one series per invented method


def test_model_version_swap_drops_the_old_series():
    m = Metrics()
    m.set_model_version("v1")
    m.set_model_version("v2")
    s = parse(m.render())
    assert series(s, "triage_model_info") == [{"version": "v2"}] and value(s, "triage_model_ready") == 1
    m.set_model_version(None)
    s = parse(m.render())
    assert series(s, "triage_model_info") == [] and value(s, "triage_model_ready") == 0


# --------------------------------------------------------------------------------------- several workers
def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_multiprocess_sums_workers_and_gauge_modes(tmp_path, monkeypatch):
    """Three "workers" in this process, told apart by their mmap process id (two live pids, one dead)."""
    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path))
    classes: dict[int, type] = {}

    def worker(pid: int) -> Metrics:
        classes[pid] = values.MultiProcessValue(process_identifier=lambda: pid)
        return as_worker(pid, Metrics)

    def as_worker(pid: int, action, *args):
        # Labelled children are created lazily, so each worker's calls must run under its own value class.
        monkeypatch.setattr(values, "ValueClass", classes[pid])
        return action(*args)

    a_pid, b_pid, c_pid = os.getpid(), os.getppid(), _dead_pid()
    try:
        a, b = worker(a_pid), worker(b_pid)
        assert a.multiprocess and b.multiprocess
        for _ in range(3):
            as_worker(a_pid, a.observe_request, "GET", "/health", 200, 0.01)
        as_worker(b_pid, b.observe_request, "GET", "/health", 200, 0.02)
        as_worker(b_pid, b.observe_request, "M1", "/health", 405, 0.02)
        as_worker(a_pid, a.set_model_version, "v1")
        as_worker(b_pid, b.set_model_version, "v1")
        s = parse(a.render())
        assert parse(b.render()) == s  # whichever worker answers the scrape
        assert value(s, REQUESTS, method="GET", route="/health", status="200") == 4
        assert value(s, REQUESTS, method="other", route="/health", status="405") == 1
        assert value(s, LATENCY_COUNT, route="/health") == 5
        assert series(s, "triage_model_info") == [{"version": "v1"}] and value(s, "triage_model_ready") == 1

        as_worker(a_pid, a.set_model_version, "v2")  # a reload reaches one worker: both versions are served
        s = parse(b.render())
        assert sorted(x["version"] for x in series(s, "triage_model_info")) == ["v1", "v2"]
        as_worker(b_pid, b.set_model_version, "v2")
        assert series(parse(a.render()), "triage_model_info") == [{"version": "v2"}]

        c = worker(c_pid)  # a worker that died without its exit hook: its gauges must not count
        as_worker(c_pid, c.observe_request, "GET", "/health", 200, 0.01)
        as_worker(c_pid, c.set_model_version, None)
        s = parse(a.render())
        assert value(s, "triage_model_ready") == 1  # swept: c's 0 is gone
        assert value(s, REQUESTS, method="GET", route="/health", status="200") == 5  # its counts stay

        as_worker(b_pid, b.set_model_version, None)  # a live worker without a model: not fully ready
        assert value(parse(a.render()), "triage_model_ready") == 0
    finally:
        for cls in classes.values():
            cls.close_all_files()


def test_metrics_dir_is_fresh_per_run_and_removed(tmp_path, monkeypatch):
    stale = tmp_path / "stale"
    stale.mkdir()
    (stale / "counter_1.db").write_bytes(b"old run")
    monkeypatch.setenv(MULTIPROC_ENV, str(stale))
    with metrics_dir(1) as path:
        assert path is None and MULTIPROC_ENV not in os.environ  # one worker: in memory, nothing inherited
    monkeypatch.setenv(MULTIPROC_ENV, str(stale))
    with metrics_dir(2) as path:
        assert path is not None and path != str(stale)
        assert os.environ[MULTIPROC_ENV] == path and os.listdir(path) == []
    assert not os.path.exists(path) and MULTIPROC_ENV not in os.environ
    assert (stale / "counter_1.db").exists()  # someone else's directory is neither used nor deleted


def test_two_uvicorn_workers_every_scrape_sees_the_sum(trained_model_dir, tmp_path, service_process):
    n = 200
    stale = tmp_path / "stale"
    stale.mkdir()
    env = {
        "MODEL_DIR": str(trained_model_dir),
        "WORKERS": "2",
        "LOG_LEVEL": "warning",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'fb.db'}",
        "TMPDIR": str(tmp_path),
        MULTIPROC_ENV: str(stale),
    }

    def get(url: str) -> httpx.Response:
        # A new connection each time: keep-alive would pin every request to one worker.
        return httpx.get(url, headers={"Connection": "close"}, timeout=30)

    with service_process(env, tmp_path / "server.log") as base:
        assert httpx.request("M1", f"{base}/health", timeout=30).status_code == 405
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(lambda _: get(f"{base}/health").status_code, range(n)))
        assert statuses == [200] * n

        for _ in range(8):
            s = parse(get(f"{base}/metrics").text)
            assert value(s, REQUESTS, method="GET", route="/health", status="200") == n
            assert value(s, LATENCY_COUNT, route="/health") == n + 1  # and the M1 request
            assert value(s, REQUESTS, method="other", route="/health", status="405") == 1
            assert value(s, "triage_model_ready") == 1 and len(series(s, "triage_model_info")) == 1

        dirs = list(tmp_path.glob("triage-metrics-*"))
        assert len(dirs) == 1
        per_worker = [_health_count(f) for f in sorted(dirs[0].glob("counter_*.db"))]
        assert len(per_worker) == 2 and sum(per_worker) == n
        assert all(per_worker), f"one worker served everything: {per_worker}"  # else the test proves nothing
    assert not dirs[0].exists()  # removed when the server stopped
    assert os.listdir(stale) == []  # the inherited directory was not used


def _health_count(path: Path) -> float:
    """GET /health 200 requests recorded in one worker's counter file."""
    for metric in MultiProcessCollector.merge([str(path)]):
        for s in metric.samples:
            if s.name == REQUESTS and s.labels == {"method": "GET", "route": "/health", "status": "200"}:
                return s.value
    return 0.0
