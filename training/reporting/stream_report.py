"""Static HTML report of a comment stream (report.html + PNG charts) for the people who run the centre, and
its incidents table as Markdown (incidents.md, also printed by `python -m training report`).

Everything user-facing is in Russian; the page is the Jinja2 template templates/stream_report.html.j2,
rendered with autoescape on, so every comment text and id is HTML-escaped (the stream is written by the
public). Numbers are formatted here and reach the template as strings.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from jinja2 import Environment, PackageLoader, StrictUndefined, Template

matplotlib.use("Agg")  # headless: the report is written by a CLI or a CI job, never shown on screen

import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

from training.runtime.analytics import StreamAnalytics  # noqa: E402
from training.runtime.incidents import Incident, IncidentReport  # noqa: E402
from training.runtime.taxonomy import Taxonomy, default_taxonomy  # noqa: E402

TOPICS_PNG = "topics_per_day.png"
CATEGORIES_PNG = "category_shares.png"
REPORT_HTML = "report.html"
INCIDENTS_MD = "incidents.md"
REPORT_TEMPLATE = "stream_report.html.j2"
MAX_URGENT_ROWS = 500
MAX_INCIDENT_ROWS = 500
TYPICAL_CHARS = 120  # the typical comment, shortened in the incidents table


def _topic_names(taxonomy: Taxonomy) -> dict[str, str]:
    return {t.id: t.name_ru for t in taxonomy.topics}


def _category_names(taxonomy: Taxonomy) -> dict[str, str]:
    return {c["id"]: c["name_ru"] for c in taxonomy.as_dict()["categories"]}


def plot_topics(analytics: StreamAnalytics, path: Path, taxonomy: Taxonomy) -> Path:
    """One line per topic (comments per day), spikes circled in red."""
    names = _topic_names(taxonomy)
    counts = analytics.topic_counts
    days = np.array(counts.days, dtype="datetime64[D]")  # matplotlib's date axis, as typed by its stubs
    fig, ax = plt.subplots(figsize=(12, 5.5), dpi=100)
    cmap = plt.get_cmap("tab20")
    for k, topic in enumerate(counts.labels):
        ax.plot(days, counts.series(topic), label=names.get(topic, topic), color=cmap(k % 20), linewidth=1.6)
    for s in analytics.spikes:
        ax.scatter(
            np.array([s.day], dtype="datetime64[D]"),
            [s.count],
            s=160,
            facecolors="none",
            edgecolors="red",
            linewidths=2,
            zorder=5,
        )
        ax.annotate(
            names.get(s.topic, s.topic),
            (s.day, s.count),
            textcoords="offset points",
            xytext=(6, 6),
            color="red",
            fontsize=9,
        )
    ax.set_title("Комментарии по темам в день (красные круги — всплески)")
    ax.set_ylabel("комментариев в день")
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d.%m"))
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_categories(analytics: StreamAnalytics, path: Path, taxonomy: Taxonomy) -> Path:
    """Daily shares of each primary category as a stacked area, the overall shares as bars."""
    names = _category_names(taxonomy)
    shares = analytics.category_share_per_day  # rows: days, columns: categories
    categories = analytics.category_counts.labels
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5), dpi=100, gridspec_kw={"width_ratios": [3, 1.4]})
    labels = [names.get(c, c) for c in categories]
    ax1.stackplot(
        list(analytics.category_counts.days), *(shares[:, k] for k in range(len(categories))), labels=labels, alpha=0.85
    )
    ax1.set_ylim(0, 1)
    ax1.set_title("Доля категорий по дням")
    ax1.xaxis.set_major_formatter(mdates.DateFormatter("%d.%m"))
    ax1.legend(loc="upper left", fontsize=8)
    overall = analytics.category_share_overall
    ax2.barh(labels, [overall[c] for c in categories], color=[f"C{k}" for k in range(len(labels))])
    for k, c in enumerate(categories):
        ax2.text(overall[c], k, f" {overall[c]:.1%}", va="center", fontsize=9)
    ax2.set_xlim(0, 1)
    ax2.invert_yaxis()
    ax2.set_title("Доля категорий за период")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


@lru_cache(maxsize=1)
def _template() -> Template:
    env = Environment(
        loader=PackageLoader("training.reporting", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    return env.get_template(REPORT_TEMPLATE)


def _text(value: object) -> str:
    """A value shown in a cell; None is an empty cell (the template escapes the string)."""
    return "" if value is None else str(value)


def report_context(
    analytics: StreamAnalytics, *, source: str, model_version: str, taxonomy: Taxonomy
) -> dict[str, Any]:
    """Everything the template shows, numbers already formatted (the template only lays them out)."""
    topics, cats = _topic_names(taxonomy), _category_names(taxonomy)
    p = analytics.params
    shown = analytics.urgent[:MAX_URGENT_ROWS]
    return {
        "source": source,
        "model_version": model_version,
        "first_day": f"{analytics.days[0]:%d.%m.%Y}",
        "last_day": f"{analytics.days[-1]:%d.%m.%Y}",
        "n_days": len(analytics.days),
        "n_comments": analytics.n_comments,
        "created": f"{datetime.now(UTC):%d.%m.%Y %H:%M}",
        "topics_png": TOPICS_PNG,
        "categories_png": CATEGORIES_PNG,
        "share_rows": [
            {"name": _text(cats.get(c, c)), "share": f"{s:.1%}"} for c, s in analytics.category_share_overall.items()
        ],
        "method": {
            "window_days": p.window_days,
            "min_history_days": p.min_history_days,
            "min_lambda": f"{p.min_lambda:g}",
            "alpha": f"{p.alpha:g}",
            "min_count": p.min_count,
            "min_ratio": f"{p.min_ratio:g}",
            "description": p.describe(),
        },
        "spike_rows": [
            {
                "day": f"{s.day:%d.%m.%Y}",
                "topic": _text(topics.get(s.topic, s.topic)),
                "count": s.count,
                "baseline_mean": f"{s.baseline_mean:.2f}",
                "expected": f"{s.expected:.2f}",
                "ratio": f"{s.ratio:.1f}×",
                "p_value": f"{s.p_value:.2e}",
            }
            for s in analytics.spikes
        ],
        "urgent_rows": [
            {
                "id": _text(u["id"]),
                "timestamp": _text(u["timestamp"]),
                "topic": _text(topics.get(u["topic"], u["topic"]) if u["topic"] else "—"),
                "urgent_score": f"{u['urgent_score']:.2f}",
                "text": _text(u["text"]),
            }
            for u in shown
        ],
        "n_urgent": len(analytics.urgent),
        "incidents": incidents_context(analytics.incidents, taxonomy),
    }


def _when(value: datetime | None) -> str:
    """A time as the centre reads it (its own offset, as written): 14.01.2025 07:40."""
    return "—" if value is None else f"{value:%d.%m.%Y %H:%M}"


def shorten(text: str | None, limit: int = TYPICAL_CHARS) -> str:
    """One line of at most `limit` characters, cut at a word with "…"."""
    flat = " ".join((text or "").split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1].rsplit(" ", 1)[0] if " " in flat[: limit - 1] else flat[: limit - 1]
    return cut + "…"


def _incident_row(incident: Incident, topics: dict[str, str]) -> dict[str, str]:
    return {
        "topic": topics.get(incident.topic, incident.topic),
        "count": str(incident.n_comments),
        "first": _when(incident.first),
        "last": _when(incident.last),
        "deadline": _when(incident.deadline) + (" (срочно)" if incident.urgent else ""),
        "overdue": "да" if incident.overdue else "нет",
        "address": incident.address_text or incident.address or "—",
        "typical": shorten(incident.typical_text),
        "route": _text(incident.route),
    }


def incidents_context(report: IncidentReport | None, taxonomy: Taxonomy) -> dict[str, Any]:
    """The incidents section: the rule in Russian with its numbers, counts and the rows (formatted)."""
    if report is None:
        return {"shown": False}
    p, d = report.params, taxonomy.deadlines
    listed = report.listed
    own = [f"{t.name_ru} — {t.answer_hours:g} ч" for t in taxonomy.topics if t.answer_hours is not None]
    hidden = [i for i in report.incidents if i.n_comments < p.min_comments]
    return {
        "shown": True,
        "window_hours": f"{p.window_hours:g}",
        "min_similarity": f"{p.min_similarity:g}",
        "min_centroid_similarity": f"{p.min_centroid_similarity:g}",
        "min_comments": p.min_comments,
        "urgent_hours": f"{d.urgent_hours:g}",
        "default_hours": f"{d.default_hours:g}",
        "topic_hours": "; ".join(own) if own else "нет",
        "reference_time": _when(report.reference_time),
        "n_listed": len(listed),
        "n_single": len(hidden),
        "n_single_overdue": sum(i.overdue for i in hidden),
        "n_without_time": report.n_without_time,
        "rows": [_incident_row(i, _topic_names(taxonomy)) for i in listed[:MAX_INCIDENT_ROWS]],
    }


def _md_cell(value: str) -> str:
    """A Markdown table cell: what the public wrote cannot break the table or inject HTML."""
    return html.escape(" ".join(value.split()), quote=False).replace("|", "\\|")


def incidents_markdown(analytics: StreamAnalytics, taxonomy: Taxonomy | None = None) -> str:
    """The incidents section as Markdown: the rule in one paragraph, the counts, then one row per incident."""
    c = incidents_context(analytics.incidents, taxonomy or default_taxonomy())
    if not c["shown"]:
        return "## Инциденты\n\nГруппировка в инциденты не выполнялась.\n"
    lines = [
        f"## Инциденты ({c['n_listed']})",
        "",
        f"Окно {c['window_hours']} ч от первого комментария; тот же адрес или похожий текст; "
        f"срок ответа: срочные {c['urgent_hours']} ч, по теме: {c['topic_hours']}, иначе {c['default_hours']} ч. "
        f"Просрочка — на {c['reference_time']}.",
        "",
        f"Инцидентов из {c['min_comments']} и более комментариев: {c['n_listed']}; одиночных: {c['n_single']} "
        f"(просрочено {c['n_single_overdue']}); без времени: {c['n_without_time']}.",
        "",
    ]
    if c["rows"]:
        head = [
            "Тема",
            "Комментариев",
            "Первый",
            "Последний",
            "Срок ответа",
            "Просрочен",
            "Адрес",
            "Типичный комментарий",
        ]
        keys = ["topic", "count", "first", "last", "deadline", "overdue", "address", "typical"]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(_md_cell(r[k]) for k in keys) + " |" for r in c["rows"]]
    else:
        lines.append("Инцидентов из нескольких комментариев нет.")
    return "\n".join(lines) + "\n"


def render_html(analytics: StreamAnalytics, *, source: str, model_version: str, taxonomy: Taxonomy) -> str:
    context = report_context(analytics, source=source, model_version=model_version, taxonomy=taxonomy)
    return _template().render(context)


def write_report(
    analytics: StreamAnalytics,
    out_dir: str | Path,
    *,
    source: str,
    model_version: str,
    taxonomy: Taxonomy | None = None,
) -> Path:
    """Write report.html, its two PNG charts and incidents.md into out_dir (created if needed); returns the
    HTML path."""
    taxonomy = taxonomy or default_taxonomy()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plot_topics(analytics, out / TOPICS_PNG, taxonomy)
    plot_categories(analytics, out / CATEGORIES_PNG, taxonomy)
    (out / INCIDENTS_MD).write_text(incidents_markdown(analytics, taxonomy), encoding="utf-8")
    page = out / REPORT_HTML
    page.write_text(
        render_html(analytics, source=source, model_version=model_version, taxonomy=taxonomy), encoding="utf-8"
    )
    return page
