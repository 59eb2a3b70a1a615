"""Perspective's AnalyzeComment request and response (commentanalyzer v1alpha1), as pydantic models, and the
translation of their validation errors into Google's error body.

Field names follow protobuf's JSON mapping, as Google's own parser does: lowerCamelCase (`requestedAttributes`)
or the proto name (`requested_attributes`), `null` for "unset", unknown names refused. Perspective's checks on
the values (empty comment, unknown attribute, language) live in training/runtime/perspective.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import (
    AliasChoices,
    AliasGenerator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictStr,
    field_validator,
)
from pydantic.alias_generators import to_camel

from service.schemas import check_text_characters
from training.runtime.perspective import BAD_REQUEST_DETAIL_TYPE, COMMENT_EMPTY, PerspectiveError, google_error

EXAMPLE_TEXT = "Марина, ты дура, когда уже эту б**дскую дорогу на Ленина 5 сделают?"
EXAMPLE_REQUEST: dict[str, Any] = {
    "comment": {"text": EXAMPLE_TEXT, "type": "PLAIN_TEXT"},
    "languages": ["ru"],
    "requestedAttributes": {"TOXICITY": {}, "PROFANITY": {}, "INSULT": {"scoreThreshold": 0.5}, "URGENT": {}},
    "spanAnnotations": True,
    "doNotStore": True,
    "clientToken": "комментарий-53922",
}
EXAMPLE_RESPONSE: dict[str, Any] = {
    "attributeScores": {
        "TOXICITY": {
            "summaryScore": {"value": 0.9981, "type": "PROBABILITY"},
            "spanScores": [{"begin": 31, "end": 39, "score": {"value": 0.9981, "type": "PROBABILITY"}}],
        },
        "PROFANITY": {
            "summaryScore": {"value": 0.9981, "type": "PROBABILITY"},
            "spanScores": [{"begin": 31, "end": 39, "score": {"value": 0.9981, "type": "PROBABILITY"}}],
        },
        "INSULT": {"summaryScore": {"value": 0.9412, "type": "PROBABILITY"}},
        "URGENT": {"summaryScore": {"value": 0.0031, "type": "PROBABILITY"}},
    },
    "languages": ["ru"],
    "clientToken": "комментарий-53922",
}
EXAMPLE_ERROR: dict[str, Any] = PerspectiveError("Unknown requested attribute: SEVERE_TOXICITY").body()


class _ProtoJSON(BaseModel):
    """Google's JSON parser: lowerCamelCase or the proto's snake_case name, unknown names refused."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=AliasGenerator(
            validation_alias=lambda name: AliasChoices(to_camel(name), name), serialization_alias=to_camel
        ),
    )


class TextEntry(_ProtoJSON):
    """A body of text: the comment (or a context entry); only PLAIN_TEXT is scored, as on Perspective."""

    text: StrictStr | None = Field(default=None, description="текст комментария (лимит: MAX_TEXT_CHARS символов)")
    type: StrictStr | None = Field(default=None, description="PLAIN_TEXT (по умолчанию); HTML не поддерживается")

    @field_validator("text")
    @classmethod
    def _characters(cls, v: str | None) -> str | None:
        return v if v is None else check_text_characters(v)


class ArticleAndParentComment(_ProtoJSON):
    article: TextEntry | None = None
    parent_comment: TextEntry | None = None


class Context(_ProtoJSON):
    """Accepted and ignored (Perspective ignores it too); never stored or logged."""

    entries: list[TextEntry] | None = None
    article_and_parent_comment: ArticleAndParentComment | None = None


class AttributeParameters(_ProtoJSON):
    score_type: StrictStr | None = Field(default=None, description="только PROBABILITY")
    score_threshold: StrictFloat | None = Field(
        default=None, allow_inf_nan=False, description="оценки ниже порога не возвращаются"
    )


class AnalyzeCommentRequest(_ProtoJSON):
    """Perspective's AnalyzeCommentRequest; `comment.text` and `requestedAttributes` are required (checked with
    Perspective's own messages, so that a missing text is `COMMENT_EMPTY` as there)."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_REQUEST]})

    comment: TextEntry | None = None
    context: Context | None = None
    requested_attributes: dict[str, AttributeParameters | None] | None = Field(
        default=None,
        description="атрибут → параметры: TOXICITY, PROFANITY, INSULT, DISRESPECT_AUTHORITY, NO_QUESTION, URGENT",
    )
    languages: list[StrictStr] | None = Field(default=None, description="только ru; не указано — считается ru")
    span_annotations: StrictBool | None = Field(default=None, description="вернуть оценки фрагментов (spanScores)")
    do_not_store: StrictBool | None = Field(default=None, description="сервис и так не хранит тексты анализа")
    drop_unsupported_attributes: StrictBool | None = None
    client_token: StrictStr | None = Field(default=None, description="возвращается в ответе как есть")
    session_id: StrictStr | None = None
    community_id: StrictStr | None = None


class Score(_ProtoJSON):
    value: float
    type: str = "PROBABILITY"


class SpanScore(_ProtoJSON):
    begin: int = Field(description="начало фрагмента в единицах UTF-16 (как в Perspective)")
    end: int = Field(description="конец фрагмента (не включая), в единицах UTF-16")
    score: Score


class AttributeScores(_ProtoJSON):
    summary_score: Score | None = None
    span_scores: list[SpanScore] | None = None


class AnalyzeCommentResponse(_ProtoJSON):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_RESPONSE]})

    attribute_scores: dict[str, AttributeScores]
    languages: list[str]
    client_token: str | None = None


class GoogleError(BaseModel):
    code: int
    message: str
    status: str
    details: list[dict[str, Any]] | None = None


class GoogleErrorResponse(BaseModel):
    """Google's error body, as Perspective answers (e.g. 400 INVALID_ARGUMENT)."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_ERROR]})

    error: GoogleError


# ------------------------------------------------------------------------------ validation errors
_PROTO_TYPES = {"string": "TYPE_STRING", "bool": "TYPE_BOOL", "float": "TYPE_FLOAT", "int": "TYPE_FLOAT"}
_MAP_FIELDS = frozenset({"requestedAttributes", "requested_attributes"})  # their keys are names, not fields


def _path(loc: Sequence[Any]) -> str:
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif i > 0 and loc[i - 1] in _MAP_FIELDS:
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _violation(err: dict[str, Any]) -> tuple[str, str]:
    """(field, description) in the words of Google's JSON parser; the value itself is never echoed."""
    loc = [p for p in err.get("loc", ()) if p != "body"]
    kind = str(err.get("type", ""))
    if kind == "extra_forbidden":
        parent = _path(loc[:-1])
        where = f" at '{parent}'" if parent else ""
        return _path(loc), f'Invalid JSON payload received. Unknown name "{loc[-1]}"{where}: Cannot find field.'
    proto = next((t for prefix, t in _PROTO_TYPES.items() if kind.startswith(prefix)), None)
    if proto is None and kind in ("model_type", "model_attributes_type", "dict_type"):
        proto = "message"
    if proto is None and kind == "list_type":
        proto = "repeated"
    suffix = f" ({proto})" if proto else ""
    message = f"Invalid value at '{_path(loc)}'{suffix}"
    if kind in ("value_error", "finite_number"):
        reason = str(err.get("msg", "")).removeprefix("Value error, ")
        message += f": {reason}"
    return _path(loc), message


def google_validation_error(errors: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """FastAPI's RequestValidationError items for this route, as Google's 400 body."""
    errors = list(errors)
    for err in errors:
        loc = tuple(err.get("loc", ()))
        if err.get("type") == "json_invalid":
            reason = (err.get("ctx") or {}).get("error", "JSON decode error")
            return google_error(400, f"Invalid JSON payload received. {reason} at position {loc[-1]}.")
        if loc == ("body",) and err.get("type") == "missing":  # no body at all: proto's defaults, no text
            return PerspectiveError("Comment must be non-empty.", COMMENT_EMPTY).body()
        if loc == ("body",):
            return google_error(400, "Invalid JSON payload received. Root element must be a message.")
    violations = [_violation(err) for err in errors]
    detail = {
        "@type": BAD_REQUEST_DETAIL_TYPE,
        "fieldViolations": [{"field": f, "description": d} for f, d in violations],
    }
    return google_error(400, "\n".join(d for _, d in violations), [detail])
