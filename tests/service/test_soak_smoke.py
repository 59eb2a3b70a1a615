"""The part of `make soak` that runs in `make test`: a few hundred schemathesis-generated requests from our own
/openapi.json against a real uvicorn (`running_service`, tests/conftest.py), with an API key; none may get a 5xx.

schemathesis runs as its CLI in a subprocess (bounded by --max-examples per operation), in tmp_path so its
caches stay out of the repo; its NDJSON report gives every request's status.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CLI = "import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())"
KEY = "smoke-key"
MAX_EXAMPLES = 8


def statuses_by_operation(events: Path) -> dict[str, Counter]:
    """Response status counts per operation from schemathesis's NDJSON events (None: no response)."""
    out: dict[str, Counter] = {}
    for line in events.read_text(encoding="utf-8").splitlines():
        recorder = (json.loads(line).get("ScenarioFinished") or {}).get("recorder") or {}
        for interaction in (recorder.get("interactions") or {}).values():
            response = interaction.get("response")
            out.setdefault(recorder.get("label", "?"), Counter())[response and response["status_code"]] += 1
    return out


def test_generated_requests_get_no_server_error(trained_model_dir, tmp_path, service_process):
    import importlib.util

    assert importlib.util.find_spec("schemathesis"), "schemathesis is in the dev extra: pip install -e '.[dev]'"
    env = {"API_KEYS": KEY, "MODEL_DIR": str(trained_model_dir), "DATABASE_URL": f"sqlite:///{tmp_path / 'fb.db'}"}
    events = tmp_path / "events.ndjson"
    with service_process(env, tmp_path / "server.log", ready_timeout=90) as base:
        run = subprocess.run(
            [sys.executable, "-c", CLI, "run", f"{base}/openapi.json", "--max-examples", str(MAX_EXAMPLES),
             "--seed", "0", "--header", f"X-API-Key: {KEY}", "--checks", "not_a_server_error",
             "--request-timeout", "30", "--report", "ndjson", "--report-ndjson-path", str(events), "--no-color"],
            cwd=tmp_path, capture_output=True, text=True, timeout=240,
        )  # fmt: skip
    assert events.exists(), run.stdout[-3000:] + run.stderr[-3000:]
    by_op = statuses_by_operation(events)
    total = sum(sum(c.values()) for c in by_op.values())
    assert total >= 150, (total, run.stdout[-3000:])
    assert len(by_op) >= 10, sorted(by_op)  # every operation of the schema was exercised
    server_errors = {op: {s: n for s, n in c.items() if s is not None and s >= 500} for op, c in by_op.items()}
    assert not any(server_errors.values()), (server_errors, run.stdout[-3000:])
