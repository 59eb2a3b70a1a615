"""The size limits that come from settings (MAX_BATCH, MAX_TEXT_CHARS), checked in one place for every route
that takes comment texts and reported like pydantic's own errors (422 with the field and index)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi.exceptions import RequestValidationError

from service.settings import Settings

Loc = tuple[str | int, ...]


def too_long(texts: Sequence[str], max_chars: int) -> list[int]:
    """Positions of the texts longer than the limit."""
    return [i for i, text in enumerate(texts) if len(text) > max_chars]


def text_size_errors(
    texts: Sequence[str], settings: Settings, loc: Callable[[int], Loc] = lambda i: ("body", "comments", i, "text")
) -> list[dict[str, Any]]:
    return [
        {
            "loc": loc(i),
            "type": "string_too_long",
            "msg": f"text has {len(texts[i])} characters, the limit is {settings.max_text_chars}",
        }
        for i in too_long(texts, settings.max_text_chars)
    ]


def batch_size_errors(n: int, settings: Settings) -> list[dict[str, Any]]:
    if n <= settings.max_batch:
        return []
    return [
        {
            "loc": ("body", "comments"),
            "type": "too_long",
            "msg": f"too many comments: {n}, the limit is {settings.max_batch}",
        }
    ]


def raise_for(errors: list[dict[str, Any]]) -> None:
    if errors:
        raise RequestValidationError(errors)
