"""Evidence for every moderation flag: spans of the original text, the flag each supports, what it weighs.

The pure helpers (page segments, the CSV cell) run without a model; the rest use the session's trained model
and real comments of data/comments.csv.
"""

from __future__ import annotations

import copy
import random
import re
import time

import numpy as np
import pytest

from service.schemas import ClassifyResponse, EvidenceSpan
from training.runtime.batch import result_row
from training.runtime.evidence_spans import (
    EVIDENCE_MAX_SPANS,
    EVIDENCE_MIN_SHARE,
    EVIDENCE_MIN_WEIGHT,
    LEXICON_WEIGHT,
    segments_by_flag,
)
from training.runtime.fast_pipeline import pipeline_matrix
from training.runtime.model import EVIDENCE_MIN_SCORE
from training.runtime.taxonomy import default_taxonomy
from training.runtime.text.normalize import normalize_with_offsets

TAX = default_taxonomy()
LEX = TAX.lexicon_flag
MODEL_FLAGS = [f for f in TAX.moderation_flags if f != LEX]
PROFANE = "когда уже эту б**дскую дорогу сделают на Ленина 5"
ITEM_KEYS = {"start", "end", "text", "flag", "weight"}


# --- the page's segments and the CSV cell (no model) --------------------------------------------------------


def test_segments_cover_the_text_and_mark_each_flag() -> None:
    text = "Олег, ты клоун и б**дский урод"
    evidence = [
        {"start": 6, "end": 14, "flag": MODEL_FLAGS[0]},  # "ты клоун"
        {"start": 17, "end": 25, "flag": LEX},  # "б**дский"
    ]
    segments = segments_by_flag(text, evidence)
    assert "".join(piece for piece, _ in segments) == text
    assert segments == [
        ("Олег, ", None),
        ("ты клоун", MODEL_FLAGS[0]),
        (" и ", None),
        ("б**дский", LEX),
        (" урод", None),
    ]


def test_segments_overlap_goes_to_the_flag_first_in_precedence() -> None:
    text = "ты б**дский клоун"
    first, second = TAX.precedence[0], TAX.precedence[1]
    evidence = [{"start": 0, "end": 17, "flag": second}, {"start": 3, "end": 11, "flag": first}]
    assert segments_by_flag(text, evidence) == [("ты ", second), ("б**дский", first), (" клоун", second)]
    # The same spans in the other order, and a precedence given by the caller.
    assert segments_by_flag(text, evidence[::-1], precedence=[second, first]) == [(text, second)]


def test_segments_ignore_empty_and_out_of_range_spans() -> None:
    text = "Спасибо за работу"
    evidence = [{"start": 5, "end": 5, "flag": LEX}, {"start": -3, "end": 2, "flag": LEX}, {"start": 15, "end": 99}]
    assert segments_by_flag(text, evidence) == [("Сп", LEX), ("асибо за работу", None)]
    assert segments_by_flag(text, []) == [(text, None)]
    assert segments_by_flag("", [{"start": 0, "end": 3, "flag": LEX}]) == []


def test_result_row_names_the_flag_of_each_evidence_item() -> None:
    result = {
        "category": LEX,
        "action": TAX.category_actions[LEX],
        "flags": {f: f in (LEX, MODEL_FLAGS[0]) for f in TAX.flags},
        "scores": {f: 0.5 for f in TAX.flags},
        "topic": None,
        "topic_scores": {},
        "route": None,
        "urgent": False,
        "urgent_score": 0.1,
        "evidence": [
            {"start": 0, "end": 5, "text": "бл@ть", "flag": LEX, "weight": 1.0},
            {"start": 7, "end": 15, "text": "ты клоун", "flag": MODEL_FLAGS[0], "weight": 3.2},
        ],
    }
    row = result_row(result, TAX.flags, TAX.urgent)
    assert row["evidence"] == f"{LEX}:бл@ть|{MODEL_FLAGS[0]}:ты клоун"


# --- the model's evidence on real comments ------------------------------------------------------------------


@pytest.fixture(scope="module")
def flagged(trained_model, corpus) -> dict[str, list[tuple[str, dict]]]:
    """Per model flag, the first 30 labelled comments of that flag the model flags too, with their results."""
    out: dict[str, list[tuple[str, dict]]] = {}
    for flag in MODEL_FLAGS:
        texts = corpus[corpus[flag] == 1]["text"].head(200).tolist()
        results = trained_model.classify(texts)
        out[flag] = [(t, r) for t, r in zip(texts, results, strict=True) if r["flags"][flag]][:30]
        assert len(out[flag]) >= 10, f"the model flags too few {flag} comments to test its evidence"
    return out


@pytest.fixture(scope="module")
def sample(trained_model, corpus) -> list[tuple[str, dict]]:
    texts = corpus["text"].sample(n=400, random_state=12).tolist()
    return list(zip(texts, trained_model.classify(texts), strict=True))


def test_spans_lie_inside_the_text_and_quote_it(sample, flagged) -> None:
    every = sample + [pair for pairs in flagged.values() for pair in pairs]
    assert any(r["evidence"] for _, r in every)
    for text, r in every:
        for item in r["evidence"]:
            assert set(item) == ITEM_KEYS
            assert 0 <= item["start"] < item["end"] <= len(text)
            assert item["text"] == text[item["start"] : item["end"]]
            assert item["flag"] in TAX.moderation_flags


def test_each_model_flag_gets_a_few_ranked_positive_phrases(flagged) -> None:
    for flag, pairs in flagged.items():
        for text, r in pairs:
            items = [e for e in r["evidence"] if e["flag"] == flag]
            assert 1 <= len(items) <= EVIDENCE_MAX_SPANS, (text, r["evidence"])
            weights = [e["weight"] for e in items]
            assert weights == sorted(weights, reverse=True)  # strongest first
            assert min(weights) >= max(EVIDENCE_MIN_WEIGHT, EVIDENCE_MIN_SHARE * weights[0])
            spans = sorted((e["start"], e["end"]) for e in items)
            assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False)), "phrases of a flag overlap"


def test_removing_the_top_span_lowers_the_flag_score(trained_model, flagged) -> None:
    """The contributions are first order (TF-IDF rows are renormalised without the span), so a few comments may
    hold the score with their other words; nearly all must drop, and by far more than when a random word of the
    same comment is masked instead (that drop is a fraction of a percent)."""
    rng = random.Random(1)
    for flag, pairs in flagged.items():
        masked, baseline = [], []
        for text, r in pairs:
            top = next(e for e in r["evidence"] if e["flag"] == flag)
            masked.append(text[: top["start"]] + " " + text[top["end"] :])
            a, b = rng.choice([m.span() for m in re.finditer(r"\w+", text)])
            baseline.append(text[:a] + " " + text[b:])
        before = np.array([r["scores"][flag] for _, r in pairs])
        drops = before - np.array([a["scores"][flag] for a in trained_model.classify(masked)])
        random_drops = before - np.array([a["scores"][flag] for a in trained_model.classify(baseline)])
        assert (drops > 0).mean() >= 0.9, (flag, drops.round(4).tolist())
        assert np.median(drops) > max(0.02, 3 * np.median(random_drops)), (flag, drops.round(4).tolist())


def test_token_shares_add_up_to_the_head_log_odds(trained_model, flagged) -> None:
    """Every block of the shipped pipeline maps to words: summed over the tokens, the shares are x·w exactly."""
    explainer = trained_model.evidence_model(TAX)
    assert set(explainer.flags) == set(MODEL_FLAGS)
    texts = [t for pairs in flagged.values() for t, _ in pairs]
    X = pipeline_matrix(trained_model.pipeline, texts).tocsr()
    expected = np.asarray(X @ explainer.weights)
    for i, text in enumerate(texts):
        normalized, _ = normalize_with_offsets(text)
        row = (X.indices[X.indptr[i] : X.indptr[i + 1]], X.data[X.indptr[i] : X.indptr[i + 1]])
        tokens, contrib, _ = explainer.contributions(normalized, row)
        assert len(tokens) == len(contrib)
        np.testing.assert_allclose(contrib.sum(axis=0), expected[i], rtol=1e-4, atol=1e-4, err_msg=text)


def test_packed_char_ngrams_equal_the_string_lookups(trained_model, corpus) -> None:
    """The char n-grams are found with the vectoriser's packed keys; plain lookups of each n-gram string (the
    fallback) must give the very same shares and links, on real comments and on disguised or odd ones."""
    explainer = trained_model.evidence_model(TAX)
    texts = corpus["text"].sample(n=150, random_state=5).tolist() + [
        "«Идиот»!!! ты,,,дурак ?!",
        "кто-то 🤬🤬 x.у.й _url_ 8-900-123-45-67",
        "!!! ... ты",
        "ты идиот " + "!?" * 50,
    ]
    X = pipeline_matrix(trained_model.pipeline, texts).tocsr()
    for i, text in enumerate(texts):
        normalized, _ = normalize_with_offsets(text)
        row = (X.indices[X.indptr[i] : X.indptr[i + 1]], X.data[X.indptr[i] : X.indptr[i + 1]])
        t1, c1, l1 = explainer.contributions(normalized, row)
        t2, c2, l2 = explainer.contributions(normalized, row, packed=False)
        assert t1 == t2
        np.testing.assert_allclose(c1, c2, rtol=1e-9, atol=1e-12, err_msg=text)
        assert (l1 == l2).all(), text


def test_a_batch_gets_the_evidence_each_comment_gets_alone(trained_model, flagged, sample) -> None:
    """The flagged comments of a batch are explained together: one comment's words never leak into another's."""
    texts = [t for t, _ in sample[:60]] + [t for pairs in flagged.values() for t, _ in pairs[:15]]
    together = trained_model.classify(texts)
    for text, r in zip(texts, together, strict=True):
        (alone,) = trained_model.classify([text])
        assert r["evidence"] == alone["evidence"], text


def test_a_long_flagged_comment_costs_a_few_times_its_scoring(trained_model) -> None:
    """A 5,000-character comment of insults (the service's longest) is explained in numpy passes, not one
    Python step per n-gram: evidence may not multiply what such a comment costs."""
    text = ("ты идиот и дебил, " * 300)[:5000]
    punct = "ты идиот " + "!?" * 2490  # one 4,980-character word
    for t in (text, punct):
        trained_model.classify([t])  # warm caches
        start = time.thread_time()
        trained_model.predict_scores([t])
        scoring = time.thread_time() - start
        start = time.thread_time()
        (r,) = trained_model.classify([t])
        total = time.thread_time() - start
        assert any(e["flag"] in MODEL_FLAGS for e in r["evidence"]), "a flagged comment shows at least one phrase"
        assert total < 5 * scoring + 0.02, (len(t), total, scoring)


def test_mat_evidence_keeps_its_lexicon_spans(trained_model) -> None:
    (r,) = trained_model.classify([PROFANE])
    assert r["flags"][LEX]
    assert [e for e in r["evidence"] if e["flag"] == LEX] == [
        {"start": 14, "end": 22, "text": "б**дскую", "flag": LEX, "weight": LEXICON_WEIGHT}
    ]


def test_no_evidence_for_a_flag_the_comment_does_not_carry(sample) -> None:
    clean = 0
    for _, r in sample:
        for item in r["evidence"]:
            if item["flag"] == LEX:
                assert r["scores"][LEX] >= EVIDENCE_MIN_SCORE
            else:
                assert r["flags"][item["flag"]], (item, r["flags"])
        if not any(r["flags"][f] for f in TAX.moderation_flags) and r["scores"][LEX] < EVIDENCE_MIN_SCORE:
            assert r["evidence"] == []
            clean += 1
    assert clean >= 100


def test_comments_without_a_flag_never_build_the_explainer(trained_model, sample) -> None:
    """The common case pays nothing: a batch of unflagged comments does not even build the explainer."""
    clean = [t for t, r in sample if not any(r["flags"][f] for f in MODEL_FLAGS)]
    fresh = copy.copy(trained_model)
    fresh.__dict__.pop("_evidence", None)
    results = fresh.classify(clean)
    assert "_evidence" not in fresh.__dict__
    assert not any(e["flag"] in MODEL_FLAGS for r in results for e in r["evidence"])
    # ...and the explainer a model builds is never pickled with it.
    trained_model.evidence_model(TAX)
    assert "_evidence" not in trained_model.__getstate__()


@pytest.fixture(scope="module")
def api(trained_model_dir, tmp_path_factory):
    """The default app on the session's bundle, as tests/service/conftest.py builds it (its fixtures are not
    visible from tests/training)."""
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.settings import Settings

    db = tmp_path_factory.mktemp("evidence_svc") / "feedback.db"
    with TestClient(create_app(Settings(model_dir=trained_model_dir, database_url=f"sqlite:///{db}"))) as client:
        yield client


def test_classify_response_validates_with_the_evidence_schema(api, flagged) -> None:
    texts = [PROFANE, *(t for pairs in flagged.values() for t, _ in pairs[:3])]
    r = api.post("/classify", json={"comments": [{"id": f"c{i}", "text": t} for i, t in enumerate(texts)]})
    assert r.status_code == 200, r.text
    body = ClassifyResponse.model_validate(r.json())
    got = {(i, e.flag) for i, res in enumerate(body.results) for e in res.evidence}
    assert (0, LEX) in got
    assert {flag for _, flag in got} >= set(MODEL_FLAGS)
    for text, res in zip(texts, r.json()["results"], strict=True):
        for item in res["evidence"]:
            assert set(item) == ITEM_KEYS
            span = EvidenceSpan.model_validate(item)
            assert text[span.start : span.end] == span.text
    schema = api.get("/openapi.json").json()["components"]["schemas"]["EvidenceSpan"]
    assert {"flag", "weight"} <= set(schema["required"])
    assert schema["properties"]["weight"]["description"]
