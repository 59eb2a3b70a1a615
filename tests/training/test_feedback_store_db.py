"""The feedback store on both databases the README promises: a real SQLite file and a real PostgreSQL
(a throw-away cluster, tests/db_fixtures.py): upsert with history, get, export, readers' create=False."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import create_engine, func, select, text

from tests.pg_cluster import DRIVER, free_port
from training.runtime.feedback.rules import record_columns
from training.runtime.feedback.store import FeedbackDatabaseError, FeedbackError, FeedbackStore
from training.runtime.feedback.table import FeedbackHistoryRow
from training.runtime.taxonomy import default_taxonomy

TAX = default_taxonomy()
NQ, URGENT, LEX = TAX.no_question_flag, TAX.urgent, TAX.lexicon_flag
TOPIC = TAX.topic_ids[0]
TEXT = "Третий день не вывозят мусор на Ленина 5 🗑️ — «когда?»"


def labels(**over) -> dict:
    return {**{f: 0 for f in TAX.flags}, "topic": TOPIC, URGENT: 0, **over}


@pytest.fixture
def store(db_url):
    s = FeedbackStore(db_url)
    yield s
    s.close()


def test_upsert_keeps_history_and_get_returns_it(store):
    first = store.upsert("c1", TEXT, labels(), "Иванова")
    assert first["created"] is True and first["changed"] is True
    second = store.upsert("c1", TEXT, labels(**{LEX: 1, NQ: 1, "topic": None}), "Петров")
    assert second["created"] is False and second["changed"] is True
    same = store.upsert("c1", TEXT, labels(**{LEX: 1, NQ: 1, "topic": None}), "Сидорова")
    assert same["changed"] is False  # identical labels and text: no new history row
    edited = store.upsert("c1", TEXT + " (исправлено)", labels(**{LEX: 1, NQ: 1, "topic": None}), "Петров")
    assert edited["changed"] is True

    rec = store.get("c1")
    assert rec is not None
    assert rec["text"] == TEXT + " (исправлено)"  # Unicode (emoji, guillemets) round-trips
    assert rec["moderator"] == "Петров"
    assert rec["labels"] == labels(**{LEX: 1, NQ: 1, "topic": None})
    assert [h["moderator"] for h in rec["history"]] == ["Иванова", "Петров", "Петров"]
    assert [h["text_changed"] for h in rec["history"]] == [False, False, True]
    assert rec["history"][0]["old_labels"] is None
    assert rec["history"][1]["old_labels"] == labels() and rec["history"][1]["new_labels"][LEX] == 1
    # Whatever the server's TimeZone (the throw-away cluster runs Europe/Moscow), timestamps read back as UTC.
    assert rec["created_at"].endswith("+00:00") and rec["updated_at"].endswith("+00:00")
    assert all(h["changed_at"].endswith("+00:00") for h in rec["history"])
    assert rec["created_at"] <= rec["updated_at"]
    assert store.get("nope") is None
    assert store.count() == 1


def test_rule_breaking_labels_store_nothing(store):
    with pytest.raises(FeedbackError) as exc:
        store.upsert("c1", TEXT, labels(topic=None), "Иванова")
    assert exc.value.problems and exc.value.problems[0][0] == "topic"
    assert store.get("c1") is None and store.count() == 0


def test_export_rows_and_csv(store):
    store.upsert("b", "Пахнет газом в подъезде, Мира 3", labels(topic=TAX.topic_ids[-3], **{URGENT: 1}), "Иванова")
    store.upsert("a", "=СУММ(A1) и мат", labels(**{LEX: 1, NQ: 1, "topic": None}), "Иванова")
    rows = store.export_rows()
    assert [r["id"] for r in rows] == ["b", "a"]  # oldest update first
    assert list(rows[0]) == record_columns(TAX)
    assert rows[0][URGENT] == 1 and rows[0]["topic"] == TAX.topic_ids[-3]
    assert rows[1][LEX] == 1 and rows[1]["topic"] == "" and {r["split"] for r in rows} == {"train"}

    plain = list(csv.DictReader(io.StringIO(store.export_csv())))
    assert [r["text"] for r in plain] == ["Пахнет газом в подъезде, Мира 3", "=СУММ(A1) и мат"]
    for_people = list(csv.DictReader(io.StringIO(store.export_csv(for_spreadsheet=True))))
    assert for_people[1]["text"] == "'=СУММ(A1) и мат"


def test_history_is_a_real_table_on_the_backend(store, db_url):
    store.upsert("c1", TEXT, labels(), "Иванова")
    store.upsert("c1", TEXT, labels(**{URGENT: 1}), "Петров")
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(FeedbackHistoryRow)).scalar_one() == 2
            if engine.dialect.name == "postgresql":
                # The JSON column is queryable server-side, not an opaque string.
                urgent = conn.execute(
                    text("SELECT new_labels->>'urgent' FROM feedback_history ORDER BY id DESC LIMIT 1")
                ).scalar_one()
                assert urgent == "1"
    finally:
        engine.dispose()


def test_reader_refuses_a_database_without_the_table(db_url):
    """create=False (retraining) on the wrong database is an error, not "no feedback"."""
    with pytest.raises(FeedbackDatabaseError, match="no 'feedback' table"):
        FeedbackStore(db_url, create=False)
    FeedbackStore(db_url).close()  # the service creates the tables ...
    reader = FeedbackStore(db_url, create=False)  # ... and then a reader opens them
    try:
        assert reader.export_rows() == []
    finally:
        reader.close()


@pytest.mark.db
def test_unreachable_postgres_is_a_clear_error():
    url = f"{DRIVER}://postgres@127.0.0.1:{free_port()}/nothing_listens_here"
    with pytest.raises(FeedbackDatabaseError, match="cannot open the feedback database"):
        FeedbackStore(url)
