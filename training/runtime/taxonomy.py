"""Load data/taxonomy.yaml: the only place label names, precedence, actions and routes come from."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TAXONOMY_PATH = PROJECT_ROOT / "data" / "taxonomy.yaml"
ACTIONABLE = "actionable"


class TaxonomyError(ValueError):
    """The taxonomy file is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class Topic:
    id: str
    name_ru: str
    name_en: str
    description: str
    route: str
    answer_hours: float | None = None  # the topic's own answer deadline, else the taxonomy's default


@dataclass(frozen=True)
class AnswerDeadlines:
    """Hours from an incident's first comment to its public answer (taxonomy `answer_deadlines`)."""

    default_hours: float = 24.0
    urgent_hours: float = 1.0


@dataclass(frozen=True)
class Taxonomy:
    flags: tuple[str, ...]
    urgent: str
    topics: tuple[Topic, ...]
    precedence: tuple[str, ...]
    category_actions: dict[str, str]
    urgent_action: str
    raw: dict[str, Any]
    deadlines: AnswerDeadlines = AnswerDeadlines()

    @property
    def topic_ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.topics)

    @property
    def categories(self) -> tuple[str, ...]:
        return self.precedence

    @property
    def actions(self) -> tuple[str, ...]:
        return tuple(a["id"] for a in self.raw["actions"])

    @property
    def no_question_flag(self) -> str:
        """The flag whose positives carry no topic (the last flag category before `actionable`)."""
        return self.precedence[-2]

    @property
    def lexicon_flag(self) -> str:
        """The flag backed by the мат lexicon, whose spans are reported as evidence."""
        return next(f["id"] for f in self.raw["flags"] if f.get("evidence") == "lexicon")

    @property
    def moderation_flags(self) -> tuple[str, ...]:
        return tuple(f for f in self.flags if f != self.no_question_flag)

    def real_base_rate(self, flag: str) -> float | None:
        """The flag's share on real pages (taxonomy `real_base_rate`), for thresholds that hold precision there."""
        value = next(f for f in self.raw["flags"] if f["id"] == flag).get("real_base_rate")
        return float(value) if value is not None else None

    def route_for(self, topic: str | None) -> str | None:
        if topic is None:
            return None
        return self._topics_by_id[topic].route

    @property
    def _topics_by_id(self) -> dict[str, Topic]:
        return {t.id: t for t in self.topics}

    def category_for(self, flags: dict[str, bool]) -> str:
        """Primary category by precedence: the first raised flag wins, else `actionable`."""
        for category in self.precedence:
            if category == ACTIONABLE or flags.get(category):
                return category
        return ACTIONABLE

    def answer_hours(self, topic: str, urgent: bool) -> float:
        """Hours an incident of `topic` has for its answer: urgent first, then the topic's own, then the default."""
        if urgent:
            return self.deadlines.urgent_hours
        own = self._topics_by_id[topic].answer_hours
        return own if own is not None else self.deadlines.default_hours

    def action_for(self, category: str, urgent: bool) -> str:
        return self.urgent_action if urgent else self.category_actions[category]

    def as_dict(self) -> dict[str, Any]:
        return self.raw


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise TaxonomyError(message)


MAX_ANSWER_HOURS = 720.0  # 30 days: a longer deadline is a typo, not a policy


def _hours(value: Any, where: str) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= MAX_ANSWER_HOURS
    _require(ok, f"taxonomy: {where} must be a number of hours in (0, {MAX_ANSWER_HOURS:g}], got {value!r}")
    return float(value)


def _deadlines(raw: dict[str, Any]) -> AnswerDeadlines:
    section = raw.get("answer_deadlines", {})
    _require(isinstance(section, dict), "taxonomy: answer_deadlines must be a mapping")
    unknown = set(section) - {"default_hours", "urgent_hours"}
    _require(not unknown, f"taxonomy: answer_deadlines has unknown keys {sorted(unknown)}")
    defaults = AnswerDeadlines()
    return AnswerDeadlines(
        default_hours=_hours(section.get("default_hours", defaults.default_hours), "answer_deadlines.default_hours"),
        urgent_hours=_hours(section.get("urgent_hours", defaults.urgent_hours), "answer_deadlines.urgent_hours"),
    )


def parse_taxonomy(raw: dict[str, Any]) -> Taxonomy:
    _require(isinstance(raw, dict), "taxonomy must be a mapping")
    for key in ("flags", "urgent", "topics", "precedence", "categories", "actions", "urgent_action"):
        _require(key in raw, f"taxonomy: missing key '{key}'")
    flags = tuple(f["id"] for f in raw["flags"])
    topics = tuple(
        Topic(
            id=t["id"],
            name_ru=t["name_ru"],
            name_en=t["name_en"],
            description=t.get("description", ""),
            route=t["route"],
            answer_hours=_hours(t["answer_hours"], f"topic {t['id']}: answer_hours") if "answer_hours" in t else None,
        )
        for t in raw["topics"]
    )
    precedence = tuple(raw["precedence"])
    actions = {a["id"] for a in raw["actions"]}
    category_actions = {c["id"]: c["action"] for c in raw["categories"]}
    _require(len(set(flags)) == len(flags), "taxonomy: duplicate flag ids")
    _require(len({t.id for t in topics}) == len(topics), "taxonomy: duplicate topic ids")
    _require(
        precedence[-1] == ACTIONABLE and set(precedence[:-1]) == set(flags),
        f"taxonomy: precedence must list every flag once and end with '{ACTIONABLE}'",
    )
    _require(set(category_actions) == set(precedence), "taxonomy: every category needs exactly one action")
    unknown = set(category_actions.values()) - actions
    _require(not unknown, f"taxonomy: unknown actions {sorted(unknown)}")
    _require(raw["urgent_action"] in actions, "taxonomy: urgent_action is not a declared action")
    return Taxonomy(
        flags=flags,
        urgent=raw["urgent"]["id"],
        topics=topics,
        precedence=precedence,
        category_actions=category_actions,
        urgent_action=raw["urgent_action"],
        raw=raw,
        deadlines=_deadlines(raw),
    )


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    path = Path(path) if path else DEFAULT_TAXONOMY_PATH
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise TaxonomyError(f"taxonomy file not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise TaxonomyError(f"taxonomy file is not valid YAML: {path}: {exc}") from exc
    try:
        return parse_taxonomy(raw)
    except (KeyError, TypeError) as exc:
        raise TaxonomyError(f"taxonomy: malformed entry ({exc})") from exc


@lru_cache(maxsize=1)
def default_taxonomy() -> Taxonomy:
    return load_taxonomy()
