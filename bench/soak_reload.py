"""Bundles for the reload cycle: valid copies under new names, a tampered copy, and a name that does not exist.

load_bundle (training/runtime/bundle.py) checks the model file's sha256 against the manifest, the label set
against the taxonomy and the library versions. Which directory it reads the file from has changed: it used to
follow the manifest's "version" (so an unedited copy loaded the original's file, and a tampered unedited copy
passed), and now uses the directory asked for. Each copy here gets its own name as the manifest's version, so
it is what it claims under either rule: a valid copy is served as itself, the tampered one is always refused.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

MODEL_FILE, MANIFEST_FILE = "model.joblib", "manifest.json"  # = training.runtime.bundle's names
VALID, MISSING, TAMPERED = "valid", "missing", "tampered"


def copy_bundle(model_dir: Path, source: str, name: str, *, link: bool) -> Path:
    """models/<source> as models/<name>, manifest version = name; model.joblib hard-linked when `link`."""
    src, dest = model_dir / source, model_dir / name
    dest.mkdir()
    if link:
        os.link(src / MODEL_FILE, dest / MODEL_FILE)
    else:
        shutil.copyfile(src / MODEL_FILE, dest / MODEL_FILE)
    manifest = json.loads((src / MANIFEST_FILE).read_text(encoding="utf-8"))
    manifest["version"] = name
    (dest / MANIFEST_FILE).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return dest


def flip_byte(path: Path) -> None:
    """Invert one byte in the middle of the file (the sha256 no longer matches the manifest)."""
    with path.open("r+b") as f:
        f.seek(path.stat().st_size // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))


def reload_cycle(model_dir: Path) -> list[tuple[str, str]]:
    """Make the bundles in `model_dir` (a copy: never the real models/) and return the cycle of reloads:
    valid, missing, tampered, the other valid, missing, tampered. Consecutive valid reloads name different
    versions, so each one is a real swap."""
    served = (model_dir / "latest").read_text(encoding="utf-8").strip()
    valid = [f"soak-valid-{tag}" for tag in ("a", "b")]
    for name in valid:
        copy_bundle(model_dir, served, name, link=True)
    tampered = "soak-tampered"
    copy_bundle(model_dir, served, tampered, link=False)
    flip_byte(model_dir / tampered / MODEL_FILE)
    missing = "soak-missing"
    assert not (model_dir / missing).exists()
    cycle: list[tuple[str, str]] = []
    for name in valid:
        cycle += [(VALID, name), (MISSING, missing), (TAMPERED, tampered)]
    return cycle
