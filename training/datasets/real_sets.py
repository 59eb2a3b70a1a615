"""The real public corpora in ../shared/datasets, read in place, with their fixed held-out parts.

One module decides which rows of a real set may train a model and which are kept for the real-text
benchmark, so training can never see a benchmark row: the adapters in `training/extras.py` read the
`*_train` parts here (and `vk_our_labels`), `training/real_eval.py` reads the `*_eval` parts (and `vk_gold`).

| set                   | held out for the benchmark (never trained on)                | may train (licence)        |
|-----------------------|---------------------------------------------------------------|----------------------------|
| vk_gov_pages          | labels.csv: the 600 comments labelled by two annotators        | our labels of other rows   |
|                       |                                                               | (data/real_labels/), MIT   |
| ru_paradetox          | the dev and test splits                                       | train split (not stated)   |
| ru_toxic_2ch_pikabu   | 20 % stratified split, random_state 0 (as toxic-benchmark)    | the other 80 % (not stated)|
| kursk_citizen_appeals | 30 % of the ≥ 4-word mapped appeals, stratified, seed 0        | the other 70 % (not stated)|
| ok_ru_toxic_positives | all ok.ru rows                                                | never (CC BY-NC-SA)        |

A training row whose text (case and spaces folded) occurs in any held-out part is dropped as well: the
toxic sets share texts (paradetox sampled its originals from 2ch, pikabu and ok.ru).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from training.datasets.corpus import canonical_text, read_csv_strings
from training.runtime.taxonomy import PROJECT_ROOT

DEFAULT_DATASETS_DIR = PROJECT_ROOT.parent / "shared" / "datasets"
REAL_LABELS_DIR = PROJECT_ROOT / "data" / "real_labels"
SEED = 0
KURSK_HELD_OUT = 0.3
PIKABU_HELD_OUT = 0.2
PARADETOX_HELD_OUT_SPLITS = ("dev", "test")
NEUTRAL_COLUMNS = ("neutral_comment1", "neutral_comment2", "neutral_comment3")

# Kursk categories (inferred names, see that corpus's README) onto our topics.
KURSK_CATEGORY_TOPIC = {
    "0": "roads",
    "1": "landscaping",
    "2": "government_services",
    "3": "housing_utilities",
    "4": "healthcare",
    "5": "culture_sport",
    "6": "social_support",
    "7": "education",
    "8": "public_transport",
    "9": "other",
    "10": "social_support",
    "11": "government_services",
    "13": "other",
    "14": "other",
    "15": "culture_sport",
    "16": "waste_snow",
}
# Fine topics that override the category (category 3 mixes utilities with lighting, trees, snow).
KURSK_TOPIC_RULES = [
    (re.compile(r"снег|налед|гололед|сосул", re.I), "waste_snow"),
    (re.compile(r"отход|мусор|свалк|уборк", re.I), "waste_snow"),
    (re.compile(r"освещени|деревь|дерев|озеленен|площадк|сорн|двор|благоустр|животн|собак", re.I), "landscaping"),
    (re.compile(r"люк|колодц", re.I), "roads"),
    (
        re.compile(r"тепло|водоснаб|водоотвед|канализ|электроснаб|многоквартирн|лифт|кровл|подъезд", re.I),
        "housing_utilities",
    ),
]


class RealDataMissing(FileNotFoundError):
    """A real set (or one of its files) is not under the datasets directory."""


def _read(root: Path, *parts: str) -> pd.DataFrame:
    path = root.joinpath(*parts)
    if not path.exists():  # a missing set is skipped by its callers, not an error
        raise RealDataMissing(f"{path} not found (pass --datasets-dir)")
    return read_csv_strings(path, "real set file")


def kursk_topic(category: str, fine_topic: str) -> str | None:
    """Our topic for a Kursk appeal, from its category and, where the category is mixed, its fine topic."""
    if category not in KURSK_CATEGORY_TOPIC:
        return None
    if category in ("0", "3", "16"):
        for pattern, topic in KURSK_TOPIC_RULES:
            if pattern.search(fine_topic or ""):
                return topic
    return KURSK_CATEGORY_TOPIC[category]


# --- vk_gov_pages ------------------------------------------------------------------------------------------


def vk_comments(root: Path) -> pd.DataFrame:
    return _read(root, "vk_gov_pages", "comments.csv")


def vk_gold(root: Path) -> pd.DataFrame:
    """The 600 labelled comments joined with their texts (benchmark only)."""
    labels = _read(root, "vk_gov_pages", "labels.csv")
    texts = vk_comments(root).set_index("id")["text"]
    missing = sorted(set(labels["id"]) - set(texts.index))
    if missing:
        raise RealDataMissing(f"vk_gov_pages labels name {len(missing)} ids missing from comments.csv: {missing[:5]}")
    return labels.assign(text=texts.loc[labels["id"]].to_numpy())


def vk_our_labels(root: Path, labels_path: Path | None = None) -> pd.DataFrame:
    """Our own labels of other vk_gov_pages rows (data/real_labels/vk_gov_pages.csv) joined with the texts.

    Rows of the benchmark's 600 are refused here, whatever the file says.
    """
    path = labels_path or REAL_LABELS_DIR / "vk_gov_pages.csv"
    if not path.exists():
        raise RealDataMissing(f"{path} not found")
    ours = read_csv_strings(path, "our labels of real comments")
    gold_ids = set(_read(root, "vk_gov_pages", "labels.csv")["id"])
    ours = ours[~ours["id"].isin(gold_ids)]
    texts = vk_comments(root).set_index("id")["text"]
    ours = ours[ours["id"].isin(texts.index)]
    return ours.assign(text=texts.loc[ours["id"]].to_numpy()).reset_index(drop=True)


# --- ru_paradetox ------------------------------------------------------------------------------------------


def _paradetox(root: Path) -> pd.DataFrame:
    return _read(root, "ru_paradetox", "ru_paradetox.csv")


def _neutral(df: pd.DataFrame) -> pd.Series:
    s = pd.concat([df[c] for c in NEUTRAL_COLUMNS], ignore_index=True)
    return s[s.str.strip() != ""].drop_duplicates().reset_index(drop=True)


def _paradetox_part(root: Path, held_out: bool) -> tuple[pd.Series, pd.Series]:
    raw = _paradetox(root)
    part = raw[raw["split"].isin(PARADETOX_HELD_OUT_SPLITS) == held_out]
    toxic = part["toxic_comment"]
    return _neutral(part), toxic[toxic.str.strip() != ""].drop_duplicates().reset_index(drop=True)


def paradetox_eval(root: Path) -> tuple[pd.Series, pd.Series]:
    """(neutral rewrites, toxic originals) of the held-out splits."""
    return _paradetox_part(root, held_out=True)


def paradetox_train(root: Path) -> tuple[pd.Series, pd.Series]:
    """(neutral rewrites, toxic originals) of the train split."""
    return _paradetox_part(root, held_out=False)


# --- ru_toxic_2ch_pikabu -----------------------------------------------------------------------------------


def _pikabu_split(root: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    raw = _read(root, "ru_toxic_2ch_pikabu", "ru_toxic_2ch_pikabu.csv")
    raw = raw[raw["text"].str.strip() != ""].reset_index(drop=True)
    y = raw["toxic"].astype(float).astype(int)
    tr, te = train_test_split(np.arange(len(raw)), test_size=PIKABU_HELD_OUT, stratify=y, random_state=SEED)
    out = raw.assign(toxic=y)
    return out.iloc[np.sort(tr)].reset_index(drop=True), out.iloc[np.sort(te)].reset_index(drop=True)


def pikabu_eval(root: Path) -> pd.DataFrame:
    return _pikabu_split(root)[1]


def pikabu_train(root: Path) -> pd.DataFrame:
    return _pikabu_split(root)[0]


# --- kursk_citizen_appeals ---------------------------------------------------------------------------------


def _kursk_split(root: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    raw = _read(root, "kursk_citizen_appeals", "train.csv")
    raw["our_topic"] = [kursk_topic(c, t) for c, t in zip(raw["category"], raw["topic"], strict=True)]
    raw = raw[raw["our_topic"].notna() & (raw["text_clean"].str.split().str.len() >= 4)]
    raw = raw.assign(key=raw["text_clean"].map(canonical_text)).drop_duplicates("key").reset_index(drop=True)
    tr, te = train_test_split(
        np.arange(len(raw)), test_size=KURSK_HELD_OUT, stratify=raw["our_topic"], random_state=SEED
    )
    return raw.iloc[np.sort(tr)].reset_index(drop=True), raw.iloc[np.sort(te)].reset_index(drop=True)


def kursk_eval(root: Path) -> pd.DataFrame:
    return _kursk_split(root)[1]


def kursk_train(root: Path) -> pd.DataFrame:
    return _kursk_split(root)[0]


# --- ok_ru_toxic_positives ---------------------------------------------------------------------------------


def ok_ru_eval(root: Path) -> pd.Series:
    raw = _read(root, "ok_ru_toxic_positives", "ok_ru_toxic_positives.csv")
    raw = raw[(raw["source_guess"] == "ok.ru") & (raw["text"].str.strip() != "")]
    return raw["text"].drop_duplicates().reset_index(drop=True)


# --- the guard ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _held_out_keys(root_str: str) -> frozenset[str]:
    root = Path(root_str)
    texts: list[str] = []
    for getter in (
        lambda: vk_gold(root)["text"],
        lambda: pd.concat(paradetox_eval(root)),
        lambda: pikabu_eval(root)["text"],
        lambda: kursk_eval(root)["text_clean"],
        lambda: ok_ru_eval(root),
    ):
        try:
            texts.extend(getter().tolist())
        except RealDataMissing:
            continue
    return frozenset(canonical_text(str(t)) for t in texts)


def held_out_mask(texts: pd.Series, root: Path) -> np.ndarray:
    """True where a text is part of some benchmark's held-out part."""
    keys = _held_out_keys(str(Path(root).resolve()))
    return np.array([canonical_text(str(t)) in keys for t in texts], dtype=bool)


def all_real_texts(root: Path) -> dict[str, list[str]]:
    """Every real text in the datasets directory, by set (for the lexicon audit)."""
    out: dict[str, list[str]] = {}
    readers = {
        "vk_gov_pages": lambda: vk_comments(root)["text"],
        "kursk_citizen_appeals": lambda: _read(root, "kursk_citizen_appeals", "train.csv")["text_clean"],
        "ru_paradetox": lambda: pd.concat([_paradetox(root)["toxic_comment"], _neutral(_paradetox(root))]),
        "ru_toxic_2ch_pikabu": lambda: _read(root, "ru_toxic_2ch_pikabu", "ru_toxic_2ch_pikabu.csv")["text"],
        "ok_ru_toxic_positives": lambda: _read(root, "ok_ru_toxic_positives", "ok_ru_toxic_positives.csv")["text"],
        "ru_inappropriate_sensitive": lambda: pd.concat(
            [
                _read(root, "ru_inappropriate_sensitive", "appropriateness_v1_val_test.csv")["text"],
                _read(root, "ru_inappropriate_sensitive", "sensitive_topics_v2_val_test.csv")["text"],
            ]
        ),
    }
    for name, read in readers.items():
        try:
            s = read()
        except RealDataMissing:
            continue
        out[name] = [t for t in s.astype(str).tolist() if t.strip()]
    return out
