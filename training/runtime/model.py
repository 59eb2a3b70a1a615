"""TriageModel: the fitted Pipeline plus thresholds and the decision rules, from texts to results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.pipeline import Pipeline

from training.runtime.evidence import Item, LinearEvidence
from training.runtime.evidence_spans import lexicon_items
from training.runtime.fast_pipeline import pipeline_matrix
from training.runtime.heads import TOPIC_HEAD
from training.runtime.taxonomy import Taxonomy, default_taxonomy
from training.runtime.text.normalize import normalize_with_offsets

# The мат lexicon's spans are looked for once the profanity head reaches this score (not only when it fires:
# the lexicon is a rule, its hits are shown even when the model hesitates). The other moderation flags get
# evidence only when they fire.
EVIDENCE_MIN_SCORE = 0.2


def pipeline_proba(pipeline: Pipeline, texts: list[str]) -> dict[str, np.ndarray]:
    """`pipeline.predict_proba` through the serving feature path (training/runtime/fast_pipeline.py)."""
    return pipeline.steps[-1][1].predict_proba(pipeline_matrix(pipeline, texts))


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

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_evidence", None)  # rebuilt from the pipeline on first use
        return state

    def predict_scores(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """One vectorised pass over the batch: label -> scores, and 'topic' -> n×k aligned with self.topics."""
        return self._scores_and_features(texts)[0]

    def _scores_and_features(self, texts: Sequence[str]) -> tuple[dict[str, np.ndarray], Any]:
        X = pipeline_matrix(self.pipeline, list(texts))
        raw = self.pipeline.steps[-1][1].predict_proba(X)
        classes = list(self.pipeline.steps[-1][1].topic_classes_)
        order = [classes.index(t) for t in self.topics]
        raw[TOPIC_HEAD] = raw[TOPIC_HEAD][:, order]
        return raw, X

    def evidence_model(self, taxonomy: Taxonomy) -> LinearEvidence:
        """The explainer of the moderation flags other than мат (built once, not pickled)."""
        explainer = self.__dict__.get("_evidence")
        if explainer is None:
            flags = [f for f in taxonomy.moderation_flags if f != taxonomy.lexicon_flag and f in self.flags]
            explainer = LinearEvidence(self.pipeline, flags)
            self.__dict__["_evidence"] = explainer
        return explainer

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
        """Results in input order, each with its evidence: spans of the original text and the flag each supports.

        `evidence` items are {start, end, text, flag, weight}: the мат lexicon's spans (flag = the lexicon flag,
        weight 1.0, whenever its score reaches EVIDENCE_MIN_SCORE), then for every other moderation flag that
        fired, its top phrases with their share of the head's log-odds (training/runtime/evidence.py).
        """
        taxonomy = taxonomy or default_taxonomy()
        scores, X = self._scores_and_features(texts)
        results = self.decide(scores, taxonomy)
        lexicon_flag = taxonomy.lexicon_flag
        explained: list[tuple[int, Item]] = []  # the flagged comments, explained together below
        for i, (text, result) in enumerate(zip(texts, results, strict=True)):
            lexicon = result["scores"][lexicon_flag] >= EVIDENCE_MIN_SCORE
            flags = [f for f in taxonomy.moderation_flags if f != lexicon_flag and result["flags"].get(f)]
            result["evidence"] = []
            if not lexicon and not flags:
                continue  # the common case pays nothing
            # Only comments the model already suspects pay for a second, offset-keeping normalisation pass.
            normalized, offsets = normalize_with_offsets(text)
            if lexicon:
                result["evidence"] = lexicon_items(text, normalized, offsets, lexicon_flag)
            if flags:
                if not (sparse.issparse(X) and X.format == "csr"):
                    X = sparse.csr_matrix(X)
                row = (X.indices[X.indptr[i] : X.indptr[i + 1]], X.data[X.indptr[i] : X.indptr[i + 1]])
                explained.append((i, (text, normalized, offsets, row, flags)))
        if explained:
            explainer = self.evidence_model(taxonomy)
            items = [(t, n, o, r, [f for f in fs if f in explainer.flags]) for _, (t, n, o, r, fs) in explained]
            for (i, _), evidence in zip(explained, explainer.explain_many(items), strict=True):
                results[i]["evidence"] += evidence
        return results
