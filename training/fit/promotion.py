"""The one promotion rule, used by `train` and `retrain`: which model `models/latest` and MLflow's `champion`
alias point to. Both move together or not at all.

The champion is the model `models/latest` names (the one the service serves). A candidate is compared with
it on the same rows: the corpus's fixed test split, which no feedback and no tuning touches.

Rule (paired bootstrap, B = 2,000 resamples of the test rows, the same resample for both models):
    Δ = macro-F1 over the flags (candidate − champion) on each resample;
    keep the champion when the candidate is worse beyond noise: the one-sided 95 % upper bound of Δ is
    below 0 (fewer than 5 % of resamples favour the candidate), or any single label's F1 (flags and urgent)
    is worse beyond noise at 99 % (a stricter bound, since five labels are tested);
    otherwise promote: a difference within noise goes to the newer model, which has seen more labels.
No champion (a fresh clone), or a champion that cannot be loaded any more, means the candidate is promoted;
`--force` promotes whatever the comparison says, and the decision records that it was forced.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from training.runtime.bundle import BundleError, latest_version, set_latest_version

N_BOOTSTRAP = 2000
MACRO_ALPHA = 0.05
LABEL_ALPHA = 0.01


@dataclass
class LabelComparison:
    label: str
    champion: float
    candidate: float
    delta_low: float  # lower bound of the (1 - 2·alpha) bootstrap interval of Δ
    delta_high: float  # upper bound
    p_not_worse: float  # share of resamples in which the candidate is not worse (small: worse)

    @property
    def delta(self) -> float:
        return self.candidate - self.champion


@dataclass
class Comparison:
    rows: int
    macro: LabelComparison
    labels: list[LabelComparison]
    n_bootstrap: int


@dataclass
class PromotionDecision:
    promote: bool
    reasons: list[str]
    forced: bool = False
    comparison: Comparison | None = None
    evidence: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.promote


def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    denom = 2 * tp + fp + fn
    return np.divide(2 * tp, denom, out=np.zeros_like(denom, dtype=float), where=denom > 0)


def paired_bootstrap(
    y_true: dict[str, np.ndarray],
    champion: dict[str, np.ndarray],
    candidate: dict[str, np.ndarray],
    macro_labels: Sequence[str],
    *,
    n_bootstrap: int = N_BOOTSTRAP,
    seed: int = 0,
) -> Comparison:
    """F1 per label and macro-F1 over `macro_labels` for both models on the same resamples of the rows.

    Resampling weights are multinomial counts, so each resample's TP/FP/FN are one matrix product.
    """
    labels = list(y_true)
    n = len(next(iter(y_true.values())))
    if n == 0:
        raise ValueError("no test rows to compare the models on")
    rng = np.random.default_rng(seed)
    weights = np.vstack([np.ones(n), rng.multinomial(n, np.full(n, 1.0 / n), size=n_bootstrap)])  # row 0: data

    def f1_table(pred: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = {}
        for label in labels:
            y, p = y_true[label].astype(bool), pred[label].astype(bool)
            tp, fp, fn = (weights @ (y & p), weights @ (~y & p), weights @ (y & ~p))
            out[label] = _f1(tp, fp, fn)
        return out

    old, new = f1_table(champion), f1_table(candidate)

    def compare(name: str, a: np.ndarray, b: np.ndarray, alpha: float) -> LabelComparison:
        delta = b[1:] - a[1:]
        return LabelComparison(
            label=name,
            champion=round(float(a[0]), 4),
            candidate=round(float(b[0]), 4),
            delta_low=round(float(np.quantile(delta, alpha)), 4),
            delta_high=round(float(np.quantile(delta, 1 - alpha)), 4),
            p_not_worse=round(float(np.mean(delta >= 0)), 4),
        )

    macro_old = np.mean([old[m] for m in macro_labels], axis=0)
    macro_new = np.mean([new[m] for m in macro_labels], axis=0)
    return Comparison(
        rows=n,
        n_bootstrap=n_bootstrap,
        macro=compare("flags_macro_f1", macro_old, macro_new, MACRO_ALPHA),
        labels=[compare(label, old[label], new[label], LABEL_ALPHA) for label in labels],
    )


def decide(
    comparison: Comparison | None, *, force: bool = False, no_champion_reason: str | None = None
) -> PromotionDecision:
    """The rule of the module docstring, with the evidence each reason rests on."""
    if comparison is None:
        reason = no_champion_reason or "no champion to compare with"
        return PromotionDecision(True, [reason + ": the candidate is promoted"], forced=False)
    worse: list[str] = []
    m = comparison.macro
    if m.delta_high < 0:
        worse.append(
            f"flags macro-F1 {m.candidate:.4f} vs champion {m.champion:.4f}: worse beyond noise "
            f"(95 % upper bound of Δ {m.delta_high:+.4f} < 0)"
        )
    for c in comparison.labels:
        if c.delta_high < 0:
            worse.append(
                f"{c.label} F1 {c.candidate:.4f} vs {c.champion:.4f}: worse beyond noise "
                f"(99 % upper bound of Δ {c.delta_high:+.4f} < 0)"
            )
    evidence = format_comparison(comparison).splitlines()
    if worse and force:
        return PromotionDecision(
            True,
            ["forced (--force) although " + "; ".join(worse)],
            forced=True,
            comparison=comparison,
            evidence=evidence,
        )
    if worse:
        return PromotionDecision(False, worse, comparison=comparison, evidence=evidence)
    reason = (
        f"flags macro-F1 {m.candidate:.4f} vs champion {m.champion:.4f} (Δ {m.delta:+.4f}, 95 % interval "
        f"[{m.delta_low:+.4f}, {m.delta_high:+.4f}]); no label worse beyond noise"
    )
    return PromotionDecision(True, [reason], forced=force, comparison=comparison, evidence=evidence)


def format_comparison(comparison: Comparison) -> str:
    """Champion and candidate side by side, with each Δ's bootstrap interval."""
    lines = [
        f"paired bootstrap on the fixed test split: {comparison.rows} rows, {comparison.n_bootstrap} resamples",
        f"{'label':<22}{'champion':>10}{'candidate':>11}{'delta':>9}{'interval of delta':>24}",
    ]
    for c in [*comparison.labels, comparison.macro]:
        level = "95 %" if c is comparison.macro else "99 %"
        interval = f"[{c.delta_low:+.4f}, {c.delta_high:+.4f}] {level}"
        lines.append(f"{c.label:<22}{c.champion:>10.4f}{c.candidate:>11.4f}{c.delta:>+9.4f}{interval:>24}")
    return "\n".join(lines)


def compare_metrics(
    champion_metrics: dict[str, Any], candidate_metrics: dict[str, Any], flags: Sequence[str]
) -> Comparison:
    """From two `evaluate()` results on the same rows (their per-row decisions and labels)."""
    y = {label: yt for label, (yt, _) in candidate_metrics["_scores"].items()}
    champ_y = {label: yt for label, (yt, _) in champion_metrics["_scores"].items()}
    if any(len(champ_y[k]) != len(v) or not np.array_equal(champ_y[k], v) for k, v in y.items()):
        raise ValueError("champion and candidate were not scored on the same test rows")
    return paired_bootstrap(y, champion_metrics["_decisions"], candidate_metrics["_decisions"], flags)


@dataclass
class PromotionResult:
    decision: PromotionDecision
    champion_version: str | None
    candidate_version: str
    mlflow_alias_moved: bool = False


def promote_if_better(
    model_dir: Path,
    candidate_version: str,
    candidate_metrics: dict[str, Any],
    *,
    score_champion: Callable[[str], dict[str, Any]],
    flags: Sequence[str],
    registered_version: str | None = None,
    force: bool = False,
    echo: Callable[[str], None] = print,
) -> PromotionResult:
    """Compare with the champion (`score_champion(version)` evaluates it on the candidate's test rows),
    decide, print the decision with its evidence, and move both pointers when it says so."""
    champion_version: str | None = None
    no_champion = None
    comparison = None
    try:
        champion_version = latest_version(model_dir)
    except BundleError:
        no_champion = f"no champion in {model_dir} (no models/latest)"
    if champion_version is not None:
        try:
            comparison = compare_metrics(score_champion(champion_version), candidate_metrics, flags)
        except BundleError as exc:
            no_champion = f"the champion {champion_version} cannot be loaded ({exc})"
    decision = decide(comparison, force=force, no_champion_reason=no_champion)
    for line in decision.evidence:
        echo(line)
    verdict = "PROMOTE" + (" (forced)" if decision.forced else "") if decision.promote else "KEEP CHAMPION"
    echo(f"promotion: {verdict}: {'; '.join(decision.reasons)}")
    result = PromotionResult(decision, champion_version, candidate_version)
    if decision.promote:
        result.mlflow_alias_moved = move_pointers(model_dir, candidate_version, registered_version)
        echo(
            f"models/latest -> {candidate_version}"
            + (
                f", MLflow alias champion -> version {registered_version}"
                if result.mlflow_alias_moved
                else " (no MLflow run: alias not touched)"
            )
        )
    else:
        echo(f"kept {champion_version}; the candidate bundle {candidate_version} stays in {model_dir} (not served)")
    return result


def move_pointers(model_dir: Path, version: str, registered_version: str | None) -> bool:
    """The alias first (the step that can fail on a remote server), then the atomic file replace; if the
    file cannot be written, the alias goes back, so the two never disagree. True when the alias moved."""
    if registered_version is None:
        set_latest_version(model_dir, version)
        return False
    from training.fit.tracking import champion_version, set_champion

    previous = champion_version()
    set_champion(registered_version)
    try:
        set_latest_version(model_dir, version)
    except Exception:
        if previous is not None:
            set_champion(previous)
        raise
    return True
