"""Reproducers of defects found by probing the service, through the runtime core and the real app.

D4: a lone UTF-16 surrogate in a text reaching the model; D5: reloading a version that is not a bundle
directory (`latest`); D6: reloading a tampered copy of a bundle (its manifest still naming the original).
"""

from __future__ import annotations

import json
import shutil

import pytest

from training.runtime.bundle import LATEST, MANIFEST_FILE, MODEL_FILE

ROADS_TEXT = "Третий месяц яма на дороге у дома 12 по Садовой, когда заделают?"
BODY = {"comments": [{"text": ROADS_TEXT}]}
KEY = "defects-admin-key"  # admin endpoints are refused (403) while API_KEYS is empty
AUTH = {"X-API-Key": KEY}


@pytest.fixture
def models(trained_model_dir, tmp_path):
    """A private copy of the session's models/ (the bundle and models/latest) and the served version."""
    model_dir = tmp_path / "models"
    shutil.copytree(trained_model_dir, model_dir)
    return model_dir, (model_dir / LATEST).read_text().strip()


def copy_bundle(model_dir, source: str, name: str):
    """`cp -r models/<source> models/<name>`: the manifest's `version` still names the source."""
    return shutil.copytree(model_dir / source, model_dir / name)


# --- D4 --------------------------------------------------------------------------------------------------------


def test_the_model_classifies_a_text_with_a_lone_surrogate(trained_model):
    """TriageModel.classify called directly (not through the service's 422): no UnicodeEncodeError from the
    char n-gram encoder; the normaliser turned the surrogate into U+FFFD first."""
    texts = ["x\ud800", "бл\udfffть, опять яма на дороге", ROADS_TEXT]
    results = trained_model.classify(texts)
    assert len(results) == 3
    assert results[2] == trained_model.classify([ROADS_TEXT])[0]  # valid text: unchanged


# --- D5 --------------------------------------------------------------------------------------------------------


def test_reload_of_latest_is_a_409_and_the_model_keeps_serving(app_factory, models):
    model_dir, v1 = models
    client = app_factory(model_dir=model_dir, raise_server_exceptions=False, api_keys=KEY)
    r = client.post("/admin/reload", json={"version": LATEST}, headers=AUTH)  # was a 500: NotADirectoryError
    assert r.status_code == 409, r.text
    assert "not a bundle directory" in r.json()["error"] and r.json()["model_version"] == v1
    assert str(model_dir) not in r.text
    (model_dir / "README.txt").write_text("a file, not a bundle", encoding="utf-8")
    assert client.post("/admin/reload", json={"version": "README.txt"}, headers=AUTH).status_code == 409
    ok = client.post("/classify", json=BODY, headers=AUTH)
    assert ok.status_code == 200 and ok.json()["model_version"] == v1


# --- D6 --------------------------------------------------------------------------------------------------------


def test_reload_of_a_tampered_copy_is_refused(app_factory, models):
    model_dir, v1 = models
    copy = copy_bundle(model_dir, v1, f"{v1}-flip")
    data = bytearray((copy / MODEL_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / MODEL_FILE).write_bytes(bytes(data))
    client = app_factory(model_dir=model_dir, api_keys=KEY)
    r = client.post("/admin/reload", json={"version": f"{v1}-flip"}, headers=AUTH)  # was a 200: the original was hashed
    assert r.status_code == 409, r.text
    assert "sha256 mismatch" in r.json()["error"] and r.json()["model_version"] == v1
    assert client.get("/version", headers=AUTH).json()["version"] == v1


def test_reload_of_an_untouched_copy_serves_the_directory_name(app_factory, models):
    model_dir, v1 = models
    copy_bundle(model_dir, v1, "v1-copy")
    assert json.loads((model_dir / "v1-copy" / MANIFEST_FILE).read_text(encoding="utf-8"))["version"] == v1
    client = app_factory(model_dir=model_dir, api_keys=KEY)
    r = client.post("/admin/reload", json={"version": "v1-copy"}, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "reloaded", "model_version": "v1-copy", "previous_version": v1}
    assert client.post("/classify", json=BODY, headers=AUTH).json()["model_version"] == "v1-copy"
    served = client.get("/version", headers=AUTH).json()
    assert served["version"] == "v1-copy" and served["recorded_version"] == v1
