"""Topic analytics of a classified comment stream: per-day topic counts, category shares, urgent
comments and topic spikes. Pure functions (no HTTP, no files) shared by the report CLI and /analytics.
Part of the serving runtime core: numpy, scipy and the standard library (no pandas); see the last paragraph.

Days are calendar dates of the timestamp as written (its own wall clock: "2025-01-25T23:30+03:00" counts
on 25 January), so a stream exported in local time is grouped the way the centre reads it.

A stream may span at most MAX_SPAN_DAYS calendar days, first and last day included (3660, ten years and
a few days): every table has one row per day of the span, so two comments dated 0001-01-01 and 9999-12-31
would otherwise build 3.65 million rows per table. A longer span is an AnalyticsError naming the span and
the limit, raised when the timestamps are parsed and again before any day table is built.

The spike test is training/runtime/spikes.py's.

Incidents (complaints about one problem grouped, each with an answer deadline) come from
training/runtime/incidents, which loads scikit-learn and pymorphy3 only when it first groups.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

from training.runtime.incidents import IncidentParams, IncidentReport, group_incidents
from training.runtime.spikes import Spike, SpikeParams, detect_spikes
from training.runtime.taxonomy import Taxonomy, default_taxonomy

MAX_SPAN_DAYS = 3660  # calendar days from the first to the last comment, both included: ten years
DEFAULT_INCIDENTS = IncidentParams()  # window 72 h; deadlines from the taxonomy
DEFAULT_SPIKES = SpikeParams()


class AnalyticsError(ValueError):
    """The input cannot be analysed (bad timestamps, missing fields); the message names the rows."""


def check_span(days: Iterable[date]) -> None:
    """Refuse a stream that spans more than MAX_SPAN_DAYS calendar days (its first and last day counted),
    before anything builds one row per day. Accepts dates or datetimes (their wall-clock date)."""
    as_dates = [d.date() if isinstance(d, datetime) else d for d in days]
    if not as_dates:
        return
    first, last = min(as_dates), max(as_dates)
    span = (last - first).days + 1
    if span > MAX_SPAN_DAYS:
        raise AnalyticsError(
            f"the timestamps span {span} days ({first.isoformat()} to {last.isoformat()}); "
            f"the limit is {MAX_SPAN_DAYS} days (ten years): analyse the stream in shorter periods"
        )


@dataclass(frozen=True)
class CommentFrame:
    """One entry per comment in every column (the same position is the same comment); see build_frame()."""

    id: list[Any]
    timestamp: list[datetime]
    day: list[date]
    wall_clock: list[datetime]  # the timestamp without its offset: sortable even when offsets are mixed
    category: list[str]
    topic: list[str | None]
    urgent: list[bool]
    urgent_score: list[float]
    text: list[str | None]

    def __post_init__(self) -> None:
        lengths = {f.name: len(getattr(self, f.name)) for f in fields(self)}
        if len(set(lengths.values())) > 1:
            raise AnalyticsError(f"columns of different lengths: {lengths}")

    def __len__(self) -> int:
        return len(self.id)


@dataclass(frozen=True)
class CountTable:
    """Counts per day × label: one row per day (every day of the span, zeros included), one column per label."""

    days: list[date]
    labels: list[str]
    counts: np.ndarray  # int64, shape (len(days), len(labels))

    def __post_init__(self) -> None:
        if self.counts.shape != (len(self.days), len(self.labels)):
            raise ValueError(
                f"counts of shape {self.counts.shape} for {len(self.days)} days × {len(self.labels)} labels"
            )

    def _row(self, day: date) -> int:
        try:
            return self.days.index(day)
        except ValueError:
            raise KeyError(day) from None

    def _col(self, label: str) -> int:
        try:
            return self.labels.index(label)
        except ValueError:
            raise KeyError(label) from None

    def series(self, label: str) -> np.ndarray:
        """The label's count on every day, aligned with `days`."""
        return self.counts[:, self._col(label)]

    def on(self, day: date) -> dict[str, int]:
        """Every label's count on one day."""
        return dict(zip(self.labels, (int(n) for n in self.counts[self._row(day)]), strict=True))

    def get(self, day: date, label: str) -> int:
        return int(self.counts[self._row(day), self._col(label)])

    def day_totals(self) -> np.ndarray:
        """Row sums: all labels of each day, aligned with `days`."""
        return self.counts.sum(axis=1)

    def label_totals(self) -> dict[str, int]:
        """Column sums: each label over the whole span."""
        return dict(zip(self.labels, (int(n) for n in self.counts.sum(axis=0)), strict=True))

    def shares_per_day(self) -> np.ndarray:
        """Each label's share of its day's total (float, same shape as `counts`); 0 on a day without counts."""
        totals = self.day_totals()
        shares = np.zeros(self.counts.shape, dtype=float)
        np.divide(self.counts, totals[:, None], out=shares, where=totals[:, None] > 0)
        return shares

    def rows(self) -> Iterator[tuple[date, dict[str, int]]]:
        """(day, {label: count}) for every day, in order."""
        for day, row in zip(self.days, self.counts, strict=True):
            yield day, dict(zip(self.labels, (int(n) for n in row), strict=True))


@dataclass
class StreamAnalytics:
    days: list[date]
    topic_counts: CountTable  # days: every day from first to last; labels: every topic id
    category_counts: CountTable  # days: the same; labels: every category id
    category_share_overall: dict[str, float]
    urgent: list[dict[str, Any]]  # id, timestamp, day, topic, category, urgent_score, text
    spikes: list[Spike]
    params: SpikeParams
    n_comments: int
    incidents: IncidentReport | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def category_share_per_day(self) -> np.ndarray:
        """Rows: `days`; columns: `category_counts.labels`; 0 on a day without comments."""
        return self.category_counts.shares_per_day()

    def as_dict(self, include_texts: bool = False) -> dict[str, Any]:
        """JSON-ready summary; comment texts are left out unless asked for (they are personal data)."""
        cats = self.category_counts
        urgent = [{k: v for k, v in u.items() if include_texts or k != "text"} for u in self.urgent]
        return {
            "n_comments": self.n_comments,
            "days": [d.isoformat() for d in self.days],
            "method": self.params.as_method(),
            "topic_counts": [{"day": d.isoformat(), "counts": counts} for d, counts in self.topic_counts.rows()],
            "category_shares": {
                "overall": self.category_share_overall,
                "per_day": [
                    {
                        "day": d.isoformat(),
                        "total": int(total),
                        "shares": {c: round(float(s), 4) for c, s in zip(cats.labels, row, strict=True)},
                    }
                    for d, total, row in zip(cats.days, cats.day_totals(), self.category_share_per_day, strict=True)
                ],
            },
            "urgent": urgent,
            "spikes": [s.as_dict() for s in self.spikes],
            "incidents": self.incidents.as_dict(include_texts) if self.incidents else None,
        }


def parse_timestamp(value: Any) -> datetime:
    """One ISO 8601 timestamp ("2025-01-25", "2025-01-25T10:00", "...Z", "...+03:00"), else ValueError."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"not an ISO 8601 timestamp: {value!r}")
    return datetime.fromisoformat(value.strip())


def parse_timestamps(values: Sequence[Any], row_label: str = "row", first_row: int = 0) -> list[datetime]:
    """Parse all timestamps or raise AnalyticsError naming the bad rows (up to 10) and their values, or the
    span when it is longer than MAX_SPAN_DAYS (see check_span)."""
    parsed: list[datetime] = []
    bad: list[str] = []
    for i, v in enumerate(values):
        try:
            parsed.append(parse_timestamp(v))
        except (ValueError, TypeError):
            bad.append(f"{row_label} {i + first_row} ({str(v)[:40]!r})")
    if bad:
        more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
        raise AnalyticsError(
            f"{len(bad)} unparseable timestamp(s), expected ISO 8601 "
            f"(e.g. 2025-01-25T10:30:00+03:00): {', '.join(bad[:10])}{more}"
        )
    check_span(parsed)
    return parsed


def _plain(value: Any) -> Any:
    """numpy integers (ids taken from an array) as Python ints, so the summary stays JSON-ready."""
    return int(value) if isinstance(value, np.integer) else value


def build_frame(
    results: Sequence[Mapping[str, Any]],
    timestamps: Sequence[Any],
    ids: Sequence[Any] | None = None,
    texts: Sequence[str] | None = None,
) -> CommentFrame:
    """One entry per comment from classify() results plus timestamps (parsed here when they are strings)."""
    if len(results) != len(timestamps):
        raise AnalyticsError(f"{len(results)} results but {len(timestamps)} timestamps")
    ts = parse_timestamps(timestamps)
    return CommentFrame(
        id=[_plain(i) for i in ids] if ids is not None else list(range(len(results))),
        timestamp=ts,
        day=[t.date() for t in ts],
        wall_clock=[t.replace(tzinfo=None) for t in ts],
        category=[r["category"] for r in results],
        topic=[r.get("topic") for r in results],
        urgent=[bool(r.get("urgent")) for r in results],
        urgent_score=[float(r.get("urgent_score", 0.0)) for r in results],
        text=list(texts) if texts is not None else [None] * len(results),
    )


def _all_days(days: Iterable[date]) -> list[date]:
    days = list(days)
    if not days:
        return []
    check_span(days)
    first, last = min(days), max(days)
    return [first + timedelta(days=k) for k in range((last - first).days + 1)]


def daily_counts(frame: CommentFrame, column: str, labels: Sequence[str]) -> CountTable:
    """Counts of `column` values ("topic", "category") per day, every day of the span × every label;
    values that are not among `labels` (a topic of None) are not counted."""
    days = _all_days(frame.day)
    labels = list(labels)
    row = {d: i for i, d in enumerate(days)}
    col = {label: j for j, label in enumerate(labels)}
    counts = np.zeros((len(days), len(labels)), dtype=np.int64)
    for day, value in zip(frame.day, getattr(frame, column), strict=True):
        j = col.get(value)
        if j is not None:
            counts[row[day], j] += 1
    return CountTable(days=days, labels=labels, counts=counts)


def urgent_comments(frame: CommentFrame) -> list[dict[str, Any]]:
    """Urgent comments, most recent first (the order an operator works through them); comments written at
    the same wall-clock time keep their input order."""
    order = sorted((i for i, u in enumerate(frame.urgent) if u), key=lambda i: frame.wall_clock[i], reverse=True)
    return [
        {
            "id": frame.id[i],
            "timestamp": frame.timestamp[i].isoformat(),
            "day": frame.day[i].isoformat(),
            "topic": frame.topic[i],
            "category": frame.category[i],
            "urgent_score": round(float(frame.urgent_score[i]), 4),
            "text": frame.text[i],
        }
        for i in order
    ]


def incident_rows(frame: CommentFrame, taxonomy: Taxonomy) -> list[dict[str, Any]]:
    """The frame as the plain rows group_incidents() takes (any other source builds the same rows)."""
    return [
        {"id": i, "text": x, "timestamp": t, "topic": topic, "urgent": u, "action": taxonomy.action_for(c, u)}
        for i, x, t, topic, u, c in zip(
            frame.id, frame.text, frame.timestamp, frame.topic, frame.urgent, frame.category, strict=True
        )
    ]


def analyze(
    frame: CommentFrame,
    taxonomy: Taxonomy | None = None,
    params: SpikeParams = DEFAULT_SPIKES,
    incidents: IncidentParams | None = DEFAULT_INCIDENTS,
    now: datetime | None = None,
) -> StreamAnalytics:
    """Everything the report and /analytics show, from a frame built by build_frame(); `incidents=None` skips
    the grouping, `now` is what incidents are overdue against (default: the stream's last timestamp)."""
    taxonomy = taxonomy or default_taxonomy()
    if len(frame) == 0:
        raise AnalyticsError("no comments to analyse")
    topic_counts = daily_counts(frame, "topic", taxonomy.topic_ids)
    category_counts = daily_counts(frame, "category", taxonomy.categories)
    totals = category_counts.label_totals()
    n = max(sum(totals.values()), 1)
    overall = {c: round(totals[c] / n, 4) for c in taxonomy.categories}
    return StreamAnalytics(
        days=list(topic_counts.days),
        topic_counts=topic_counts,
        category_counts=category_counts,
        category_share_overall=overall,
        urgent=urgent_comments(frame),
        spikes=detect_spikes(topic_counts, params),
        params=params,
        n_comments=len(frame),
        incidents=group_incidents(incident_rows(frame, taxonomy), taxonomy, incidents, now) if incidents else None,
    )
