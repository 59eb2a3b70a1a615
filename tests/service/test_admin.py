"""POST /admin/reload: verified atomic swap; a broken or missing bundle leaves the old model serving."""

from __future__ import annotations

import json
import shutil
import time

import joblib
import pytest
from fastapi.testclient import TestClient
from sklearn.pipeline import Pipeline

from service.app import create_app
from service.serving_state import POINTER_POLL_SECONDS
from service.settings import Settings
from training.runtime.bundle import MANIFEST_FILE, MODEL_FILE, set_latest_version, sha256_of

ROADS_TEXT = "Третий месяц яма на дороге у дома 12 по Садовой, когда заделают?"
BODY = {"comments": [{"text": ROADS_TEXT}]}
KEY = "admin-secret"  # admin endpoints are refused (403) while API_KEYS is empty
AUTH = {"X-API-Key": KEY}


def add_version(model_dir, source: str, name: str) -> dict:
    """Copy bundle `source` to a new version directory `name` (manifest version updated)."""
    shutil.copytree(model_dir / source, model_dir / name)
    manifest = json.loads((model_dir / name / MANIFEST_FILE).read_text(encoding="utf-8"))
    manifest["version"] = name
    (model_dir / name / MANIFEST_FILE).write_text(json.dumps(manifest), encoding="utf-8")
    return manifest


@pytest.fixture(scope="module")
def admin(trained_model_dir, tmp_path_factory):
    """The session model behind an app with an admin key, shared by the tests that load nothing."""
    settings = Settings(
        model_dir=trained_model_dir, api_keys=KEY, database_url=f"sqlite:///{tmp_path_factory.mktemp('adm') / 'fb.db'}"
    )
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def models(trained_model_dir, tmp_path):
    model_dir = tmp_path / "models"
    shutil.copytree(trained_model_dir, model_dir)
    v1 = (model_dir / "latest").read_text().strip()
    return model_dir, v1


def test_broken_bundle_is_refused_and_old_model_keeps_serving(app_factory, models):
    model_dir, v1 = models
    add_version(model_dir, v1, "v2-broken")
    path = model_dir / "v2-broken" / MODEL_FILE
    path.write_bytes(path.read_bytes()[:1000])  # truncated: sha256 no longer matches
    client = app_factory(model_dir=model_dir, api_keys=KEY)
    assert client.post("/classify", json=BODY, headers=AUTH).json()["model_version"] == v1

    r = client.post("/admin/reload", json={"version": "v2-broken"}, headers=AUTH)
    assert r.status_code == 409
    assert "sha256 mismatch" in r.json()["error"] and r.json()["model_version"] == v1
    assert str(model_dir) not in r.text
    ok = client.post("/classify", json=BODY, headers=AUTH)
    assert ok.status_code == 200 and ok.json()["model_version"] == v1

    set_latest_version(model_dir, "v2-broken")  # latest pointing at the broken bundle
    assert client.post("/admin/reload", headers=AUTH).status_code == 409
    assert client.get("/version").json()["version"] == v1
    # The pointer watcher refuses it too (once: latest moved once), so 3 failures in all, and v1 still serves.
    deadline = time.monotonic() + POINTER_POLL_SECONDS + 1.0
    while 'triage_model_reloads_total{outcome="failed"} 3' not in client.get("/metrics").text:
        assert time.monotonic() < deadline, client.get("/metrics").text
        time.sleep(0.05)
    time.sleep(POINTER_POLL_SECONDS * 1.5)
    assert 'triage_model_reloads_total{outcome="failed"} 3' in client.get("/metrics").text
    assert client.get("/version").json()["version"] == v1


def test_good_bundle_is_swapped_in(app_factory, models):
    model_dir, v1 = models
    add_version(model_dir, v1, "v3-good")
    client = app_factory(model_dir=model_dir, api_keys=KEY)
    r = client.post("/admin/reload", json={"version": "v3-good"}, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "reloaded", "model_version": "v3-good", "previous_version": v1}
    assert client.post("/classify", json=BODY, headers=AUTH).json()["model_version"] == "v3-good"
    assert client.get("/version").json()["version"] == "v3-good"
    assert 'triage_model_info{version="v3-good"} 1' in client.get("/metrics").text
    # No body = models/latest again.
    r = client.post("/admin/reload", headers=AUTH)
    assert r.status_code == 200 and r.json()["model_version"] == v1


def test_bundle_that_unpickles_but_cannot_classify_is_refused(app_factory, models, trained_model):
    model_dir, v1 = models
    manifest = add_version(model_dir, v1, "v4-hollow")
    hollow = type(trained_model)(
        pipeline=Pipeline([("nothing", "passthrough")]),
        thresholds={},
        flags=trained_model.flags,
        urgent_label=trained_model.urgent_label,
        topics=trained_model.topics,
        version="v4-hollow",
    )
    path = model_dir / "v4-hollow" / MODEL_FILE
    joblib.dump(hollow, path)
    manifest["sha256"] = sha256_of(path)  # a correctly signed bundle whose model is unusable
    (model_dir / "v4-hollow" / MANIFEST_FILE).write_text(json.dumps(manifest), encoding="utf-8")
    client = app_factory(model_dir=model_dir, api_keys=KEY)
    r = client.post("/admin/reload", json={"version": "v4-hollow"}, headers=AUTH)
    assert r.status_code == 409 and "smoke test" in r.json()["error"]
    assert client.post("/classify", json=BODY, headers=AUTH).json()["model_version"] == v1


def test_missing_version_is_refused(app_factory, models):
    model_dir, v1 = models
    client = app_factory(model_dir=model_dir, api_keys=KEY)
    r = client.post("/admin/reload", json={"version": "20990101-000000-nothere"}, headers=AUTH)
    assert r.status_code == 409 and "not found" in r.json()["error"]
    assert client.get("/ready").json()["model_version"] == v1


@pytest.mark.parametrize("version", ["../models", "a/b", "..", "x..y", "/etc", "v1\\..\\x", ""])
def test_unsafe_version_strings_are_422(admin, version):
    r = admin.post("/admin/reload", json={"version": version}, headers=AUTH)
    assert r.status_code == 422
    assert r.json()["details"][0]["field"] == "version"


def test_reload_body_must_be_json(admin):
    headers = {**AUTH, "content-type": "application/x-www-form-urlencoded"}
    r = admin.post("/admin/reload", content=b"version=x", headers=headers)
    assert r.status_code == 415


def test_reload_requires_the_api_key_when_keys_are_set(app_factory, models):
    model_dir, v1 = models
    client = app_factory(model_dir=model_dir, api_keys="secret-key")
    assert client.post("/admin/reload").status_code == 401
    r = client.post("/admin/reload", headers={"X-API-Key": "secret-key"})
    assert r.status_code == 200 and r.json()["model_version"] == v1
