"""Bad input: one test per case, each a JSON 4xx that says what is wrong; never a 500 or a traceback."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

ROADS_TEXT = "Третий месяц яма на дороге у дома 12 по Садовой, когда заделают?"
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def small(trained_model_dir, tmp_path_factory):
    """Small limits so that each limit can be crossed cheaply."""
    from service.app import create_app
    from service.settings import Settings

    tmp = tmp_path_factory.mktemp("errors")
    app = create_app(
        Settings(
            model_dir=trained_model_dir,
            max_batch=3,
            max_text_chars=100,
            max_body_bytes=4096,
            database_url=f"sqlite:///{tmp / 'fb.db'}",
        )
    )
    with TestClient(app) as c:
        yield c


def check(r, status: int, *needles: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert isinstance(body["error"], str) and body["error"]
    assert "Traceback" not in r.text
    text = r.text
    for needle in needles:
        assert needle in text, (needle, text)
    return body


def detail_for(body: dict, field: str) -> dict:
    return next(d for d in body["details"] if d["field"] == field)


def test_empty_comment_list(small):
    body = check(small.post("/classify", json={"comments": []}), 422)
    assert detail_for(body, "comments")["type"] == "too_short"


def test_too_many_comments(small):
    body = check(small.post("/classify", json={"comments": [{"text": ROADS_TEXT}] * 4}), 422, "limit is 3")
    assert detail_for(body, "comments")["message"].startswith("too many comments")


def test_text_not_a_string(small):
    body = check(small.post("/classify", json={"comments": [{"text": ROADS_TEXT}, {"text": 42}]}), 422)
    d = detail_for(body, "comments[1].text")
    assert d["index"] == 1 and d["type"] == "string_type"


def test_null_text(small):
    body = check(small.post("/classify", json={"comments": [{"text": None}]}), 422)
    assert detail_for(body, "comments[0].text")["index"] == 0


def test_empty_text(small):
    body = check(small.post("/classify", json={"comments": [{"text": ROADS_TEXT}, {"text": ""}]}), 422)
    assert "empty" in detail_for(body, "comments[1].text")["message"]


def test_whitespace_only_text(small):
    body = check(small.post("/classify", json={"comments": [{"text": " \n\t "}]}), 422)
    assert "whitespace" in detail_for(body, "comments[0].text")["message"]


def test_text_over_the_length_limit(small):
    body = check(small.post("/classify", json={"comments": [{"text": ROADS_TEXT}, {"text": "я" * 101}]}), 422)
    d = detail_for(body, "comments[1].text")
    assert d["index"] == 1 and "limit is 100" in d["message"]


def test_malformed_json(small):
    body = check(small.post("/classify", content=b'{"comments": [{"text": "a"}', headers=JSON), 400)
    assert body["error"].startswith("malformed JSON")


def test_wrong_content_type_is_415(small):
    r = small.post("/classify", content=b'{"comments": [{"text": "a"}]}', headers={"content-type": "text/plain"})
    check(r, 415, "application/json")
    check(small.post("/classify", data={"comments": "x"}), 415)  # a form post


def test_wrong_field_types(small):
    body = check(small.post("/classify", json={"comments": "Третий день не вывозят мусор"}), 422)
    assert detail_for(body, "comments")["type"] == "list_type"
    body = check(small.post("/classify", json={"comments": [{"id": 7, "text": ROADS_TEXT}]}), 422)
    assert detail_for(body, "comments[0].id")["index"] == 0
    body = check(small.post("/classify", json={"comments": ["просто строка"]}), 422)
    assert detail_for(body, "comments[0]")["index"] == 0


def test_body_not_an_object(small):
    check(small.post("/classify", json=[{"text": ROADS_TEXT}]), 422, "JSON object")


def test_missing_comments(small):
    body = check(small.post("/classify", json={"texts": [ROADS_TEXT]}), 422)
    assert detail_for(body, "comments")["type"] == "missing"


def test_non_utf8_bytes(small):
    raw = '{"comments": [{"text": "дорога"}]}'.encode("cp1251")
    check(small.post("/classify", content=raw, headers=JSON), 400, "UTF-8")


def test_body_over_limit_by_content_length(small):
    big = {"comments": [{"text": "я" * 90}] * 40}  # ~7 KB > 4096 bytes
    check(small.post("/classify", json=big), 413, "4096")


def test_body_over_limit_when_streamed_without_length(small):
    def chunks():
        yield b'{"comments": [{"text": "'
        for _ in range(10):
            yield b"a" * 1000
        yield b'"}]}'

    r = small.post("/classify", content=chunks(), headers=JSON)  # chunked: no Content-Length
    check(r, 413, "too large")


def test_wrong_method_and_unknown_path(small):
    check(small.get("/classify"), 405)
    check(small.get("/no-such-endpoint"), 404)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"null",
        b"0",
        b'"x"',
        b"[]",
        b"{}",
        b'{"comments": null}',
        b'{"comments": [null]}',
        b'{"comments": [{}]}',
        b'{"comments": [[]]}',
        b'{"comments": [{"text": {"a": 1}}]}',
        b"\xef\xbb\xbf{}",
        b"{" * 5000,
    ],
)
def test_garbage_bodies_are_4xx(small, raw):
    r = small.post("/classify", content=raw, headers=JSON)
    assert 400 <= r.status_code < 500, (raw[:40], r.status_code, r.text)
    assert r.json()["error"] and "Traceback" not in r.text


def test_unhandled_exception_is_json_500_without_traceback(app_factory):
    client = app_factory(raise_server_exceptions=False)

    def explode() -> None:
        raise RuntimeError("secret internal detail")

    client.app.add_api_route("/explode", explode)
    r = client.get("/explode")
    assert r.status_code == 500
    assert r.json()["error"] == "internal server error"
    assert "secret internal detail" not in r.text and "Traceback" not in r.text
    assert r.json()["request_id"] == r.headers["x-request-id"]


# D4: JSON may spell half of a UTF-16 pair ("\ud800"); the decoded text could not be encoded further on (a 500).
LONE_SURROGATE = "lone UTF-16 surrogate"


def test_lone_surrogate_in_a_classify_text_is_422_naming_field_and_index(small):
    raw = b'{"comments": [{"text": "\xd1\x8f\xd0\xbc\xd0\xb0"}, {"text": "x\\ud800"}]}'
    body = check(small.post("/classify", content=raw, headers=JSON), 422, LONE_SURROGATE)
    d = detail_for(body, "comments[1].text")
    assert d["index"] == 1 and d["type"] == "value_error"
    assert d["message"] == "text contains an invalid character (lone UTF-16 surrogate) at position 1"


def test_lone_surrogate_in_an_analytics_text_is_422(small):
    raw = b'{"comments": [{"text": "\\udfff \xd1\x8f\xd0\xbc\xd0\xb0", "timestamp": "2025-02-01"}]}'
    body = check(small.post("/analytics", content=raw, headers=JSON), 422, LONE_SURROGATE)
    assert detail_for(body, "comments[0].text")["message"].endswith("at position 0")


def test_lone_surrogate_in_a_feedback_text_is_422(small):
    from training.runtime.taxonomy import default_taxonomy

    tax = default_taxonomy()
    labels = ", ".join(f'"{f}": 0' for f in tax.flags)
    raw = (
        '{"id": "s1", "text": "  \\ud800 \\u044f\\u043c\\u0430", '
        + labels
        + f', "topic": "{tax.topic_ids[0]}", "{tax.urgent}": 0, "moderator": "m"}}'
    ).encode()
    body = check(small.post("/feedback", content=raw, headers=JSON), 422, LONE_SURROGATE)
    # The position in the text as sent, before the surrounding blanks are stripped.
    assert detail_for(body, "text")["message"].endswith("at position 2")
