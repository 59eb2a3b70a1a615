"""The HTML stream report on hand-made classified streams (no model): the Jinja2 template escapes what the
public wrote, shows the counts, spikes and urgent comments, truncates the urgent table, and write_report
puts the page and both charts on disk."""

from __future__ import annotations

from datetime import date, timedelta
from html.parser import HTMLParser

import pytest

from training.reporting import stream_report
from training.reporting.stream_report import render_html, write_report
from training.runtime.analytics import StreamAnalytics, analyze, build_frame
from training.runtime.taxonomy import default_taxonomy

TAX = default_taxonomy()
START = date(2025, 1, 1)
HOSTILE_TEXT = "<script>alert('x')</script> пахнет газом в подъезде & срочно"
HOSTILE_ID = 'id"<b>1</b>'


def _r(topic: str | None = "roads", urgent: bool = False, category: str = "actionable", score: float = 0.2) -> dict:
    return {"category": category, "topic": topic, "urgent": urgent, "urgent_score": score}


def _analytics(spike: bool = True) -> StreamAnalytics:
    """16 days of roads and snow; on day 16, 12 snow complaints if `spike`; three urgent comments."""
    results, stamps, ids, texts = [], [], [], []

    def add(day: int, result: dict, text: str, cid: str | None = None, hour: int = 10) -> None:
        results.append(result)
        stamps.append(f"{START + timedelta(days=day)}T{hour:02d}:00:00+03:00")
        ids.append(cid or f"c{len(ids)}")
        texts.append(text)

    for day in range(16):
        add(day, _r("roads"), "яма на дороге")
        add(day, _r("waste_snow"), "снег не убран")
        add(day, _r(None, category="no_question"), "спасибо")
    if spike:
        for _ in range(11):
            add(15, _r("waste_snow"), "снег не убран")
    add(3, _r("safety_emergency", urgent=True, score=0.91), HOSTILE_TEXT, HOSTILE_ID, hour=9)
    add(9, _r("safety_emergency", urgent=True, score=0.8), "запах газа", hour=8)
    add(12, _r("housing_utilities", urgent=True, score=0.7), "нет отопления", hour=7)
    return analyze(build_frame(results, stamps, ids=ids, texts=texts))


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        self.scripts += tag == "script"

    def handle_data(self, data):
        self.parts.append(data)


def _visible(page: str) -> tuple[str, int]:
    p = _Text()
    p.feed(page)
    return " ".join(" ".join(p.parts).split()), p.scripts


@pytest.fixture(scope="module")
def analytics() -> StreamAnalytics:
    return _analytics()


def _render(a: StreamAnalytics, **kw) -> str:
    return render_html(
        a, source=kw.get("source", "stream.csv"), model_version=kw.get("model_version", "v7"), taxonomy=TAX
    )


def test_comment_text_and_id_are_escaped(analytics):
    page = _render(analytics, source="<img src=x onerror=alert(1)>.csv")
    assert "<script>" not in page and "<img src=x" not in page and "<b>1</b>" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; пахнет газом в подъезде &amp; срочно" in page
    assert "id&#34;&lt;b&gt;1&lt;/b&gt;" in page
    text, scripts = _visible(page)
    assert scripts == 0
    assert HOSTILE_TEXT in text and HOSTILE_ID in text  # shown to the reader as written


def test_page_shows_the_period_spike_shares_and_urgent(analytics):
    text, _ = _visible(_render(analytics))
    assert "Источник: stream.csv. Период: 01.01.2025 — 16.01.2025 (16 дн.)." in text
    assert f"Комментариев: {analytics.n_comments}. Модель: v7." in text
    # the spike row: day, topic name, count, baseline mean, λ, ratio, p-value
    s = analytics.spikes[0]
    assert [(x.topic, x.day) for x in analytics.spikes] == [("waste_snow", date(2025, 1, 16))]
    assert f"16.01.2025 Мусор и снег 12 1.00 1.00 12.0× {s.p_value:.2e}" in text
    assert "p < 0.001, число ≥ 5 и число ≥ 2×λ" in text
    share = analytics.category_share_overall["actionable"]
    assert f"Требует ответа {share:.1%}" in text
    # urgent: newest first, topic names, scores with two decimals
    assert "Срочные комментарии (3)" in text
    assert text.index("нет отопления") < text.index("запах газа") < text.index("пахнет газом")
    assert "2025-01-13T07:00:00+03:00 ЖКХ 0.70 нет отопления" in text
    assert "c60 2025-01-10T08:00:00+03:00 Безопасность и ЧС 0.80 запах газа" in text
    assert "Всплесков не обнаружено" not in text and "Срочных комментариев нет" not in text


def test_page_without_spikes_or_urgent_says_so():
    results = [_r("roads"), _r("healthcare")]
    a = analyze(build_frame(results, ["2025-01-01T10:00", "2025-01-02T10:00"], texts=["a", "b"]))
    text, _ = _visible(_render(a))
    assert "Всплесков не обнаружено." in text and "Срочных комментариев нет." in text
    assert "Срочные комментарии (0)" in text and "p-value" in text  # the method block is always there


def test_urgent_table_is_truncated_to_the_newest(analytics, monkeypatch):
    monkeypatch.setattr(stream_report, "MAX_URGENT_ROWS", 2)
    text, _ = _visible(_render(analytics))
    assert "Показаны 2 самых свежих из 3." in text
    assert "нет отопления" in text and "запах газа" in text and "пахнет газом" not in text


def test_write_report_writes_page_and_charts(analytics, tmp_path):
    page = write_report(analytics, tmp_path / "out", source="s.csv", model_version="v1", taxonomy=TAX)
    assert page == tmp_path / "out" / "report.html"
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and html.rstrip().endswith("</body></html>")
    for png in (stream_report.TOPICS_PNG, stream_report.CATEGORIES_PNG):
        assert (tmp_path / "out" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f'src="{png}"' in html
    assert (tmp_path / "out" / stream_report.INCIDENTS_MD).read_text(encoding="utf-8").startswith("## Инциденты")


# --- incidents --------------------------------------------------------------------------------------------

YARD_TEXT = "<b>Ленина 5</b>: двор | не убран снег, " + "сугробы по колено, " * 10


def _yard_analytics(**kw) -> StreamAnalytics:
    """Three snow complaints about Ленина 5 in two days (one incident), a pothole and a thank-you."""
    results = [_r("waste_snow")] * 3 + [_r("roads"), _r(None, category="no_question")]
    stamps = ["2025-01-14T08:00:00+03:00", "2025-01-14T20:30:00+03:00", "2025-01-15T09:00:00+03:00"]
    stamps += ["2025-01-15T10:00:00+03:00", "2025-01-16T10:00:00+03:00"]
    texts = [YARD_TEXT, "ул. Ленина, д. 5 — снег во дворе", "улица ленина дом 5, сугробы", "яма на дороге", "спасибо"]
    return analyze(build_frame(results, stamps, texts=texts), **kw)


def test_incidents_section_shows_the_rule_and_the_table():
    text, scripts = _visible(_render(_yard_analytics()))
    assert "Инциденты (1)" in text and "не позже 72 ч после его первого комментария" in text
    assert "срочные — 1 ч, свой срок темы (Безопасность и ЧС — 4 ч), иначе 24 ч" in text
    assert "Просрочка — на 16.01.2025 10:00." in text
    assert "одиночных: 1 (просрочено 0); без времени: 0." in text
    row = "Мусор и снег 3 14.01.2025 08:00 15.01.2025 09:00 15.01.2025 08:00 да Ленина 5 <b>Ленина 5</b>: двор"
    assert row in text and TAX.route_for("waste_snow") in text
    page = _render(_yard_analytics())
    assert "<b>Ленина" not in page and "&lt;b&gt;Ленина 5&lt;/b&gt;" in page and scripts == 0


def test_incidents_markdown_escapes_and_shortens():
    md = stream_report.incidents_markdown(_yard_analytics(), TAX)
    lines = md.splitlines()
    assert lines[0] == "## Инциденты (1)" and lines[6].startswith("| Тема | Комментариев | Первый |")
    row = lines[8]
    assert row.startswith(
        "| Мусор и снег | 3 | 14.01.2025 08:00 | 15.01.2025 09:00 | 15.01.2025 08:00 | да | Ленина 5 |"
    )
    assert "&lt;b&gt;Ленина 5&lt;/b&gt;: двор \\| не убран снег" in row and "<b>" not in row
    typical = stream_report.shorten(YARD_TEXT)
    assert len(typical) <= stream_report.TYPICAL_CHARS and typical.endswith("…") and row.endswith("… |")
    assert row.count(" | ") == 7  # the resident's "|" did not add a column


def test_incidents_section_when_there_are_none(monkeypatch):
    alone = analyze(build_frame([_r("roads")], ["2025-01-01T10:00"], texts=["яма"]))
    assert "Инцидентов из нескольких комментариев нет." in _visible(_render(alone))[0]
    assert "Инцидентов из нескольких комментариев нет." in stream_report.incidents_markdown(alone, TAX)
    skipped = _yard_analytics(incidents=None)
    assert "Инциденты" not in _visible(_render(skipped))[0]
    assert "не выполнялась" in stream_report.incidents_markdown(skipped, TAX)
    monkeypatch.setattr(stream_report, "MAX_INCIDENT_ROWS", 0)
    assert "Показаны 0 крупнейших из 1." in _visible(_render(_yard_analytics()))[0]
