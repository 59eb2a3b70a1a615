"""The shortcut audit flags a label that surface cues alone predict, and passes one they cannot."""

from __future__ import annotations

import random

import pandas as pd

from training.datasets.shortcut_audit import CUES, MAX_MODERATION_AUC, audit_shortcuts, surface_cues
from training.runtime.taxonomy import default_taxonomy

NAMES = ["Марина", "Олег", "Светлана", "Игорь", "Анна", "Павел", "Ольга", "Денис"]
WORDS = "дорога двор мусор автобус школа свет вода снег лавочка площадка подъезд крыша".split()


def _frame(rows: list[tuple[str, int]]) -> pd.DataFrame:
    tax = default_taxonomy()
    df = pd.DataFrame({"text": [t for t, _ in rows], "insult_commenter": [y for _, y in rows]})
    for col in (*tax.flags, tax.urgent):
        if col != "insult_commenter":
            df[col] = [i % 2 for i in range(len(df))]
    return df


def _text(rng: random.Random, addressed: bool) -> str:
    body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))
    return f"{rng.choice(NAMES)}, ты {body}" if addressed else body


def test_cues_have_one_column_each():
    X = surface_cues(["[id1|Марина], ты где?", "Просто текст 12"])
    assert X.shape == (2, len(CUES))
    assert X[0, CUES.index("markup_start")] == 1 and X[0, CUES.index("question")] == 1
    assert X[1, CUES.index("digits")] == 1 and X[1, CUES.index("second_person")] == 0


def test_label_read_off_the_address_fails():
    rng = random.Random(0)
    rows = [(_text(rng, True), 1) for _ in range(100)] + [(_text(rng, False), 0) for _ in range(400)]
    audit = audit_shortcuts(_frame(rows))
    assert audit.auc["insult_commenter"] > MAX_MODERATION_AUC
    assert "insult_commenter" in audit.failing and "FAIL" in audit.format()


def test_label_independent_of_the_cues_passes():
    rng = random.Random(1)
    rows = [(_text(rng, rng.random() < 0.3), int(rng.random() < 0.2)) for _ in range(500)]
    audit = audit_shortcuts(_frame(rows))
    assert audit.auc["insult_commenter"] < 0.65 and "insult_commenter" not in audit.failing
