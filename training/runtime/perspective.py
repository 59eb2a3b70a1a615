"""Perspective API (commentanalyzer v1alpha1 `comments:analyze`) answered from our classify result.

Perspective shuts down at the end of 2026; its users can switch their client's base URL to this service. This
module is the whole translation, free of any web framework: which Perspective attribute reads which of our
scores, the checks Perspective makes on a request (with its documented messages and `errorType`s), the answer
shape, and Google's error body. The service's route only parses the JSON and calls it.

Attributes: PROFANITY ← the lexicon flag (мат), INSULT ← insult to a commenter, TOXICITY ← the strongest of
the moderation flags, and our own DISRESPECT_AUTHORITY, NO_QUESTION and URGENT (the urgency score).

Span offsets: Perspective's discovery document defines `begin`/`end` as "the UTF-16 codepoint range" of the
original text, `end` exclusive, i.e. UTF-16 code units, what JavaScript's `text.slice(begin, end)` takes. Our
evidence counts Unicode code points (Python string indexes); the two differ only after a character outside
the Basic Multilingual Plane (an emoji), so they are converted here and Cyrillic text is unaffected.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from training.runtime.taxonomy import Taxonomy, default_taxonomy

SCORE_TYPE = "PROBABILITY"  # the only score type Perspective itself still serves
LANGUAGE = "ru"  # the model reads Russian only
PLAIN_TEXT_TYPES = frozenset({"", "PLAIN_TEXT", "TEXT_TYPE_UNSPECIFIED"})
HTML_TYPE = "HTML"
ERROR_DETAIL_TYPE = "type.googleapis.com/google.commentanalyzer.v1alpha1.Error"
BAD_REQUEST_DETAIL_TYPE = "type.googleapis.com/google.rpc.BadRequest"
MAX_ECHOED_NAME = 100  # attribute names and score types quoted back in a message are cut to this length

# Perspective's attribute names for single flags of ours (checked against the taxonomy when the table is built).
FLAG_ATTRIBUTES: dict[str, str] = {
    "PROFANITY": "profanity",
    "INSULT": "insult_commenter",
    "DISRESPECT_AUTHORITY": "disrespect_authority",
    "NO_QUESTION": "no_question",
}
TOXICITY = "TOXICITY"  # the strongest moderation score, with every moderation span
URGENT = "URGENT"  # the urgency score; no spans

# Perspective's ErrorType values (Limits and errors page); anything else is INVALID_REQUEST.
COMMENT_EMPTY = "COMMENT_EMPTY"
COMMENT_TOO_LONG = "COMMENT_TOO_LONG"
NO_REQUESTED_ATTRIBUTES = "NO_REQUESTED_ATTRIBUTES"
LANGUAGE_NOT_SUPPORTED = "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE"
INVALID_REQUEST = "INVALID_REQUEST"

# google.rpc.Code names for the HTTP statuses this service answers with.
GOOGLE_STATUS: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    408: "DEADLINE_EXCEEDED",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    415: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def google_error(code: int, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Google's JSON error body (`{"error": {code, message, status, details}}`), what Perspective clients parse."""
    status = GOOGLE_STATUS.get(code) or ("INTERNAL" if code >= 500 else "INVALID_ARGUMENT")
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = details
    return {"error": error}


def error_detail(error_type: str, **extra: Any) -> dict[str, Any]:
    """Perspective's own detail entry (`google.commentanalyzer.v1alpha1.Error`) with its `errorType`."""
    return {"@type": ERROR_DETAIL_TYPE, "errorType": error_type, **extra}


class PerspectiveError(Exception):
    """A request Perspective would refuse: the HTTP status, its message and its errorType."""

    def __init__(self, message: str, error_type: str = INVALID_REQUEST, code: int = 400, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.detail = error_detail(error_type, **extra)

    @property
    def error_type(self) -> str:
        return str(self.detail["errorType"])

    def body(self) -> dict[str, Any]:
        return google_error(self.code, self.message, [self.detail])


@dataclass(frozen=True)
class Attribute:
    """One attribute we answer: the max of `flags`' scores (or the urgency score), spans of those flags."""

    name: str
    flags: tuple[str, ...] = ()
    urgent: bool = False

    def score(self, result: Mapping[str, Any]) -> float:
        if self.urgent:
            return float(result["urgent_score"])
        return max(float(result["scores"][f]) for f in self.flags)


def attributes_for(taxonomy: Taxonomy) -> dict[str, Attribute]:
    """Every attribute we answer, by Perspective name (six entries: built per call, nothing to cache). A
    taxonomy without one of the mapped flags is refused here: a renamed flag must fail loudly, not vanish."""
    missing = [flag for flag in FLAG_ATTRIBUTES.values() if flag not in taxonomy.flags]
    if missing:
        raise ValueError(f"Perspective attributes map flags the taxonomy does not have: {missing}")
    table = {name: Attribute(name, (flag,)) for name, flag in FLAG_ATTRIBUTES.items()}
    table[TOXICITY] = Attribute(TOXICITY, tuple(taxonomy.moderation_flags))
    table[URGENT] = Attribute(URGENT, urgent=True)
    return table


@dataclass(frozen=True)
class AttributeRequest:
    """`requestedAttributes[name]`: the score type (PROBABILITY when unset) and the optional threshold."""

    score_type: str | None = None
    score_threshold: float | None = None


@dataclass(frozen=True)
class AnalyzePlan:
    """A request that passed Perspective's checks: what to score and the languages to answer with."""

    attributes: dict[str, AttributeRequest] = field(default_factory=dict)
    languages: list[str] = field(default_factory=lambda: [LANGUAGE])


def _cut(name: str) -> str:
    return name if len(name) <= MAX_ECHOED_NAME else name[:MAX_ECHOED_NAME] + "…"


def is_supported_language(code: str) -> bool:
    """ISO 639-1 or BCP-47 (Perspective takes both): `ru`, `RU`, `ru-RU`, `ru_RU`."""
    return code.replace("_", "-").split("-", 1)[0].strip().lower() == LANGUAGE


def plan_analysis(
    text: str,
    requested: Mapping[str, AttributeRequest],
    *,
    max_chars: int,
    text_type: str | None = None,
    languages: Sequence[str] = (),
    drop_unsupported: bool = False,
    taxonomy: Taxonomy | None = None,
) -> AnalyzePlan:
    """Perspective's checks, in its order, with its documented messages; raises PerspectiveError.

    An empty `languages` means "detect": the model reads Russian only, so the text is taken as Russian and the
    answer says `["ru"]` (no `detectedLanguages`: nothing was detected). Any other language is refused as
    Perspective refuses an attribute that lacks it, or, with `dropUnsupportedAttributes`, every attribute is
    dropped from the answer instead."""
    table = attributes_for(taxonomy or default_taxonomy())
    if not text.strip():
        raise PerspectiveError("Comment must be non-empty.", COMMENT_EMPTY)
    kind = text_type or ""
    if kind == HTML_TYPE:
        raise PerspectiveError("Currently, only 'PLAIN_TEXT' comments are supported")
    if kind not in PLAIN_TEXT_TYPES:
        raise PerspectiveError("Unknown text type")
    if len(text) > max_chars:
        raise PerspectiveError("Comment text too long.", COMMENT_TOO_LONG)
    if not requested:
        raise PerspectiveError("Missing requested_attributes", NO_REQUESTED_ATTRIBUTES)
    for name, params in requested.items():
        if name not in table:
            raise PerspectiveError(f"Unknown requested attribute: {_cut(name)}")
        if params.score_type not in (None, "", SCORE_TYPE):
            raise PerspectiveError(
                f"Requested score type {_cut(params.score_type)} is not supported by attribute {name}"
            )
    langs = [code for code in languages if code]
    unsupported = [code for code in langs if not is_supported_language(code)]
    if unsupported:
        if drop_unsupported:
            return AnalyzePlan({}, langs)
        first = next(iter(requested))
        raise PerspectiveError(
            f"Attribute {first} does not support request languages: {','.join(_cut(c) for c in langs)}",
            LANGUAGE_NOT_SUPPORTED,
            languageNotSupportedByAttributeError={"requestedLanguages": [_cut(c) for c in langs], "attribute": first},
        )
    return AnalyzePlan(dict(requested), langs or [LANGUAGE])


def utf16_offset(text: str, index: int) -> int:
    """A code-point index of `text` as a UTF-16 code-unit offset (what Perspective's begin/end count)."""
    return index + sum(1 for ch in text[:index] if ord(ch) > 0xFFFF)


def _score(value: float) -> dict[str, Any]:
    return {"value": value, "type": SCORE_TYPE}


def _number(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def span_scores(result: Mapping[str, Any], text: str, attribute: Attribute, lexicon_flag: str) -> list[dict[str, Any]]:
    """The attribute's spans from the result's evidence, one entry per (begin, end) with the highest score, in
    text order. An item's `flag` says which flag it supports (no `flag`: a мат span of the lexicon).

    A span's score: the item's own `score` when it carries a probability; else its flag's comment score scaled
    by the item's `weight` (log-odds share, runtime/evidence.py) over the strongest weight of that flag, so
    the strongest span of a flag scores what the comment scores and weaker ones less; without a weight, the
    flag's comment score."""
    items = []
    for item in result.get("evidence") or ():
        flag = item.get("flag") or lexicon_flag
        start, end = item.get("start"), item.get("end")
        if flag not in attribute.flags or not isinstance(start, int) or not isinstance(end, int):
            continue
        if 0 <= start < end <= len(text):
            items.append((flag, start, end, item))
    strongest: dict[str, float] = {}
    for flag, _, _, item in items:
        weight = _number(item.get("weight"))
        if weight is not None and weight > 0:
            strongest[flag] = max(strongest.get(flag, 0.0), weight)
    best: dict[tuple[int, int], float] = {}
    for flag, start, end, item in items:
        value = float(result["scores"][flag])
        own, weight = _number(item.get("score")), _number(item.get("weight"))
        if own is not None:
            value = own
        elif weight is not None and flag in strongest:
            value *= max(0.0, weight) / strongest[flag]
        value = round(min(1.0, max(0.0, value)), 4)
        key = (utf16_offset(text, start), utf16_offset(text, end))
        best[key] = max(best.get(key, 0.0), value)
    return [{"begin": b, "end": e, "score": _score(v)} for (b, e), v in sorted(best.items())]


def analyze_response(
    result: Mapping[str, Any] | None,
    text: str,
    plan: AnalyzePlan,
    *,
    span_annotations: bool = False,
    client_token: str | None = None,
    taxonomy: Taxonomy | None = None,
) -> dict[str, Any]:
    """Perspective's AnalyzeCommentResponse for one classify result (None when nothing was to be scored).

    With `scoreThreshold`, scores below it are left out (the summary and each span); an attribute with
    nothing left is left out altogether."""
    tax = taxonomy or default_taxonomy()
    table = attributes_for(tax)
    scores: dict[str, Any] = {}
    for name, params in plan.attributes.items():
        if result is None:
            break
        attribute = table[name]
        threshold = params.score_threshold
        entry: dict[str, Any] = {}
        summary = attribute.score(result)
        if threshold is None or summary >= threshold:
            entry["summaryScore"] = _score(summary)
        if span_annotations:
            spans = span_scores(result, text, attribute, tax.lexicon_flag)
            spans = [s for s in spans if threshold is None or s["score"]["value"] >= threshold]
            if spans:
                entry["spanScores"] = spans
        if entry:
            scores[name] = entry
    body: dict[str, Any] = {"attributeScores": scores, "languages": list(plan.languages)}
    if client_token is not None:
        body["clientToken"] = client_token
    return body
