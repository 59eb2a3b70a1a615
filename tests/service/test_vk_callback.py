"""POST /vk/callback with bodies shaped like VK's documented Callback API examples, through the app (TestClient) and
end to end through a real uvicorn with a real fake VK server for the auto-hide; and the VK API client."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from service.vk_client import VkClient
from tests.service.fake_vk import (
    DATE,
    DELETE_TYPES,
    GROUP_ID,
    NEW_TYPES,
    OWNER,
    FakeVk,
    comment_object,
    delete_object,
    event_id,
    vk_error,
    vk_event,
    wall_reply_delete,
)
from training.runtime.taxonomy import default_taxonomy

TAX = default_taxonomy()
SECRET = "vk-secret-42"
CONFIRMATION = "1a2b3c4d"
KEY = {"X-API-Key": "k1"}
INSULT = "[id123|Марина], вы дура совсем? Читать научитесь"
QUESTION = "[club123456|Администрация], когда отремонтируют дорогу на улице Ленина?"
FORM = "application/x-www-form-urlencoded"


def wait_for(fetch: Callable[[], Any], ok: Callable[[Any], bool], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if ok(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting; last value: {value}")
        time.sleep(0.05)


def items(client) -> list[dict[str, Any]]:
    r = client.get("/inbox?limit=200", headers=KEY)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def settled(client, n: int = 1) -> list[dict[str, Any]]:
    """The inbox once `n` rows exist and none is pending."""
    return wait_for(lambda: items(client), lambda xs: len(xs) >= n and all(x["status"] != "pending" for x in xs))


def post(client, body: Any) -> httpx.Response:
    return client.post("/vk/callback", json=body)


def counter(client, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f"{name}{{{wanted}}} "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.fixture
def vk(app_factory):
    return app_factory(vk_secret=SECRET, vk_confirmation=CONFIRMATION, api_keys="k1")


# --------------------------------------------------------------------------------------- the receiver
def test_confirmation_answers_the_configured_string(vk, app_factory):
    r = post(vk, {"type": "confirmation", "group_id": GROUP_ID})
    assert r.status_code == 200 and r.text == CONFIRMATION and r.headers["content-type"].startswith("text/plain")
    assert post(vk, {"type": "confirmation", "group_id": GROUP_ID, "secret": SECRET}).text == CONFIRMATION
    assert post(vk, {"type": "confirmation", "group_id": GROUP_ID, "secret": "wrong"}).status_code == 403
    unset = app_factory(vk_secret=SECRET)
    r = post(unset, {"type": "confirmation", "group_id": GROUP_ID})
    assert r.status_code == 403 and "VK_CONFIRMATION" in r.json()["error"]


@pytest.mark.parametrize("kind", list(NEW_TYPES))
def test_each_kind_of_comment_is_stored_and_classified(vk, kind):
    obj = comment_object(kind, 4321, QUESTION, object_id=777)
    r = post(vk, vk_event(NEW_TYPES[kind], obj, SECRET))
    assert r.status_code == 200 and r.text == "ok" and r.headers["content-type"].startswith("text/plain")
    [row] = settled(vk)
    assert (row["group_id"], row["kind"], row["owner_id"], row["object_id"], row["comment_id"]) == (
        GROUP_ID,
        kind,
        OWNER,
        777,
        4321,
    )
    assert row["from_id"] == 56789 and row["date"] == "2024-12-02T04:00:00+00:00" and row["text"] == QUESTION
    assert row["status"] == "classified" and row["model_version"] == vk.get("/version").json()["version"]
    assert row["category"] == TAX.categories[-1] and row["topic"] == "roads" and row["result"]["topic"] == "roads"
    assert row["last_event_type"] == NEW_TYPES[kind] and row["url"].startswith("https://vk.com/")


def test_a_retried_event_is_stored_once(vk):
    body = vk_event("wall_reply_new", comment_object("wall", 1, QUESTION), SECRET)
    results = []
    threads = [threading.Thread(target=lambda: results.append(post(vk, body))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.text for r in results] == ["ok"] * 4
    assert post(vk, body).text == "ok"
    assert len(settled(vk)) == 1
    assert counter(vk, "triage_vk_events_total", type="wall_reply_new", outcome="new") == 1
    assert counter(vk, "triage_vk_events_total", type="wall_reply_new", outcome="duplicate") == 4


def test_an_edit_is_reclassified_and_keeps_the_old_text(vk):
    post(vk, vk_event("wall_reply_new", comment_object("wall", 7, INSULT), SECRET))
    [row] = settled(vk)
    assert row["category"] == "insult_commenter" and row["action"] == TAX.category_actions["insult_commenter"]
    assert post(vk, vk_event("wall_reply_edit", comment_object("wall", 7, QUESTION), SECRET)).text == "ok"
    [row] = wait_for(lambda: items(vk), lambda xs: xs[0]["version"] == 2 and xs[0]["status"] == "classified")
    assert row["text"] == QUESTION and row["category"] == TAX.categories[-1] and row["edited_at"]
    [old] = vk.get(f"/inbox/{row['id']}", headers=KEY).json()["history"]
    assert old["old_text"] == INSULT and old["old_result"]["category"] == "insult_commenter"


def test_a_delete_marks_the_comment_deleted(vk):
    post(vk, vk_event("wall_reply_new", comment_object("wall", 9, QUESTION), SECRET))
    settled(vk)
    assert post(vk, vk_event("wall_reply_delete", wall_reply_delete(9, deleter_id=42), SECRET)).text == "ok"
    [row] = items(vk)
    assert row["deleted"] and row["deleter_id"] == 42 and row["text"] == QUESTION
    assert vk.get("/inbox?deleted=false", headers=KEY).json()["total"] == 0
    # A delete of a comment never stored is answered ok and changes nothing.
    assert post(vk, vk_event("wall_reply_delete", wall_reply_delete(10), SECRET)).text == "ok"
    assert len(items(vk)) == 1


def test_delete_and_restore_events_of_every_kind(vk):
    for n, kind in enumerate(NEW_TYPES):
        post(vk, vk_event(NEW_TYPES[kind], comment_object(kind, 600 + n, QUESTION), SECRET))
    settled(vk, len(NEW_TYPES))
    for n, kind in enumerate(NEW_TYPES):
        assert post(vk, vk_event(DELETE_TYPES[kind], delete_object(kind, 600 + n), SECRET)).text == "ok"
    rows = items(vk)
    assert sorted(r["kind"] for r in rows if r["deleted"]) == sorted(NEW_TYPES)
    restored = vk_event("wall_reply_restore", comment_object("wall", 600, QUESTION), SECRET)
    assert post(vk, restored).text == "ok"
    assert [r["kind"] for r in items(vk) if not r["deleted"]] == ["wall"]
    assert counter(vk, "triage_vk_events_total", type="board_post_delete", outcome="deleted") == 1


def test_unknown_event_types_get_ok_and_are_counted(vk):
    for type_, obj in [("group_join", {"user_id": 1, "join_type": "join"}), ("like_add", {"liker_id": 1})]:
        r = post(vk, vk_event(type_, obj, SECRET))
        assert r.status_code == 200 and r.text == "ok"
    assert post(vk, vk_event("group_join", {"user_id": 2, "join_type": "join"}, SECRET)).text == "ok"
    assert counter(vk, "triage_vk_events_total", type="group_join", outcome="unknown_type") == 2
    assert counter(vk, "triage_vk_events_total", type="like_add", outcome="unknown_type") == 1
    assert items(vk) == []


@pytest.mark.parametrize(
    "body, status, reason, message",
    [
        (vk_event("wall_reply_new", comment_object("wall", 1, QUESTION), "wrong"), 403, "bad_secret", "secret"),
        (
            {**vk_event("wall_reply_new", comment_object("wall", 1, QUESTION), SECRET), "secret": None},
            403,
            "bad_secret",
            "secret",
        ),
        (b"{not json", 400, "malformed", "malformed JSON"),
        ([1, 2], 400, "malformed", "invalid VK event"),
        ({"type": "wall_reply_new", "object": {}}, 400, "malformed", "group_id"),
        (
            vk_event("wall_reply_new", {"id": 1, "from_id": 2, "date": DATE, "text": "x"}, SECRET),
            400,
            "malformed",
            "object.post_id",
        ),
        (
            vk_event("photo_comment_new", {"id": "x", "date": DATE, "photo_id": 1, "photo_owner_id": 1}, SECRET),
            400,
            "malformed",
            "object.id",
        ),
        (  # beyond 64 bits: the database would overflow (a 500 before)
            vk_event("wall_reply_new", {**comment_object("wall", 1, QUESTION), "post_id": 2**70}, SECRET),
            400,
            "malformed",
            "object.post_id",
        ),
    ],
)
def test_refused_events_store_nothing(vk, body, status, reason, message):
    r = vk.post("/vk/callback", content=body) if isinstance(body, bytes) else post(vk, body)
    assert r.status_code == status and message in r.json()["error"], r.text
    assert counter(vk, "triage_vk_refused_total", reason=reason) == 1
    assert items(vk) == []


def test_without_a_secret_every_event_is_refused(app_factory):
    client = app_factory(vk_confirmation=CONFIRMATION)
    r = post(client, vk_event("wall_reply_new", comment_object("wall", 1, QUESTION), ""))
    assert r.status_code == 403 and "VK_SECRET is not set" in r.json()["error"]
    assert post(client, {"type": "confirmation", "group_id": GROUP_ID}).text == CONFIRMATION


def test_a_database_that_cannot_store_gets_503_not_500(trained_model_dir, tmp_path):
    (tmp_path / "a-file").write_text("")
    url = f"sqlite:///{tmp_path / 'a-file' / 'inbox.db'}"  # its directory is a file: cannot be opened
    app = create_app(Settings(model_dir=trained_model_dir, database_url=url, vk_secret=SECRET))
    with TestClient(app, raise_server_exceptions=False) as client:
        r = post(client, vk_event("wall_reply_new", comment_object("wall", 1, QUESTION), SECRET))
        assert r.status_code == 503 and "VK will retry" in r.json()["error"]
        assert client.get("/inbox").status_code == 503


def test_without_a_model_rows_wait_then_are_classified(app_factory, trained_model_dir, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    client = app_factory(model_dir=models, vk_secret=SECRET, api_keys="k1")
    assert client.get("/ready").status_code == 503
    assert post(client, vk_event("wall_reply_new", comment_object("wall", 3, QUESTION), SECRET)).text == "ok"
    time.sleep(0.5)
    assert [r["status"] for r in items(client)] == ["pending"]
    # The bundle appears; the serving pointer's watcher loads it and the worker classifies the waiting row.
    shutil.copytree(trained_model_dir, models, dirs_exist_ok=True)
    [row] = wait_for(lambda: items(client), lambda xs: xs[0]["status"] == "classified", timeout=60)
    assert row["topic"] == "roads" and row["model_version"]


def test_comment_texts_are_not_logged(vk, caplog, capfd):
    secret_text = "Уникальный текст жалобы про подъезд номер 4242"
    with caplog.at_level("DEBUG"):
        post(vk, vk_event("wall_reply_new", comment_object("wall", 5, secret_text), SECRET))
        settled(vk)
        post(vk, vk_event("wall_reply_edit", comment_object("wall", 5, secret_text + "!"), SECRET))
        wait_for(lambda: items(vk), lambda xs: xs[0]["version"] == 2 and xs[0]["status"] == "classified")
    out, err = capfd.readouterr()
    assert "vk_event" in err or any("vk_event" in r.getMessage() for r in caplog.records)
    assert "4242" not in caplog.text and "4242" not in out and "4242" not in err


# --------------------------------------------------------------------------------------- auto-hide
@pytest.fixture
def fake_vk():
    with FakeVk() as fake:
        yield fake


@pytest.fixture
def hiding(app_factory, fake_vk):
    """Auto-hide on, against the fake VK, with a short backoff (the client the worker uses)."""
    client = app_factory(
        vk_secret=SECRET,
        api_keys="k1",
        vk_access_token="community-token",
        vk_auto_hide=True,
        vk_api_base_url=fake_vk.base_url,
    )
    client.app.state.vk_client = VkClient(
        fake_vk.base_url, "community-token", "5.199", max_attempts=4, backoff_seconds=0.01
    )
    return client


def hidden_row(client) -> dict[str, Any]:
    return wait_for(
        lambda: items(client), lambda xs: bool(xs) and (xs[0]["hide"] or {}).get("status") in {"hidden", "failed"}
    )[0]


def test_a_moderated_comment_is_deleted_after_rate_limit_retries(hiding, fake_vk):
    fake_vk.rate_limit("wall.deleteComment", 2)
    assert post(hiding, vk_event("wall_reply_new", comment_object("wall", 77, INSULT), SECRET)).text == "ok"
    row = hidden_row(hiding)
    assert row["action"] in {TAX.category_actions[f] for f in TAX.moderation_flags}
    assert row["hide"]["status"] == "hidden" and row["hide"]["attempts"] == 3
    assert row["hide"]["method"] == "wall.deleteComment" and row["hide"]["answer"] == {"response": 1}
    calls = fake_vk.calls_of("wall.deleteComment")
    assert len(calls) == 3 and all(c.http_method == "POST" and c.content_type == FORM for c in calls)
    assert calls[-1].params == {
        "owner_id": str(OWNER),
        "comment_id": "77",
        "access_token": "community-token",
        "v": "5.199",
    }


def test_a_final_vk_error_is_stored_and_the_comment_kept(hiding, fake_vk):
    fake_vk.queue("wall.deleteComment", vk_error(15, "Access denied", "wall.deleteComment"))
    post(hiding, vk_event("wall_reply_new", comment_object("wall", 78, INSULT), SECRET))
    row = hidden_row(hiding)
    assert row["hide"]["status"] == "failed" and row["hide"]["attempts"] == 1
    assert row["hide"]["answer"]["error"]["error_code"] == 15
    assert "community-token" not in json.dumps(row)  # VK echoes the parameters; the token is not kept
    assert row["text"] == INSULT and row["status"] == "classified" and not row["deleted"]
    assert len(fake_vk.calls_of("wall.deleteComment")) == 1


def test_retries_are_bounded(hiding, fake_vk):
    fake_vk.rate_limit("wall.deleteComment", 10)
    post(hiding, vk_event("wall_reply_new", comment_object("wall", 79, INSULT), SECRET))
    row = hidden_row(hiding)
    assert row["hide"]["status"] == "failed" and row["hide"]["attempts"] == 4
    assert row["hide"]["answer"]["error"]["error_code"] == 6 and len(fake_vk.calls_of("wall.deleteComment")) == 4


@pytest.mark.parametrize(
    "kind, method, params",
    [
        ("photo", "photos.deleteComment", {"owner_id": str(OWNER), "comment_id": "81"}),
        ("video", "video.deleteComment", {"owner_id": str(OWNER), "comment_id": "81"}),
        ("board", "board.deleteComment", {"group_id": str(GROUP_ID), "topic_id": "321", "comment_id": "81"}),
        ("market", "market.deleteComment", {"owner_id": str(OWNER), "comment_id": "81"}),
    ],
)
def test_each_kind_is_deleted_with_its_own_method(hiding, fake_vk, kind, method, params):
    fake_vk.queue(method, {"http_status": 500})  # a server error is retried too
    post(hiding, vk_event(NEW_TYPES[kind], comment_object(kind, 81, INSULT), SECRET))
    assert hidden_row(hiding)["hide"]["status"] == "hidden"
    calls = fake_vk.calls_of(method)
    assert len(calls) == 2 and {k: calls[-1].params[k] for k in params} == params


DISRESPECT = "[club123456|Администрация], вы воры и бездельники, ничего не делаете"


def test_criticism_of_the_authorities_is_left_to_a_human_unless_its_flag_is_listed(hiding, fake_vk, app_factory):
    post(hiding, vk_event("wall_reply_new", comment_object("wall", 92, DISRESPECT), SECRET))
    [row] = settled(hiding)
    assert row["category"] == "disrespect_authority" and row["action"] in {TAX.category_actions["disrespect_authority"]}
    assert row["hide"] is None and fake_vk.calls == []  # flagged for the moderators, not deleted
    # Listed explicitly (VK_AUTO_HIDE_FLAGS), the same kind of comment is deleted.
    listed = app_factory(
        vk_secret=SECRET,
        api_keys="k1",
        vk_access_token="community-token",
        vk_auto_hide=True,
        vk_auto_hide_flags="profanity,insult_commenter,disrespect_authority",
        vk_api_base_url=fake_vk.base_url,
    )
    listed.app.state.vk_client = VkClient(fake_vk.base_url, "community-token", "5.199", backoff_seconds=0.01)
    post(listed, vk_event("wall_reply_new", comment_object("wall", 93, DISRESPECT), SECRET))
    row = wait_for(lambda: [r for r in items(listed) if r["comment_id"] == 93], lambda xs: bool(xs and xs[0]["hide"]))
    assert row[0]["hide"]["status"] in {"due", "pending", "hidden"}
    wait_for(lambda: fake_vk.calls_of("wall.deleteComment"), lambda calls: len(calls) == 1)


@pytest.mark.parametrize("flags", ["rude", "profanity, no_question"])
def test_an_unknown_auto_hide_flag_is_a_clear_settings_error(flags):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="is not a moderation flag; choose from profanity"):
        Settings(vk_auto_hide_flags=flags)
    assert Settings(vk_auto_hide_flags=" insult_commenter , profanity").auto_hide_flags == {
        "insult_commenter",
        "profanity",
    }


def test_only_moderated_comments_and_only_when_enabled(hiding, fake_vk, app_factory):
    post(hiding, vk_event("wall_reply_new", comment_object("wall", 90, QUESTION), SECRET))
    [row] = settled(hiding)
    assert row["hide"] is None and fake_vk.calls == []
    # The same database (app_factory's), auto-hide off: a token alone hides nothing.
    off = app_factory(vk_secret=SECRET, api_keys="k1", vk_access_token="t", vk_api_base_url=fake_vk.base_url)
    post(off, vk_event("wall_reply_new", comment_object("wall", 91, INSULT), SECRET))
    [row] = [r for r in settled(off, 2) if r["comment_id"] == 91]
    assert row["category"] == "insult_commenter" and row["hide"] is None and fake_vk.calls == []


def test_a_hide_left_due_by_a_restart_is_done_by_the_next_drain(hiding, fake_vk):
    """A process died after storing a moderation result and before calling VK: the next drain hides it."""
    from service.vk_worker import inbox_store
    from training.runtime.inbox.records import CommentRef, IncomingComment

    store = inbox_store(hiding.app)
    ref = CommentRef(GROUP_ID, "wall", OWNER, 321, 95)
    incoming = IncomingComment(ref, 555, datetime.fromtimestamp(DATE, UTC), INSULT)
    rec = store.record_comment(incoming, "wall_reply_new", "before-restart")
    moderated = {"category": "insult_commenter", "action": TAX.category_actions["insult_commenter"], "urgent": False}
    assert store.save_result(rec.inbox_id, 1, moderated, "m0", hide=True)
    assert fake_vk.calls_of("wall.deleteComment") == []
    post(hiding, vk_event("wall_reply_new", comment_object("wall", 96, QUESTION), SECRET))  # wakes the worker
    row = wait_for(lambda: store.get(rec.inbox_id), lambda r: (r["hide"] or {}).get("status") == "hidden")
    assert row["hide"]["method"] == "wall.deleteComment"
    [call] = fake_vk.calls_of("wall.deleteComment")
    assert call.params["comment_id"] == "95"
    assert [r["hide"] for r in settled(hiding, 2) if r["comment_id"] == 96] == [None]  # the question stays


def test_a_delete_that_comes_first_is_applied_and_nothing_is_hidden(hiding, fake_vk):
    assert post(hiding, vk_event("wall_reply_delete", wall_reply_delete(97, deleter_id=7), SECRET)).text == "ok"
    assert post(hiding, vk_event("wall_reply_new", comment_object("wall", 97, INSULT), SECRET)).text == "ok"
    [row] = settled(hiding)
    assert row["deleted"] and row["deleter_id"] == 7 and row["category"] == "insult_commenter"
    assert row["hide"] is None and fake_vk.calls_of("wall.deleteComment") == []  # VK has deleted it already


# --------------------------------------------------------------------------------------- the client alone
def test_client_backoff_and_transport_errors(fake_vk):
    slept: list[float] = []
    client = VkClient(
        fake_vk.base_url, "t", "5.199", max_attempts=5, backoff_seconds=0.5, max_backoff_seconds=1.5, sleep=slept.append
    )
    fake_vk.rate_limit("wall.deleteComment", 3)
    answer = client.call("wall.deleteComment", {"owner_id": -1, "comment_id": 2})
    assert answer.ok and answer.attempts == 4 and slept == [0.5, 1.0, 1.5]
    closed = VkClient("http://127.0.0.1:9/method", "t", "5.199", max_attempts=2, sleep=slept.append)
    answer = closed.call("wall.deleteComment", {"owner_id": -1, "comment_id": 2})
    assert not answer.ok and answer.attempts == 2 and "transport" in answer.body["error"]
    with pytest.raises(ValueError):
        client.call("../admin", {})


# --------------------------------------------------------------------------------------- end to end
def test_vk_event_trip_through_uvicorn(trained_model_dir, tmp_path, service_process, fake_vk):
    """VK → /vk/callback → "ok" → inbox row → GET /inbox → VK got wall.deleteComment (after one rate limit)."""
    fake_vk.rate_limit("wall.deleteComment", 1)
    env = {
        "MODEL_DIR": str(trained_model_dir),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'triage.db'}",
        "API_KEYS": "k1",
        "VK_SECRET": SECRET,
        "VK_CONFIRMATION": CONFIRMATION,
        "VK_ACCESS_TOKEN": "community-token",
        "VK_AUTO_HIDE": "1",
        "VK_API_BASE_URL": fake_vk.base_url,
        "LOG_LEVEL": "info",
    }
    trip: list[dict[str, Any]] = []
    with service_process(env, tmp_path / "server.log", ready_timeout=180) as base:
        r = httpx.post(f"{base}/vk/callback", json={"type": "confirmation", "group_id": GROUP_ID}, timeout=10)
        assert r.text == CONFIRMATION
        trip.append({"request": "POST /vk/callback confirmation", "status": r.status_code, "answer": r.text})
        body = vk_event("wall_reply_new", comment_object("wall", 501, INSULT), SECRET, eid=event_id())
        started = time.perf_counter()
        r = httpx.post(f"{base}/vk/callback", json=body, timeout=10)
        took = time.perf_counter() - started
        assert r.status_code == 200 and r.text == "ok" and took < 2.0
        trip.append(
            {
                "request": "POST /vk/callback",
                "body": body,
                "status": r.status_code,
                "answer": r.text,
                "seconds": round(took, 3),
            }
        )
        assert httpx.post(f"{base}/vk/callback", json=body, timeout=10).text == "ok"  # VK's retry
        assert httpx.get(f"{base}/inbox", timeout=10).status_code == 401

        def inbox() -> dict[str, Any]:
            return httpx.get(f"{base}/inbox", headers=KEY, timeout=10).json()

        page = wait_for(inbox, lambda p: p["items"] and (p["items"][0]["hide"] or {}).get("status") == "hidden")
        assert page["total"] == 1
        row = page["items"][0]
        assert row["text"] == INSULT and row["category"] == "insult_commenter" and row["hide"]["attempts"] == 2
        trip.append({"request": "GET /inbox", "answer": page})
        calls = fake_vk.calls_of("wall.deleteComment")
        assert len(calls) == 2 and calls[-1].params["comment_id"] == "501" and calls[-1].content_type == FORM
        trip.append({"vk_calls": [{"method": c.method, "params": {**c.params, "access_token": "…"}} for c in calls]})
        # VK then reports the deletion it made.
        r = httpx.post(f"{base}/vk/callback", json=vk_event("wall_reply_delete", wall_reply_delete(501), SECRET))
        assert r.text == "ok"
        assert inbox()["items"][0]["deleted"] is True
        metrics = httpx.get(f"{base}/metrics", timeout=10).text
        assert 'triage_vk_events_total{outcome="duplicate",type="wall_reply_new"} 1.0' in metrics
        assert 'triage_vk_auto_hide_total{outcome="hidden"} 1.0' in metrics
    log = (tmp_path / "server.log").read_text()
    assert "Марина" not in log and "дура" not in log  # texts never logged
    out = tmp_path / "trip.json"
    out.write_text(json.dumps(trip, ensure_ascii=False, indent=1))
    print(f"trip: {out}")
