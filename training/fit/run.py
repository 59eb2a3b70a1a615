"""One training run end to end: data → model → test metrics → real-text benchmark → bundle → MLflow →
promotion. `python -m training train` runs it on the corpus; `retrain` runs it on the corpus plus feedback."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from training.datasets.corpus import data_hash
from training.datasets.extras import load_extras
from training.evaluation.metrics import evaluate, flat_metrics, public_metrics, save_plots
from training.evaluation.real_eval import Section, flat_real_metrics, format_real_eval, run_real_eval
from training.fit.promotion import PromotionResult, promote_if_better
from training.fit.train import TrainConfig, train_model
from training.runtime.bundle import load_bundle, new_version, save_bundle
from training.runtime.model import TriageModel
from training.runtime.taxonomy import Taxonomy, default_taxonomy


@dataclass
class RunResult:
    model: TriageModel
    metrics: dict[str, Any]
    bundle_dir: Path
    tracking: dict[str, Any] | None
    real: list[Section]
    promotion: PromotionResult


def run_training(
    corpus: pd.DataFrame,
    *,
    model_dir: Path,
    extras: list[str] | None = None,
    datasets_dir: Path | None = None,
    extra_weight: float | None = None,
    allow_non_commercial: bool = False,
    config: TrainConfig | None = None,
    track: bool = True,
    force: bool = False,
    echo: Callable[[str], None] = print,
    params: dict[str, Any] | None = None,
    taxonomy: Taxonomy | None = None,
) -> RunResult:
    taxonomy = taxonomy or default_taxonomy()
    config = config or TrainConfig()
    train_df = corpus[corpus["split"] == "train"].reset_index(drop=True)
    test_df = corpus[corpus["split"] == "test"].reset_index(drop=True)
    extra_df = load_extras(
        extras or [], datasets_dir, weight=extra_weight, allow_non_commercial=allow_non_commercial, taxonomy=taxonomy
    )
    dhash = data_hash(corpus)
    model, choices = train_model(
        train_df, taxonomy=taxonomy, config=config, extra_df=extra_df, version=new_version(dhash)
    )
    metrics = evaluate(model, test_df, taxonomy)
    real_sections = run_real_eval(model, datasets_dir, taxonomy=taxonomy, progress=config.progress)
    real_metrics = flat_real_metrics(real_sections)
    model_comparison = [c.__dict__ for c in choices]
    extras_info = {
        "extras": extras or [],
        "extra_weight": extra_weight,
        "model_comparison": model_comparison,
        "train_rows": len(train_df),
        "test_rows": len(test_df),
        "extra_rows": 0 if extra_df is None else len(extra_df),
        "real_eval": real_metrics,
    }
    bundle_dir = save_bundle(
        model, model_dir, data_hash=dhash, metrics=public_metrics(metrics), extra=extras_info, set_latest=False
    )
    tracking = None
    if track:
        from training.fit.tracking import log_training_run

        with tempfile.TemporaryDirectory() as tmp:
            plots = save_plots(metrics, Path(tmp))
            all_params = {
                "folds": config.folds,
                "families": ",".join(config.families),
                "extras": ",".join(extras or []) or "none",
                "extra_weight": "per-set defaults" if extra_weight is None else extra_weight,
                "train_rows": len(train_df),
                "test_rows": len(test_df),
                **{f"threshold_{k}": round(v, 4) for k, v in model.thresholds.items()},
                **{f"family_{c.label}": c.family for c in choices},
                **(params or {}),
            }
            real_md = Path(tmp) / "real_eval.md"
            real_md.write_text(
                format_real_eval(real_sections, model_version=model.version, markdown=True), encoding="utf-8"
            )
            tracking = log_training_run(
                bundle_dir=bundle_dir,
                params=all_params,
                metrics={**flat_metrics(metrics), **real_metrics},
                plots=[*plots, real_md],
                data_hash=dhash,
                head_choices=model_comparison,
            )

    def score_champion(version: str) -> dict[str, Any]:
        champion, _ = load_bundle(model_dir, version, taxonomy)
        return evaluate(champion, test_df, taxonomy)

    promotion = promote_if_better(
        Path(model_dir),
        model.version,
        metrics,
        score_champion=score_champion,
        flags=taxonomy.flags,
        force=force,
        echo=echo,
        registered_version=(tracking or {}).get("registered_version"),
    )
    return RunResult(
        model=model, metrics=metrics, bundle_dir=bundle_dir, tracking=tracking, real=real_sections, promotion=promotion
    )
