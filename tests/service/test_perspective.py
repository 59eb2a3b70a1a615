"""POST /v1alpha1/comments:analyze: Perspective's request and response shapes, its errors in Google's shape,
and the key as `?key=` (a real server and `doNotStore`: test_perspective_live.py).

The request/response pairs replay the structure of the examples in Perspective's public documentation
(developers.perspectiveapi.com "Methods", github.com/conversationai/perspectiveapi 2-api/methods.md and
limits.md, and the v1alpha1 discovery document): every field in place, our values differing.
"""

from __future__ import annotations

import json

import httpx
import pytest

from training.runtime.perspective import ERROR_DETAIL_TYPE, FLAG_ATTRIBUTES, attributes_for, utf16_offset
from training.runtime.taxonomy import default_taxonomy

PATH = "/v1alpha1/comments:analyze"
TAX = default_taxonomy()
PROFANE = "когда уже эту б**дскую дорогу сделают на Ленина 5"
INSULT = "Марина, ты дура, не пиши больше ничего"
POLITE = "Спасибо за работу! Двор стал чистым."
SCORE_KEYS = {"value", "type"}


def analyze(client, body: dict, **kw) -> httpx.Response:
    return client.post(PATH, json=body, **kw)


def request_for(text: str, *attributes: str, **fields) -> dict:
    return {"comment": {"text": text}, "requestedAttributes": {a: {} for a in attributes}, **fields}


def assert_google_error(r: httpx.Response, code: int, message: str, error_type: str | None = None) -> dict:
    """Google's error body exactly: {"error": {code, message, status, details?}} and nothing else."""
    assert r.status_code == code, r.text
    body = r.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == code and error["message"] == message, error
    assert error["status"] == {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 503: "UNAVAILABLE"}[code]
    if error_type is not None:
        assert error["details"][0]["@type"] == ERROR_DETAIL_TYPE and error["details"][0]["errorType"] == error_type
    return error


def assert_score(score: dict) -> float:
    assert set(score) == SCORE_KEYS and score["type"] == "PROBABILITY"
    assert 0.0 <= score["value"] <= 1.0
    return score["value"]


# ------------------------------------------------------------------------- documented examples
def test_methods_page_example_request_and_response(api, trained_model):
    """Methods page: a comment, `languages`, two attributes with `{}`; the answer has one summaryScore per
    attribute, the languages, no spans (not asked) and no clientToken (not sent)."""
    r = analyze(api, request_for(PROFANE, "TOXICITY", "PROFANITY", languages=["ru"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"attributeScores", "languages"}
    assert body["languages"] == ["ru"]
    assert set(body["attributeScores"]) == {"TOXICITY", "PROFANITY"}
    for entry in body["attributeScores"].values():
        assert set(entry) == {"summaryScore"}
        assert_score(entry["summaryScore"])
    [expected] = trained_model.classify([PROFANE])  # the same model path as /classify, not a re-implementation
    scores = body["attributeScores"]
    assert scores["PROFANITY"]["summaryScore"]["value"] == expected["scores"][TAX.lexicon_flag]
    toxicity = max(expected["scores"][f] for f in TAX.moderation_flags)
    assert scores["TOXICITY"]["summaryScore"]["value"] == toxicity
    assert toxicity > 0.5  # мат is toxic


def test_every_request_field_and_every_response_field(api):
    """The full AnalyzeCommentRequest of the docs (comment.type, context, scoreType, scoreThreshold, languages,
    spanAnnotations, doNotStore, clientToken, sessionId, communityId) and the full response."""
    body = {
        "comment": {"text": PROFANE, "type": "PLAIN_TEXT"},
        "context": {"entries": [{"text": "Пост администрации о ремонте дорог", "type": "PLAIN_TEXT"}]},
        "requestedAttributes": {
            "TOXICITY": {"scoreType": "PROBABILITY", "scoreThreshold": 0.0},
            "PROFANITY": {"scoreType": "PROBABILITY"},
            "INSULT": {},
            "DISRESPECT_AUTHORITY": {},
            "NO_QUESTION": {},
            "URGENT": {},
        },
        "languages": ["ru"],
        "spanAnnotations": True,
        "doNotStore": True,
        "clientToken": "comment-53922",
        "sessionId": "8d6f1c2a",
        "communityId": "/vk/club1",
    }
    r = analyze(api, body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert set(out) == {"attributeScores", "languages", "clientToken"}
    assert out["clientToken"] == "comment-53922" and out["languages"] == ["ru"]
    assert set(out["attributeScores"]) == set(body["requestedAttributes"])
    for name, entry in out["attributeScores"].items():
        assert set(entry) <= {"summaryScore", "spanScores"}, name
        assert_score(entry["summaryScore"])
    spans = out["attributeScores"]["PROFANITY"]["spanScores"]
    assert [PROFANE[s["begin"] : s["end"]] for s in spans] == ["б**дскую"]
    for span in spans:
        assert set(span) == {"begin", "end", "score"}
        assert_score(span["score"])
    toxicity_spans = {(s["begin"], s["end"]) for s in out["attributeScores"]["TOXICITY"]["spanScores"]}
    assert {(s["begin"], s["end"]) for s in spans} <= toxicity_spans  # TOXICITY shows every moderation span
    for name in ("NO_QUESTION", "URGENT"):
        assert "spanScores" not in out["attributeScores"][name]


def test_attribute_table_reads_the_taxonomy():
    table = attributes_for(TAX)
    assert set(table) == {"TOXICITY", "PROFANITY", "INSULT", "DISRESPECT_AUTHORITY", "NO_QUESTION", "URGENT"}
    assert set(FLAG_ATTRIBUTES.values()) <= set(TAX.flags)
    assert table["PROFANITY"].flags == (TAX.lexicon_flag,)
    assert table["NO_QUESTION"].flags == (TAX.no_question_flag,)
    assert set(table["TOXICITY"].flags) == set(TAX.moderation_flags) and len(TAX.moderation_flags) == 3


def test_scores_match_classify(api):
    """Every attribute is the /classify score it is mapped from (same model call, same rounding)."""
    r = analyze(api, request_for(INSULT, *attributes_for(TAX)))
    result = api.post("/classify", json={"comments": [{"text": INSULT}]}).json()["results"][0]
    scores = {k: v["summaryScore"]["value"] for k, v in r.json()["attributeScores"].items()}
    for name, flag in FLAG_ATTRIBUTES.items():
        assert scores[name] == result["scores"][flag], name
    assert scores["URGENT"] == result["urgent_score"]
    assert scores["TOXICITY"] == max(result["scores"][f] for f in TAX.moderation_flags)
    assert scores["INSULT"] > 0.5


# ------------------------------------------------------------------------- threshold, spans, token
def test_score_threshold_leaves_out_scores_below_it(api):
    r = analyze(
        api,
        {
            "comment": {"text": POLITE},
            "requestedAttributes": {"INSULT": {"scoreThreshold": 0.9}, "NO_QUESTION": {"scoreThreshold": 0.1}},
        },
    )
    assert r.status_code == 200, r.text
    scores = r.json()["attributeScores"]
    assert "INSULT" not in scores  # a polite comment's insult score is below 0.9: left out altogether
    assert scores["NO_QUESTION"]["summaryScore"]["value"] >= 0.1
    value = scores["NO_QUESTION"]["summaryScore"]["value"]
    assert value < 1.0

    def with_threshold(threshold: float) -> dict:
        body = {"comment": {"text": POLITE}, "requestedAttributes": {"NO_QUESTION": {"scoreThreshold": threshold}}}
        return analyze(api, body).json()["attributeScores"]

    assert with_threshold(value)["NO_QUESTION"]["summaryScore"]["value"] == value  # "below" is strict
    assert with_threshold(value + 0.0001) == {}


def test_span_annotations_only_when_asked_and_only_where_spans_exist(api):
    plain = analyze(api, request_for(PROFANE, "PROFANITY", "TOXICITY")).json()["attributeScores"]
    assert all("spanScores" not in e for e in plain.values())
    spans = analyze(api, request_for(PROFANE, "PROFANITY", spanAnnotations=True)).json()["attributeScores"]
    assert [PROFANE[s["begin"] : s["end"]] for s in spans["PROFANITY"]["spanScores"]] == ["б**дскую"]
    polite = analyze(api, request_for(POLITE, "PROFANITY", "TOXICITY", spanAnnotations=True)).json()
    assert all("spanScores" not in e for e in polite["attributeScores"].values())  # nothing to point at


def test_insult_spans_come_from_flagged_evidence(api):
    """An evidence item with `flag` is a span of that flag's attribute (and of TOXICITY), never of PROFANITY."""
    result = api.post("/classify", json={"comments": [{"text": INSULT}]}).json()["results"][0]
    insult_flag = FLAG_ATTRIBUTES["INSULT"]
    flagged = {(e["start"], e["end"]) for e in result["evidence"] if e.get("flag") == insult_flag}
    out = analyze(api, request_for(INSULT, "INSULT", "PROFANITY", "TOXICITY", spanAnnotations=True)).json()
    got = {(s["begin"], s["end"]) for s in out["attributeScores"]["INSULT"].get("spanScores", [])}
    assert got == flagged
    assert "spanScores" not in out["attributeScores"]["PROFANITY"]
    if flagged:
        toxicity = {(s["begin"], s["end"]) for s in out["attributeScores"]["TOXICITY"]["spanScores"]}
        assert flagged <= toxicity
        top = max(s["score"]["value"] for s in out["attributeScores"]["INSULT"]["spanScores"])
        assert top == out["attributeScores"]["INSULT"]["summaryScore"]["value"]  # strongest span = comment score


def test_span_offsets_count_utf16_code_units_as_perspective_does(api):
    """Discovery document: begin/end are "the UTF-16 codepoint range" (JavaScript string indexes). An emoji
    before the мат word shifts the offsets by one against Python's indexes."""
    text = "😀 бл*дь, опять яму не заделали"
    out = analyze(api, request_for(text, "PROFANITY", spanAnnotations=True)).json()
    [span] = out["attributeScores"]["PROFANITY"]["spanScores"]
    assert (span["begin"], span["end"]) == (3, 8)  # Python indexes of "бл*дь" are (2, 7)
    units = text.encode("utf-16-le")
    assert units[2 * span["begin"] : 2 * span["end"]].decode("utf-16-le") == "бл*дь"
    assert utf16_offset("абв", 2) == 2 and utf16_offset("😀😀а", 2) == 4


def test_client_token_is_echoed_as_sent(api):
    token = 'токен-№1 "в кавычках"'
    out = analyze(api, request_for(POLITE, "TOXICITY", clientToken=token)).json()
    assert out["clientToken"] == token
    assert "clientToken" not in analyze(api, request_for(POLITE, "TOXICITY")).json()


def test_proto_names_and_nulls_are_accepted(api):
    """Google's JSON parser takes the proto's snake_case names too, and null for "unset"."""
    body = {
        "comment": {"text": PROFANE, "type": None},
        "requested_attributes": {"PROFANITY": None, "TOXICITY": {"score_threshold": 0.0}},
        "span_annotations": True,
        "client_token": "t1",
        "languages": None,
        "do_not_store": None,
    }
    r = analyze(api, body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["clientToken"] == "t1" and set(out["attributeScores"]) == {"PROFANITY", "TOXICITY"}
    assert out["attributeScores"]["PROFANITY"]["spanScores"]


# ------------------------------------------------------------------------- languages
def test_languages_absent_means_russian(api):
    out = analyze(api, request_for(POLITE, "TOXICITY")).json()
    assert out["languages"] == ["ru"] and "detectedLanguages" not in out  # assumed, not detected
    assert analyze(api, request_for(POLITE, "TOXICITY", languages=[])).json()["languages"] == ["ru"]
    assert analyze(api, request_for(POLITE, "TOXICITY", languages=["ru-RU"])).json()["languages"] == ["ru-RU"]


@pytest.mark.parametrize("languages", [["en"], ["ru", "en"], ["de-DE"]])
def test_other_languages_get_perspectives_400(api, languages):
    r = analyze(api, request_for(POLITE, "TOXICITY", "INSULT", languages=languages))
    message = f"Attribute TOXICITY does not support request languages: {','.join(languages)}"
    error = assert_google_error(r, 400, message, "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE")
    assert error["details"] == [
        {
            "@type": ERROR_DETAIL_TYPE,
            "errorType": "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE",
            "languageNotSupportedByAttributeError": {"requestedLanguages": languages, "attribute": "TOXICITY"},
        }
    ]


def test_drop_unsupported_attributes_answers_without_them(api):
    r = analyze(api, request_for("hello", "TOXICITY", languages=["en"], dropUnsupportedAttributes=True))
    assert r.status_code == 200 and r.json() == {"attributeScores": {}, "languages": ["en"]}


# ------------------------------------------------------------------------- Perspective's 400s
@pytest.mark.parametrize(
    "body",
    [
        {"requestedAttributes": {"TOXICITY": {}}},
        {"comment": {}, "requestedAttributes": {"TOXICITY": {}}},
        {"comment": {"text": ""}, "requestedAttributes": {"TOXICITY": {}}},
        {"comment": {"text": " \n\t "}, "requestedAttributes": {"TOXICITY": {}}},
        {},
    ],
)
def test_missing_or_empty_text(api, body):
    assert_google_error(analyze(api, body), 400, "Comment must be non-empty.", "COMMENT_EMPTY")


def test_empty_body_is_an_empty_comment(api):
    r = api.post(PATH, content=b"", headers={"Content-Type": "application/json"})
    assert_google_error(r, 400, "Comment must be non-empty.", "COMMENT_EMPTY")


def test_text_over_max_text_chars(app_factory):
    client = app_factory(max_text_chars=40)
    ok = analyze(client, request_for("а" * 40, "TOXICITY"))
    assert ok.status_code == 200
    r = analyze(client, request_for("а" * 41, "TOXICITY"))
    assert_google_error(r, 400, "Comment text too long.", "COMMENT_TOO_LONG")


MISSING = "NO_REQUESTED_ATTRIBUTES"
INVALID = "INVALID_REQUEST"
TOXICITY_ONLY = {"TOXICITY": {}}


@pytest.mark.parametrize(
    ("body", "message", "error_type"),
    [
        (request_for(POLITE, "TOXICITY", "SEVERE_TOXICITY"), "Unknown requested attribute: SEVERE_TOXICITY", INVALID),
        (request_for(POLITE, "toxicity"), "Unknown requested attribute: toxicity", INVALID),
        ({"comment": {"text": POLITE}}, "Missing requested_attributes", MISSING),
        ({"comment": {"text": POLITE}, "requestedAttributes": {}}, "Missing requested_attributes", MISSING),
        (
            {"comment": {"text": POLITE}, "requestedAttributes": {"TOXICITY": {"scoreType": "STD_DEV_SCORE"}}},
            "Requested score type STD_DEV_SCORE is not supported by attribute TOXICITY",
            INVALID,
        ),
        (
            {"comment": {"text": POLITE, "type": "HTML"}, "requestedAttributes": TOXICITY_ONLY},
            "Currently, only 'PLAIN_TEXT' comments are supported",
            INVALID,
        ),
        (
            {"comment": {"text": POLITE, "type": "MARKDOWN"}, "requestedAttributes": TOXICITY_ONLY},
            "Unknown text type",
            INVALID,
        ),
    ],
)
def test_perspective_request_errors(api, body, message, error_type):
    assert_google_error(analyze(api, body), 400, message, error_type)


def test_unknown_field_and_wrong_types_in_googles_words(api):
    r = analyze(api, {**request_for(POLITE, "TOXICITY"), "comentText": "x"})
    error = assert_google_error(r, 400, 'Invalid JSON payload received. Unknown name "comentText": Cannot find field.')
    assert error["details"][0]["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    r = analyze(api, {"comment": {"text": 5}, "requestedAttributes": {"TOXICITY": {"scoreThreshold": "много"}}})
    error = assert_google_error(
        r,
        400,
        "Invalid value at 'comment.text' (TYPE_STRING)\n"
        "Invalid value at 'requestedAttributes[TOXICITY].scoreThreshold' (TYPE_FLOAT)",
    )
    assert [v["field"] for v in error["details"][0]["fieldViolations"]] == [
        "comment.text",
        "requestedAttributes[TOXICITY].scoreThreshold",
    ]
    assert "много" not in r.text  # the value is never echoed
    r = analyze(api, {**request_for(POLITE, "TOXICITY"), "spanAnnotations": "yes"})
    assert_google_error(r, 400, "Invalid value at 'spanAnnotations' (TYPE_BOOL)")


def test_lone_surrogate_is_a_400_with_its_position(api):
    raw = '{"comment": {"text": "ab\\ud800c"}, "requestedAttributes": {"TOXICITY": {}}}'
    r = api.post(PATH, content=raw.encode(), headers={"Content-Type": "application/json"})
    error = assert_google_error(
        r,
        400,
        "Invalid value at 'comment.text': text contains an invalid character (lone UTF-16 surrogate) at position 2",
    )
    assert error["details"][0]["fieldViolations"][0]["field"] == "comment.text"


@pytest.mark.parametrize(
    ("content", "content_type", "message"),
    [
        (b'{"comment": ', "application/json", "Invalid JSON payload received. Expecting value at position 12."),
        (b"[1, 2]", "application/json", "Invalid JSON payload received. Root element must be a message."),
        (b'"text"', "application/json", "Invalid JSON payload received. Root element must be a message."),
        (
            b"text=x",
            "application/x-www-form-urlencoded",
            "Invalid JSON payload received. Content-Type must be application/json.",
        ),
    ],
)
def test_bodies_that_are_not_a_json_object(api, content, content_type, message):
    r = api.post(PATH, content=content, headers={"Content-Type": content_type})
    assert_google_error(r, 400, message)


def test_global_error_shape_is_unchanged_elsewhere(api):
    """The Google shape is this route's only: /classify still answers the service's own 422."""
    r = api.post("/classify", json={"comments": []})
    assert r.status_code == 422 and isinstance(r.json()["error"], str)


def test_no_model_is_a_google_503(app_factory, tmp_path):
    client = app_factory(model_dir=tmp_path / "no-models")
    r = analyze(client, request_for(POLITE, "TOXICITY"))
    assert_google_error(r, 503, "model not loaded yet")


# ------------------------------------------------------------------------- route, key, OpenAPI
def test_colon_path_is_routed_exactly(api):
    assert analyze(api, request_for(POLITE, "TOXICITY")).status_code == 200
    encoded = api.post("/v1alpha1/comments%3Aanalyze", json=request_for(POLITE, "TOXICITY"))
    assert encoded.status_code == 200  # a client that percent-encodes the colon reaches the same route
    assert api.post("/v1alpha1/comments", json=request_for(POLITE, "TOXICITY")).status_code == 404
    assert api.post("/v1alpha1/comments:suggestscore", json={}).status_code == 404
    assert api.get(PATH).status_code == 405


def test_key_as_query_parameter_or_header(app_factory):
    client = app_factory(api_keys="k1, k2")
    body = request_for(POLITE, "TOXICITY")
    assert analyze(client, body).status_code == 401
    refused = client.post(f"{PATH}?key=wrong", json=body)
    assert refused.status_code == 401
    assert refused.json()["error"]["status"] == "UNAUTHENTICATED"  # Google's shape, as Perspective clients parse
    assert client.post(f"{PATH}?key=", json=body).status_code == 401
    assert analyze(client, body, headers={"X-API-Key": "wrong"}).status_code == 401
    assert client.post(f"{PATH}?key=k2", json=body).status_code == 200
    assert client.post(f"{PATH}?alt=json&key=k1", json=body).status_code == 200
    assert analyze(client, body, headers={"X-API-Key": "k1"}).status_code == 200
    # The query key opens this path only: /classify still wants the header.
    assert client.post("/classify?key=k1", json={"comments": [{"text": POLITE}]}).status_code == 401


def test_openapi_documents_the_route_with_russian_examples(api):
    spec = api.get("/openapi.json").json()
    op = spec["paths"][PATH]["post"]
    assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/AnalyzeCommentRequest")
    request_schema = spec["components"]["schemas"]["AnalyzeCommentRequest"]
    assert {"comment", "requestedAttributes", "languages", "spanAnnotations", "doNotStore", "clientToken"} <= set(
        request_schema["properties"]
    )
    assert "дорогу" in json.dumps(request_schema["examples"], ensure_ascii=False)
    assert {"200", "400", "401", "503"} <= set(op["responses"])
