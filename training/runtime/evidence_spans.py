"""Evidence as a moderator sees it: a flag's top phrases picked from its token shares and mapped back to the
original text, the мат lexicon's spans, and the text cut into flagged pieces for the moderation page.

The attributions themselves (which tokens push a head up, and by how much) are training/runtime/evidence.py's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from training.runtime.taxonomy import default_taxonomy
from training.runtime.text.profanity import ProfanityLexicon

EVIDENCE_MAX_SPANS = 5  # per flag: a moderator reads a few highlights, not a heat map
EVIDENCE_MIN_WEIGHT = 0.5  # log-odds: below this a phrase barely moves the score
EVIDENCE_MIN_SHARE = 0.15  # of the strongest phrase's weight: weaker ones are noise beside it
LEXICON_WEIGHT = 1.0  # weight of a мат span: a rule match of the lexicon, not a share of a head


def top_phrases(
    text: str, tokens: list[tuple[int, int, str]], offsets: list[int], share: list[float], link: list[bool], flag: str
) -> list[dict[str, Any]]:
    """One flag's top phrases: runs of positive tokens, each joined to the next by a positive feature."""
    phrases: list[tuple[float, int, int]] = []
    k = 0
    while k < len(share):
        if share[k] <= 0:
            k += 1
            continue
        first, total = k, share[k]
        while k + 1 < len(share) and share[k + 1] > 0 and link[k]:
            k += 1
            total += share[k]
        phrases.append((total, first, k))
        k += 1
    phrases.sort(key=lambda p: (-round(p[0], 9), p[1]))  # equal weights (a repeated insult): in text order
    floor = max(EVIDENCE_MIN_WEIGHT, EVIDENCE_MIN_SHARE * phrases[0][0]) if phrases else 0.0
    out = []
    for rank, (weight, first, last) in enumerate(phrases[:EVIDENCE_MAX_SPANS]):
        if rank and weight < floor:  # the strongest phrase is kept whatever it weighs: the flag fired
            break
        start, end = original_span(offsets, tokens[first][0], tokens[last][1])
        out.append({"start": start, "end": end, "text": text[start:end], "flag": flag, "weight": round(weight, 3)})
    return out


def original_span(offsets: list[int], start: int, end: int) -> tuple[int, int]:
    """Normalised characters [start, end) as a span of the original text."""
    first, last = offsets[start], offsets[end - 1]
    return min(first, last), max(first, last) + 1


def lexicon_items(text: str, normalized: str, offsets: list[int], flag: str) -> list[dict[str, Any]]:
    """The мат lexicon's spans as evidence items (weight LEXICON_WEIGHT: a rule match, see the module docstring)."""
    items = []
    for s, e in ProfanityLexicon().find_in_normalized(normalized):
        start, end = original_span(offsets, s, e)
        items.append({"start": start, "end": end, "text": text[start:end], "flag": flag, "weight": LEXICON_WEIGHT})
    return items


def segments_by_flag(
    text: str, evidence: Sequence[dict[str, Any]], precedence: Sequence[str] | None = None
) -> list[tuple[str, str | None]]:
    """The text cut into (piece, flag or None) for the moderation page, so a template can wrap each flagged
    piece in its own <mark> and escape everything. Where spans of several flags overlap, the flag that comes
    first in `precedence` (default: the taxonomy's, as for the category) takes the piece; spans are clipped to
    the text and empty ones are ignored. Joining the pieces gives the text back."""
    order = list(precedence if precedence is not None else default_taxonomy().precedence)
    spans = []
    for item in evidence:
        start, end = max(0, int(item["start"])), min(len(text), int(item["end"]))
        flag = item.get("flag")
        if start < end and flag is not None:
            rank = order.index(flag) if flag in order else len(order)
            spans.append((start, end, rank, str(flag)))
    cuts = sorted({0, len(text), *(s for s, *_ in spans), *(e for _, e, *_ in spans)})
    out: list[tuple[str, str | None]] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        covering = [(rank, flag) for s, e, rank, flag in spans if s <= a and b <= e]
        flag = min(covering)[1] if covering else None
        if out and out[-1][1] == flag:
            out[-1] = (out[-1][0] + text[a:b], flag)
        else:
            out.append((text[a:b], flag))
    return out
