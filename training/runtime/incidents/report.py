"""What group_incidents() returns: the parameters, one incident, the report. Plain dataclasses (no
scikit-learn), so that importing them, e.g. through training.runtime.analytics, stays light."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any


class IncidentError(ValueError):
    """The rows cannot be grouped (a bad timestamp, an unknown topic); the message names the row."""


@dataclass(frozen=True)
class IncidentParams:
    window_hours: float = 72.0
    min_similarity: float = 0.2
    min_centroid_similarity: float = 0.25
    min_comments: int = 2  # incidents listed in /analytics and the report; the others are counted

    def describe(self) -> str:
        """The rule in words, for the report and the API `method` field."""
        return (
            f"Actionable comments of one topic within {self.window_hours:g} h of an incident's first comment join "
            f"it when they have its address, or a member at cosine similarity ≥ {self.min_similarity:g} "
            f"(TF-IDF of lemmas fitted on the batch, scikit-learn NearestNeighbors) and similarity "
            f"≥ {self.min_centroid_similarity:g} to its centroid; two different addresses or streets never join. "
            f"Deadline = first comment + the taxonomy's answer hours (urgent, else the topic's, else the default)."
        )

    def as_method(self) -> dict[str, Any]:
        return {"name": "time_window_centroid_linkage", "description": self.describe(), "params": asdict(self)}


DEFAULT_PARAMS = IncidentParams()


@dataclass(frozen=True)
class Incident:
    id: str
    topic: str
    route: str | None
    comment_ids: tuple[Any, ...]
    first: datetime  # the first comment's own timestamp, as written
    last: datetime
    typical_id: Any
    typical_text: str | None
    address: str | None  # normalised: what grouping compares ("ленин 5")
    address_text: str | None  # as the first comment naming it wrote it ("ул. Ленина, д. 5"): personal data
    urgent: bool
    answer_hours: float
    deadline: datetime
    overdue: bool

    @property
    def n_comments(self) -> int:
        return len(self.comment_ids)

    def as_dict(self, include_texts: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id,
            "topic": self.topic,
            "route": self.route,
            "n_comments": self.n_comments,
            "comment_ids": list(self.comment_ids),
            "first": self.first.isoformat(),
            "last": self.last.isoformat(),
            "typical_id": self.typical_id,
            "address": self.address,
            "urgent": self.urgent,
            "answer_hours": self.answer_hours,
            "deadline": self.deadline.isoformat(),
            "overdue": self.overdue,
        }
        if include_texts:
            d["typical_text"] = self.typical_text
            d["address_text"] = self.address_text
        return d


@dataclass(frozen=True)
class IncidentReport:
    incidents: tuple[Incident, ...]  # every incident, singletons included: most comments first, then deadline
    params: IncidentParams
    reference_time: datetime | None  # what "overdue" is measured against
    n_without_time: int  # actionable comments left out for want of a timestamp

    @property
    def listed(self) -> list[Incident]:
        return [i for i in self.incidents if i.n_comments >= self.params.min_comments]

    def as_dict(self, include_texts: bool = False) -> dict[str, Any]:
        """JSON-ready; the typical comment's text only when asked for (texts are personal data)."""
        hidden = [i for i in self.incidents if i.n_comments < self.params.min_comments]
        return {
            "method": self.params.as_method(),
            "reference_time": self.reference_time.isoformat() if self.reference_time else None,
            "n_incidents": len(self.incidents),
            "n_single": len(hidden),
            "n_single_overdue": sum(i.overdue for i in hidden),
            "n_without_time": self.n_without_time,
            "items": [i.as_dict(include_texts) for i in self.listed],
        }
