"""The one promotion rule: paired bootstrap on the same rows, and both pointers moving together."""

from __future__ import annotations

import numpy as np
import pytest

from training.fit.promotion import decide, paired_bootstrap, promote_if_better
from training.runtime.bundle import latest_version, set_latest_version

LABELS = ("a", "b")


def _labels(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {k: rng.random(n) < 0.3 for k in LABELS}


def _flip(pred: dict[str, np.ndarray], label: str, share: float, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {k: v.copy() for k, v in pred.items()}
    idx = rng.choice(len(out[label]), size=int(share * len(out[label])), replace=False)
    out[label][idx] = ~out[label][idx]
    return out


def test_identical_models_are_promoted_and_noise_is_not_called_a_loss():
    y = _labels(800, 0)
    champion = _flip(y, "a", 0.05, 1)
    same = paired_bootstrap(y, champion, champion, LABELS, n_bootstrap=500)
    assert same.macro.delta == 0 and same.macro.delta_low == 0 and same.macro.delta_high == 0
    assert decide(same).promote
    # A candidate that errs on as many rows, but different ones, is within noise: promoted.
    other = _flip(y, "a", 0.05, 2)
    assert decide(paired_bootstrap(y, champion, other, LABELS, n_bootstrap=500)).promote


def test_a_clearly_worse_candidate_is_kept_out_and_force_overrides_saying_so():
    y = _labels(800, 0)
    champion = _flip(y, "a", 0.02, 1)
    worse = _flip(champion, "b", 0.25, 3)  # label b loses a quarter of its rows
    comparison = paired_bootstrap(y, champion, worse, LABELS, n_bootstrap=500)
    b = next(c for c in comparison.labels if c.label == "b")
    assert b.delta < 0 and b.delta_high < 0
    kept = decide(comparison)
    assert not kept.promote and any(r.startswith("b F1") for r in kept.reasons)
    forced = decide(comparison, force=True)
    assert forced.promote and forced.forced and "forced" in forced.reasons[0]


def test_a_clearly_better_candidate_is_promoted():
    y = _labels(800, 0)
    champion = _flip(y, "a", 0.2, 1)
    better = _flip(y, "a", 0.02, 1)
    comparison = paired_bootstrap(y, champion, better, LABELS, n_bootstrap=500)
    assert comparison.macro.delta_low > 0
    assert decide(comparison).promote


def test_no_champion_promotes_the_first_model(tmp_path):
    for name in ("v1", "v2"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "manifest.json").write_text("{}")
    lines: list[str] = []

    def never(version: str) -> dict:
        raise AssertionError("there is no champion to score")

    result = promote_if_better(tmp_path, "v1", {}, score_champion=never, flags=LABELS, echo=lines.append)
    assert result.decision.promote and result.champion_version is None
    assert latest_version(tmp_path) == "v1"
    assert any("no champion" in line for line in lines)


def test_a_worse_candidate_leaves_latest_where_it_was(tmp_path):
    for name in ("v1", "v2"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "manifest.json").write_text("{}")
    set_latest_version(tmp_path, "v1")
    y = _labels(600, 5)
    champion = {k: v.copy() for k, v in y.items()}
    worse = _flip(champion, "a", 0.3, 6)

    def metrics(pred: dict[str, np.ndarray]) -> dict:
        return {"_scores": {k: (y[k].astype(int), pred[k].astype(float)) for k in LABELS}, "_decisions": pred}

    lines: list[str] = []
    result = promote_if_better(
        tmp_path, "v2", metrics(worse), score_champion=lambda v: metrics(champion), flags=LABELS, echo=lines.append
    )
    assert not result.decision.promote and latest_version(tmp_path) == "v1"
    assert any("KEEP CHAMPION" in line for line in lines) and any("paired bootstrap" in line for line in lines)
    forced = promote_if_better(
        tmp_path,
        "v2",
        metrics(worse),
        score_champion=lambda v: metrics(champion),
        flags=LABELS,
        force=True,
        echo=lines.append,
    )
    assert forced.decision.forced and latest_version(tmp_path) == "v2"
    assert any("PROMOTE (forced)" in line for line in lines)


def test_models_scored_on_different_rows_are_refused():
    from training.fit.promotion import compare_metrics

    a = {"_scores": {"a": (np.array([1, 0]), np.zeros(2))}, "_decisions": {"a": np.array([True, False])}}
    b = {"_scores": {"a": (np.array([1, 0, 1]), np.zeros(3))}, "_decisions": {"a": np.array([True, False, True])}}
    with pytest.raises(ValueError, match="same test rows"):
        compare_metrics(a, b, ["a"])
