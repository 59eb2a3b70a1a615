"""Bundles: save/load round trip, and refusal of tampered, foreign or missing bundles before unpickling."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from training.runtime.bundle import (
    LATEST,
    MANIFEST_FILE,
    MODEL_FILE,
    BundleError,
    latest_version,
    load_bundle,
    public_manifest,
    read_manifest,
    save_bundle,
    set_latest_version,
)

TEXTS = ["Третий день нет горячей воды в доме на Ленина 5", "Спасибо за праздник!", "бл@ть, опять яма"]


@pytest.fixture()
def bundle_dir(trained_model_dir, tmp_path) -> Path:
    out = tmp_path / "models"
    shutil.copytree(trained_model_dir, out)
    return out


def test_manifest_fields(bundle_dir) -> None:
    manifest = read_manifest(bundle_dir)
    for key in (
        "version",
        "created_at",
        "git_commit",
        "data_hash",
        "labels",
        "thresholds",
        "test_metrics",
        "library_versions",
        "sha256",
    ):
        assert key in manifest, key
    assert manifest["version"] == latest_version(bundle_dir)
    assert len(manifest["sha256"]) == 64
    assert set(manifest["labels"]) == {"flags", "urgent", "topics"}
    assert "scikit-learn" in manifest["library_versions"]
    assert not any("path" in k or "dir" in k for k in public_manifest({**manifest, "model_dir": "/x"}))


def test_round_trip(bundle_dir, trained_model) -> None:
    model, manifest = load_bundle(bundle_dir)
    assert model.version == manifest["version"]
    model.version = "roundtrip-copy"
    saved = save_bundle(model, bundle_dir, data_hash=manifest["data_hash"], metrics=manifest["test_metrics"])
    assert (saved / MODEL_FILE).exists() and (saved / MANIFEST_FILE).exists()
    assert latest_version(bundle_dir) == "roundtrip-copy"
    again, manifest2 = load_bundle(bundle_dir)
    assert manifest2["version"] == "roundtrip-copy"
    assert again.classify(TEXTS) == trained_model.classify(TEXTS)
    set_latest_version(bundle_dir, manifest["version"])
    assert latest_version(bundle_dir) == manifest["version"]
    with pytest.raises(BundleError, match="no bundle"):
        set_latest_version(bundle_dir, "does-not-exist")


def test_tampered_model_is_refused(bundle_dir) -> None:
    version = latest_version(bundle_dir)
    path = bundle_dir / version / MODEL_FILE
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="sha256 mismatch"):
        load_bundle(bundle_dir)


def test_foreign_label_set_is_refused_before_unpickling(bundle_dir) -> None:
    version = latest_version(bundle_dir)
    manifest_path = bundle_dir / version / MANIFEST_FILE
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["labels"]["topics"] = [*manifest["labels"]["topics"][:-1], "space_travel"]
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    # A file that would explode when unpickled, with a matching checksum: the label check must come first.
    model_path = bundle_dir / version / MODEL_FILE
    model_path.write_bytes(b"not a pickle at all")
    manifest["sha256"] = hashlib.sha256(model_path.read_bytes()).hexdigest()
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(BundleError, match="label set"):
        load_bundle(bundle_dir)


def test_garbage_with_matching_checksum_is_a_bundle_error(bundle_dir) -> None:
    version = latest_version(bundle_dir)
    model_path = bundle_dir / version / MODEL_FILE
    model_path.write_bytes(b"not a pickle at all")
    manifest_path = bundle_dir / version / MANIFEST_FILE
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["sha256"] = hashlib.sha256(b"not a pickle at all").hexdigest()
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(BundleError, match="cannot load"):
        load_bundle(bundle_dir)


def test_missing_latest(bundle_dir) -> None:
    (bundle_dir / LATEST).unlink()
    with pytest.raises(BundleError, match="no trained model") as exc:
        load_bundle(bundle_dir)
    assert str(bundle_dir / LATEST) in str(exc.value)


def test_unknown_and_invalid_versions(bundle_dir) -> None:
    with pytest.raises(BundleError, match="not found"):
        load_bundle(bundle_dir, "19990101-000000-abcdef")
    with pytest.raises(BundleError, match="invalid version"):
        load_bundle(bundle_dir, "../etc")
    (bundle_dir / LATEST).write_text("../../etc\n", encoding="utf-8")
    with pytest.raises(BundleError, match="invalid version"):
        latest_version(bundle_dir)


def test_missing_model_file_and_broken_manifest(bundle_dir) -> None:
    version = latest_version(bundle_dir)
    (bundle_dir / version / MODEL_FILE).unlink()
    with pytest.raises(BundleError, match="is missing"):
        load_bundle(bundle_dir)
    (bundle_dir / version / MANIFEST_FILE).write_text("{broken", encoding="utf-8")
    with pytest.raises(BundleError, match="not valid JSON"):
        load_bundle(bundle_dir)


@pytest.mark.parametrize("lib", ["scikit-learn", "numpy"])
def test_other_library_minor_version_is_refused_unless_allowed(bundle_dir, monkeypatch, lib) -> None:
    version = latest_version(bundle_dir)
    path = bundle_dir / version / MANIFEST_FILE
    manifest = json.loads(path.read_text(encoding="utf-8"))
    major, minor, *_ = manifest["library_versions"][lib].split(".")
    manifest["library_versions"][lib] = f"{major}.{int(minor) + 1}.0"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(BundleError, match=f"{lib} {major}.{int(minor) + 1}.0 in the bundle"):
        load_bundle(bundle_dir)
    model, _ = load_bundle(bundle_dir, allow_library_mismatch=True)
    assert len(model.classify(TEXTS)) == 3
    monkeypatch.setenv("ALLOW_LIBRARY_MISMATCH", "1")
    assert load_bundle(bundle_dir)[0].version == version


def test_a_patch_release_is_accepted(bundle_dir) -> None:
    version = latest_version(bundle_dir)
    path = bundle_dir / version / MANIFEST_FILE
    manifest = json.loads(path.read_text(encoding="utf-8"))
    major, minor, *_ = manifest["library_versions"]["numpy"].split(".")
    manifest["library_versions"]["numpy"] = f"{major}.{minor}.999"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    assert load_bundle(bundle_dir)[0].version == version


# --- D5: a version that is not a bundle directory -------------------------------------------------------------


def test_a_version_that_is_not_a_bundle_directory_is_a_bundle_error(bundle_dir) -> None:
    # models/latest is the pointer file: as a version it used to raise NotADirectoryError (a 500 in the service).
    with pytest.raises(BundleError, match=r"bundle 'latest' not found: .*latest is not a bundle directory"):
        load_bundle(bundle_dir, LATEST)
    with pytest.raises(BundleError, match="not a bundle directory"):
        read_manifest(bundle_dir, LATEST)
    (bundle_dir / "notes.txt").write_text("not a bundle", encoding="utf-8")
    with pytest.raises(BundleError, match=r"'notes.txt' not found: .* is not a bundle directory"):
        load_bundle(bundle_dir, "notes.txt")
    with pytest.raises(BundleError, match="does not exist"):
        load_bundle(bundle_dir, "19990101-000000-abcdef")


def test_a_bundle_without_a_readable_model_file_is_a_bundle_error(bundle_dir) -> None:
    version = latest_version(bundle_dir)
    (bundle_dir / version / MODEL_FILE).unlink()
    (bundle_dir / version / MODEL_FILE).mkdir()  # a directory where the pickle should be
    with pytest.raises(BundleError, match="is missing"):
        load_bundle(bundle_dir)
    (bundle_dir / version / MANIFEST_FILE).write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(BundleError, match="not a JSON object"):
        load_bundle(bundle_dir)


# --- D6: the files verified and loaded are those of the directory asked for ------------------------------------


def _copy(bundle_dir: Path, name: str) -> Path:
    """A plain copy of the current bundle into models/<name>, manifest untouched (its `version` is the original)."""
    return Path(shutil.copytree(bundle_dir / latest_version(bundle_dir), bundle_dir / name))


def test_a_tampered_copy_is_refused(bundle_dir) -> None:
    copy = _copy(bundle_dir, "copy-flip")
    data = bytearray((copy / MODEL_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / MODEL_FILE).write_bytes(bytes(data))
    # Used to hash and load models/<manifest version>/model.joblib, the untouched original: accepted.
    with pytest.raises(BundleError, match=r"bundle 'copy-flip': sha256 mismatch"):
        load_bundle(bundle_dir, "copy-flip")
    assert load_bundle(bundle_dir)[1]["version"] == latest_version(bundle_dir)  # the original still loads


def test_a_copy_is_loaded_from_its_own_files_and_served_under_its_directory_name(bundle_dir) -> None:
    original = latest_version(bundle_dir)
    _copy(bundle_dir, "copy-ok")
    (bundle_dir / original / MODEL_FILE).unlink()  # the copy must not need the original's files
    model, manifest = load_bundle(bundle_dir, "copy-ok")
    assert manifest["version"] == "copy-ok" and model.version == "copy-ok"
    assert manifest["recorded_version"] == original
    assert len(model.classify(TEXTS)) == len(TEXTS)
    with pytest.raises(BundleError, match=f"bundle '{original}': {MODEL_FILE} is missing"):
        load_bundle(bundle_dir, original)


def test_a_bundle_in_its_own_directory_has_no_recorded_version(bundle_dir) -> None:
    model, manifest = load_bundle(bundle_dir)
    assert manifest["version"] == latest_version(bundle_dir) == model.version
    assert "recorded_version" not in manifest
