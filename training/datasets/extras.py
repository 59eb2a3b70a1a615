"""Adapters for the public corpora in ../shared/datasets (read in place, never copied).

Each adapter maps the *training part* of a corpus (see `training/real_sets.py`; benchmark rows never reach
here) onto our labels; a label it cannot speak for is NaN, so that corpus does not train that head.
Every set has its own sample weight (DEFAULT_WEIGHTS), chosen on the real benchmark's held-out parts and
train-split CV, never on our test split.

| name                  | what it teaches                                                      |
|-----------------------|----------------------------------------------------------------------|
| vk_gov_pages          | our own labels (data/real_labels/vk_gov_pages.csv) of 1,831 real     |
|                       | comments outside the 600 of the benchmark: every label known.        |
| ru_toxic_2ch_pikabu   | toxic + lexicon hit → profanity 1; toxic without мат → insult 1     |
|                       | (weak); non-toxic → profanity 0, insult 0. Other labels unknown.     |
| ru_paradetox          | neutral rewrites → profanity/insult/disrespect 0 (hard negatives);   |
|                       | toxic originals with a lexicon hit → profanity 1, without → insult 1 |
|                       | (weak). Other labels unknown.                                        |
| kursk_citizen_appeals | actionable appeals: no_question 0, flags 0, topic from the category  |
|                       | and fine topic (real_sets.KURSK_*); urgent unknown.                  |
| ok_ru_toxic_positives | NON-COMMERCIAL (CC BY-NC-SA): experiments only, needs                |
|                       | --allow-non-commercial; lexicon hit → profanity 1, else unknown.     |
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from training.datasets import real_sets as rs
from training.datasets.real_sets import DEFAULT_DATASETS_DIR, kursk_topic  # noqa: F401  (re-exported for callers)
from training.runtime.taxonomy import Taxonomy, default_taxonomy
from training.runtime.text.profanity import ProfanityLexicon

NON_COMMERCIAL = {"ok_ru_toxic_positives"}


class ExtraDataError(ValueError):
    """An extra corpus is unknown, missing, or not allowed for this model."""


def _lexicon_hits(texts: pd.Series) -> np.ndarray:
    lex = ProfanityLexicon()
    return np.array([lex.contains(t) for t in texts], dtype=bool)


def _frame(texts: pd.Series, taxonomy: Taxonomy, **labels: np.ndarray | float | str) -> pd.DataFrame:
    unknown = set(labels) - {*taxonomy.flags, taxonomy.urgent, "topic"}
    if unknown:
        raise ExtraDataError(f"extra-corpus mapping names labels the taxonomy does not have: {sorted(unknown)}")
    df = pd.DataFrame({"text": texts.astype(str).to_numpy()})
    for col in (*taxonomy.flags, taxonomy.urgent):
        df[col] = labels.get(col, np.nan)
    df["topic"] = labels.get("topic", "")
    return df


def load_vk(root: Path, taxonomy: Taxonomy) -> pd.DataFrame:
    try:
        ours = rs.vk_our_labels(root)
    except rs.RealDataMissing as exc:
        raise ExtraDataError(str(exc)) from exc
    labels = {c: ours[c].astype(int).to_numpy().astype(float) for c in (*taxonomy.flags, taxonomy.urgent)}
    return _frame(ours["text"], taxonomy, **labels, topic=ours["topic"].to_numpy())


def load_2ch_pikabu(root: Path, taxonomy: Taxonomy) -> pd.DataFrame:
    raw = rs.pikabu_train(root).drop_duplicates("text")
    toxic = raw["toxic"].to_numpy() == 1
    mat = _lexicon_hits(raw["text"])
    profanity = np.where(toxic & mat, 1.0, np.where(~toxic & ~mat, 0.0, np.nan))
    insult = np.where(toxic & ~mat, 1.0, np.where(~toxic, 0.0, np.nan))
    return _frame(raw["text"], taxonomy, profanity=profanity, insult_commenter=insult)


def load_paradetox(root: Path, taxonomy: Taxonomy) -> pd.DataFrame:
    neutral, toxic = rs.paradetox_train(root)
    neutral = neutral[~_lexicon_hits(neutral)]
    mat = _lexicon_hits(toxic)
    neg = _frame(neutral, taxonomy, profanity=0.0, insult_commenter=0.0, disrespect_authority=0.0)
    pos = _frame(toxic[mat], taxonomy, profanity=1.0)
    # Toxic without мат: abuse of a person, which on a page is an insult (weak: the target is not known).
    rude = _frame(toxic[~mat], taxonomy, insult_commenter=1.0)
    return pd.concat([neg, pos, rude], ignore_index=True)


def load_kursk(root: Path, taxonomy: Taxonomy) -> pd.DataFrame:
    raw = rs.kursk_train(root)
    zeros = {f: 0.0 for f in taxonomy.flags}
    return _frame(raw["text_clean"], taxonomy, **zeros, topic=raw["our_topic"].to_numpy())


def load_ok_ru(root: Path, taxonomy: Taxonomy) -> pd.DataFrame:
    texts = rs.ok_ru_eval(root)
    return _frame(texts[_lexicon_hits(texts)], taxonomy, profanity=1.0)


ADAPTERS: dict[str, Callable[[Path, Taxonomy], pd.DataFrame]] = {
    "vk_gov_pages": load_vk,
    "ru_toxic_2ch_pikabu": load_2ch_pikabu,
    "ru_paradetox": load_paradetox,
    "kursk_citizen_appeals": load_kursk,
    "ok_ru_toxic_positives": load_ok_ru,
}
# The default model's sets and weights (`make train` when ../shared/datasets is present); see the README.
DEFAULT_EXTRAS = ("vk_gov_pages", "kursk_citizen_appeals", "ru_paradetox", "ru_toxic_2ch_pikabu")
# Weakly labelled sets are sampled (seeded) to this many rows: more cost training time and bought nothing.
MAX_ROWS = {"ru_paradetox": 4000, "ru_toxic_2ch_pikabu": 4000}
DEFAULT_WEIGHTS = {
    "vk_gov_pages": 1.0,
    "kursk_citizen_appeals": 0.5,
    "ru_paradetox": 0.3,
    "ru_toxic_2ch_pikabu": 0.3,
    "ok_ru_toxic_positives": 0.3,
}


def available_default_extras(datasets_dir: str | Path | None = None) -> list[str]:
    """The default sets that are present (the model still trains from data/ alone when none is)."""
    root = Path(datasets_dir) if datasets_dir else DEFAULT_DATASETS_DIR
    return [n for n in DEFAULT_EXTRAS if (root / n).is_dir()]


def load_extras(
    names: list[str],
    datasets_dir: str | Path | None = None,
    *,
    weight: float | None = None,
    allow_non_commercial: bool = False,
    taxonomy: Taxonomy | None = None,
) -> pd.DataFrame | None:
    """Concatenated extra rows with `weight` and `source` columns, or None for no names.

    `weight` overrides every set's default weight. Rows whose text is in a benchmark's held-out part are
    dropped (the toxic sets share texts).
    """
    if not names:
        return None
    taxonomy = taxonomy or default_taxonomy()
    root = Path(datasets_dir) if datasets_dir else DEFAULT_DATASETS_DIR
    frames = []
    for name in names:
        if name not in ADAPTERS:
            raise ExtraDataError(f"unknown extra corpus {name!r}; known: {sorted(ADAPTERS)}")
        if name in NON_COMMERCIAL and not allow_non_commercial:
            raise ExtraDataError(
                f"{name} is licensed non-commercial (CC BY-NC-SA): experiments only, "
                "pass --allow-non-commercial and do not ship the result as the default model"
            )
        if not (root / name).is_dir():
            raise ExtraDataError(f"extra corpus {name!r} not found under {root}")
        try:
            df = ADAPTERS[name](root, taxonomy)
        except rs.RealDataMissing as exc:
            raise ExtraDataError(str(exc)) from exc
        if name not in NON_COMMERCIAL:  # ok.ru is the benchmark itself; it may only train experiments
            df = df[~rs.held_out_mask(df["text"], root)]
        if name in MAX_ROWS and len(df) > MAX_ROWS[name]:
            df = df.sample(n=MAX_ROWS[name], random_state=rs.SEED).sort_index()
        df["weight"] = DEFAULT_WEIGHTS.get(name, 0.3) if weight is None else weight
        df["source"] = name
        frames.append(df)
    return pd.concat(frames, ignore_index=True)
