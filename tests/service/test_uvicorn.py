"""The real thing: `python -m service` under uvicorn as a subprocess, spoken to over HTTP with httpx."""

from __future__ import annotations

import httpx
import pytest

from training.runtime.taxonomy import default_taxonomy

PROFANE = "когда уже эту б**дскую дорогу сделают на Ленина 5"


@pytest.fixture(scope="module")
def server(trained_model_dir, tmp_path_factory, service_process):
    tmp = tmp_path_factory.mktemp("uvicorn")
    env = {
        "MODEL_DIR": str(trained_model_dir),
        "LOG_LEVEL": "info",
        "MAX_BODY_BYTES": "65536",
        "DATABASE_URL": f"sqlite:///{tmp / 'fb.db'}",
    }
    log_path = tmp / "server.log"
    with service_process(env, log_path, ready_timeout=90) as base:
        yield base, log_path


def test_real_server_classifies_disguised_profanity(server):
    base, log_path = server
    with httpx.Client(base_url=base, timeout=30) as http:
        ready = http.get("/ready")
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        r = http.post("/classify", json={"comments": [{"id": "c1", "text": PROFANE}]})
        assert r.status_code == 200
        assert r.headers["x-request-id"]
        res = r.json()["results"][0]
        flag = default_taxonomy().lexicon_flag
        assert res["id"] == "c1" and res["flags"][flag] is True
        span = res["evidence"][0]
        assert span["text"] == "б**дскую" == PROFANE[span["start"] : span["end"]]
        assert r.json()["model_version"] == http.get("/version").json()["version"]
    log = log_path.read_text(encoding="utf-8")
    assert r.headers["x-request-id"] in log  # the JSON access line
    assert PROFANE not in log  # no comment texts in the logs by default


def test_real_server_refuses_oversized_streamed_body(server):
    base, _ = server

    def chunks():
        yield b'{"comments": [{"text": "'
        for _ in range(100):
            yield b"a" * 1000
        yield b'"}]}'

    with httpx.Client(base_url=base, timeout=30) as http:
        r = http.post("/classify", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413 and "65536" in r.json()["error"]
        assert http.get("/health").status_code == 200  # the server is fine afterwards


@pytest.mark.parametrize(
    "env, name, shown",
    [
        ({"VK_RETRY_ATTEMPTS": "abc"}, "VK_RETRY_ATTEMPTS", "'abc'"),
        ({"VK_AUTO_HIDE_FLAGS": "profanity,rude"}, "VK_AUTO_HIDE_FLAGS", "choose from profanity"),
        ({"VK_SECRET": "s", "MAX_BATCH": "0"}, "MAX_BATCH", "greater than or equal to 1"),
    ],
)
def test_an_invalid_setting_is_one_clear_line_and_exit_2(env, name, shown, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    run = subprocess.run(
        [sys.executable, "-m", "service"],
        cwd=root,
        env={**os.environ, "MODEL_DIR": str(tmp_path), "PORT": "1", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2, run.stderr
    assert f"error: invalid setting {name}:" in run.stderr and shown in run.stderr
    assert "Traceback" not in run.stderr and run.stdout == ""
