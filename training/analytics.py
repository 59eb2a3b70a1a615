"""Topic analytics of a classified comment stream: per-day topic counts, category shares, urgent
comments and topic spikes. Pure functions (no HTTP, no files) shared by the report CLI and /analytics.

Days are calendar dates of the timestamp as written (its own wall clock: "2025-01-25T23:30+03:00" counts
on 25 January), so a stream exported in local time is grouped the way the centre reads it.

Spike test (one per topic per day, on daily counts with days without comments counted as 0):
    baseline  = the topic's counts on the previous ``window_days`` (14) days of the stream;
                a day needs at least ``min_history_days`` (7) days of history, else it is not tested;
    λ         = max(mean(baseline), ``min_lambda`` (0.5));
    p-value   = one-sided Poisson tail P(X ≥ count | λ) = scipy.stats.poisson.sf(count - 1, λ);
    spike     ⇔ p-value < ``alpha`` (0.001) AND count ≥ ``min_count`` (5) AND count ≥ ``min_ratio`` (2) × λ.
The floor on λ keeps a topic that is usually silent from "spiking" on two comments; the count and ratio
guards keep large topics from spiking on statistically significant but operationally small moves. With
12 topics × 30 days ≈ 360 tests, α = 0.001 allows about 0.36 false alarms a month under a pure Poisson
stream before the guards, which remove most of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import poisson

from training.taxonomy import Taxonomy, default_taxonomy


class AnalyticsError(ValueError):
    """The input cannot be analysed (bad timestamps, missing fields); the message names the rows."""


@dataclass(frozen=True)
class SpikeParams:
    window_days: int = 14
    min_history_days: int = 7
    min_lambda: float = 0.5
    alpha: float = 0.001
    min_count: int = 5
    min_ratio: float = 2.0

    def describe(self) -> str:
        """The test in words, for the report and the API `method` field."""
        return (
            f"For each topic and day: baseline = the topic's daily counts over the previous "
            f"{self.window_days} days (at least {self.min_history_days} days of history required); "
            f"expected λ = mean of the baseline, floored at {self.min_lambda:g}; "
            f"p = one-sided Poisson tail P(X ≥ count | λ) "
            f"(scipy.stats.poisson.sf(count-1, λ)); a spike is flagged when p < {self.alpha:g} "
            f"AND count ≥ {self.min_count} AND count ≥ {self.min_ratio:g}×λ."
        )

    def as_method(self) -> dict[str, Any]:
        return {"name": "poisson_tail_vs_trailing_mean", "description": self.describe(),
                "params": asdict(self)}


@dataclass(frozen=True)
class Spike:
    topic: str
    day: date
    count: int
    baseline_mean: float  # mean of the previous days, before the floor
    expected: float  # λ actually tested: max(baseline_mean, min_lambda)
    ratio: float  # count / expected
    p_value: float
    history_days: int

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["day"] = self.day.isoformat()
        return d


@dataclass
class StreamAnalytics:
    days: list[date]
    topic_counts: pd.DataFrame  # index: days (every day from first to last), columns: every topic id
    category_counts: pd.DataFrame  # index: days, columns: every category id
    category_share_overall: dict[str, float]
    urgent: list[dict[str, Any]]  # id, timestamp, day, topic, category, urgent_score, text
    spikes: list[Spike]
    params: SpikeParams
    n_comments: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def category_share_per_day(self) -> pd.DataFrame:
        totals = self.category_counts.sum(axis=1).replace(0, np.nan)
        return self.category_counts.div(totals, axis=0).fillna(0.0)

    def as_dict(self, include_texts: bool = False) -> dict[str, Any]:
        """JSON-ready summary; comment texts are left out unless asked for (they are personal data)."""
        shares = self.category_share_per_day
        urgent = [{k: v for k, v in u.items() if include_texts or k != "text"} for u in self.urgent]
        return {
            "n_comments": self.n_comments,
            "days": [d.isoformat() for d in self.days],
            "method": self.params.as_method(),
            "topic_counts": [
                {"day": d.isoformat(), "counts": {t: int(n) for t, n in row.items()}}
                for d, row in self.topic_counts.iterrows()
            ],
            "category_shares": {
                "overall": self.category_share_overall,
                "per_day": [
                    {"day": d.isoformat(), "total": int(self.category_counts.loc[d].sum()),
                     "shares": {c: round(float(s), 4) for c, s in row.items()}}
                    for d, row in shares.iterrows()
                ],
            },
            "urgent": urgent,
            "spikes": [s.as_dict() for s in self.spikes],
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
    """Parse all timestamps or raise AnalyticsError naming the bad rows (up to 10) and their values."""
    parsed: list[datetime] = []
    bad: list[str] = []
    for i, v in enumerate(values):
        try:
            parsed.append(parse_timestamp(v))
        except (ValueError, TypeError):
            bad.append(f"{row_label} {i + first_row} ({str(v)[:40]!r})")
    if bad:
        more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
        raise AnalyticsError(f"{len(bad)} unparseable timestamp(s), expected ISO 8601 "
                             f"(e.g. 2025-01-25T10:30:00+03:00): {', '.join(bad[:10])}{more}")
    return parsed


def build_frame(results: Sequence[Mapping[str, Any]], timestamps: Sequence[Any],
                ids: Sequence[Any] | None = None, texts: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per comment from classify() results plus timestamps (parsed here when they are strings)."""
    if len(results) != len(timestamps):
        raise AnalyticsError(f"{len(results)} results but {len(timestamps)} timestamps")
    ts = parse_timestamps(timestamps)
    ids = list(ids) if ids is not None else list(range(len(results)))
    return pd.DataFrame({
        "id": ids,
        "timestamp": ts,
        "day": [t.date() for t in ts],
        "wall_clock": [t.replace(tzinfo=None) for t in ts],  # sortable even when offsets are mixed
        "category": [r["category"] for r in results],
        "topic": [r.get("topic") for r in results],
        "urgent": [bool(r.get("urgent")) for r in results],
        "urgent_score": [float(r.get("urgent_score", 0.0)) for r in results],
        "text": list(texts) if texts is not None else [None] * len(results),
    })


def _all_days(days: Iterable[date]) -> list[date]:
    days = list(days)
    if not days:
        return []
    return [d.date() for d in pd.date_range(min(days), max(days), freq="D")]


def daily_counts(frame: pd.DataFrame, column: str, labels: Sequence[str]) -> pd.DataFrame:
    """Counts of `column` values per day, every day of the span (zeros included) × every label."""
    days = _all_days(frame["day"])
    sub = frame[frame[column].isin(labels)]
    table = pd.crosstab(sub["day"], sub[column]) if len(sub) else pd.DataFrame()
    out = table.reindex(index=days, columns=list(labels), fill_value=0).fillna(0).astype(int)
    out.index.name, out.columns.name = "day", None
    return out


def spikes_in_series(counts: Sequence[int], params: SpikeParams = SpikeParams()) -> list[dict[str, Any]]:
    """Apply the module's spike test to one daily series; positions are indices into `counts`."""
    x = np.asarray(counts, dtype=float)
    out = []
    for i in range(len(x)):
        history = x[max(0, i - params.window_days):i]
        if len(history) < params.min_history_days:
            continue
        count = int(x[i])
        mean = float(history.mean())
        lam = max(mean, params.min_lambda)
        if count < params.min_count or count < params.min_ratio * lam:
            continue
        p = float(poisson.sf(count - 1, lam))
        if p < params.alpha:
            out.append({"index": i, "count": count, "baseline_mean": round(mean, 4),
                        "expected": round(lam, 4), "ratio": round(count / lam, 3), "p_value": p,
                        "history_days": len(history)})
    return out


def detect_spikes(topic_counts: pd.DataFrame, params: SpikeParams = SpikeParams()) -> list[Spike]:
    """Spikes of every topic column of a per-day count table, ordered by day then by p-value."""
    days = list(topic_counts.index)
    spikes = [
        Spike(topic=str(topic), day=days[s["index"]], count=s["count"], baseline_mean=s["baseline_mean"],
              expected=s["expected"], ratio=s["ratio"], p_value=s["p_value"], history_days=s["history_days"])
        for topic in topic_counts.columns
        for s in spikes_in_series(topic_counts[topic].tolist(), params)
    ]
    return sorted(spikes, key=lambda s: (s.day, s.p_value))


def urgent_comments(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Urgent comments, most recent first (the order an operator works through them)."""
    urgent = frame[frame["urgent"]].sort_values("wall_clock", ascending=False, kind="stable")
    return [
        {"id": r.id if not isinstance(r.id, np.integer) else int(r.id), "timestamp": r.timestamp.isoformat(),
         "day": r.day.isoformat(), "topic": r.topic, "category": r.category,
         "urgent_score": round(float(r.urgent_score), 4), "text": r.text}
        for r in urgent.itertuples(index=False)
    ]


def analyze(frame: pd.DataFrame, taxonomy: Taxonomy | None = None,
            params: SpikeParams = SpikeParams()) -> StreamAnalytics:
    """Everything the report and /analytics show, from a frame built by build_frame()."""
    taxonomy = taxonomy or default_taxonomy()
    if frame.empty:
        raise AnalyticsError("no comments to analyse")
    topic_counts = daily_counts(frame, "topic", taxonomy.topic_ids)
    category_counts = daily_counts(frame, "category", taxonomy.categories)
    totals = category_counts.sum()
    overall = {c: round(float(totals[c] / max(int(totals.sum()), 1)), 4) for c in taxonomy.categories}
    return StreamAnalytics(
        days=list(topic_counts.index), topic_counts=topic_counts, category_counts=category_counts,
        category_share_overall=overall, urgent=urgent_comments(frame),
        spikes=detect_spikes(topic_counts, params), params=params, n_comments=len(frame),
    )
