"""Checks on the real labelled corpus data/comments.csv."""

from __future__ import annotations

import pytest

from training.datasets.corpus import HARD_NEGATIVE_MARKERS, category_of, read_corpus, validate_corpus
from training.runtime.taxonomy import default_taxonomy
from training.runtime.text.profanity import ProfanityLexicon

TAX = default_taxonomy()


@pytest.mark.slow
def test_validation_passes_with_targets() -> None:
    report = validate_corpus(read_corpus(), check_targets=True)
    assert report.ok, "\n".join(report.errors)


def test_test_split_is_big_and_covers_every_label(corpus) -> None:
    test = corpus[corpus["split"] == "test"]
    assert len(test) >= 800, len(test)
    cats = set(test.apply(lambda r: category_of(r, TAX), axis=1))
    assert cats == set(TAX.categories), f"missing categories in test: {set(TAX.categories) - cats}"
    topics = set(test["topic"]) - {""}
    assert topics == set(TAX.topic_ids), f"missing topics in test: {set(TAX.topic_ids) - topics}"
    assert test[TAX.urgent].sum() > 0


def test_train_and_test_texts_do_not_overlap(corpus) -> None:
    canon = corpus["text"].str.lower().str.replace("ё", "е").str.split().str.join(" ")
    train = set(canon[corpus["split"] == "train"])
    test = set(canon[corpus["split"] == "test"])
    assert not train & test, list(train & test)[:5]


def test_disguised_share(corpus) -> None:
    lex = ProfanityLexicon()
    prof = corpus[corpus[TAX.lexicon_flag] == 1]["text"]
    disguised = sum(lex.is_disguised(t) for t in prof)
    share = disguised / len(prof)
    print(f"\ndisguised profanity: {disguised} of {len(prof)} ({share:.1%})")
    assert share >= 0.40


def test_hard_negatives(corpus) -> None:
    clean = corpus[list(TAX.moderation_flags)].sum(axis=1) == 0
    tricky = corpus["text"].str.contains(HARD_NEGATIVE_MARKERS)
    n = int((clean & tricky).sum())
    print(
        f"\nhard negatives (clean rows with a tricky marker): {n} of {int(clean.sum())} clean rows; "
        f"all rows with a marker: {int(tricky.sum())}"
    )
    assert n >= 400, f"only {n} hard negatives (clean rows with a tricky marker), need >= 400"
