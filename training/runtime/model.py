"""TriageModel: the fitted Pipeline plus thresholds and the decision rules, from texts to results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sklearn
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline

from training.runtime.fast_tfidf import apply_tfidf, vectorize
from training.runtime.heads import TOPIC_HEAD
from training.runtime.taxonomy import Taxonomy, default_taxonomy
from training.runtime.text.char_ngrams import FastCharNgramTfidf
from training.runtime.text.profanity import ProfanityLexicon

EVIDENCE_MIN_SCORE = 0.2


def _transform(step: Any, X: Any) -> Any:
    """`step.transform(X)`, with the TF-IDF weighting of the vectorisers done by fast_tfidf.py."""
    if type(step) is TfidfVectorizer:
        return vectorize(step, list(X))
    if isinstance(step, FastCharNgramTfidf) and step._fast():
        return apply_tfidf(step._counts([str(d) for d in X]), step._tfidf)
    if isinstance(step, Pipeline):
        for _, inner in step.steps:
            X = _transform(inner, X)
        return X
    if isinstance(step, FeatureUnion) and not step.transformer_weights:
        return sparse.hstack([_transform(t, X) for _, t in step.transformer_list], format="csr")
    # Our own transformers' `transform` is wrapped by scikit-learn's set_output machinery (container
    # detection on every call); no step of ours is configured to output DataFrames, so call it unwrapped.
    unwrapped = getattr(type(step).transform, "__wrapped__", None)
    if unwrapped is not None and getattr(step, "_sklearn_output_config", None) is None:
        return unwrapped(step, X)
    return step.transform(X)


def pipeline_proba(pipeline: Pipeline, texts: list[str]) -> dict[str, np.ndarray]:
    """`pipeline.predict_proba` through the very same fitted steps, minus per-call overheads.

    A single comment spent most of its time in scikit-learn's parameter and input validation (twice per
    TF-IDF step) and in the joblib machinery FeatureUnion uses even when sequential; the steps were fitted
    and validated at training time.
    """
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        X: Any = texts
        for _, step in pipeline.steps[:-1]:
            X = _transform(step, X)
        return pipeline.steps[-1][1].predict_proba(X)


@dataclass
class TriageModel:
    """Everything the service needs to answer /classify; pickled whole into the bundle."""

    pipeline: Pipeline
    thresholds: dict[str, float]
    flags: tuple[str, ...]
    urgent_label: str
    topics: tuple[str, ...]
    version: str = "unversioned"
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def labels(self) -> list[str]:
        return [*self.flags, self.urgent_label, *self.topics]

    def predict_scores(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """One vectorised pass over the batch: label -> scores, and 'topic' -> n×k aligned with self.topics."""
        raw = pipeline_proba(self.pipeline, list(texts))
        classes = list(self.pipeline.steps[-1][1].topic_classes_)
        order = [classes.index(t) for t in self.topics]
        raw[TOPIC_HEAD] = raw[TOPIC_HEAD][:, order]
        return raw

    def decide(self, scores: dict[str, np.ndarray], taxonomy: Taxonomy | None = None) -> list[dict[str, Any]]:
        """Flags from thresholds, the category by precedence, the action, the topic and its route."""
        taxonomy = taxonomy or default_taxonomy()
        n = len(scores[self.urgent_label])
        nq = taxonomy.no_question_flag
        topic_idx = scores[TOPIC_HEAD].argmax(axis=1)
        results = []
        for i in range(n):
            flag_scores = {f: float(scores[f][i]) for f in self.flags}
            flags = {f: flag_scores[f] >= self.thresholds[f] for f in self.flags}
            urgent_score = float(scores[self.urgent_label][i])
            urgent = urgent_score >= self.thresholds[self.urgent_label]
            category = taxonomy.category_for(flags)
            # An urgent comment is always routed, even when the no-question head fires.
            topic = self.topics[topic_idx[i]] if (not flags[nq] or urgent) else None
            results.append(
                {
                    "category": category,
                    "action": taxonomy.action_for(category, urgent),
                    "flags": flags,
                    "scores": {f: round(s, 4) for f, s in flag_scores.items()},
                    "topic": topic,
                    "topic_scores": {t: round(float(scores[TOPIC_HEAD][i, k]), 4) for k, t in enumerate(self.topics)},
                    "route": taxonomy.route_for(topic),
                    "urgent": urgent,
                    "urgent_score": round(urgent_score, 4),
                }
            )
        return results

    def classify(self, texts: Sequence[str], taxonomy: Taxonomy | None = None) -> list[dict[str, Any]]:
        """Results in input order, each with the profanity evidence (spans in the original text)."""
        taxonomy = taxonomy or default_taxonomy()
        results = self.decide(self.predict_scores(texts), taxonomy)
        lexicon = ProfanityLexicon()
        flag = taxonomy.lexicon_flag
        for text, result in zip(texts, results, strict=True):
            # Only comments the model already suspects pay for a second normalisation pass.
            spans = lexicon.find(text) if result["scores"][flag] >= EVIDENCE_MIN_SCORE else []
            result["evidence"] = [{"start": s.start, "end": s.end, "text": s.text} for s in spans]
        return results
