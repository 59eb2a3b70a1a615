"""The real-text benchmark (R0–R5): a saved model on the held-out parts of the real sets.

Which rows are held out is decided in `training/real_sets.py`; nothing here trains. Each section is
skipped, and says so, when its set is not under the datasets directory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import precision_recall_fscore_support
from tqdm.auto import tqdm

from training.datasets import real_sets as rs
from training.runtime.batch import classify_in_chunks
from training.runtime.model import TriageModel
from training.runtime.taxonomy import Taxonomy, default_taxonomy

BATCH = 1024
MAX_TEXT_CHARS = 5000
# The targets; a figure is "met" when it is on the right side of its target.
TARGETS: dict[str, tuple[str, float]] = {
    "R0_category_accuracy": (">=", 0.85),
    "R0_false_moderation": ("<=", 0.03),
    "R0_topic_accuracy": (">=", 0.80),
    "R1_moderated": ("<=", 0.05),
    "R2_moderated": (">=", 0.85),
    "R3_moderated": (">=", 0.85),
    "R4_f1": (">=", 0.80),
    "R5_profanity": ("<=", 0.001),
    "R5_moderated": ("<=", 0.01),
    "R5_no_question": ("<=", 0.02),
    "R5_topic_accuracy": (">=", 0.85),
}


@dataclass
class Section:
    key: str
    title: str
    rows: int
    held_out: str
    metrics: dict[str, float] = field(default_factory=dict)
    table: list[tuple[str, ...]] = field(default_factory=list)  # extra per-label rows (R0)
    skipped: str | None = None


def _classify(
    model: TriageModel, texts: list[str], taxonomy: Taxonomy, desc: str, progress: bool
) -> list[dict[str, Any]]:
    # The service's MAX_TEXT_CHARS (5,000): longer real comments are scored on what the service would accept.
    clipped = [t[:MAX_TEXT_CHARS] for t in texts]
    with tqdm(total=len(texts), desc=desc, disable=not progress, leave=False) as bar:
        return classify_in_chunks(model, clipped, chunk=BATCH, taxonomy=taxonomy, progress=bar.update)


def _moderated(results: list[dict[str, Any]], taxonomy: Taxonomy) -> np.ndarray:
    mods = taxonomy.moderation_flags
    return np.array([any(r["flags"][f] for f in mods) for r in results], dtype=bool)


def _flag(results: list[dict[str, Any]], label: str) -> np.ndarray:
    return np.array([r["flags"][label] for r in results], dtype=bool)


def _share(x: np.ndarray) -> float:
    return float(np.mean(x)) if len(x) else float("nan")


def _moderation_shares(key: str, results: list[dict[str, Any]], taxonomy: Taxonomy) -> dict[str, float]:
    """The share moderated (any moderation flag) and the share of each flag: R1_moderated, R1_profanity, …"""
    shares = {f"{key}_moderated": _share(_moderated(results, taxonomy))}
    shares.update({f"{key}_{f}": _share(_flag(results, f)) for f in taxonomy.moderation_flags})
    return shares


def r0_vk(model, root, taxonomy, progress) -> Section:
    gold = rs.vk_gold(root)
    res = _classify(model, gold["text"].tolist(), taxonomy, "R0 vk_gov_pages", progress)
    sec = Section(
        "R0",
        "vk_gov_pages, 600 labelled real comments",
        len(gold),
        "all 600 (our training labels cover other rows of the set only)",
    )
    for label in [*taxonomy.flags, taxonomy.urgent]:
        y = gold[label].astype(int).to_numpy()
        pred = np.array([r["urgent"] if label == taxonomy.urgent else r["flags"][label] for r in res], dtype=bool)
        p, r, f, _ = precision_recall_fscore_support(y, pred, average="binary", zero_division=0)
        sec.table.append((label, f"{p:.3f}", f"{r:.3f}", f"{f:.3f}", str(int(y.sum())), str(int(pred.sum()))))
        sec.metrics[f"R0_{label}_f1"] = float(f)
        sec.metrics[f"R0_{label}_precision"] = float(p)
        sec.metrics[f"R0_{label}_recall"] = float(r)
    true_cat = [taxonomy.category_for({f: row[f] == "1" for f in taxonomy.flags}) for _, row in gold.iterrows()]
    pred_cat = [r["category"] for r in res]
    sec.metrics["R0_category_accuracy"] = _share(np.array(true_cat) == np.array(pred_cat))
    clean = ~gold[list(taxonomy.moderation_flags)].eq("1").any(axis=1).to_numpy()
    sec.metrics["R0_false_moderation"] = _share(_moderated(res, taxonomy)[clean])
    act = (gold["topic"] != "").to_numpy()
    pred_topic = np.array([r["topic"] or "" for r in res])
    sec.metrics["R0_topic_accuracy"] = _share(pred_topic[act] == gold["topic"].to_numpy()[act])
    sec.metrics["R0_clean_rows"] = float(clean.sum())
    return sec


def r1_r2_paradetox(model, root, taxonomy, progress) -> list[Section]:
    neutral, toxic = rs.paradetox_eval(root)
    res_n = _classify(model, neutral.tolist(), taxonomy, "R1 paradetox neutral", progress)
    res_t = _classify(model, toxic.tolist(), taxonomy, "R2 paradetox toxic", progress)
    held = "dev and test splits (training may use the train split)"
    return [
        Section(
            "R1", "ru_paradetox neutral rewrites", len(neutral), held, metrics=_moderation_shares("R1", res_n, taxonomy)
        ),
        Section(
            "R2", "ru_paradetox toxic originals", len(toxic), held, metrics=_moderation_shares("R2", res_t, taxonomy)
        ),
    ]


def r3_ok_ru(model, root, taxonomy, progress) -> Section:
    texts = rs.ok_ru_eval(root)
    res = _classify(model, texts.tolist(), taxonomy, "R3 ok.ru toxic", progress)
    return Section(
        "R3",
        "ok_ru_toxic_positives (ok.ru rows, all toxic)",
        len(texts),
        "all (CC BY-NC-SA: evaluation only, never training)",
        metrics=_moderation_shares("R3", res, taxonomy),
    )


def r4_pikabu(model, root, taxonomy, progress) -> Section:
    test = rs.pikabu_eval(root)
    res = _classify(model, test["text"].tolist(), taxonomy, "R4 2ch/pikabu", progress)
    y = test["toxic"].to_numpy().astype(int)
    pred = _moderated(res, taxonomy)
    p, r, f, _ = precision_recall_fscore_support(y, pred, average="binary", zero_division=0)
    sec = Section(
        "R4",
        "ru_toxic_2ch_pikabu: any moderation flag vs toxic",
        len(test),
        "20 % stratified, random_state 0 (training may use the other 80 %)",
    )
    sec.metrics.update({"R4_precision": float(p), "R4_recall": float(r), "R4_f1": float(f)})
    return sec


def r5_kursk(model, root, taxonomy, progress) -> Section:
    test = rs.kursk_eval(root)
    res = _classify(model, test["text_clean"].tolist(), taxonomy, "R5 kursk appeals", progress)
    sec = Section(
        "R5",
        "kursk_citizen_appeals: formal complaints, all actionable, no мат",
        len(test),
        "30 % of the mapped ≥ 4-word appeals, stratified by topic, seed 0",
    )
    sec.metrics["R5_profanity"] = _share(_flag(res, taxonomy.lexicon_flag))
    sec.metrics["R5_moderated"] = _share(_moderated(res, taxonomy))
    sec.metrics["R5_no_question"] = _share(_flag(res, taxonomy.no_question_flag))
    pred_topic = np.array([r["topic"] or "" for r in res])
    sec.metrics["R5_topic_accuracy"] = _share(pred_topic == test["our_topic"].to_numpy())
    return sec


RUNNERS: list[Callable[..., Section | list[Section]]] = [r0_vk, r1_r2_paradetox, r3_ok_ru, r4_pikabu, r5_kursk]


def run_real_eval(
    model: TriageModel, datasets_dir: Path | None = None, *, taxonomy: Taxonomy | None = None, progress: bool = True
) -> list[Section]:
    taxonomy = taxonomy or default_taxonomy()
    root = Path(datasets_dir) if datasets_dir else rs.DEFAULT_DATASETS_DIR
    sections: list[Section] = []
    for runner in RUNNERS:
        try:
            out = runner(model, root, taxonomy, progress)
        except rs.RealDataMissing as exc:
            name = runner.__name__.split("_", 1)[0].upper()
            sections.append(Section(name, runner.__name__, 0, "", skipped=str(exc)))
            continue
        sections.extend(out if isinstance(out, list) else [out])
    return sections


def flat_real_metrics(sections: list[Section]) -> dict[str, float]:
    """For MLflow: one number per figure, names prefixed real_."""
    return {f"real_{k}": round(v, 4) for s in sections for k, v in s.metrics.items() if v == v}


def _verdict(key: str, value: float) -> str:
    if key not in TARGETS:
        return ""
    op, target = TARGETS[key]
    ok = value >= target if op == ">=" else value <= target
    return f"{op} {target:g} {'met' if ok else 'NOT met'}"


def _shown(key: str, value: float) -> str:
    return f"{value:.3f}" if key.endswith(("accuracy", "_f1", "_precision", "_recall")) else f"{value:.1%}"


def _summary_keys(s: Section) -> list[str]:
    """R0's per-label figures go to its own table."""
    return [
        k
        for k in s.metrics
        if not (k.startswith("R0_") and k.endswith(("_f1", "_precision", "_recall"))) and k != "R0_clean_rows"
    ]


def format_real_eval(sections: list[Section], *, model_version: str, markdown: bool = False) -> str:
    """A plain-text table for the terminal, or Markdown for reports/real_eval.md."""
    lines: list[str] = []
    if markdown:
        lines += [
            f"# Real-text benchmark, model `{model_version}`",
            "",
            "| set | rows | held out (never trained on) | figure | value | target |",
            "|---|---|---|---|---|---|",
        ]
        for s in sections:
            if s.skipped:
                lines.append(f"| {s.key} | – | – | skipped: {s.skipped} | | |")
                continue
            for k in _summary_keys(s):
                lines.append(
                    f"| {s.key} {s.title} | {s.rows} | {s.held_out} | {k} | {_shown(k, s.metrics[k])} | "
                    f"{_verdict(k, s.metrics[k])} |"
                )
        for s in sections:
            if s.table:
                lines += [
                    "",
                    f"{s.key} per label:",
                    "",
                    "| label | P | R | F1 | gold | predicted |",
                    "|---|---|---|---|---|---|",
                    *("| " + " | ".join(row) + " |" for row in s.table),
                ]
        return "\n".join(lines) + "\n"
    lines.append(f"real-text benchmark, model {model_version}")
    for s in sections:
        if s.skipped:
            lines.append(f"{s.key}: skipped ({s.skipped})")
            continue
        lines.append(f"{s.key} {s.title}: {s.rows} rows; held out: {s.held_out}")
        lines += [f"  {k:<28} {_shown(k, s.metrics[k]):>8}  {_verdict(k, s.metrics[k])}" for k in _summary_keys(s)]
        if s.table:
            lines.append(f"  {'label':<22}{'P':>7}{'R':>7}{'F1':>7}{'gold':>6}{'pred':>6}")
            lines += [f"  {r[0]:<22}{r[1]:>7}{r[2]:>7}{r[3]:>7}{r[4]:>6}{r[5]:>6}" for r in s.table]
    return "\n".join(lines) + "\n"
