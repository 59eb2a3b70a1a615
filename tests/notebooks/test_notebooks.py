"""Execute both notebooks in memory on a real kernel: they must run clean and stay committed without outputs."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from nbclient import NotebookClient

from training.runtime.bundle import read_manifest

pytestmark = pytest.mark.slow  # trains models or executes notebooks

KERNEL = "python3"
CELL_TIMEOUT_S = 300
OVERVIEW = "01_data_overview.ipynb"
ERRORS = "02_error_analysis.ipynb"


@pytest.fixture(scope="module")
def notebooks_dir(project_root: Path) -> Path:
    return project_root / "notebooks"


@pytest.fixture(scope="module")
def kernel_ready() -> None:
    """The venv's own kernelspec (installed by ipykernel under sys.prefix) must be the one Jupyter finds."""
    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL)
    except NoSuchKernel:
        pytest.fail(f"no '{KERNEL}' kernelspec found; install ipykernel into {sys.prefix}")
    expected = Path(sys.prefix) / "share" / "jupyter" / "kernels" / KERNEL
    assert Path(spec.resource_dir).resolve() == expected.resolve(), (
        f"kernel '{KERNEL}' resolves to {spec.resource_dir}, not the venv's {expected}")
    # jupyter_client replaces a bare "python" with sys.executable, so the kernel runs in this venv.
    assert spec.argv[0] in ("python", "python3", sys.executable), spec.argv


def _text_output(nb: nbformat.NotebookNode) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append(out.get("text", ""))
            elif "data" in out:
                parts.append(out["data"].get("text/plain", ""))
    return "\n".join(parts)


def _execute(path: Path, monkeypatch: pytest.MonkeyPatch, model_dir: Path) -> tuple[nbformat.NotebookNode, str]:
    """Run a copy of the notebook in memory, with cwd = notebooks/ and MODEL_DIR pointing at the session model."""
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    nb = nbformat.read(path, as_version=4)
    monkeypatch.setenv("MODEL_DIR", str(model_dir))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name=KERNEL,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # raises CellExecutionError with the traceback if any cell fails
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before, f"{path.name} was modified on disk"
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    return nb, _text_output(nb)


@pytest.mark.parametrize("name", [OVERVIEW, ERRORS])
def test_committed_without_outputs(notebooks_dir: Path, name: str) -> None:
    raw = json.loads((notebooks_dir / name).read_text(encoding="utf-8"))
    code_cells = [c for c in raw["cells"] if c["cell_type"] == "code"]
    assert code_cells
    for cell in code_cells:
        assert cell["execution_count"] is None, f"{name}: a cell has an execution count"
        assert cell["outputs"] == [], f"{name}: a cell has saved outputs"
    assert raw["metadata"]["kernelspec"]["name"] == KERNEL
    nbformat.validate(nbformat.reads(json.dumps(raw), as_version=4))


def test_data_overview_runs(kernel_ready, notebooks_dir, corpus, monkeypatch) -> None:
    nb, text = _execute(notebooks_dir / OVERVIEW, monkeypatch, notebooks_dir.parent / "models")
    assert f"project root: {notebooks_dir.parent}" in text
    assert f"rows: {len(corpus)}" in text
    assert "disguised share:" in text
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 4, f"expected the distribution and length plots, got {len(images)} images"


def test_error_analysis_runs(kernel_ready, notebooks_dir, trained_model_dir, monkeypatch) -> None:
    nb, text = _execute(notebooks_dir / ERRORS, monkeypatch, trained_model_dir)
    version = (trained_model_dir / "latest").read_text(encoding="utf-8").strip()
    manifest = read_manifest(trained_model_dir, version)
    assert f"model version: {version}" in text
    # The notebook's evaluation must agree with the metrics recorded at training time.
    assert f"flags macro-F1: {manifest['test_metrics']['flags_macro_f1']:.3f}" in text
    for section in ("highest-scored false positives", "topic errors:", "missed urgent comments"):
        assert section in text
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 2, f"expected the two confusion matrices, got {len(images)} images"
