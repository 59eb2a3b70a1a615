"""validate_corpus on small hand-written files: every problem is named with its row."""

from __future__ import annotations

import pandas as pd
import pytest

from training.cli import main
from training.datasets.corpus import columns, read_corpus, validate_corpus
from training.runtime.taxonomy import default_taxonomy

TAX = default_taxonomy()
COLS = columns(TAX)

GOOD_ROWS = [
    ("g1", "Третий день нет горячей воды в доме, куда обращаться?", "0,0,0,0", "housing_utilities", 0, "train"),
    ("g2", "Когда засыплют яму на перекрёстке у рынка", "0,0,0,0", "roads", 0, "train"),
    ("g3", "Автобус номер семь снова не пришёл утром", "0,0,0,0", "public_transport", 0, "test"),
    ("g4", "Спасибо всем за праздник, было здорово", "0,0,0,1", "", 0, "train"),
    ("g5", "Пахнет газом в подъезде, приезжайте срочно", "0,0,0,0", "safety_emergency", 1, "test"),
    ("g6", "бл@ть, опять света нет, когда починят линию", "1,0,0,0", "housing_utilities", 0, "train"),
    ("g7", "Чиновники как всегда ничего не делают, позор", "0,1,0,1", "", 0, "train"),
    ("g8", "Ирина, вы глупая женщина, помолчите", "0,0,1,1", "", 0, "test"),
    ("g9", "Запишите ребёнка в кружок рисования при школе", "0,0,0,0", "education", 0, "train"),
    ("g10", "Где получить справку о многодетности через госуслуги", "0,0,0,0", "social_support", 0, "train"),
]


def _frame(rows=GOOD_ROWS) -> pd.DataFrame:
    records = []
    for rid, text, flags, topic, urgent, split in rows:
        rec = {"id": rid, "text": text}
        rec.update(dict(zip(TAX.flags, flags.split(","), strict=True)))
        rec.update({"topic": topic, TAX.urgent: str(urgent), "split": split})
        records.append(rec)
    return pd.DataFrame(records, columns=COLS)


def _csv(tmp_path, df: pd.DataFrame, name: str = "corpus.csv"):
    path = tmp_path / name
    df.to_csv(path, index=False)
    return path


def test_good_file_passes(tmp_path) -> None:
    df = read_corpus(_csv(tmp_path, _frame()))
    report = validate_corpus(df, check_targets=False)
    assert report.ok, report.errors
    assert report.counts["rows"] == len(GOOD_ROWS)
    assert report.counts["urgent"] == 1
    assert report.counts["flags"]["profanity"] == 1


def _set(df: pd.DataFrame, i: int, col: str, value: str) -> pd.DataFrame:
    df = df.copy()
    df.at[i, col] = value
    return df


@pytest.mark.parametrize(
    "mutate,needle",
    [
        (lambda d: _set(d, 2, "profanity", "2"), "row 4 (id='g3'): profanity must be 0 or 1, got '2'"),
        (lambda d: _set(d, 1, "topic", "space_travel"), "row 3 (id='g2'): unknown topic 'space_travel'"),
        (lambda d: _set(d, 3, "topic", "roads"), "row 5 (id='g4'): topic must be empty when no_question = 1"),
        (lambda d: _set(d, 0, "topic", ""), "row 2 (id='g1'): topic is required when no_question = 0"),
        (lambda d: _set(d, 3, TAX.urgent, "1"), "row 5 (id='g4'): topic is required when urgent = 1"),
        (lambda d: _set(d, 4, "split", "validation"), "row 6 (id='g5'): split must be one of"),
        (lambda d: _set(d, 5, "text", "   "), "row 7 (id='g6'): empty text"),
        (lambda d: _set(d, 9, "text", d.at[0, "text"].upper()), "row 11 (id='g10'): duplicate text of row 2 (id='g1')"),
        (lambda d: _set(d, 8, "id", "g1"), "duplicate id 'g1'"),
    ],
)
def test_corrupted_rows_are_named(tmp_path, mutate, needle: str) -> None:
    df = read_corpus(_csv(tmp_path, mutate(_frame())))
    report = validate_corpus(df, check_targets=False)
    assert not report.ok
    assert any(needle in e for e in report.errors), report.errors


def test_missing_column(tmp_path) -> None:
    df = _frame().drop(columns=["split"])
    report = validate_corpus(df, check_targets=False)
    assert not report.ok and "missing columns ['split']" in report.errors[0]
    from training.datasets.corpus import CorpusError

    with pytest.raises(CorpusError, match="missing columns"):
        read_corpus(_csv(tmp_path, df))


def test_near_duplicates_over_limit_are_rejected() -> None:
    df = _frame()
    near = df.iloc[[0]].copy()
    near["id"] = "n1"
    near["text"] = df.at[0, "text"].replace("куда обращаться?", "куда обращаться??!")
    report = validate_corpus(pd.concat([df, near], ignore_index=True), check_targets=False)
    assert not report.ok
    assert any("near-duplicate pairs" in e and "row 2 (id='g1')" in e for e in report.errors), report.errors


def test_template_families_are_rejected() -> None:
    streets = ["Ленина", "Мира", "Гагарина", "Пушкина", "Советской", "Садовой", "Лесной", "Победы", "Кирова", "Чехова"]
    rows = list(GOOD_ROWS)
    for k, street in enumerate(streets):
        rows.append(
            (f"t{k}", f"Когда вывезут мусор на улице {street} {k * 7 + 3}", "0,0,0,0", "waste_snow", 0, "train")
        )
    report = validate_corpus(_frame(rows), check_targets=False)
    assert not report.ok
    assert any("template families" in e for e in report.errors), report.errors
    assert report.counts["template_family_rows"] == len(streets)


def test_cli_rejects_bad_file_and_names_the_row(tmp_path, capsys) -> None:
    bad = _csv(tmp_path, _set(_frame(), 2, "no_question", "2"), "bad.csv")
    code = main(["validate-data", "--corpus", str(bad), "--no-targets"])
    out = capsys.readouterr().out
    assert code != 0
    assert "row 4 (id='g3'): no_question must be 0 or 1, got '2'" in out
    assert "validation: FAILED" in out


def test_cli_accepts_good_file(tmp_path, capsys) -> None:
    good = _csv(tmp_path, _frame(), "good.csv")
    assert main(["validate-data", "--corpus", str(good), "--no-targets"]) == 0
    assert "validation: OK" in capsys.readouterr().out


def test_cli_missing_column_is_an_error_without_traceback(tmp_path, capsys) -> None:
    bad = _csv(tmp_path, _frame().drop(columns=["topic"]), "nocol.csv")
    assert main(["validate-data", "--corpus", str(bad), "--no-targets"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "missing columns ['topic']" in err
