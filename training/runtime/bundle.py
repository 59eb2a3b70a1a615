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

from training.runtime.model import TriageModel
from training.runtime.taxonomy import PROJECT_ROOT, Taxonomy, default_taxonomy

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
    for pkg in (
        "scikit-learn",
        "numpy",
        "scipy",
        "pandas",
        "joblib",
        "pymorphy3",
        "pymorphy3-dicts-ru",
        "navec",
        "natasha",
        "mlflow",
    ):
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


def save_bundle(
    model: TriageModel,
    model_dir: str | Path,
    *,
    data_hash: str,
    metrics: dict[str, Any],
    extra: dict[str, Any] | None = None,
    set_latest: bool = True,
) -> Path:
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


def bundle_path(model_dir: str | Path, version: str) -> Path:
    """models/<version>, which must be a directory: anything else (missing, a file such as models/latest, an
    unsafe name) is a BundleError that says so."""
    if not version or "/" in version or "\\" in version or version.startswith("."):
        raise BundleError(f"invalid version {version!r}")
    path = Path(model_dir) / version
    if not path.exists():
        raise BundleError(f"bundle {version!r} not found: {path} does not exist")
    if not path.is_dir():
        hint = " (the pointer to the current bundle: omit the version to load the bundle it names)"
        raise BundleError(
            f"bundle {version!r} not found: {path} is not a bundle directory{hint if version == LATEST else ''}"
        )
    return path


def read_manifest(model_dir: str | Path, version: str | None = None) -> dict[str, Any]:
    version = version or latest_version(model_dir)
    path = bundle_path(model_dir, version) / MANIFEST_FILE
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BundleError(f"bundle {version!r} not found: {path} is missing") from exc
    except json.JSONDecodeError as exc:
        raise BundleError(f"bundle {version!r}: manifest is not valid JSON ({exc})") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise BundleError(f"bundle {version!r}: cannot read {path} ({type(exc).__name__})") from exc
    if not isinstance(manifest, dict):
        raise BundleError(f"bundle {version!r}: manifest is not a JSON object")
    return manifest


# The pickle holds scikit-learn and numpy objects, and the compiled heads read private scikit-learn attributes:
# another minor version may unpickle into something subtly different, so it is refused unless allowed.
PINNED_LIBRARIES = ("scikit-learn", "numpy")
ALLOW_MISMATCH_ENV = "ALLOW_LIBRARY_MISMATCH"


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def library_mismatches(manifest: dict[str, Any]) -> list[str]:
    """The pinned libraries whose major.minor differs between the bundle and this process."""
    recorded = manifest.get("library_versions") or {}
    running = library_versions()
    out = []
    for lib in PINNED_LIBRARIES:
        if lib not in recorded:
            out.append(f"{lib} version not recorded in the manifest")
        elif lib in running and _minor(recorded[lib]) != _minor(running[lib]):
            out.append(f"{lib} {recorded[lib]} in the bundle, {running[lib]} here")
    return out


def load_bundle(
    model_dir: str | Path,
    version: str | None = None,
    taxonomy: Taxonomy | None = None,
    *,
    allow_library_mismatch: bool | None = None,
) -> tuple[TriageModel, dict[str, Any]]:
    """Verify, then unpickle the bundle in models/<version> (default: the one models/latest names). Raises
    BundleError with the reason.

    Everything is read from the directory asked for: its manifest, and its model file, whose sha256 must be
    the manifest's. The directory's name is the version served: the returned manifest's `version` and the
    model's `version` are that name; when the manifest records another one (a bundle copied to a new
    directory without editing it), the recorded one is kept as `recorded_version`.

    A bundle made under another scikit-learn or numpy major.minor is refused unless `allow_library_mismatch`
    (default: the ALLOW_LIBRARY_MISMATCH environment variable is 1) says otherwise.
    """
    taxonomy = taxonomy or default_taxonomy()
    if allow_library_mismatch is None:
        allow_library_mismatch = os.environ.get(ALLOW_MISMATCH_ENV, "") == "1"
    version = version or latest_version(model_dir)
    manifest = read_manifest(model_dir, version)
    path = bundle_path(model_dir, version) / MODEL_FILE
    if not path.is_file():
        raise BundleError(f"bundle {version!r}: {MODEL_FILE} is missing")
    try:
        actual = sha256_of(path)
    except OSError as exc:
        raise BundleError(f"bundle {version!r}: cannot read {MODEL_FILE} ({type(exc).__name__})") from exc
    if actual != manifest.get("sha256"):
        raise BundleError(f"bundle {version!r}: sha256 mismatch (manifest {manifest.get('sha256')}, file {actual})")
    mismatches = library_mismatches(manifest)
    if mismatches and not allow_library_mismatch:
        raise BundleError(
            f"bundle {version!r} was made with other library versions ({'; '.join(mismatches)}); "
            f"retrain it, or set {ALLOW_MISMATCH_ENV}=1 to load it anyway"
        )
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
    if manifest.get("version") != version:
        manifest = {**manifest, "version": version, "recorded_version": manifest.get("version")}
    model.version = version
    return model, manifest


def public_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest without anything that looks like a file path."""
    return {k: v for k, v in manifest.items() if "path" not in k and "dir" not in k}
