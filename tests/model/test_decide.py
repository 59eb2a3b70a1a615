"""TriageModel.decide on hand-made scores: thresholds, precedence, routing and the urgent override.

No fitted pipeline is needed: decide() turns scores into results, so each rule is checked exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

from training.runtime.model import TriageModel
from training.runtime.taxonomy import ACTIONABLE, default_taxonomy

TAX = default_taxonomy()
NQ = TAX.no_question_flag
URGENT = TAX.urgent
TOPICS = TAX.topic_ids


def _model() -> TriageModel:
    thresholds = {**{f: 0.5 for f in TAX.flags}, URGENT: 0.4}
    return TriageModel(
        pipeline=None,
        thresholds=thresholds,
        flags=TAX.flags,
        urgent_label=URGENT,  # type: ignore[arg-type]
        topics=TOPICS,
    )


def _scores(rows: list[dict]) -> dict[str, np.ndarray]:
    out = {f: np.array([r.get(f, 0.0) for r in rows]) for f in TAX.flags}
    out[URGENT] = np.array([r.get(URGENT, 0.0) for r in rows])
    topic = np.full((len(rows), len(TOPICS)), 0.01)
    for i, r in enumerate(rows):
        topic[i, TOPICS.index(r.get("topic", TOPICS[0]))] = 0.9
    out["topic"] = topic
    return out


def test_no_flag_is_actionable_and_routed_by_the_best_topic():
    [r] = _model().decide(_scores([{"topic": TOPICS[2]}]))
    assert r["category"] == ACTIONABLE and r["action"] == TAX.action_for(ACTIONABLE, False)
    assert r["topic"] == TOPICS[2] and r["route"] == TAX.route_for(TOPICS[2])
    assert not any(r["flags"].values()) and r["urgent"] is False


def test_threshold_is_inclusive():
    at, below = _model().decide(_scores([{TAX.flags[0]: 0.5}, {TAX.flags[0]: 0.4999}]))
    assert at["flags"][TAX.flags[0]] and at["category"] == TAX.flags[0]
    assert not below["flags"][TAX.flags[0]] and below["category"] == ACTIONABLE


def test_precedence_picks_the_first_raised_flag():
    every = {f: 0.9 for f in TAX.flags}
    [r] = _model().decide(_scores([every]))
    assert r["category"] == TAX.precedence[0]
    # Drop the winners one by one: the next flag in precedence takes over.
    for k, category in enumerate(TAX.precedence[:-1]):
        rest = {f: (0.9 if f in TAX.precedence[k:] else 0.1) for f in TAX.flags}
        [r] = _model().decide(_scores([rest]))
        assert r["category"] == category


def test_no_question_has_no_topic_or_route():
    [r] = _model().decide(_scores([{NQ: 0.8, "topic": TOPICS[1]}]))
    assert r["category"] == NQ and r["topic"] is None and r["route"] is None
    assert r["action"] == TAX.action_for(NQ, False)


def test_urgent_overrides_no_question_and_escalates():
    [r] = _model().decide(_scores([{NQ: 0.8, URGENT: 0.41, "topic": TOPICS[3]}]))
    assert r["urgent"] is True and r["action"] == TAX.urgent_action
    assert r["topic"] == TOPICS[3] and r["route"] == TAX.route_for(TOPICS[3])  # routed despite no_question
    assert r["category"] == NQ  # the category itself is still the no-question one


@pytest.mark.parametrize("flag", TAX.moderation_flags)
def test_urgent_moderation_comment_is_escalated_not_hidden(flag):
    [r] = _model().decide(_scores([{flag: 0.9, URGENT: 0.9}]))
    assert r["category"] == flag and r["action"] == TAX.urgent_action


def test_scores_are_rounded_and_results_keep_input_order():
    rows = [{TAX.flags[0]: 0.123456}, {TAX.flags[0]: 0.98765, "topic": TOPICS[-1]}]
    first, second = _model().decide(_scores(rows))
    assert first["scores"][TAX.flags[0]] == 0.1235 and second["scores"][TAX.flags[0]] == 0.9877
    assert second["topic_scores"][TOPICS[-1]] == 0.9
