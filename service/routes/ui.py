"""The moderators' page: GET /ui, POST /ui/classify (form), GET /ui/static/<file>. Server-rendered, no CDN.

Comment texts are user input: the template autoescapes everything, and the profanity evidence is passed as
(text, is_evidence) segments so only our own <mark> tags reach the page unescaped. VK mention markup
(`[id123|Марина]`) is shown as the name it stands for. The "Входящие" view (comments VK pushed, GET /inbox)
is drawn by static/ui.js with the same two rules (textSegments there mirrors `segments` here).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates

from service.deps import api_key_valid, get_holder, settings_dep
from service.limits import too_long
from service.model_holder import ModelHolder
from service.settings import Settings
from service.vk_schemas import KINDS
from training.runtime.batch import classify_in_chunks, result_columns, result_row
from training.runtime.evidence_spans import segments_by_flag
from training.runtime.feedback.rules import label_rules
from training.runtime.taxonomy import Taxonomy, default_taxonomy

router = APIRouter(tags=["ui"], include_in_schema=False)

HERE = Path(__file__).resolve().parent.parent
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))
STATIC_DIR = HERE / "static"
STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
UI_MAX_ROWS = 2000
TEXT_COLUMN, ID_COLUMN = "text", "id"


class UiInputError(ValueError):
    """Something wrong with what the moderator pasted or uploaded; shown on the page in Russian."""


def comment_id(text: str) -> str:
    """A stable id for comments without one: the same text maps to the same feedback record."""
    return "ui-" + hashlib.sha1(text.strip().encode("utf-8")).hexdigest()[:12]


# VK's mention markup, as training/runtime/text/normalize.py reads it: [id123|Name], [club45|Name], [public6|Name];
# the name ends at the first "]" and never holds markup of its own.
_VK_REF = r"(?:id|club|public)\d+\|"
VK_MENTION_RE = re.compile(r"\[" + _VK_REF + r"((?:[^\[\]]|\[(?!" + _VK_REF + r"))*+)\]", re.IGNORECASE)


def mention_markup(text: str) -> list[tuple[int, int]]:
    """Spans of the text that mention markup adds around a name ("[id123|" and "]"): not shown on the page."""
    spans: list[tuple[int, int]] = []
    for m in VK_MENTION_RE.finditer(text):
        if m.end(1) > m.start(1):  # "[id1|]" names nobody: left as written
            spans += [(m.start(), m.start(1)), (m.end(1), m.end())]
    return spans


def segments(
    text: str, evidence: list[dict[str, Any]], precedence: list[str] | None = None
) -> list[tuple[str, str | None]]:
    """The text as shown, cut into (piece, flag or None) so the template can <mark> each evidence span (offsets
    into the original text) with the flag it supports and escape the rest (the runtime core's
    `segments_by_flag`: overlapping spans go to the flag first in the precedence); mention markup is left out
    around the name it stands for."""
    hidden = mention_markup(text)
    out: list[tuple[str, str | None]] = []
    pos = 0
    for piece, flag in segments_by_flag(text, evidence, precedence):
        a, b = pos, pos + len(piece)
        pos = b
        cuts = sorted({a, b, *(p for span in hidden for p in span if a < p < b)})
        for x, y in zip(cuts, cuts[1:], strict=False):
            if any(s <= x < e for s, e in hidden):
                continue
            if out and out[-1][1] == flag:
                out[-1] = (out[-1][0] + text[x:y], flag)
            else:
                out.append((text[x:y], flag))
    return out


def _decode(raw: bytes, name: str) -> str:
    for encoding in ("utf-8-sig", "cp1251"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UiInputError(f"Файл {name}: не удалось прочитать текст (нужна кодировка UTF-8 или Windows-1251)")


def parse_upload(raw: bytes, name: str) -> list[tuple[str | None, str]]:
    """CSV (column text, optional id) or plain text, one comment per line."""
    content = _decode(raw, name)
    if name.lower().endswith(".csv"):
        try:
            reader = csv.DictReader(io.StringIO(content))
            fields = [f.strip().lower() for f in (reader.fieldnames or [])]
            if TEXT_COLUMN not in fields:
                raise UiInputError(f"Файл {name}: нет столбца «{TEXT_COLUMN}» (есть: {', '.join(fields) or 'ничего'})")
            rows = []
            for row in reader:
                norm = {(k or "").strip().lower(): (v or "") for k, v in row.items()}
                if norm[TEXT_COLUMN].strip():
                    rows.append(((norm.get(ID_COLUMN) or "").strip() or None, norm[TEXT_COLUMN].strip()))
            return rows
        except csv.Error as exc:
            raise UiInputError(f"Файл {name}: не удалось разобрать CSV ({exc})") from exc
    return [(None, line.strip()) for line in content.splitlines() if line.strip()]


def _page_context(taxonomy: Taxonomy) -> dict[str, Any]:
    raw = taxonomy.as_dict()
    flag_names = {f["id"]: f["name_ru"] for f in raw["flags"]}
    return {
        "flags": [(f, flag_names.get(f, f)) for f in taxonomy.flags],
        "flag_names": flag_names,
        "urgent_label": taxonomy.urgent,
        "urgent_name": raw["urgent"].get("name_ru", taxonomy.urgent),
        "no_question_flag": taxonomy.no_question_flag,
        "topics": [(t.id, t.name_ru) for t in taxonomy.topics],
        "categories": [(c["id"], c["name_ru"]) for c in raw["categories"]],
        "actions": [(a["id"], a["name_ru"]) for a in raw["actions"]],
        "max_rows": UI_MAX_ROWS,
        "inbox_kinds": [(k.name, k.title_ru) for k in KINDS.values()],
        # The Inbox view (static/ui.js) names categories, actions and topics as the server does.
        "inbox_data": {
            "categories": {c["id"]: c["name_ru"] for c in raw["categories"]},
            "actions": {a["id"]: a["name_ru"] for a in raw["actions"]},
            "topics": {t.id: t.name_ru for t in taxonomy.topics},
            "kinds": {k.name: k.title_ru for k in KINDS.values()},
        },
        # Evidence marks (both views): each flag's name, and which flag takes a piece where spans overlap.
        "evidence_marks": {"flag_names": flag_names, "precedence": list(taxonomy.precedence)},
        # The page's script takes the label rules and the CSV columns from the server, never its own copy.
        "page_data": {
            "label_rules": label_rules(taxonomy).as_dict(),
            "result_columns": result_columns(taxonomy.flags, taxonomy.urgent),
        },
    }


def _render(request: Request, status: int = 200, **ctx: Any) -> HTMLResponse:
    base = _page_context(default_taxonomy())
    base.update({"results": None, "error": None, "pasted": "", "api_key": "", "model_version": None})
    base.update(ctx)
    return TEMPLATES.TemplateResponse(request, "ui.html", base, status_code=status)


@router.get("/ui", response_class=HTMLResponse)
def ui_page(request: Request) -> HTMLResponse:
    return _render(request)


def _rows_for_template(
    items: list[tuple[str, str]], results: list[dict[str, Any]], taxonomy: Taxonomy
) -> list[dict[str, Any]]:
    raw = taxonomy.as_dict()
    cat_names = {c["id"]: c["name_ru"] for c in raw["categories"]}
    action_names = {a["id"]: a["name_ru"] for a in raw["actions"]}
    topic_names = {t.id: t.name_ru for t in taxonomy.topics}
    precedence = list(taxonomy.precedence)
    rows = []
    for (cid, text), r in zip(items, results, strict=True):
        rows.append(
            {
                "id": cid,
                "text": text,
                "segments": segments(text, r.get("evidence", []), precedence),
                "category": r["category"],
                "category_ru": cat_names.get(r["category"], r["category"]),
                "action": r["action"],
                "action_ru": action_names.get(r["action"], r["action"]),
                "topic": r["topic"],
                "topic_ru": topic_names.get(r["topic"], "") if r["topic"] else "",
                "route": r["route"] or "",
                "urgent": bool(r["urgent"]),
                "flags": {f: bool(v) for f, v in r["flags"].items()},
                "scores": r["scores"],
                "evidence": [e["text"] for e in r.get("evidence", [])],
                "row": result_row(r, taxonomy.flags, taxonomy.urgent),  # the CSV download's cells
            }
        )
    return rows


@router.post("/ui/classify", response_class=HTMLResponse)
async def ui_classify(
    request: Request,
    text: str = Form(""),
    file: UploadFile | None = File(None),
    api_key: str = Form(""),
    settings: Settings = Depends(settings_dep),
    holder: ModelHolder = Depends(get_holder),
) -> HTMLResponse:
    """Classify what was pasted and/or uploaded and render the results table."""
    keep = {"pasted": text, "api_key": api_key}
    if not api_key_valid(api_key.encode("utf-8"), settings):
        return _render(request, 401, error="Нужен действующий API-ключ (поле «API-ключ»).", **keep)
    loaded = holder.get()
    if loaded is None:
        return _render(request, 503, error="Модель ещё не загружена, попробуйте через минуту.", **keep)
    try:
        items: list[tuple[str | None, str]] = []
        if file is not None and file.filename:
            raw = await file.read(settings.max_body_bytes + 1)
            if len(raw) > settings.max_body_bytes:
                raise UiInputError(f"Файл больше {settings.max_body_bytes} байт")
            items += parse_upload(raw, file.filename)
        items += [(None, line.strip()) for line in text.splitlines() if line.strip()]
        if not items:
            raise UiInputError("Нет комментариев: вставьте текст (по одному комментарию в строке) или выберите файл.")
        if len(items) > UI_MAX_ROWS:
            raise UiInputError(f"Слишком много комментариев: {len(items)}, за раз можно не больше {UI_MAX_ROWS}.")
        long_ones = [i + 1 for i in too_long([t for _, t in items], settings.max_text_chars)]
        if long_ones:
            raise UiInputError(
                f"Комментарии № {', '.join(map(str, long_ones[:10]))} длиннее {settings.max_text_chars} символов."
            )
    except UiInputError as exc:
        return _render(request, 400, error=str(exc), **keep)
    ids = [cid or comment_id(t) for cid, t in items]
    texts = [t for _, t in items]
    results = await run_in_threadpool(classify_in_chunks, loaded.model, texts)
    rows = _rows_for_template(list(zip(ids, texts, strict=True)), results, default_taxonomy())
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["category"]] = counts.get(r["category"], 0) + 1
    data = json.dumps([{k: v for k, v in r.items() if k != "segments"} for r in rows], ensure_ascii=False)
    # Inside <script type="application/json">: no "</script>" or "<!--" can break out.
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return _render(request, 200, results=rows, counts=counts, results_json=data, model_version=loaded.version, **keep)


@router.get("/ui/static/{name}")
def ui_static(name: str) -> FileResponse:
    """Only files that are in service/static, by their bare name."""
    path = STATIC_DIR / name
    if "/" in name or name.startswith(".") or path.suffix not in STATIC_TYPES or not path.is_file():
        raise HTTPException(status_code=404, detail=f"no static file {name!r}")
    return FileResponse(path, media_type=STATIC_TYPES[path.suffix], headers={"Cache-Control": "no-cache"})
