"""The inbox: the store (idempotent recording, edits with history, deletes, filters, races) on SQLite and a real
PostgreSQL (`db_url`), and GET /inbox (key, filters validated, newest first, pages) on an app without a model."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from training.runtime.inbox.records import (
    DELETED,
    DUPLICATE,
    EDITED,
    MODE_EDIT,
    MODE_RESTORE,
    NEW,
    RESTORED,
    UNCHANGED,
    UNKNOWN_COMMENT,
    CommentRef,
    InboxFilter,
    IncomingComment,
)
from training.runtime.inbox.store import InboxStore
from training.runtime.taxonomy import default_taxonomy

TAX = default_taxonomy()
T0 = datetime(2024, 12, 2, 4, 0, tzinfo=UTC)


def ref(comment_id: int = 100, kind: str = "wall", group_id: int = 1, object_id: int = 10) -> CommentRef:
    return CommentRef(group_id, kind, -group_id, object_id, comment_id)


def comment(text: str, comment_id: int = 100, date: datetime = T0, **kw) -> IncomingComment:
    return IncomingComment(ref(comment_id, **kw), 555, date, text)


def result(category: str, topic: str | None = None, urgent: bool = False) -> dict:
    return {
        "category": category,
        "action": TAX.action_for(category, urgent),
        "topic": topic,
        "urgent": urgent,
        "flags": {f: f == category for f in TAX.flags},
    }


@pytest.fixture
def store(db_url: str) -> Iterator[InboxStore]:
    s = InboxStore(db_url)
    yield s
    s.close()


def run_together(n: int, work: Callable[[int], object]) -> list[object]:
    """`work(i)` in n threads released at the same instant."""
    barrier = threading.Barrier(n)
    out: list[object] = [None] * n
    errors: list[BaseException] = []

    def go(i: int) -> None:
        barrier.wait()
        try:
            out[i] = work(i)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    return out


# --------------------------------------------------------------------------------------- the store
def test_a_retried_event_changes_nothing(store):
    first = store.record_comment(comment("Когда починят дорогу?"), "wall_reply_new", "e1")
    again = store.record_comment(comment("Когда починят дорогу?"), "wall_reply_new", "e1")
    assert (first.outcome, again.outcome) == (NEW, DUPLICATE)
    assert first.pending and not again.pending and again.inbox_id == first.inbox_id
    # The same comment under another event id (VK re-sent it) is still one row.
    other = store.record_comment(comment("Когда починят дорогу?"), "wall_reply_new", "e2")
    assert other.outcome == UNCHANGED and other.inbox_id == first.inbox_id
    assert store.list()[0] == 1 and store.count_events() == 2


def test_an_edit_replaces_the_text_keeps_history_and_discards_a_stale_result(store):
    rec = store.record_comment(comment("Когда починят дорогу?"), "wall_reply_new", "e1")
    [pending] = store.pending()
    assert store.save_result(pending.id, pending.version, result(TAX.categories[-1], "roads"), "m1")
    edit = store.record_comment(comment("Когда починят дорогу на Ленина?"), "wall_reply_edit", "e2", MODE_EDIT)
    assert edit.outcome == EDITED and edit.pending
    # A result computed on version 1 arrives late: refused, the row waits for version 2's.
    assert not store.save_result(rec.inbox_id, 1, result(TAX.categories[0]), "m1")
    row = store.get(rec.inbox_id)
    assert row["version"] == 2 and row["status"] == "pending" and row["category"] is None
    assert row["text"] == "Когда починят дорогу на Ленина?" and row["edited_at"] is not None
    [old] = row["history"]
    assert old["old_text"] == "Когда починят дорогу?" and old["version"] == 1
    assert old["old_result"]["topic"] == "roads" and old["old_model_version"] == "m1"
    assert store.save_result(rec.inbox_id, 2, result(TAX.categories[-1], "roads"), "m2")
    assert store.get(rec.inbox_id)["model_version"] == "m2"
    # The same edit again (another event id), and a late copy of the original: nothing changes.
    same = store.record_comment(comment("Когда починят дорогу на Ленина?"), "wall_reply_edit", "e3", MODE_EDIT)
    late = store.record_comment(comment("Когда починят дорогу?"), "wall_reply_new", "e4")
    assert (same.outcome, late.outcome) == (UNCHANGED, UNCHANGED)
    assert store.get(rec.inbox_id)["version"] == 2 and store.get(rec.inbox_id)["status"] == "classified"


def test_delete_marks_and_restore_unmarks(store):
    rec = store.record_comment(comment("Спасибо!"), "wall_reply_new", "e1")
    deleted = store.record_delete(ref(), "wall_reply_delete", "e2", deleter_id=777)
    assert deleted.outcome == DELETED and deleted.inbox_id == rec.inbox_id
    row = store.get(rec.inbox_id)
    assert row["deleted"] and row["deleter_id"] == 777 and row["text"] == "Спасибо!"
    assert store.record_delete(ref(), "wall_reply_delete", "e2").outcome == DUPLICATE
    assert store.record_delete(ref(999), "wall_reply_delete", "e3").outcome == UNKNOWN_COMMENT
    [pending] = store.pending()
    assert store.save_result(pending.id, 1, result("insult_commenter"), "m1", hide=True)
    assert store.hides.due() == [] and store.hides.claim(rec.inbox_id) is None  # a deleted comment is never hidden
    restored = store.record_comment(comment("Спасибо!"), "wall_reply_restore", "e4", MODE_RESTORE)
    assert restored.outcome == RESTORED and not store.get(rec.inbox_id)["deleted"]


def test_empty_text_is_stored_but_not_queued(store):
    rec = store.record_comment(comment("   ", kind="photo"), "photo_comment_new", "e1")
    assert rec.outcome == NEW and not rec.pending
    assert store.pending() == [] and store.get(rec.inbox_id)["status"] == "empty"


def test_the_hide_is_claimed_once_and_its_answer_kept(store):
    rec = store.record_comment(comment("ты тупой"), "wall_reply_new", "e1")
    assert store.hides.claim(rec.inbox_id) is None  # not classified yet: nothing is due
    assert store.save_result(rec.inbox_id, 1, result("insult_commenter"), "m1", hide=True)
    assert store.hides.due() == [rec.inbox_id] and store.get(rec.inbox_id)["hide"]["status"] == "due"
    claims = run_together(4, lambda _: store.hides.claim(rec.inbox_id))
    assert [c for c in claims if c is not None] == [ref()]
    assert store.hides.due() == [] and store.hides.open_claims() == 1
    store.hides.save(rec.inbox_id, "hidden", "wall.deleteComment", {"response": 1}, 2)
    hide = store.get(rec.inbox_id)["hide"]
    assert hide["status"] == "hidden" and hide["answer"] == {"response": 1} and hide["attempts"] == 2
    assert store.hides.open_claims() == 0 and store.hides.claim(rec.inbox_id, datetime.now(UTC) + timedelta(1)) is None


def test_a_result_without_the_hide_is_never_due(store):
    rec = store.record_comment(comment("ты тупой"), "wall_reply_new", "e1")
    assert store.save_result(rec.inbox_id, 1, result("insult_commenter"), "m1")  # auto-hide off
    assert store.hides.due() == [] and store.get(rec.inbox_id)["hide"] is None


def test_a_claim_left_by_a_dead_worker_is_taken_again_once_stale(store):
    rec = store.record_comment(comment("ты тупой"), "wall_reply_new", "e1")
    store.save_result(rec.inbox_id, 1, result("insult_commenter"), "m1", hide=True)
    assert store.hides.claim(rec.inbox_id) == ref()  # ... and the worker dies before VK answers
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    assert store.hides.due(an_hour_ago) == [] and store.hides.claim(rec.inbox_id, an_hour_ago) is None
    time.sleep(0.01)
    later = datetime.now(UTC)  # as if the claim were now older than the longest VK call
    assert store.hides.due(later) == [rec.inbox_id]
    # Workers racing for it: one takes it, and its fresh claim is not stale for the others.
    assert [c for c in run_together(3, lambda _: store.hides.claim(rec.inbox_id, later)) if c] == [ref()]


def test_an_edit_before_the_claim_cancels_the_due_hide(store):
    rec = store.record_comment(comment("ты тупой"), "wall_reply_new", "e1")
    store.save_result(rec.inbox_id, 1, result("insult_commenter"), "m1", hide=True)
    store.record_comment(comment("Извините, погорячился. Когда уберут снег?"), "wall_reply_edit", "e2", MODE_EDIT)
    assert store.hides.due() == [] and store.get(rec.inbox_id)["hide"] is None
    assert store.save_result(rec.inbox_id, 2, result(TAX.categories[-1], "waste_snow"), "m1")
    assert store.hides.due() == []


def test_a_delete_that_comes_before_its_comment_is_kept_for_it(store):
    assert store.record_delete(ref(300), "wall_reply_delete", "e1", deleter_id=42).outcome == UNKNOWN_COMMENT
    assert store.record_delete(ref(300), "wall_reply_delete", "e2", deleter_id=42).outcome == UNKNOWN_COMMENT
    rec = store.record_comment(comment("Спасибо!", 300), "wall_reply_new", "e3")
    row = store.get(rec.inbox_id)
    assert rec.outcome == NEW and row["deleted"] and row["deleter_id"] == 42 and row["deleted_at"] is not None
    assert rec.pending  # still classified, for the moderators' record
    # Other comments are not touched, and a restore that comes first cancels its early delete.
    assert not store.get(store.record_comment(comment("Спасибо!", 301), "wall_reply_new", "e4").inbox_id)["deleted"]
    store.record_delete(ref(302), "wall_reply_delete", "e5")
    restored = store.record_comment(comment("Верните", 302), "wall_reply_restore", "e6", MODE_RESTORE)
    assert not store.get(restored.inbox_id)["deleted"]
    assert store.record_delete(ref(302), "wall_reply_delete", "e7").outcome == DELETED  # known now: a real delete


def test_filters_newest_first_and_pages(store):
    cats = TAX.categories
    for i in range(7):
        rec = store.record_comment(
            comment(f"комментарий {i}", comment_id=i + 1, date=T0 + timedelta(hours=i), group_id=1 + i % 2),
            "wall_reply_new",
            f"e{i}",
        )
        urgent = i == 3
        cat = cats[-1] if i % 3 == 0 else cats[0]
        store.save_result(rec.inbox_id, 1, result(cat, "roads" if cat == cats[-1] else None, urgent), "m")
    total, items = store.list(limit=3)
    assert total == 7 and [r["text"] for r in items] == ["комментарий 6", "комментарий 5", "комментарий 4"]
    total, items = store.list(limit=3, offset=6)
    assert [r["text"] for r in items] == ["комментарий 0"]
    assert store.list(InboxFilter(category=cats[-1]))[0] == 3  # i = 0, 3, 6
    assert store.list(InboxFilter(action=TAX.urgent_action))[0] == 1
    assert store.list(InboxFilter(urgent=True))[1][0]["text"] == "комментарий 3"
    assert store.list(InboxFilter(topic="roads", urgent=False))[0] == 2
    assert store.list(InboxFilter(group_id=2))[0] == 3
    window = InboxFilter(date_from=T0 + timedelta(hours=2), date_to=T0 + timedelta(hours=4))
    assert [r["text"] for r in store.list(window)[1]] == ["комментарий 3", "комментарий 2"]
    assert store.list(InboxFilter(kind="photo"))[0] == 0


def test_concurrent_deliveries_of_one_event_make_one_row(store):
    outcomes = run_together(8, lambda _: store.record_comment(comment("Нет воды"), "wall_reply_new", "same").outcome)
    assert sorted(outcomes) == [DUPLICATE] * 7 + [NEW]
    assert store.list()[0] == 1 and store.count_events() == 1


def test_concurrent_events_of_one_comment_make_one_row(store):
    outcomes = run_together(8, lambda i: store.record_comment(comment("Нет воды"), "wall_reply_new", f"e{i}").outcome)
    assert sorted(outcomes) == [NEW] + [UNCHANGED] * 7
    assert store.list()[0] == 1 and store.count_events() == 8


def test_concurrent_edits_lose_no_update(store):
    rec = store.record_comment(comment("исходный"), "wall_reply_new", "e0")
    n = 6
    run_together(n, lambda i: store.record_comment(comment(f"правка {i}"), "wall_reply_edit", f"e{i + 1}", MODE_EDIT))
    row = store.get(rec.inbox_id)
    assert row["version"] == n + 1 and len(row["history"]) == n
    # Each replaced text is the one the previous edit wrote: a chain, no edit lost.
    texts = [h["old_text"] for h in row["history"]] + [row["text"]]
    assert texts[0] == "исходный" and len(set(texts)) == n + 1


# --------------------------------------------------------------------------------------- GET /inbox
@pytest.fixture
def inbox_api(tmp_path: Path) -> Iterator[tuple[TestClient, InboxStore]]:
    """An app without a model (the inbox does not need one) with keys, and a store on its database."""
    url = f"sqlite:///{tmp_path / 'inbox.db'}"
    app = create_app(Settings(model_dir=tmp_path / "no-models", database_url=url, api_keys="k1"))
    store = InboxStore(url)
    with TestClient(app, headers={"X-API-Key": "k1"}) as client:
        yield client, store
    store.close()


def test_inbox_needs_the_key(inbox_api):
    client, _ = inbox_api
    r = client.get("/inbox", headers={"X-API-Key": "wrong"})
    assert r.status_code == 401 and "X-API-Key" in r.json()["error"]


@pytest.mark.parametrize(
    "query, field",
    [
        ("category=nope", "query.category"),
        ("action=hide", "query.action"),
        ("topic=weather", "query.topic"),
        ("kind=story", "query.kind"),
        ("urgent=maybe", "query.urgent"),
        ("date_from=yesterday", "query.date_from"),
        ("date_from=2025-01-02&date_to=2025-01-01", "query"),
        ("limit=0", "query.limit"),
        ("limit=100000", "query.limit"),
        ("offset=-1", "query.offset"),
        ("group_id=abc", "query.group_id"),
        ("colour=red", "query.colour"),
    ],
)
def test_bad_filters_get_422(inbox_api, query, field):
    client, _ = inbox_api
    r = client.get(f"/inbox?{query}")
    assert r.status_code == 422, r.text
    assert [d["field"] for d in r.json()["details"]] == [field]


def test_inbox_lists_newest_first_with_filters_and_pages(inbox_api):
    client, store = inbox_api
    actionable, insult = TAX.categories[-1], TAX.categories[1]
    for i in range(5):
        rec = store.record_comment(comment(f"текст {i}", comment_id=i + 1, date=T0 + timedelta(days=i)), "x", f"e{i}")
        store.save_result(rec.inbox_id, 1, result(actionable if i % 2 else insult, "roads" if i % 2 else None), "m")
    page = client.get("/inbox?limit=2").json()
    assert page["total"] == 5 and page["limit"] == 2 and page["offset"] == 0
    assert [i["text"] for i in page["items"]] == ["текст 4", "текст 3"]
    item = page["items"][1]
    assert item["url"] == "https://vk.com/wall-1_10?reply=4" and item["category"] == actionable
    assert item["result"]["topic"] == "roads" and item["model_version"] == "m" and item["hide"] is None
    page = client.get("/inbox?limit=2&offset=4").json()
    assert [i["text"] for i in page["items"]] == ["текст 0"]
    page = client.get(f"/inbox?category={insult}&date_from=2024-12-03&date_to=2024-12-06T04:00:00Z").json()
    assert page["total"] == 1 and page["items"][0]["text"] == "текст 2"  # days 2 and 4 are insults; 4 is excluded
    assert client.get("/inbox?topic=roads&urgent=false").json()["total"] == 2
    assert client.get("/inbox?status=pending").json()["total"] == 0

    one = client.get(f"/inbox/{item['id']}")
    assert one.status_code == 200 and one.json()["history"] == []
    assert client.get("/inbox/999999").status_code == 404
    assert client.get("/inbox/0").status_code == 422


def test_inbox_openapi_has_a_russian_example(inbox_api):
    client, _ = inbox_api
    spec = client.get("/openapi.json").json()
    example = spec["components"]["schemas"]["InboxPage"]["examples"][0]
    assert "Ленина" in example["items"][0]["text"]
    params = {p["name"] for p in spec["paths"]["/inbox"]["get"]["parameters"]}
    assert {"category", "action", "topic", "urgent", "date_from", "date_to", "group_id", "limit", "offset"} <= params


# --------------------------------------------------------------------------------------- GET /inbox/incidents
def test_inbox_incidents_group_the_yards_complaints(inbox_api, trained_model):
    """The 40-comment stream of tests/training/test_incidents.py, delivered as VK comments and classified by
    the real model: the inbox reports the courtyard's 12 complaints as one incident, with inbox ids."""
    from tests.training.test_incidents import STREAM, YARD_IDS

    client, store = inbox_api
    results = trained_model.classify([text for _, _, text in STREAM])
    inbox_ids = {}
    for n, ((cid, ts, text), r) in enumerate(zip(STREAM, results, strict=True)):
        recorded = store.record_comment(
            comment(text, comment_id=1000 + n, date=datetime.fromisoformat(ts)), "wall_reply_new"
        )
        assert store.save_result(recorded.inbox_id, 1, r, "test-model")
        inbox_ids[cid] = recorded.inbox_id
    r = client.get("/inbox/incidents", params={"now": "2025-01-15T12:00:00+03:00"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["n_comments"] == 40 and body["truncated"] is False
    largest = body["items"][0]
    assert largest["n_comments"] == 12 and largest["topic"] == "waste_snow"
    assert sorted(largest["comment_ids"]) == sorted(inbox_ids[c] for c in YARD_IDS)
    assert largest["typical_id"] in largest["comment_ids"] and largest["typical_text"]
    assert largest["overdue"] is True  # first complaint 14.01 07:40 + 24 h < 15.01 12:00
    assert all(item["n_comments"] < 12 for item in body["items"][1:])
    # A window of one hour splits the yard's complaints; bad parameters are a 422.
    narrow = client.get("/inbox/incidents", params={"window_hours": 1, "now": "2025-01-15T12:00:00+03:00"}).json()
    assert (
        max((i["n_comments"] for i in narrow["items"]), default=1) < 12 and narrow["n_incidents"] > body["n_incidents"]
    )
    assert client.get("/inbox/incidents", params={"window_hours": 0}).status_code == 422
    assert client.get("/inbox/incidents", params={"bogus": 1}).status_code == 422


@pytest.mark.parametrize(
    "path, params",
    [
        ("/inbox/incidents", {"now": "0001-01-01T00:00:00+05:00"}),  # found by make soak's schemathesis: a 500
        ("/inbox/incidents", {"date_from": "0001-01-01T00:00:00+14:00"}),
        ("/inbox", {"date_to": "0001-01-01T00:00:00+14:00"}),
    ],
)
def test_times_outside_the_calendar_in_utc_are_a_422(inbox_api, path, params):
    client, _ = inbox_api
    r = client.get(path, params=params)
    assert r.status_code == 422 and "1-9999" in r.json()["error"]


@pytest.mark.parametrize("path", ["/inbox", "/inbox/incidents"])
def test_a_group_id_beyond_64_bits_is_a_422(inbox_api, path):
    client, _ = inbox_api  # found by make soak's schemathesis: SQLite's OverflowError was a 500
    assert client.get(path, params={"group_id": 2**70}).status_code == 422
    assert client.get(path, params={"group_id": 123456}).status_code == 200
