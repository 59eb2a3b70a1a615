"""Rude words and whom they are aimed at, as features that a long neutral tail cannot dilute.

TF-IDF rows are length-normalised, so "Олег, ты идиот, " in front of two neutral sentences weighs little.
These features say only that a rude word is there and whether "ты/вы" or an authority word is near it; the
heads learn what that means (insult to a commenter, contempt for officials, or neither). Not мат: that
is ProfanityLexicon's job.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin

RUDE_WORDS = re.compile(
    r"(?<![а-я])(?:идиот|дебил|кретин|имбецил|дегенерат|придур|недоум|ублюд|мраз|твар[ьиюе]|быдл|олух|балбес|"
    r"бестолоч|скотин|чмо|урод(?:ы|ина|ец|цы|а|ов)?(?![а-я])|дур(?:а|ы|е|у|ой|ак|ака|аки|аков|акам|ачок|еха|ында)"
    r"(?![а-я])|туп(?:ой|ая|ые|ого|ым|ыми|ица|ицы|орыл)|лох(?:и|а|ом|у)?(?![а-я])|хам(?:ы|ло|ка|ье)?(?![а-я])|"
    r"невежд|бездар|неадекват|шизик|истеричк|клоун|балабол|пустобрех|трепл|козл(?:ы|ов|ина)|козел(?![а-я])|"
    r"свинь|гнид|паскуд|сволоч|негодя|подонк|подонок|мерзав|глуп(?:ая|ый|ые|ого|ой|ец|цы)(?![а-я]))"
)
SECOND_PERSON = re.compile(
    r"(?<![а-я])(?:ты|тебя|тебе|тобой|твой|твоя|твои|твое|вы|вас|вам|вами|ваш|ваша|ваши|"
    r"ваше)(?![а-я])"
)
AUTHORITY = re.compile(
    r"администрац|чиновн|депутат|власт|мэр(?![а-я])|мэри|губернатор|(?<![а-я])глав[аеуы]"
    r"(?![а-я])|полиц|управ[аеуы](?![а-я])|министр|правительств|госдум|единорос|чинуш"
)
FEATURES = ("rude_word", "rude_and_you", "rude_and_authority", "rude_other")


class RudeWordFeatures(TransformerMixin, BaseEstimator):
    """Four 0/1 features on normalised text (lower case, ё→е), times `weight`."""

    learns_from_data = False

    def __init__(self, weight: float = 3.0):
        self.weight = weight

    def fit(self, X: Iterable[str], y: object = None) -> RudeWordFeatures:
        self.n_features_out_ = len(FEATURES)
        return self

    def transform(self, X: Iterable[str]) -> sparse.csr_matrix:
        return sparse.csr_matrix(self.dense_features(X))

    def dense_features(self, X: Iterable[str]) -> np.ndarray:
        """`transform` as a dense array (serving stacks the blocks itself: training/runtime/fast_pipeline.py)."""
        rows = []
        for text in X:
            rude = bool(RUDE_WORDS.search(text))
            you = rude and bool(SECOND_PERSON.search(text))
            authority = rude and bool(AUTHORITY.search(text))
            rows.append((float(rude), float(you), float(authority), float(rude and not you and not authority)))
        return np.asarray(rows, dtype=np.float64).reshape(-1, len(FEATURES)) * self.weight

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.array(FEATURES, dtype=object)
