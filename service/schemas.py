"""Request and response models of the service, with Russian examples built from the taxonomy.

Label names are never spelled here: the examples take them from data/taxonomy.yaml, so the OpenAPI schema
follows the taxonomy when it changes.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from training.runtime.taxonomy import ACTIONABLE, default_taxonomy

VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
# JSON may spell half of a UTF-16 pair ("\ud800"); Python decodes it into a string that no encoder accepts.
_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")
EXAMPLE_TEXT = "В доме на Ленина 5 третий день нет горячей воды, когда дадут?"
EXAMPLE_PROFANE = "когда уже эту б**дскую дорогу сделают на Ленина 5"


def example_result() -> dict[str, Any]:
    tax = default_taxonomy()
    topic = tax.topic_ids[0]
    return {
        "id": "c1",
        "category": ACTIONABLE,
        "action": tax.action_for(ACTIONABLE, False),
        "flags": {f: False for f in tax.flags},
        "scores": {f: 0.02 for f in tax.flags},
        "topic": topic,
        "topic_scores": {t: (0.81 if t == topic else 0.02) for t in tax.topic_ids},
        "route": tax.route_for(topic),
        "urgent": False,
        "urgent_score": 0.03,
        "evidence": [],
    }


def check_text_characters(text: str) -> str:
    """Every request field that holds a comment text passes here (Comment.text, POST /feedback's text):
    a lone UTF-16 surrogate is refused with its position (a 422 naming the field), never a 500 further on."""
    bad = _SURROGATE_RE.search(text)
    if bad is not None:
        raise ValueError(f"text contains an invalid character (lone UTF-16 surrogate) at position {bad.start()}")
    return text


class Comment(BaseModel):
    """One comment to classify; `id` is echoed back so the caller can match results."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"id": "c1", "text": EXAMPLE_TEXT}]})

    id: str | None = Field(default=None, max_length=200, description="caller's identifier, echoed back")
    text: str = Field(description="comment text as written (length limit: MAX_TEXT_CHARS)")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("text is empty or whitespace only")
        return check_text_characters(v)


class ClassifyRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "comments": [
                        {"id": "c1", "text": EXAMPLE_TEXT},
                        {"id": "c2", "text": EXAMPLE_PROFANE},
                        {"text": "Спасибо за работу!"},
                    ],
                }
            ]
        }
    )

    comments: list[Comment] = Field(min_length=1, description="1 to MAX_BATCH comments")


def example_evidence() -> list[dict[str, Any]]:
    """A мат span of EXAMPLE_PROFANE, and a phrase behind another moderation flag (names from the taxonomy)."""
    tax = default_taxonomy()
    other = next(f for f in tax.moderation_flags if f != tax.lexicon_flag)
    return [
        {"start": 14, "end": 22, "text": "б**дскую", "flag": tax.lexicon_flag, "weight": 1.0},
        {"start": 15, "end": 32, "text": "вы нас за идиотов", "flag": other, "weight": 2.41},
    ]


class EvidenceSpan(BaseModel):
    """Why a flag was raised: a span of the original text and the flag it supports."""

    model_config = ConfigDict(json_schema_extra={"examples": [*example_evidence()]})

    start: int = Field(ge=0, description="offset of the span's first character in the original text")
    end: int = Field(gt=0, description="offset just past its last character: text == original[start:end]")
    text: str = Field(description="the span as written in the comment")
    flag: str = Field(description="the flag this span supports (see GET /labels): the мат lexicon's flag for мат")
    weight: float = Field(
        description="how much the span raises the flag: its share of the flag head's log-odds for the model's "
        "phrases (larger is stronger; only positive shares are shown), 1.0 for a мат word found by the lexicon"
    )


class ClassifyResult(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [example_result()]})

    id: str | None = None
    category: str = Field(description="primary category by precedence (see GET /labels)")
    action: str = Field(description="what to do with the comment")
    flags: dict[str, bool]
    scores: dict[str, float] = Field(description="flag probabilities in [0, 1]")
    topic: str | None = Field(description="null when the comment is not actionable")
    topic_scores: dict[str, float]
    route: str | None = Field(description="who prepares the answer for this topic")
    urgent: bool
    urgent_score: float
    evidence: list[EvidenceSpan] = Field(
        default_factory=list,
        description="why the flags were raised: spans of the original text, each with the flag it supports and its "
        "weight (мат spans first)",
    )


class ClassifyResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model_version": "20250101-120000-abc123",
                    "results": [example_result()],
                }
            ]
        }
    )

    model_version: str
    results: list[ClassifyResult]


class ErrorResponse(BaseModel):
    """Every 4xx/5xx body: a message, and for validation errors the index/field of each problem."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": "invalid request: 1 problem(s)",
                    "details": [
                        {
                            "field": "comments[1].text",
                            "index": 1,
                            "message": "text is empty or whitespace only",
                            "type": "value_error",
                        }
                    ],
                }
            ]
        }
    )

    error: str
    details: list[dict[str, Any]] | None = None


class HealthResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})

    status: str


class ReadyResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"status": "ready", "model_version": "20250101-120000-abc123", "reason": None},
                {"status": "not ready", "model_version": None, "reason": "нет обученной модели: models/latest"},
            ]
        }
    )

    status: str
    model_version: str | None = None
    reason: str | None = None


class ReloadRequest(BaseModel):
    """Optional body of POST /admin/reload: a version directory name; omitted = models/latest."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"version": "20250101-120000-abc123"}]})

    version: str | None = Field(default=None, description="bundle version; no '/' or '..'")

    @field_validator("version")
    @classmethod
    def _safe(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if "/" in v or "\\" in v or ".." in v or not VERSION_RE.match(v):
            raise ValueError("version must be a bundle directory name (letters, digits, '-', '_', '.'; no '/' or '..')")
        return v


class ReloadResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "reloaded",
                    "model_version": "20250101-120000-abc123",
                    "previous_version": "20241201-090000-aa1122",
                },
            ]
        }
    )

    status: str
    model_version: str
    previous_version: str | None = None


def error_responses(invalid: str) -> dict[int | str, dict[str, object]]:
    """OpenAPI error responses shared by the JSON endpoints; `invalid` describes this route's 422."""
    return {
        400: {"model": ErrorResponse, "description": "malformed JSON or a body that is not UTF-8"},
        401: {"model": ErrorResponse, "description": "missing or invalid X-API-Key (when API_KEYS is set)"},
        413: {"model": ErrorResponse, "description": "body over MAX_BODY_BYTES"},
        415: {"model": ErrorResponse, "description": "Content-Type is not application/json"},
        422: {"model": ErrorResponse, "description": invalid},
        503: {"model": ErrorResponse, "description": "no model loaded yet"},
    }
