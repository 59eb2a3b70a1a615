"""Test-split metrics with and without each extra corpus, for the decision of what the default uses."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from training.datasets.extras import load_extras
from training.evaluation.metrics import evaluate
from training.fit.train import TrainConfig, train_model
from training.runtime.taxonomy import default_taxonomy


def compare_extras(
    corpus: pd.DataFrame, names: list[str], datasets_dir: Path | None, weight: float, config: TrainConfig | None = None
) -> str:
    taxonomy = default_taxonomy()
    config = config or TrainConfig(folds=3, families=("logreg",), progress=False)
    train_df = corpus[corpus["split"] == "train"].reset_index(drop=True)
    test_df = corpus[corpus["split"] == "test"].reset_index(drop=True)
    setups: list[tuple[str, list[str]]] = (
        [("none", [])] + [(n, [n]) for n in names] + ([("all", names)] if len(names) > 1 else [])
    )
    cols = [*taxonomy.flags, taxonomy.urgent]
    lines = [f"{'extras':<24}{'rows':>7}" + "".join(f"{c[:12]:>13}" for c in cols) + f"{'macroF1':>9}{'topic':>7}"]
    for label, extra_names in setups:
        extra = load_extras(extra_names, datasets_dir, weight=weight, allow_non_commercial=True, taxonomy=taxonomy)
        model, _ = train_model(train_df, taxonomy=taxonomy, config=config, extra_df=extra)
        m = evaluate(model, test_df, taxonomy)
        n = 0 if extra is None else len(extra)
        lines.append(
            f"{label:<24}{n:>7}"
            + "".join(f"{m['labels'][c]['f1']:>13.3f}" for c in cols)
            + f"{m['flags_macro_f1']:>9.3f}{m['topic_accuracy_actionable']:>7.3f}"
        )
    return "\n".join(lines)
