"""`python -m training predict`: CSV and text input, all fields out; clear errors without tracebacks."""

from __future__ import annotations

import csv

import pandas as pd
import pytest

from training.cli import main
from training.runtime.taxonomy import default_taxonomy

TAX = default_taxonomy()
TEXTS = [
    "Третий день нет горячей воды в доме на Ленина 5",
    "Спасибо всем за праздник, было здорово!",
    "бл@ть, когда уже починят дорогу на Садовой",
]
EXPECTED_COLUMNS = [
    "text",
    "category",
    "action",
    *TAX.flags,
    *(f"{f}_score" for f in TAX.flags),
    "topic",
    "topic_score",
    "route",
    TAX.urgent,
    "urgent_score",
    "evidence",
]


def _check_output(path, texts: list[str], id_column: str | None = None) -> pd.DataFrame:
    out = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(out.columns) == ([id_column] if id_column else []) + EXPECTED_COLUMNS
    assert out["text"].tolist() == texts
    assert set(out["category"]) <= set(TAX.categories)
    assert set(out["action"]) <= set(TAX.actions)
    assert set(out["topic"]) <= {*TAX.topic_ids, ""}
    for f in (*TAX.flags, TAX.urgent):
        assert set(out[f]) <= {"0", "1"}
    for f in TAX.flags:
        assert all(0.0 <= float(s) <= 1.0 for s in out[f"{f}_score"])
    return out


def test_predict_csv(trained_model_dir, tmp_path, capsys) -> None:
    src = tmp_path / "in.csv"
    pd.DataFrame({"id": ["c-7", "2", "x"], "comment": TEXTS}).to_csv(src, index=False)
    dst = tmp_path / "out.csv"
    code = main(
        ["predict", str(src), "-o", str(dst), "--text-column", "comment", "--model-dir", str(trained_model_dir)]
    )
    assert code == 0
    out = _check_output(dst, TEXTS, id_column="id")
    assert out["id"].tolist() == ["c-7", "2", "x"]  # every row keeps the input's id
    assert out.at[0, "topic"] == "housing_utilities" and out.at[0, "route"]
    assert out.at[2, "profanity"] == "1" and out.at[2, "evidence"] == f"{TAX.lexicon_flag}:бл@ть"
    assert "wrote 3 rows" in capsys.readouterr().err


def test_predict_txt_one_per_line(trained_model_dir, tmp_path) -> None:
    src = tmp_path / "in.txt"
    src.write_text("\n".join(TEXTS) + "\n\n", encoding="utf-8")
    dst = tmp_path / "out.csv"
    assert main(["predict", str(src), "-o", str(dst), "--model-dir", str(trained_model_dir)]) == 0
    _check_output(dst, TEXTS)


def test_predict_to_stdout(trained_model_dir, tmp_path, capsys) -> None:
    src = tmp_path / "in.txt"
    src.write_text(TEXTS[0], encoding="utf-8")
    assert main(["predict", str(src), "--model-dir", str(trained_model_dir)]) == 0
    rows = list(csv.reader(capsys.readouterr().out.splitlines()))
    assert rows[0] == EXPECTED_COLUMNS and rows[1][0] == TEXTS[0]


def _error(capsys, argv: list[str]) -> str:
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.startswith("error:"), captured.err
    return captured.err


def test_missing_input_file(trained_model_dir, tmp_path, capsys) -> None:
    err = _error(capsys, ["predict", str(tmp_path / "absent.csv"), "--model-dir", str(trained_model_dir)])
    assert "input file not found" in err


def test_csv_without_text_column(trained_model_dir, tmp_path, capsys) -> None:
    src = tmp_path / "in.csv"
    pd.DataFrame({"comment": TEXTS}).to_csv(src, index=False)
    err = _error(capsys, ["predict", str(src), "--model-dir", str(trained_model_dir)])
    assert "no column 'text'" in err


def test_unknown_version(trained_model_dir, tmp_path, capsys) -> None:
    src = tmp_path / "in.txt"
    src.write_text(TEXTS[0], encoding="utf-8")
    err = _error(capsys, ["predict", str(src), "--model-dir", str(trained_model_dir), "--version", "nope-1"])
    assert "'nope-1' not found" in err


def test_empty_input_and_missing_model_dir(trained_model_dir, tmp_path, capsys) -> None:
    src = tmp_path / "empty.txt"
    src.write_text("\n  \n", encoding="utf-8")
    assert "no comments to classify" in _error(capsys, ["predict", str(src), "--model-dir", str(trained_model_dir)])
    err = _error(capsys, ["predict", str(src), "--model-dir", str(tmp_path / "nomodels")])
    assert "no trained model" in err


def test_unknown_subcommand_exits_non_zero(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
