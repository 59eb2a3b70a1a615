"""POST /classify: the SPEC.md contract, the API key, request ids and what the access log may contain."""

from __future__ import annotations

import json
import logging

from service.logging_setup import ACCESS_LOGGER
from training.runtime.taxonomy import ACTIONABLE, default_taxonomy

TAX = default_taxonomy()
PROFANE = "когда уже эту б**дскую дорогу сделают на Ленина 5"
ROADS_TEXT = "Третий месяц яма на дороге у дома 12 по Садовой, когда заделают?"


def test_contract_order_ids_and_fields(api, trained_model):
    comments = [{"id": "c1", "text": ROADS_TEXT}, {"text": "Спасибо за работу!"}, {"id": "c3", "text": PROFANE}]
    r = api.post("/classify", json={"comments": comments})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model_version"] == api.get("/version").json()["version"]
    results = body["results"]
    assert [x["id"] for x in results] == ["c1", None, "c3"]
    expected = trained_model.classify([c["text"] for c in comments])  # the service must not re-implement
    for res, exp, comment in zip(results, expected, comments, strict=True):
        assert set(res["flags"]) == set(TAX.flags) and set(res["scores"]) == set(TAX.flags)
        assert set(res["topic_scores"]) == set(TAX.topic_ids)
        assert all(0.0 <= s <= 1.0 for s in [*res["scores"].values(), *res["topic_scores"].values()])
        assert 0.0 <= res["urgent_score"] <= 1.0
        assert res["route"] == TAX.route_for(res["topic"])
        for key in ("category", "action", "flags", "topic", "urgent", "route", "evidence"):
            assert res[key] == exp[key], key
        for span in res["evidence"]:
            assert comment["text"][span["start"] : span["end"]] == span["text"]
    assert results[0]["category"] == ACTIONABLE and results[0]["topic"] is not None
    assert results[1]["category"] == TAX.no_question_flag and results[1]["topic"] is None


def test_disguised_profanity_has_flag_and_evidence(api):
    r = api.post("/classify", json={"comments": [{"id": "x", "text": PROFANE}]})
    res = r.json()["results"][0]
    assert res["flags"][TAX.lexicon_flag] is True
    assert res["category"] == TAX.lexicon_flag
    assert [e["text"] for e in res["evidence"] if e["flag"] == TAX.lexicon_flag] == ["б**дскую"]


def test_batch_order_matches_direct_model_call(api, trained_model, corpus):
    texts = corpus[corpus["split"] == "test"]["text"].head(40).tolist()
    r = api.post("/classify", json={"comments": [{"id": f"t{i}", "text": t} for i, t in enumerate(texts)]})
    assert r.status_code == 200
    got = r.json()["results"]
    assert [x["id"] for x in got] == [f"t{i}" for i in range(len(texts))]
    direct = trained_model.classify(texts)
    assert [x["category"] for x in got] == [d["category"] for d in direct]
    assert [x["topic"] for x in got] == [d["topic"] for d in direct]


def test_batch_at_the_limit_is_accepted(app_factory):
    client = app_factory(max_batch=3)
    r = client.post("/classify", json={"comments": [{"text": ROADS_TEXT}] * 3})
    assert r.status_code == 200 and len(r.json()["results"]) == 3


def test_api_key_required_when_keys_are_set(app_factory):
    client = app_factory(api_keys="k1, k2")
    body = {"comments": [{"text": ROADS_TEXT}]}
    assert client.post("/classify", json=body).status_code == 401
    r = client.post("/classify", json=body, headers={"X-API-Key": "wrong"})
    assert r.status_code == 401 and "X-API-Key" in r.json()["error"]
    assert client.post("/classify", json=body, headers={"X-API-Key": "k2"}).status_code == 200
    # A non-ASCII key (UTF-8 in the header) is compared as bytes: 401 when wrong, never a 500.
    wrong = client.post("/classify", json=body, headers={"X-API-Key": "ключ".encode()})
    assert wrong.status_code == 401
    russian = app_factory(api_keys="k1,ключ")
    assert russian.post("/classify", json=body, headers={"X-API-Key": "ключ".encode()}).status_code == 200
    for path in ("/health", "/ready", "/metrics"):
        assert client.get(path).status_code == 200, path


def test_request_id_is_returned_and_passed_through(api):
    r = api.post("/classify", json={"comments": [{"text": ROADS_TEXT}]})
    assert len(r.headers["x-request-id"]) >= 16
    r = api.get("/health", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    r = api.get("/health", headers={"X-Request-ID": "bad id\twith junk"})  # not echoed verbatim
    assert r.headers["x-request-id"] != "bad id\twith junk"


def _access_lines(caplog) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == ACCESS_LOGGER]


def test_access_log_is_json_without_texts_by_default(api, caplog):
    secret = "Моя соседка Иванова Мария Петровна с Ленина 7 опять не платит"
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        r = api.post("/classify", json={"comments": [{"text": secret}, {"text": ROADS_TEXT}]})
    assert r.status_code == 200
    assert secret not in caplog.text and "Иванова" not in caplog.text
    lines = _access_lines(caplog)
    line = next(x for x in lines if x["path"] == "/classify")
    assert line["request_id"] == r.headers["x-request-id"]
    assert line["method"] == "POST" and line["status"] == 200 and line["n_comments"] == 2
    assert line["latency_ms"] > 0 and "texts" not in line


def test_access_log_has_texts_only_with_log_texts(app_factory, caplog):
    client = app_factory(log_texts=True)
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        client.post("/classify", json={"comments": [{"text": ROADS_TEXT}]})
    line = next(x for x in _access_lines(caplog) if x["path"] == "/classify")
    assert line["texts"] == [ROADS_TEXT]
