"""data/taxonomy.yaml is the single source of labels; malformed files fail with a clear message."""

from __future__ import annotations

import copy

import pytest
import yaml

from training.runtime.taxonomy import (
    ACTIONABLE,
    DEFAULT_TAXONOMY_PATH,
    TaxonomyError,
    default_taxonomy,
    load_taxonomy,
)

TAX = default_taxonomy()


def test_real_taxonomy_shape() -> None:
    tax = load_taxonomy()
    assert len(tax.topic_ids) == 12 and len(set(tax.topic_ids)) == 12
    assert len(tax.flags) == 4
    assert tax.categories[-1] == ACTIONABLE
    assert set(tax.categories[:-1]) == set(tax.flags)
    assert all(t.route.strip() and t.name_ru.strip() for t in tax.topics)
    assert tax.urgent == "urgent"
    assert tax.lexicon_flag in tax.flags
    assert tax.no_question_flag in tax.flags
    assert tax.no_question_flag not in tax.moderation_flags
    assert set(tax.actions) >= set(tax.category_actions.values()) | {tax.urgent_action}


def _flags(*raised: str) -> dict[str, bool]:
    return {f: f in raised for f in TAX.flags}


@pytest.mark.parametrize(
    "raised,category",
    [
        ((), ACTIONABLE),
        (("no_question",), "no_question"),
        (("disrespect_authority", "no_question"), "disrespect_authority"),
        (("insult_commenter", "disrespect_authority"), "insult_commenter"),
        (("profanity", "insult_commenter", "disrespect_authority", "no_question"), "profanity"),
        (("profanity",), "profanity"),
        (("insult_commenter", "no_question"), "insult_commenter"),
    ],
)
def test_category_precedence(raised: tuple[str, ...], category: str) -> None:
    assert TAX.category_for(_flags(*raised)) == category


@pytest.mark.parametrize(
    "category,urgent,action",
    [
        (ACTIONABLE, False, "answer"),
        (ACTIONABLE, True, "escalate"),
        ("no_question", False, "skip"),
        ("no_question", True, "escalate"),
        ("profanity", False, "moderate"),
        ("profanity", True, "escalate"),
        ("insult_commenter", False, "moderate"),
        ("disrespect_authority", False, "moderate"),
    ],
)
def test_action_for(category: str, urgent: bool, action: str) -> None:
    assert TAX.action_for(category, urgent) == action


def test_route_for() -> None:
    assert TAX.route_for(None) is None
    for t in TAX.topics:
        assert TAX.route_for(t.id) == t.route


def _raw() -> dict:
    return yaml.safe_load(DEFAULT_TAXONOMY_PATH.read_text(encoding="utf-8"))


def _write(tmp_path, raw) -> str:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return str(path)


def _missing_key(raw: dict) -> None:
    del raw["precedence"]


def _duplicate_topic(raw: dict) -> None:
    raw["topics"].append(copy.deepcopy(raw["topics"][0]))


def _precedence_missing_flag(raw: dict) -> None:
    raw["precedence"] = [p for p in raw["precedence"] if p != "insult_commenter"]


def _unknown_action(raw: dict) -> None:
    raw["categories"][0]["action"] = "delete_forever"


def _topic_without_route(raw: dict) -> None:
    del raw["topics"][3]["route"]


def _precedence_not_ending_actionable(raw: dict) -> None:
    raw["precedence"] = [*raw["precedence"][-1:], *raw["precedence"][:-1]]


@pytest.mark.parametrize(
    "corrupt,message",
    [
        (_missing_key, "missing key 'precedence'"),
        (_duplicate_topic, "duplicate topic"),
        (_precedence_missing_flag, "precedence must list every flag"),
        (_unknown_action, "unknown actions ['delete_forever']"),
        (_topic_without_route, "route"),
        (_precedence_not_ending_actionable, "end with 'actionable'"),
    ],
)
def test_malformed_taxonomy_is_rejected(tmp_path, corrupt, message: str) -> None:
    raw = _raw()
    corrupt(raw)
    with pytest.raises(TaxonomyError) as exc:
        load_taxonomy(_write(tmp_path, raw))
    assert message in str(exc.value)


def test_missing_and_invalid_files(tmp_path) -> None:
    with pytest.raises(TaxonomyError, match="not found"):
        load_taxonomy(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("flags: [unclosed", encoding="utf-8")
    with pytest.raises(TaxonomyError, match="not valid YAML"):
        load_taxonomy(bad)
    empty = tmp_path / "empty.yaml"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(TaxonomyError, match="must be a mapping"):
        load_taxonomy(empty)
