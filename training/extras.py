"""Adapters for the public corpora in ../shared/datasets (read in place, never copied).

Each adapter maps a corpus onto our labels; a label it cannot speak for is NaN, so that corpus does not
train that head. Weak labels carry a lower sample weight (configurable).

| name                  | what it teaches                                                      |
|-----------------------|----------------------------------------------------------------------|
| ru_toxic_2ch_pikabu   | toxic + lexicon hit → profanity 1; toxic without мат → insult 1     |
|                       | (weak); non-toxic → profanity 0, insult 0. Other labels unknown.     |
| ru_paradetox          | neutral rewrites → profanity/insult/disrespect 0 (hard negatives);   |
|                       | toxic originals with a lexicon hit → profanity 1.                    |
| kursk_citizen_appeals | actionable appeals: no_question 0, flags 0, topic from the category  |
|                       | and fine topic (table below); urgent unknown.                        |
| ok_ru_toxic_positives | NON-COMMERCIAL (CC BY-NC-SA): experiments only, needs                |
|                       | --allow-non-commercial; lexicon hit → profanity 1, else unknown.     |
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from training.taxonomy import PROJECT_ROOT, Taxonomy, default_taxonomy
from training.text.profanity import ProfanityLexicon

DEFAULT_DATASETS_DIR = PROJECT_ROOT.parent / "shared" / "datasets"
NON_COMMERCIAL = {"ok_ru_toxic_positives"}

# Kursk categories (inferred names, see that corpus's README) onto our topics.
KURSK_CATEGORY_TOPIC = {
    "0": "roads", "1": "landscaping", "2": "government_services", "3": "housing_utilities", "4": "healthcare",
    "5": "culture_sport", "6": "social_support", "7": "education", "8": "public_transport", "9": "other",
    "10": "social_support", "11": "government_services", "13": "other", "14": "other", "15": "culture_sport",
    "16": "waste_snow",
}
# Fine topics that override the category (category 3 mixes utilities with lighting, trees, snow).
KURSK_TOPIC_RULES = [
    (re.compile(r"снег|налед|гололед|сосул", re.I), "waste_snow"),
    (re.compile(r"отход|мусор|свалк|уборк", re.I), "waste_snow"),
    (re.compile(r"освещени|деревь|дерев|озеленен|площадк|сорн|двор|благоустр|животн|собак", re.I), "landscaping"),
    (re.compile(r"люк|колодц", re.I), "roads"),
    (re.compile(r"тепло|водоснаб|водоотвед|канализ|электроснаб|многоквартирн|лифт|кровл|подъезд", re.I),
     "housing_utilities"),
]


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


def load_2ch_pikabu(root: Path, taxonomy: Taxonomy) -> pd.DataFrame:
    raw = pd.read_csv(root / "ru_toxic_2ch_pikabu" / "ru_toxic_2ch_pikabu.csv", dtype={"text": str})
    raw = raw.dropna(subset=["text"]).drop_duplicates("text")
    toxic = raw["toxic"].astype(int).to_numpy() == 1
    mat = _lexicon_hits(raw["text"])
    profanity = np.where(toxic & mat, 1.0, np.where(~toxic & ~mat, 0.0, np.nan))
    insult = np.where(toxic & ~mat, 1.0, np.where(~toxic, 0.0, np.nan))
    return _frame(raw["text"], taxonomy, profanity=profanity, insult_commenter=insult)


def load_paradetox(root: Path, taxonomy: Taxonomy) -> pd.DataFrame:
    raw = pd.read_csv(root / "ru_paradetox" / "ru_paradetox.csv", dtype=str, keep_default_na=False)
    neutral = pd.concat([raw[c] for c in ("neutral_comment1", "neutral_comment2", "neutral_comment3")])
    neutral = neutral[neutral.str.strip() != ""].drop_duplicates()
    neutral = neutral[~_lexicon_hits(neutral)]
    toxic = raw["toxic_comment"].drop_duplicates()
    toxic = toxic[_lexicon_hits(toxic)]
    neg = _frame(neutral, taxonomy, profanity=0.0, insult_commenter=0.0, disrespect_authority=0.0)
    pos = _frame(toxic, taxonomy, profanity=1.0)
    return pd.concat([neg, pos], ignore_index=True)


def kursk_topic(category: str, fine_topic: str) -> str | None:
    if category not in KURSK_CATEGORY_TOPIC:
        return None
    if category in ("0", "3", "16"):
        for pattern, topic in KURSK_TOPIC_RULES:
            if pattern.search(fine_topic or ""):
                return topic
    return KURSK_CATEGORY_TOPIC[category]


def load_kursk(root: Path, taxonomy: Taxonomy) -> pd.DataFrame:
    raw = pd.read_csv(root / "kursk_citizen_appeals" / "train.csv", dtype=str, keep_default_na=False)
    raw["our_topic"] = [kursk_topic(c, t) for c, t in zip(raw["category"], raw["topic"], strict=True)]
    raw = raw[raw["our_topic"].notna() & (raw["text_clean"].str.split().str.len() >= 4)]
    raw = raw.drop_duplicates("text_clean")
    zeros = {f: 0.0 for f in taxonomy.flags}
    return _frame(raw["text_clean"], taxonomy, **zeros, topic=raw["our_topic"].to_numpy())


def load_ok_ru(root: Path, taxonomy: Taxonomy) -> pd.DataFrame:
    raw = pd.read_csv(root / "ok_ru_toxic_positives" / "ok_ru_toxic_positives.csv", dtype=str, keep_default_na=False)
    raw = raw[raw["source_guess"] == "ok.ru"].drop_duplicates("text")
    mat = _lexicon_hits(raw["text"])
    return _frame(raw["text"][mat], taxonomy, profanity=1.0)


ADAPTERS: dict[str, Callable[[Path, Taxonomy], pd.DataFrame]] = {
    "ru_toxic_2ch_pikabu": load_2ch_pikabu,
    "ru_paradetox": load_paradetox,
    "kursk_citizen_appeals": load_kursk,
    "ok_ru_toxic_positives": load_ok_ru,
}


def load_extras(names: list[str], datasets_dir: str | Path | None = None, *, weight: float = 0.3,
                allow_non_commercial: bool = False, taxonomy: Taxonomy | None = None) -> pd.DataFrame | None:
    """Concatenated extra rows with a `weight` column and a `source` column, or None for no names."""
    if not names:
        return None
    taxonomy = taxonomy or default_taxonomy()
    root = Path(datasets_dir) if datasets_dir else DEFAULT_DATASETS_DIR
    frames = []
    for name in names:
        if name not in ADAPTERS:
            raise ExtraDataError(f"unknown extra corpus {name!r}; known: {sorted(ADAPTERS)}")
        if name in NON_COMMERCIAL and not allow_non_commercial:
            raise ExtraDataError(f"{name} is licensed non-commercial (CC BY-NC-SA): experiments only, "
                                 "pass --allow-non-commercial and do not ship the result as the default model")
        if not (root / name).is_dir():
            raise ExtraDataError(f"extra corpus {name!r} not found under {root}")
        df = ADAPTERS[name](root, taxonomy)
        df["weight"] = weight
        df["source"] = name
        frames.append(df)
    return pd.concat(frames, ignore_index=True)
