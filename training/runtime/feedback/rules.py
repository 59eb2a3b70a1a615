"""The label consistency rules, written once: the corpus validator, the feedback endpoint, retraining and the
moderation page (through GET /labels) all apply these.

A record's labels are the taxonomy's flags and urgency (0/1) and a topic (a topic id or none). The rules tie
the topic to two of them: a comment without a concrete question has no topic, an actionable one needs one,
and an urgent one needs one (it must be routed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from training.runtime.taxonomy import Taxonomy, default_taxonomy

TOPIC_KEY = "topic"


def record_columns(taxonomy: Taxonomy) -> list[str]:
    """The columns of a labelled comment, as in data/comments.csv and the feedback export."""
    return ["id", "text", *taxonomy.flags, TOPIC_KEY, taxonomy.urgent, "split"]


@dataclass(frozen=True)
class TopicRule:
    """When label `when` has value `value`, the topic must be `topic` ("empty" or "required")."""

    when: str
    value: bool
    topic: str
    field: str  # the request field a violation is reported on
    message: str

    def violated(self, labels: Mapping[str, Any]) -> bool:
        if bool(labels[self.when]) != self.value:
            return False
        has_topic = bool(labels.get(TOPIC_KEY))
        return has_topic if self.topic == "empty" else not has_topic


@dataclass(frozen=True)
class LabelRules:
    taxonomy: Taxonomy

    @property
    def keys(self) -> list[str]:
        """The label keys of a record, in taxonomy order."""
        return [*self.taxonomy.flags, TOPIC_KEY, self.taxonomy.urgent]

    @property
    def binary_keys(self) -> list[str]:
        return [*self.taxonomy.flags, self.taxonomy.urgent]

    @property
    def topic_rules(self) -> tuple[TopicRule, ...]:
        nq, urgent = self.taxonomy.no_question_flag, self.taxonomy.urgent
        return (
            TopicRule(nq, True, "empty", TOPIC_KEY, f"topic must be empty when {nq} = 1"),
            TopicRule(
                nq, False, "required", TOPIC_KEY, f"topic is required when {nq} = 0 (actionable comments need a topic)"
            ),
            TopicRule(
                urgent,
                True,
                "required",
                urgent,
                f"topic is required when {urgent} = 1 (urgent comments are routed by topic)",
            ),
        )

    def normalise(self, labels: Mapping[str, Any]) -> dict[str, Any]:
        """Flags and urgency as 0/1, the topic as an id or None, keys in taxonomy order."""
        out: dict[str, Any] = {k: int(bool(labels[k])) for k in self.taxonomy.flags}
        out[TOPIC_KEY] = (str(labels.get(TOPIC_KEY) or "").strip()) or None
        out[self.taxonomy.urgent] = int(bool(labels[self.taxonomy.urgent]))
        return out

    def problems(self, labels: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(field, message) for every rule the labels break; [] when they are consistent."""
        out: list[tuple[str, str]] = []
        topic = labels.get(TOPIC_KEY) or None
        if topic is not None and topic not in self.taxonomy.topic_ids:
            out.append((TOPIC_KEY, f"unknown topic {topic!r}; expected one of {sorted(self.taxonomy.topic_ids)}"))
        out += [(r.field, r.message) for r in self.topic_rules if r.violated(labels)]
        return out

    def as_dict(self) -> dict[str, Any]:
        """What GET /labels serves: the label keys, the topics and the rules, for clients such as the page."""
        return {
            "flags": list(self.taxonomy.flags),
            "urgent": self.taxonomy.urgent,
            "no_question": self.taxonomy.no_question_flag,
            "topic_key": TOPIC_KEY,
            "topics": [{"id": t.id, "name_ru": t.name_ru, "route": t.route} for t in self.taxonomy.topics],
            "topic_rules": [
                {"when": r.when, "value": r.value, "topic": r.topic, "field": r.field, "message": r.message}
                for r in self.topic_rules
            ],
        }


def label_rules(taxonomy: Taxonomy | None = None) -> LabelRules:
    return LabelRules(taxonomy or default_taxonomy())
