"""A bounded schemathesis pass over the service's own /openapi.json, run as its CLI in a subprocess.

The CLI writes an NDJSON event stream (--report ndjson); every recorded interaction is one request, with its
response status or none (a network error). Its console output (which can quote multi-megabyte bodies) goes to
a log file, and it runs in a scratch directory so its .hypothesis/.schemathesis caches stay out of the repo.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

TIMED_OUT = 124
CLI = "import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())"


@dataclass
class FuzzResult:
    exit_code: int
    requests: int = 0
    statuses: Counter = field(default_factory=Counter)
    network_errors: list[str] = field(default_factory=list)  # "<operation>: <error type>"
    failures: list[str] = field(default_factory=list)  # failed checks: "<operation>: <check>"
    server_errors: list[str] = field(default_factory=list)  # "<operation> -> <5xx>"
    log: Path | None = None

    @property
    def n_5xx(self) -> int:
        return sum(n for code, n in self.statuses.items() if code >= 500)


def available() -> bool:
    try:
        import schemathesis  # noqa: F401
    except ImportError:
        return False
    return True


def parse_events(path: Path, result: FuzzResult) -> FuzzResult:
    for line in path.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        if "NonFatalError" in event:
            e = event["NonFatalError"]
            result.network_errors.append(f"{e.get('label')}: {e.get('value', {}).get('type')}")
        finished = event.get("ScenarioFinished")
        if not finished:
            continue
        recorder = finished.get("recorder") or {}
        label = recorder.get("label", "?")
        for interaction in (recorder.get("interactions") or {}).values():
            result.requests += 1
            response = interaction.get("response")
            if response is None:
                continue
            code = int(response["status_code"])
            result.statuses[code] += 1
            if code >= 500:
                result.server_errors.append(f"{label} -> {code}")
        for checks in (recorder.get("checks") or {}).values():
            result.failures += [f"{label}: {c['name']}" for c in checks if c.get("status") == "failure"]
    return result


def run_schemathesis(
    base: str, api_key: str, workdir: Path, *, max_examples: int, seed: int = 0, timeout: float = 900.0
) -> FuzzResult:
    """`schemathesis run BASE/openapi.json` with the key header, only the not_a_server_error check.

    Stopped past `timeout` (exit code TIMED_OUT; the pass is bounded by examples, the timeout is a backstop)."""
    workdir.mkdir(parents=True, exist_ok=True)
    events = workdir / "events.ndjson"
    log = workdir / "schemathesis.log"
    cmd = [
        sys.executable,
        "-c",
        CLI,
        "run",
        f"{base}/openapi.json",
        "--max-examples",
        str(max_examples),
        "--seed",
        str(seed),
        "--header",
        f"X-API-Key: {api_key}",
        "--checks",
        "not_a_server_error",
        "--request-timeout",
        "60",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(events),
        "--no-color",
    ]
    with log.open("wb") as out:
        try:
            proc = subprocess.run(cmd, cwd=workdir, stdout=out, stderr=subprocess.STDOUT, timeout=timeout)
            code = proc.returncode
        except subprocess.TimeoutExpired:
            code = TIMED_OUT
    result = FuzzResult(exit_code=code, log=log)
    if events.exists():
        parse_events(events, result)
    return result
