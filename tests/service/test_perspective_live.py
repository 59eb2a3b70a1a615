"""POST /v1alpha1/comments:analyze through a real uvicorn, called as a Perspective client calls it (base URL
switched), and `doNotStore`: nothing of the text in any log line or database file, even with LOG_LEVEL=debug
and LOG_TEXTS=1.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import httpx
import pytest

from service.logging_setup import ACCESS_LOGGER
from training.runtime.taxonomy import default_taxonomy

PATH = "/v1alpha1/comments:analyze"
TAX = default_taxonomy()
PROFANE = "когда уже эту б**дскую дорогу сделают на Ленина 5"
POLITE = "Спасибо за работу! Двор стал чистым."


def request_for(text: str, *attributes: str, **fields) -> dict:
    return {"comment": {"text": text}, "requestedAttributes": {a: {} for a in attributes}, **fields}


# ------------------------------------------------------------------------- nothing is kept
def _access_lines(caplog) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == ACCESS_LOGGER]


def test_access_log_counts_the_comment_without_its_text(api, caplog):
    secret = f"Иванова Мария Петровна с Ленина 7, метка {uuid.uuid4().hex}"
    with caplog.at_level(logging.DEBUG):
        r = api.post(PATH, json=request_for(secret, "TOXICITY", doNotStore=False))
    assert r.status_code == 200
    assert secret not in caplog.text and "Петровна" not in caplog.text
    line = next(x for x in _access_lines(caplog) if x["path"] == PATH)
    assert line["n_comments"] == 1 and "texts" not in line


def test_do_not_store_overrides_log_texts(app_factory, caplog):
    client = app_factory(log_texts=True)
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        client.post(PATH, json=request_for("первый " + POLITE, "TOXICITY", doNotStore=True))
        client.post(PATH, json=request_for("второй " + POLITE, "TOXICITY"))
    lines = [x for x in _access_lines(caplog) if x["path"] == PATH]
    assert "texts" not in lines[0]
    assert lines[1]["texts"] == ["второй " + POLITE]  # LOG_TEXTS=1 is honoured when storing is allowed


@pytest.fixture(scope="module")
def live(trained_model_dir, tmp_path_factory, service_process):
    """A real uvicorn with keys, LOG_LEVEL=debug and LOG_TEXTS=1 (the most talkative setting), its SQLite
    database and its log in a directory of their own."""
    tmp = tmp_path_factory.mktemp("perspective-live")
    env = {
        "MODEL_DIR": str(trained_model_dir),
        "API_KEYS": "perspective-key",
        "LOG_LEVEL": "debug",
        "LOG_TEXTS": "1",
        "DATABASE_URL": f"sqlite:///{tmp / 'service.db'}",
    }
    with service_process(env, tmp / "server.log", ready_timeout=90) as base:
        yield base, tmp


def perspective_client_call(base: str, key: str, body: dict) -> tuple[int, dict]:
    """What a Perspective client does, base URL switched: POST {base}/v1alpha1/comments:analyze?key=KEY."""
    request = urllib.request.Request(
        f"{base}/v1alpha1/comments:analyze?key={key}",
        data=json.dumps(body).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_perspective_client_against_a_real_server(live):
    base, _ = live
    body = {
        "comment": {"text": PROFANE},
        "languages": ["ru"],
        "requestedAttributes": {"TOXICITY": {}, "PROFANITY": {}, "INSULT": {"scoreThreshold": 0.99}},
        "spanAnnotations": True,
        "doNotStore": True,
        "clientToken": "vk-club1-post7-comment3",
    }
    status, out = perspective_client_call(base, "perspective-key", body)
    assert status == 200, out
    assert out["clientToken"] == "vk-club1-post7-comment3" and out["languages"] == ["ru"]
    assert out["attributeScores"]["TOXICITY"]["summaryScore"]["value"] > 0.5
    assert "INSULT" not in out["attributeScores"]
    [span] = out["attributeScores"]["PROFANITY"]["spanScores"]
    assert PROFANE[span["begin"] : span["end"]] == "б**дскую"
    # How a Perspective client reads an error: response["error"]["message"].
    status, err = perspective_client_call(base, "perspective-key", {**body, "languages": ["en"]})
    assert status == 400 and err["error"]["message"].startswith("Attribute TOXICITY does not support")
    status, _ = perspective_client_call(base, "wrong-key", body)
    assert status == 401
    with httpx.Client(base_url=base, timeout=30) as http:  # the header works too
        r = http.post(PATH, json=body, headers={"X-API-Key": "perspective-key"})
        assert r.status_code == 200 and r.json()["attributeScores"]["PROFANITY"]["spanScores"] == [span]


def _files_containing(root: Path, needle: str) -> list[Path]:
    forms = {needle.encode("utf-8"), needle.encode("utf-16-le"), json.dumps(needle).encode("ascii")}
    return [p for p in root.rglob("*") if p.is_file() and any(f in p.read_bytes() for f in forms)]


def test_do_not_store_keeps_nothing_of_the_text(live):
    """With the most talkative settings (debug, LOG_TEXTS=1), a doNotStore text — comment and context — is in
    no log line and no database file; a control text sent without doNotStore shows the search would find it."""
    base, tmp = live
    marker = f"секретный{uuid.uuid4().hex}"
    context_marker = f"контекст{uuid.uuid4().hex}"
    control = f"контроль{uuid.uuid4().hex}"
    secret = {
        **request_for(f"{marker} б**дская дорога на Ленина 5", "TOXICITY", "PROFANITY", spanAnnotations=True),
        "context": {"entries": [{"text": context_marker}]},
        "doNotStore": True,
    }
    assert perspective_client_call(base, "perspective-key", secret)[0] == 200
    bad = {**secret, "languages": ["en"]}  # refused requests keep nothing either
    assert perspective_client_call(base, "perspective-key", bad)[0] == 400
    assert perspective_client_call(base, "perspective-key", request_for(f"{control} дорога", "TOXICITY"))[0] == 200
    feedback = {
        "id": "control-1",
        "text": f"{control} яма на дороге, когда заделают?",
        **{f: False for f in TAX.flags},
        "topic": TAX.topic_ids[0],
        "urgent": False,
        "moderator": "Иванова",
    }
    with httpx.Client(base_url=base, timeout=30, headers={"X-API-Key": "perspective-key"}) as http:
        assert http.post("/feedback", json=feedback).status_code == 200, "the control row makes the database"
        http.get("/metrics")
    log = tmp / "server.log"
    assert control in log.read_text(encoding="utf-8")  # LOG_TEXTS logs a text that may be stored
    assert (tmp / "service.db").exists() and _files_containing(tmp, control)
    for needle in (marker, context_marker, marker.removeprefix("секретный"), context_marker.removeprefix("контекст")):
        assert _files_containing(tmp, needle) == [], needle
