"""Topic spikes: a day on which a topic gets far more comments than its recent days, by a Poisson test.

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

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.stats import poisson

if TYPE_CHECKING:
    from training.runtime.analytics import CountTable


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
        return {"name": "poisson_tail_vs_trailing_mean", "description": self.describe(), "params": asdict(self)}


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


def spikes_in_series(counts: Sequence[int], params: SpikeParams = SpikeParams()) -> list[dict[str, Any]]:
    """Apply the module's spike test to one daily series; positions are indices into `counts`."""
    x = np.asarray(counts, dtype=float)
    out = []
    for i in range(len(x)):
        history = x[max(0, i - params.window_days) : i]
        if len(history) < params.min_history_days:
            continue
        count = int(x[i])
        mean = float(history.mean())
        lam = max(mean, params.min_lambda)
        if count < params.min_count or count < params.min_ratio * lam:
            continue
        p = float(poisson.sf(count - 1, lam))
        if p < params.alpha:
            out.append(
                {
                    "index": i,
                    "count": count,
                    "baseline_mean": round(mean, 4),
                    "expected": round(lam, 4),
                    "ratio": round(count / lam, 3),
                    "p_value": p,
                    "history_days": len(history),
                }
            )
    return out


def detect_spikes(topic_counts: CountTable, params: SpikeParams = SpikeParams()) -> list[Spike]:
    """Spikes of every label (topic) of a per-day count table, ordered by day then by p-value."""
    days = topic_counts.days
    spikes = [
        Spike(
            topic=str(topic),
            day=days[s["index"]],
            count=s["count"],
            baseline_mean=s["baseline_mean"],
            expected=s["expected"],
            ratio=s["ratio"],
            p_value=s["p_value"],
            history_days=s["history_days"],
        )
        for topic in topic_counts.labels
        for s in spikes_in_series(topic_counts.series(topic).tolist(), params)
    ]
    return sorted(spikes, key=lambda s: (s.day, s.p_value))
