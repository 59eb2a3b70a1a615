"""Feedback store and routes against a real SQLite file: upsert with history, CSV export, validation, keys."""

from __future__ import annotations

import csv
import io
import sqlite3

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from service.routes.feedback import router as feedback_router
from service.settings import Settings
from training.datasets.corpus import columns
from training.runtime.taxonomy import default_taxonomy

TAX = default_taxonomy()
NQ = TAX.no_question_flag
URGENT = TAX.urgent
ACTIONABLE_TOPIC = TAX.topic_ids[0]


def make_client(tmp_path, api_keys: str = "") -> TestClient:
    """The router on a bare app: the feedback routes need settings only, not the model."""
    app = FastAPI()
    app.state.settings = Settings(
        model_dir=tmp_path / "models", database_url=f"sqlite:///{tmp_path / 'fb.db'}", api_keys=api_keys
    )
    app.include_router(feedback_router)
    return TestClient(app)


def payload(**over) -> dict:
    body = {
        "id": "c1",
        "text": "Третий день не вывозят мусор на Ленина 5",
        **{f: 0 for f in TAX.flags},
        "topic": ACTIONABLE_TOPIC,
        URGENT: False,
        "moderator": "Иванова",
    }
    body.update(over)
    return body


@pytest.fixture
def client(tmp_path):
    with make_client(tmp_path) as c:
        yield c


def test_create_upsert_history_and_export(client, tmp_path):
    r = client.post("/feedback", json=payload())
    assert r.status_code == 200, r.text
    assert r.json()["created"] is True
    lex = TAX.lexicon_flag
    second = payload(**{lex: 1, NQ: True, "topic": None, "moderator": "Петров"})
    r = client.post("/feedback", json=second)
    assert r.status_code == 200, r.text
    assert r.json()["created"] is False and r.json()["changed"] is True

    rec = client.get("/feedback/c1").json()
    assert rec["moderator"] == "Петров"
    assert rec["labels"][lex] == 1 and rec["labels"][NQ] == 1 and rec["labels"]["topic"] is None
    assert [h["moderator"] for h in rec["history"]] == ["Иванова", "Петров"]
    assert rec["history"][0]["old_labels"] is None
    assert rec["history"][1]["old_labels"]["topic"] == ACTIONABLE_TOPIC
    assert rec["history"][1]["new_labels"][lex] == 1

    # Re-posting identical labels is not a change: no extra history row.
    assert client.post("/feedback", json=second).json()["changed"] is False
    assert len(client.get("/feedback/c1").json()["history"]) == 2

    client.post(
        "/feedback",
        json=payload(id="c2", text="Пахнет газом в подъезде, Мира 3", topic=TAX.topic_ids[-3], **{URGENT: 1}),
    )
    r = client.get("/feedback/export")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert list(rows[0].keys()) == columns(TAX)
    by_id = {row["id"]: row for row in rows}
    assert set(by_id) == {"c1", "c2"}
    assert by_id["c1"][lex] == "1" and by_id["c1"]["topic"] == ""
    assert by_id["c2"][URGENT] == "1" and by_id["c2"]["topic"] == TAX.topic_ids[-3]
    assert {row["split"] for row in rows} == {"train"}

    # A real SQLite file in WAL mode holding both tables.
    con = sqlite3.connect(tmp_path / "fb.db")
    try:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert con.execute("SELECT COUNT(*) FROM feedback_history").fetchone()[0] == 3
    finally:
        con.close()


def test_unknown_id_is_404(client):
    r = client.get("/feedback/nope")
    assert r.status_code == 404
    assert "nope" in r.text


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"topic": "weather"}, "topic"),
        ({NQ: 1, "topic": ACTIONABLE_TOPIC}, "topic"),
        ({NQ: 0, "topic": None}, "topic"),
        ({NQ: 1, "topic": None, URGENT: True}, URGENT),
        ({"text": "   "}, "text"),
        ({"moderator": ""}, "moderator"),
        ({TAX.flags[0]: 2}, TAX.flags[0]),
    ],
)
def test_bad_labels_are_4xx_naming_the_field(client, over, field):
    r = client.post("/feedback", json=payload(**over))
    assert 400 <= r.status_code < 500, r.text
    assert field in r.text
    assert client.get("/feedback/c1").status_code == 404  # nothing stored


def test_missing_field_and_bad_json(client):
    body = payload()
    del body[TAX.flags[1]]
    r = client.post("/feedback", json=body)
    assert r.status_code == 422 and TAX.flags[1] in r.text
    r = client.post("/feedback", content=b"{not json", headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500


def test_api_key_required_when_keys_set(tmp_path):
    with make_client(tmp_path, api_keys="k1,k2") as c:
        assert c.post("/feedback", json=payload()).status_code == 401
        assert c.post("/feedback", json=payload(), headers={"X-API-Key": "wrong"}).status_code == 401
        assert c.get("/feedback/export").status_code == 401
        r = c.post("/feedback", json=payload(), headers={"X-API-Key": "k2"})
        assert r.status_code == 200, r.text
        assert c.get("/feedback/c1", headers={"X-API-Key": "k1"}).json()["moderator"] == "Иванова"


def test_every_served_rule_is_the_one_post_feedback_enforces(client):
    """GET /labels hands the page the rules; each one, broken on purpose, is refused by POST /feedback on the
    field the rule names, and the same labels with the rule kept are stored."""
    from fastapi import FastAPI

    from service.routes.meta import router as meta_router

    app = FastAPI()
    app.include_router(meta_router)
    rules = TestClient(app).get("/labels").json()["label_rules"]
    assert rules["flags"] == list(TAX.flags) and rules["urgent"] == URGENT
    assert len(rules["topic_rules"]) == 3
    for k, rule in enumerate(rules["topic_rules"]):
        labels = {f: 0 for f in TAX.flags} | {URGENT: False, NQ: 0}
        labels[rule["when"]] = rule["value"]
        if rule["when"] == URGENT:
            labels[NQ] = 0
        broken = payload(id=f"r{k}", **labels, topic=ACTIONABLE_TOPIC if rule["topic"] == "empty" else None)
        r = client.post("/feedback", json=broken)
        assert r.status_code == 422, r.text
        # The bare app answers with FastAPI's own error shape (the service's handler renames it).
        assert any(d["loc"][-1] == rule["field"] and rule["message"] in d["msg"] for d in r.json()["detail"]), r.text
        kept = payload(id=f"r{k}", **labels, topic=None if rule["topic"] == "empty" else ACTIONABLE_TOPIC)
        assert client.post("/feedback", json=kept).status_code == 200


FORMULA_TEXTS = {
    "f1": '=HYPERLINK("http://example.invalid/x","Подробнее")',
    "f2": "-5 градусов в квартире, когда дадут отопление?",
    "f3": "+7 900 000-00-00 звоните, трубу прорвало",
    "f4": "@администрация когда уберут снег?",
    "f5": "'=уже с апострофом",
    "f6": "Обычный текст без формул",
}


def test_export_neutralises_spreadsheet_formulas(client):
    from training.runtime.feedback.store import SPREADSHEET_PREFIX

    for cid, text in FORMULA_TEXTS.items():
        assert client.post("/feedback", json=payload(id=cid, text=text)).status_code == 200
    assert (
        client.post("/feedback", json=payload(id="=cmd|' /C calc'!A0", text="Когда откроют каток?")).status_code == 200
    )
    r = client.get("/feedback/export")
    assert r.status_code == 200
    by_id = {row["id"]: row for row in csv.DictReader(io.StringIO(r.text))}
    for cid, text in FORMULA_TEXTS.items():
        expected = SPREADSHEET_PREFIX + text if text[0] in "=+-@'" else text
        assert by_id[cid]["text"] == expected, cid
    assert SPREADSHEET_PREFIX + "=cmd|' /C calc'!A0" in by_id  # ids are cells too
    # No cell of the HTTP export starts with a character a spreadsheet evaluates.
    for row in csv.reader(io.StringIO(r.text)):
        assert not any(cell[:1] in ("=", "+", "-", "@", "\t", "\r") for cell in row), row


def test_store_export_is_unchanged_without_for_spreadsheet(client, tmp_path):
    from training.runtime.feedback.store import FeedbackStore

    assert client.post("/feedback", json=payload(id="f1", text=FORMULA_TEXTS["f1"])).status_code == 200
    store = FeedbackStore(f"sqlite:///{tmp_path / 'fb.db'}")
    try:
        rows = list(csv.DictReader(io.StringIO(store.export_csv())))
        assert rows[0]["text"] == FORMULA_TEXTS["f1"]
        spreadsheet = list(csv.DictReader(io.StringIO(store.export_csv(for_spreadsheet=True))))
        assert spreadsheet[0]["text"] == "'" + FORMULA_TEXTS["f1"]
    finally:
        store.close()
