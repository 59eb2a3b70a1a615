"""Static HTML report of a comment stream (report.html + PNG charts) for the people who run the centre.

Everything user-facing is in Russian; every comment text and id is HTML-escaped, because the stream is
written by the public.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: the report is written by a CLI or a CI job, never shown on screen

import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

from training.analytics import StreamAnalytics  # noqa: E402
from training.taxonomy import Taxonomy, default_taxonomy  # noqa: E402

TOPICS_PNG = "topics_per_day.png"
CATEGORIES_PNG = "category_shares.png"
REPORT_HTML = "report.html"
MAX_URGENT_ROWS = 500


def _topic_names(taxonomy: Taxonomy) -> dict[str, str]:
    return {t.id: t.name_ru for t in taxonomy.topics}


def _category_names(taxonomy: Taxonomy) -> dict[str, str]:
    return {c["id"]: c["name_ru"] for c in taxonomy.as_dict()["categories"]}


def plot_topics(analytics: StreamAnalytics, path: Path, taxonomy: Taxonomy) -> Path:
    """One line per topic (comments per day), spikes circled in red."""
    names = _topic_names(taxonomy)
    counts = analytics.topic_counts
    fig, ax = plt.subplots(figsize=(12, 5.5), dpi=100)
    cmap = plt.get_cmap("tab20")
    for k, topic in enumerate(counts.columns):
        ax.plot(counts.index, counts[topic], label=names.get(topic, topic), color=cmap(k % 20), linewidth=1.6)
    for s in analytics.spikes:
        ax.scatter([s.day], [s.count], s=160, facecolors="none", edgecolors="red", linewidths=2, zorder=5)
        ax.annotate(names.get(s.topic, s.topic), (s.day, s.count), textcoords="offset points", xytext=(6, 6),
                    color="red", fontsize=9)
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
    shares = analytics.category_share_per_day
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5), dpi=100, gridspec_kw={"width_ratios": [3, 1.4]})
    labels = [names.get(c, c) for c in shares.columns]
    ax1.stackplot(list(shares.index), *(shares[c].to_numpy() for c in shares.columns), labels=labels,
                  alpha=0.85)
    ax1.set_ylim(0, 1)
    ax1.set_title("Доля категорий по дням")
    ax1.xaxis.set_major_formatter(mdates.DateFormatter("%d.%m"))
    ax1.legend(loc="upper left", fontsize=8)
    overall = analytics.category_share_overall
    ax2.barh(labels, [overall[c] for c in shares.columns], color=[f"C{k}" for k in range(len(labels))])
    for k, c in enumerate(shares.columns):
        ax2.text(overall[c], k, f" {overall[c]:.1%}", va="center", fontsize=9)
    ax2.set_xlim(0, 1)
    ax2.invert_yaxis()
    ax2.set_title("Доля категорий за период")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _esc(value: object) -> str:
    return html.escape("" if value is None else str(value))


def render_html(analytics: StreamAnalytics, *, source: str, model_version: str, taxonomy: Taxonomy) -> str:
    topics, cats = _topic_names(taxonomy), _category_names(taxonomy)
    first, last = analytics.days[0], analytics.days[-1]
    if analytics.spikes:
        spike_rows = "".join(
            f"<tr><td>{s.day:%d.%m.%Y}</td><td>{_esc(topics.get(s.topic, s.topic))}</td><td>{s.count}</td>"
            f"<td>{s.baseline_mean:.2f}</td><td>{s.expected:.2f}</td><td>{s.ratio:.1f}×</td>"
            f"<td>{s.p_value:.2e}</td></tr>"
            for s in analytics.spikes)
        spikes = ("<table><tr><th>День</th><th>Тема</th><th>Комментариев</th><th>Среднее за прошлые дни</th>"
                  "<th>Ожидание λ</th><th>Превышение</th><th>p-value</th></tr>" + spike_rows + "</table>")
    else:
        spikes = "<p>Всплесков не обнаружено.</p>"
    shown = analytics.urgent[:MAX_URGENT_ROWS]
    if shown:
        urgent_rows = "".join(
            f"<tr><td>{_esc(u['id'])}</td><td>{_esc(u['timestamp'])}</td>"
            f"<td>{_esc(topics.get(u['topic'], u['topic']) if u['topic'] else '—')}</td>"
            f"<td>{u['urgent_score']:.2f}</td><td class='text'>{_esc(u['text'])}</td></tr>"
            for u in shown)
        urgent = ("<table><tr><th>id</th><th>Время</th><th>Тема</th><th>Оценка срочности</th>"
                  "<th>Текст</th></tr>" + urgent_rows + "</table>")
        if len(analytics.urgent) > len(shown):
            urgent += f"<p>Показаны {len(shown)} самых свежих из {len(analytics.urgent)}.</p>"
    else:
        urgent = "<p>Срочных комментариев нет.</p>"
    p = analytics.params
    share_rows = "".join(f"<tr><td>{_esc(cats.get(c, c))}</td><td>{s:.1%}</td></tr>"
                         for c, s in analytics.category_share_overall.items())
    return f"""<!doctype html>
<html lang="ru"><head><meta charset="utf-8"><title>Аналитика потока комментариев</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }}
th {{ background: #f3f3f3; }} td.text {{ max-width: 600px; white-space: pre-wrap; }}
img {{ max-width: 100%; }} .method {{ background: #f8f8f0; padding: 0.8em; border-left: 4px solid #c90; }}
</style></head><body>
<h1>Аналитика потока комментариев</h1>
<p>Источник: {_esc(source)}. Период: {first:%d.%m.%Y} — {last:%d.%m.%Y} ({len(analytics.days)} дн.).
Комментариев: {analytics.n_comments}. Модель: {_esc(model_version)}.
Отчёт создан {datetime.now(UTC):%d.%m.%Y %H:%M} UTC.</p>
<h2>Комментарии по темам в день</h2>
<img src="{TOPICS_PNG}" alt="Комментарии по темам в день">
<h2>Доля категорий</h2>
<img src="{CATEGORIES_PNG}" alt="Доля категорий">
<table><tr><th>Категория</th><th>Доля за период</th></tr>{share_rows}</table>
<h2>Всплески по темам</h2>
<div class="method"><b>Метод.</b> Для каждой темы и каждого дня базовый уровень — число комментариев темы
за предыдущие {p.window_days} дней (нужно не меньше {p.min_history_days} дней истории); ожидание
λ = среднее базового уровня, но не меньше {p.min_lambda:g}. p-value — односторонний хвост распределения
Пуассона P(X ≥ число | λ). Всплеск фиксируется, если p &lt; {p.alpha:g}, число ≥ {p.min_count}
и число ≥ {p.min_ratio:g}×λ.<br><small>{_esc(p.describe())}</small></div>
{spikes}
<h2>Срочные комментарии ({len(analytics.urgent)})</h2>
{urgent}
</body></html>
"""


def write_report(analytics: StreamAnalytics, out_dir: str | Path, *, source: str, model_version: str,
                 taxonomy: Taxonomy | None = None) -> Path:
    """Write report.html and its two PNG charts into out_dir (created if needed); returns the HTML path."""
    taxonomy = taxonomy or default_taxonomy()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plot_topics(analytics, out / TOPICS_PNG, taxonomy)
    plot_categories(analytics, out / CATEGORIES_PNG, taxonomy)
    page = out / REPORT_HTML
    page.write_text(render_html(analytics, source=source, model_version=model_version, taxonomy=taxonomy),
                    encoding="utf-8")
    return page
