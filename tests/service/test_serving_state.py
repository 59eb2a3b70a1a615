"""One serving state across workers: the serving pointer (run pin, else models/latest) and the watcher.

The fast tests replace the bundle loader with a fake (a version directory holding a file `bad` is refused
as a tampered bundle would be), so the watcher's logic, the pin files and the lifespan run in milliseconds.
The last test is the real thing: `python -m service` with WORKERS=2 on the session's trained bundle.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

import service.__main__ as service_main
import service.model_holder as model_holder
from service.app import create_app
from service.loading import MODEL_LOGGER, WARMUP_TEXT
from service.serving_state import (
    CURRENT,
    FAILED,
    INVALID,
    POINTER_POLL_SECONDS,
    STATE_ENV,
    STATE_FILE,
    SWAPPED,
    UNCHANGED,
    PointerWatcher,
    ServingState,
)
from service.settings import Settings
from training.runtime.bundle import MANIFEST_FILE, MODEL_FILE, BundleError, latest_version, set_latest_version

# The bound: a worker sees a rewritten pointer within POINTER_POLL_SECONDS and then verifies the bundle
# (load_seconds in its log line); SLACK covers scheduling and this test's reading of the log.
SLACK = 0.5
FAILED_RELOADS = 'triage_model_reloads_total{outcome="failed"}'


# --------------------------------------------------------------------------------------- fakes
class FakeModel:
    def __init__(self, version: str) -> None:
        self.version = version

    def classify(self, texts: list[str]) -> list[dict[str, Any]]:
        return [{"category": "fake"} for _ in texts]


@pytest.fixture
def fake_bundles(tmp_path, monkeypatch):
    """models/{v1,v2,v3-bad} with latest = v1, and a fake load_bundle recording every version it loads."""
    model_dir = tmp_path / "models"
    for name in ("v1", "v2", "v3-bad"):
        (model_dir / name).mkdir(parents=True)
        (model_dir / name / MANIFEST_FILE).write_text("{}", encoding="utf-8")  # set_latest_version checks it
    (model_dir / "v3-bad" / "bad").touch()
    set_latest_version(model_dir, "v1")
    loads: list[str] = []

    def fake_load_bundle(directory, version=None):
        version = version or latest_version(directory)
        loads.append(version)
        if not (Path(directory) / version).is_dir():
            raise BundleError(f"bundle {version!r} not found")
        if (Path(directory) / version / "bad").exists():
            raise BundleError(f"bundle {version!r}: sha256 mismatch")
        return FakeModel(version), {"version": version}

    monkeypatch.setattr(model_holder, "load_bundle", fake_load_bundle)
    return model_dir, loads


KEY = "admin-secret"  # admin endpoints are refused (403) while API_KEYS is empty
AUTH = {"X-API-Key": KEY}


def fake_app(model_dir: Path, tmp_path: Path):
    settings = Settings(model_dir=model_dir, api_keys=KEY, database_url=f"sqlite:///{tmp_path / 'fb.db'}")
    return create_app(settings)


def served(app) -> str | None:
    loaded = app.state.holder.get()
    return loaded.version if loaded else None


def model_events(caplog) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == MODEL_LOGGER]


def failed_reloads(metrics_text: str) -> float:
    m = re.search(re.escape(FAILED_RELOADS) + r" (\S+)", metrics_text)
    return float(m.group(1)) if m else 0.0


# --------------------------------------------------------------------------------------- watcher logic
def test_watcher_swaps_on_a_new_pointer_keeps_a_bad_bundle_and_ignores_an_unchanged_one(fake_bundles, tmp_path, caplog):
    model_dir, loads = fake_bundles
    app = fake_app(model_dir, tmp_path)
    state = ServingState(model_dir)  # one process: the pin lives in memory
    watcher = PointerWatcher(app, state)

    async def scenario() -> None:
        assert await watcher.check("startup") == SWAPPED and served(app) == "v1"
        assert await watcher.check() == UNCHANGED and loads == ["v1"]  # nothing rewritten: nothing loaded

        set_latest_version(model_dir, "v2")  # a promotion
        assert await watcher.check() == SWAPPED and served(app) == "v2"
        assert await watcher.check() == UNCHANGED

        set_latest_version(model_dir, "v3-bad")  # a tampered bundle promoted
        assert await watcher.check() == FAILED and served(app) == "v2"  # kept
        for _ in range(3):
            assert await watcher.check() == UNCHANGED  # not retried every second
        assert loads == ["v1", "v2", "v3-bad"]

        state.pin("v1")  # an admin's pin wins over models/latest
        assert await watcher.check() == SWAPPED and served(app) == "v1"
        set_latest_version(model_dir, "v2")
        assert await watcher.check() == UNCHANGED and served(app) == "v1"  # latest moving is ignored while pinned
        state.pin("v1")  # rewritten to the served version: looked at, nothing loaded
        assert await watcher.check() == CURRENT

        state.pin("v3-bad")
        assert await watcher.check() == FAILED and served(app) == "v1"
        (model_dir / "v3-bad" / "bad").unlink()  # the bundle is repaired ...
        assert await watcher.check() == UNCHANGED  # ... but only a rewrite of the pointer makes it retry
        state.pin("v3-bad")
        assert await watcher.check() == SWAPPED and served(app) == "v3-bad"

        state.follow_latest()
        assert await watcher.check() == SWAPPED and served(app) == "v2"

    with caplog.at_level(logging.INFO, logger=MODEL_LOGGER):
        asyncio.run(scenario())
    assert loads == ["v1", "v2", "v3-bad", "v1", "v3-bad", "v3-bad", "v2"]
    assert failed_reloads(app.state.metrics.render()) == 2
    assert 'triage_model_reloads_total{outcome="ok"} 4' in app.state.metrics.render()
    assert 'triage_model_info{version="v2"} 1' in app.state.metrics.render()

    events = model_events(caplog)
    assert [(e["event"], e["version"], e["previous"]) for e in events] == [
        ("model_loaded", "v1", None),
        ("model_swapped", "v2", "v1"),
        ("model_load_failed", "v3-bad", "v2"),
        ("model_swapped", "v1", "v2"),
        ("model_load_failed", "v3-bad", "v1"),
        ("model_swapped", "v3-bad", "v1"),
        ("model_swapped", "v2", "v3-bad"),
    ]
    assert events[0]["trigger"] == "startup" and {e["trigger"] for e in events[1:]} == {"pointer"}
    assert all(e["pid"] == os.getpid() for e in events)
    assert "sha256 mismatch" in events[2]["reason"] and str(model_dir) not in events[2]["reason"]
    assert WARMUP_TEXT not in caplog.text


def test_unusable_pointer_keeps_the_model_and_says_why(fake_bundles, tmp_path, caplog):
    model_dir, loads = fake_bundles
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    app = fake_app(model_dir, tmp_path)
    watcher = PointerWatcher(app, ServingState(model_dir, state_dir))

    async def scenario() -> None:
        assert await watcher.check("startup") == SWAPPED
        (state_dir / STATE_FILE).write_text("../etc\n", encoding="utf-8")  # not a version name
        assert await watcher.check() == INVALID and served(app) == "v1"
        (state_dir / STATE_FILE).write_text("no-such-version\n", encoding="utf-8")
        assert await watcher.check() == FAILED and served(app) == "v1"
        assert await watcher.check() == UNCHANGED

    with caplog.at_level(logging.INFO, logger=MODEL_LOGGER):
        asyncio.run(scenario())
    assert loads == ["v1", "no-such-version"]
    assert [e["event"] for e in model_events(caplog)] == ["model_loaded", "model_load_failed", "model_load_failed"]
    assert app.state.load_error is None  # still ready: the old model serves


def test_startup_without_a_model_is_not_ready_and_follows_a_later_promotion(fake_bundles, tmp_path):
    model_dir, _ = fake_bundles
    (model_dir / "latest").unlink()
    app = fake_app(model_dir, tmp_path)
    watcher = PointerWatcher(app, ServingState(model_dir))

    async def scenario() -> None:
        assert await watcher.check("startup") == INVALID
        assert "no trained model" in app.state.load_error and str(model_dir) not in app.state.load_error
        set_latest_version(model_dir, "v2")
        assert await watcher.check() == SWAPPED and served(app) == "v2" and app.state.load_error is None

    asyncio.run(scenario())


def test_a_pin_file_is_shared_by_every_worker_and_never_written_into_models(fake_bundles, tmp_path):
    model_dir, _ = fake_bundles
    before = sorted(p.name for p in model_dir.iterdir())
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    a, b = ServingState(model_dir, state_dir), ServingState(model_dir, state_dir)  # two workers
    assert b.pointer().version == "v1" and not b.pointer().pinned
    a.pin("v2")
    seen = b.pointer()
    assert seen.version == "v2" and seen.pinned
    a.pin("v2")
    assert b.pointer() != seen and b.pointer().version == "v2"  # a rewrite is visible as such
    a.follow_latest()
    assert b.pointer().version == "v1" and not b.pointer().pinned
    set_latest_version(model_dir, "v3-bad")
    assert b.pointer().version == "v3-bad"
    with pytest.raises(BundleError):
        a.pin("../v1")
    assert sorted(p.name for p in model_dir.iterdir()) == before
    assert sorted(p.name for p in state_dir.iterdir()) == [STATE_FILE]  # no temp files left behind


def test_in_process_app_follows_the_pointer_within_the_bound(fake_bundles, tmp_path):
    model_dir, loads = fake_bundles
    with TestClient(fake_app(model_dir, tmp_path)) as client:
        assert client.get("/version").json()["version"] == "v1"
        set_latest_version(model_dir, "v2")
        start = time.monotonic()
        while client.get("/version").json()["version"] != "v2":
            assert time.monotonic() - start < POINTER_POLL_SECONDS + 0.5
            time.sleep(0.02)

        r = client.post("/admin/reload", json={"version": "v1"}, headers=AUTH)  # pinned in memory
        assert r.status_code == 200 and r.json()["previous_version"] == "v2"
        set_latest_version(model_dir, "v3-bad")
        time.sleep(POINTER_POLL_SECONDS * 1.5)
        assert client.get("/version").json()["version"] == "v1"  # the pin wins; v3-bad never even tried
        assert "v3-bad" not in loads

        r = client.post("/admin/reload", headers=AUTH)  # back to models/latest, which is refused: nothing changes
        assert r.status_code == 409 and "sha256 mismatch" in r.json()["error"]
        set_latest_version(model_dir, "v2")
        time.sleep(POINTER_POLL_SECONDS * 1.5)
        assert client.get("/version").json()["version"] == "v1"  # still pinned: the refused reload kept the pin
        r = client.post("/admin/reload", headers=AUTH)
        assert r.status_code == 200 and r.json()["model_version"] == "v2"
        time.sleep(POINTER_POLL_SECONDS * 1.5)
        assert loads.count("v2") == 2  # the watcher did not load again what the reload had loaded


def test_state_dir_is_fresh_per_run_and_removed(tmp_path, monkeypatch):
    assert service_main.STATE_ENV == STATE_ENV
    stale = tmp_path / "stale"
    stale.mkdir()
    (stale / STATE_FILE).write_text("old-pin\n")
    monkeypatch.setenv(STATE_ENV, str(stale))
    with service_main.state_dir(1) as path:
        assert path is None and STATE_ENV not in os.environ  # one worker: in memory, nothing inherited
    monkeypatch.setenv(STATE_ENV, str(stale))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    with service_main.state_dir(2) as path:
        assert path is not None and path != str(stale)
        assert os.environ[STATE_ENV] == path and os.listdir(path) == []
    assert not os.path.exists(path) and STATE_ENV not in os.environ
    assert (stale / STATE_FILE).exists()  # someone else's directory is neither used nor deleted


# --------------------------------------------------------------------------------------- two uvicorn workers
def add_version(model_dir: Path, source: str, name: str) -> None:
    """Copy bundle `source` to a new version `name`: load_bundle finds model.joblib under the manifest's version."""
    shutil.copytree(model_dir / source, model_dir / name)
    manifest = json.loads((model_dir / name / MANIFEST_FILE).read_text(encoding="utf-8"))
    manifest["version"] = name
    (model_dir / name / MANIFEST_FILE).write_text(json.dumps(manifest), encoding="utf-8")


def answers(base: str, n: int = 16) -> list[str]:
    """`n` /version answers, each on a new connection and some at once, so that both workers answer."""

    def one(_: int) -> str:
        r = httpx.get(f"{base}/version", headers={"Connection": "close"}, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()["version"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, range(n)))


def events(log_path: Path) -> list[dict[str, Any]]:
    out = []
    for line in log_path.read_text(encoding="utf-8").splitlines():
        if line.startswith("{") and '"event": "model_' in line:
            with contextlib.suppress(json.JSONDecodeError):  # a line being written right now
                out.append(json.loads(line))
    return out


def converge(base: str, log_path: Path, version: str, since: float) -> tuple[float, float]:
    """Wait until both workers logged serving `version` (watching only the log, so as not to slow them down),
    check the bound, then that 16 answers all say it. Returns (seconds since `since`, the slowest load)."""
    while True:
        swaps = [e for e in events(log_path) if e["event"] == "model_swapped" and e["version"] == version]
        if len({e["pid"] for e in swaps}) == 2:
            break
        assert time.monotonic() - since < 30, f"not every worker serves {version}: {swaps}"
        time.sleep(0.02)
    elapsed = time.monotonic() - since
    load = max(e["load_seconds"] for e in swaps if e["trigger"] == "pointer")
    assert elapsed <= POINTER_POLL_SECONDS + load + SLACK, (elapsed, load)
    assert answers(base) == [version] * 16
    return elapsed, load


def test_two_workers_serve_one_version_after_reload_promotion_and_tampering(
    trained_model_dir, tmp_path, service_process
):
    model_dir = tmp_path / "models"
    shutil.copytree(trained_model_dir, model_dir)
    v1 = latest_version(model_dir)
    v2, v3, bad = "v2-pinned", "v3-promoted", "v4-tampered"
    for name in (v2, v3, bad):
        add_version(model_dir, v1, name)
    path = model_dir / bad / MODEL_FILE
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte flipped: the manifest's sha256 no longer matches
    path.write_bytes(bytes(data))
    env = {
        "MODEL_DIR": str(model_dir),
        "WORKERS": "2",
        "LOG_LEVEL": "info",
        "API_KEYS": KEY,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'fb.db'}",
        "TMPDIR": str(tmp_path),
        STATE_ENV: str(tmp_path / "stale-state"),  # inherited: must not be used
    }
    log_path = tmp_path / "server.log"
    timings: dict[str, tuple[float, float]] = {}
    with service_process(env, log_path) as base:
        deadline = time.monotonic() + 60  # /ready answered by one worker: wait until the other has loaded too
        while len({e["pid"] for e in events(log_path) if e["event"] == "model_loaded"}) < 2:
            assert time.monotonic() < deadline, "the second worker did not load its model"
            time.sleep(0.1)
        assert answers(base) == [v1] * 16
        [state_dir] = tmp_path.glob("triage-state-*")

        # (1) an admin pins v2 through one worker; the other follows.
        r = httpx.post(f"{base}/admin/reload", json={"version": v2}, headers=AUTH, timeout=60)
        assert r.status_code == 200, r.text
        timings["pin"] = converge(base, log_path, v2, since=time.monotonic())
        assert {e["trigger"] for e in events(log_path) if e.get("version") == v2} == {"admin", "pointer"}

        # (2) the pin is dropped (models/latest again), then a promotion moves models/latest.
        r = httpx.post(f"{base}/admin/reload", headers=AUTH, timeout=60)
        assert r.status_code == 200 and r.json()["model_version"] == v1, r.text
        timings["unpin"] = converge(base, log_path, v1, since=time.monotonic())
        set_latest_version(model_dir, v3)
        timings["promotion"] = converge(base, log_path, v3, since=time.monotonic())

        # (3) a tampered bundle written as the pin is refused by every worker, once each.
        ServingState(model_dir, state_dir).pin(bad)
        time.sleep(POINTER_POLL_SECONDS + timings["promotion"][1] + SLACK + POINTER_POLL_SECONDS)
        assert set(answers(base)) == {v3}
        failures = [e for e in events(log_path) if e["event"] == "model_load_failed" and e["version"] == bad]
        assert len({e["pid"] for e in failures}) == 2 and len(failures) == 2  # both workers, not retried
        assert all("sha256 mismatch" in e["reason"] and e["previous"] == v3 for e in failures)
        metrics = httpx.get(f"{base}/metrics", timeout=30).text
        assert failed_reloads(metrics) == 2
        assert re.findall(r'triage_model_info\{version="([^"]+)"\} 1', metrics) == [v3]
        r = httpx.post(f"{base}/admin/reload", json={"version": bad}, headers=AUTH, timeout=60)
        assert r.status_code == 409 and "sha256 mismatch" in r.json()["error"]
        assert set(answers(base)) == {v3}
        assert failed_reloads(httpx.get(f"{base}/metrics", timeout=30).text) == 3
    assert not state_dir.exists()  # removed with the run
    assert not (tmp_path / "stale-state").exists()  # the inherited setting was never used
    print("converged:", ", ".join(f"{k} {t:.2f} s (slowest load {load:.2f} s)" for k, (t, load) in timings.items()))
