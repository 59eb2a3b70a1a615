"""POST /feedback and the export on a real PostgreSQL: through a real uvicorn end to end, and through the
service's app (SQLite and PostgreSQL) for what each database cannot store."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from service.app import create_app
from service.settings import Settings
from training.runtime.taxonomy import default_taxonomy

TAX = default_taxonomy()
NQ, URGENT, LEX = TAX.no_question_flag, TAX.urgent, TAX.lexicon_flag
TOPIC = TAX.topic_ids[0]


def payload(**over) -> dict:
    body = {
        "id": "vk-7-15-301",
        "text": "Третий день не вывозят мусор на Ленина 5, когда уберут?",
        **{f: 0 for f in TAX.flags},
        "topic": TOPIC,
        URGENT: False,
        "moderator": "Иванова",
    }
    body.update(over)
    return body


def test_real_server_keeps_feedback_in_postgres(trained_model_dir, tmp_path, service_process, pg_url):
    env = {"MODEL_DIR": str(trained_model_dir), "DATABASE_URL": pg_url, "API_KEYS": "k1"}
    headers = {"X-API-Key": "k1"}
    with service_process(env, tmp_path / "server.log", ready_timeout=90) as base:
        with httpx.Client(base_url=base, timeout=30, headers=headers) as http:
            first = http.post("/feedback", json=payload())
            assert first.status_code == 200, first.text
            assert first.json()["created"] is True
            second = http.post("/feedback", json=payload(**{LEX: 1, NQ: 1, "topic": None, "moderator": "Петров"}))
            assert second.status_code == 200, second.text
            assert second.json()["created"] is False and second.json()["changed"] is True

            rec = http.get("/feedback/vk-7-15-301").json()
            assert [h["moderator"] for h in rec["history"]] == ["Иванова", "Петров"]
            assert rec["updated_at"].endswith("+00:00")

            export = http.get("/feedback/export")
            assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
            rows = list(csv.DictReader(io.StringIO(export.text)))
            assert [(r["id"], r[LEX], r[NQ], r["topic"], r["split"]) for r in rows] == [
                ("vk-7-15-301", "1", "1", "", "train")
            ]
            assert rows[0]["text"] == payload()["text"]
    # The rows are in PostgreSQL itself (not in some SQLite file the service fell back to).
    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT moderator FROM feedback")).scalars().all() == ["Петров"]
            assert conn.execute(text("SELECT count(*) FROM feedback_history")).scalar_one() == 2
    finally:
        engine.dispose()
    assert payload()["text"] not in (tmp_path / "server.log").read_text(encoding="utf-8")  # no texts logged


@pytest.fixture
def service_app(trained_model_dir, db_url) -> Iterator[TestClient]:
    """The service's own app (its error handlers, its lifespan) with the feedback store on `db_url`."""
    app = create_app(Settings(model_dir=trained_model_dir, database_url=db_url))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


UNSTORABLE = {"nul": "до\x00после", "lone surrogate": "до\ud800после"}


def test_unstorable_values_are_a_4xx_naming_the_field(service_app):
    """PostgreSQL's text cannot hold NUL, no driver encodes a lone surrogate, and PostgreSQL enforces the
    200-character names: each is a 422 naming the field, never a 500 from inside the database, and nothing
    is stored. The same on SQLite, so the two backends accept the same requests."""
    for field in ("id", "text", "moderator"):
        for what, bad in UNSTORABLE.items():
            raw = json.dumps(payload(**{field: bad}))  # ensure_ascii: a surrogate travels as \ud800, as JSON allows
            r = service_app.post("/feedback", content=raw, headers={"content-type": "application/json"})
            assert r.status_code == 422, (field, what, r.text)
            assert field in r.text, (field, what, r.text)
    r = service_app.post("/feedback", json=payload(moderator="М" * 201))
    assert r.status_code == 422 and "moderator" in r.text
    assert service_app.get("/feedback/export").text.count("\n") == 1  # the header only: nothing stored
    assert service_app.post("/feedback", json=payload(moderator="М" * 200)).status_code == 200
