"""The real sets: benchmark parts never reach training, and the real-text benchmark runs on them."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from training.cli import main
from training.datasets import real_sets as rs
from training.datasets.corpus import canonical_text
from training.datasets.extras import load_extras
from training.evaluation.real_eval import flat_real_metrics, format_real_eval, run_real_eval

ROOT = rs.DEFAULT_DATASETS_DIR
needs_datasets = pytest.mark.skipif(not ROOT.is_dir(), reason="../shared/datasets not present")


def _keys(texts) -> set[str]:
    return {canonical_text(t) for t in texts}


@needs_datasets
def test_training_and_benchmark_parts_are_disjoint():
    n_tr, t_tr = rs.paradetox_train(ROOT)
    n_ev, t_ev = rs.paradetox_eval(ROOT)
    assert len(n_ev) > 1000 and len(t_ev) > 1500
    assert len(n_tr) > 5 * len(n_ev)  # the train split is the larger part
    assert set(rs.kursk_train(ROOT)["key"]).isdisjoint(rs.kursk_eval(ROOT)["key"])
    tr, te = rs.pikabu_train(ROOT), rs.pikabu_eval(ROOT)
    assert len(te) == pytest.approx(0.2 * (len(tr) + len(te)), abs=2)
    assert abs(te["toxic"].mean() - tr["toxic"].mean()) < 0.01  # stratified


@needs_datasets
@pytest.mark.parametrize("name", ["ru_paradetox", "ru_toxic_2ch_pikabu", "kursk_citizen_appeals", "vk_gov_pages"])
def test_no_benchmark_text_reaches_training(name):
    """The guard drops every training row whose text is in a held-out part (the toxic sets share texts)."""
    extra = load_extras([name])
    held = rs.held_out_mask(extra["text"], ROOT)
    assert not held.any()
    benchmark = _keys(rs.vk_gold(ROOT)["text"]) | _keys(rs.ok_ru_eval(ROOT)) | _keys(rs.pikabu_eval(ROOT)["text"])
    assert benchmark.isdisjoint(_keys(extra["text"]))


@needs_datasets
def test_our_vk_labels_never_include_the_600(tmp_path):
    gold_ids = set(rs.vk_gold(ROOT)["id"])
    ours = rs.vk_our_labels(ROOT)
    assert len(ours) > 1000 and gold_ids.isdisjoint(ours["id"])
    # Even a labels file that names benchmark rows cannot smuggle them in.
    sneaky = pd.concat(
        [
            pd.read_csv(rs.REAL_LABELS_DIR / "vk_gov_pages.csv", dtype=str, keep_default_na=False),
            pd.read_csv(ROOT / "vk_gov_pages" / "labels.csv", dtype=str, keep_default_na=False),
        ]
    )
    path = tmp_path / "labels.csv"
    sneaky.to_csv(path, index=False)
    assert gold_ids.isdisjoint(rs.vk_our_labels(ROOT, path)["id"])


@needs_datasets
def test_real_eval_reports_every_section(trained_model):
    sections = run_real_eval(trained_model, ROOT, progress=False)
    assert [s.key for s in sections] == ["R0", "R1", "R2", "R3", "R4", "R5"]
    assert not any(s.skipped for s in sections)
    flat = flat_real_metrics(sections)
    for key in (
        "real_R0_category_accuracy",
        "real_R0_false_moderation",
        "real_R0_topic_accuracy",
        "real_R1_moderated",
        "real_R2_moderated",
        "real_R3_moderated",
        "real_R4_f1",
        "real_R5_profanity",
        "real_R5_topic_accuracy",
    ):
        assert 0.0 <= flat[key] <= 1.0, key
    assert sections[0].rows == 600
    text = format_real_eval(sections, model_version="v", markdown=True)
    assert text.startswith("# Real-text benchmark") and "| R4" in text and "R0 per label" in text


def test_real_eval_skips_missing_sets_and_says_so(trained_model, tmp_path):
    if (ROOT / "vk_gov_pages").is_dir():
        shutil.copytree(ROOT / "vk_gov_pages", tmp_path / "vk_gov_pages")
    sections = run_real_eval(trained_model, tmp_path, progress=False)
    skipped = [s.key for s in sections if s.skipped]
    assert {"R1", "R3", "R4", "R5"} <= set(skipped)
    assert all("not found" in s.skipped for s in sections if s.skipped)


@needs_datasets
def test_eval_real_cli_writes_the_report(trained_model_dir, tmp_path, capsys):
    out = tmp_path / "real_eval.md"
    assert main(["eval-real", "--model-dir", str(trained_model_dir), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "R0 vk_gov_pages" in printed and "R5_topic_accuracy" in printed
    assert out.read_text(encoding="utf-8").count("| R") >= 10


def test_eval_real_cli_errors_clearly(trained_model_dir, tmp_path, capsys):
    assert main(["eval-real", "--model-dir", str(trained_model_dir), "--datasets-dir", str(tmp_path / "nope")]) == 2
    assert "datasets directory not found" in capsys.readouterr().err
    assert main(["eval-real", "--model-dir", str(trained_model_dir), "--datasets-dir", str(tmp_path)]) == 2
    assert "no real set found" in capsys.readouterr().err


@needs_datasets
@pytest.mark.slow
def test_lexicon_audit_lists_matches_with_counts(tmp_path, capsys):
    out = tmp_path / "audit.tsv"
    assert main(["lexicon-audit", "--out", str(out)]) == 0
    table = pd.read_csv(out, sep="\t", keep_default_na=False)
    assert list(table.columns[:2]) == ["match", "total"] and "vk_gov_pages" in table.columns
    assert len(table) > 500 and (np.diff(table["total"].to_numpy()) <= 0).all()
    # The audit's innocent finds are fixed: nothing in the formal Kursk appeals is мат any more.
    assert table["kursk_citizen_appeals"].sum() == 0
