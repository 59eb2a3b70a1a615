"""Model bundles for the service: models/<version>/{model.joblib, manifest.json} and models/latest.

The loader checks the sha256 and the label set before unpickling, so a truncated or foreign file is
refused with a clear error instead of being executed.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib

from training.model import TriageModel
from training.taxonomy import PROJECT_ROOT, Taxonomy, default_taxonomy

MODEL_FILE = "model.joblib"
MANIFEST_FILE = "manifest.json"
LATEST = "latest"


class BundleError(RuntimeError):
    """A bundle is missing, incomplete, tampered with or made for another taxonomy."""


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("scikit-learn", "numpy", "scipy", "pandas", "joblib", "pymorphy3", "pymorphy3-dicts-ru", "navec",
                "natasha", "mlflow"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def new_version(data_hash: str) -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S") + f"-{data_hash[:6]}"


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def save_bundle(model: TriageModel, model_dir: str | Path, *, data_hash: str, metrics: dict[str, Any],
                extra: dict[str, Any] | None = None, set_latest: bool = True) -> Path:
    model_dir = Path(model_dir)
    out = model_dir / model.version
    out.mkdir(parents=True, exist_ok=False)
    joblib.dump(model, out / MODEL_FILE, compress=3)
    manifest = {
        "version": model.version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "data_hash": data_hash,
        "labels": {"flags": list(model.flags), "urgent": model.urgent_label, "topics": list(model.topics)},
        "thresholds": model.thresholds,
        "test_metrics": metrics,
        "library_versions": library_versions(),
        "sha256": sha256_of(out / MODEL_FILE),
        **(extra or {}),
    }
    _write_atomic(out / MANIFEST_FILE, json.dumps(manifest, ensure_ascii=False, indent=2))
    if set_latest:
        set_latest_version(model_dir, model.version)
    return out


def set_latest_version(model_dir: str | Path, version: str) -> None:
    model_dir = Path(model_dir)
    if not (model_dir / version / MANIFEST_FILE).exists():
        raise BundleError(f"no bundle {version!r} in {model_dir}")
    _write_atomic(model_dir / LATEST, version + "\n")


def latest_version(model_dir: str | Path) -> str:
    pointer = Path(model_dir) / LATEST
    if not pointer.exists():
        raise BundleError(f"no trained model: {pointer} does not exist (run `make train`)")
    version = pointer.read_text(encoding="utf-8").strip()
    if not version or "/" in version or version.startswith("."):
        raise BundleError(f"{pointer} holds an invalid version {version!r}")
    return version


def read_manifest(model_dir: str | Path, version: str | None = None) -> dict[str, Any]:
    version = version or latest_version(model_dir)
    if "/" in version or version.startswith("."):
        raise BundleError(f"invalid version {version!r}")
    path = Path(model_dir) / version / MANIFEST_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BundleError(f"bundle {version!r} not found: {path} is missing") from exc
    except json.JSONDecodeError as exc:
        raise BundleError(f"bundle {version!r}: manifest is not valid JSON ({exc})") from exc


def load_bundle(model_dir: str | Path, version: str | None = None,
                taxonomy: Taxonomy | None = None) -> tuple[TriageModel, dict[str, Any]]:
    """Verify, then unpickle. Raises BundleError with the reason."""
    taxonomy = taxonomy or default_taxonomy()
    manifest = read_manifest(model_dir, version)
    version = manifest.get("version", version)
    path = Path(model_dir) / str(version) / MODEL_FILE
    if not path.exists():
        raise BundleError(f"bundle {version!r}: {MODEL_FILE} is missing")
    actual = sha256_of(path)
    if actual != manifest.get("sha256"):
        raise BundleError(f"bundle {version!r}: sha256 mismatch (manifest {manifest.get('sha256')}, file {actual})")
    labels = manifest.get("labels", {})
    expected = {"flags": list(taxonomy.flags), "urgent": taxonomy.urgent, "topics": list(taxonomy.topic_ids)}
    if labels != expected:
        raise BundleError(f"bundle {version!r}: label set {labels} does not match the taxonomy {expected}")
    try:
        model = joblib.load(path)
    except Exception as exc:  # unpickling errors come in many types
        raise BundleError(f"bundle {version!r}: cannot load {MODEL_FILE} ({type(exc).__name__}: {exc})") from exc
    if not isinstance(model, TriageModel):
        raise BundleError(f"bundle {version!r}: {MODEL_FILE} does not hold a TriageModel")
    return model, manifest


def public_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest without anything that looks like a file path."""
    return {k: v for k, v in manifest.items() if "path" not in k and "dir" not in k}
