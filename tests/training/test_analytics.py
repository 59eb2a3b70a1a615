"""Topic analytics on a 30-day stream of real comments classified by the session model, the spike test on
crafted series, the frame/count-table structures and the JSON summary on hand-made streams, the runtime
module's independence from pandas, and the `report` CLI (files written, clear error exits)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from training.cli import main
from training.runtime.analytics import (
    MAX_SPAN_DAYS,
    AnalyticsError,
    CommentFrame,
    CountTable,
    analyze,
    build_frame,
    daily_counts,
    parse_timestamps,
)
from training.runtime.incidents import IncidentParams
from training.runtime.spikes import SpikeParams, detect_spikes, spikes_in_series
from training.runtime.taxonomy import default_taxonomy

TAX = default_taxonomy()
SPIKE_TOPIC = "waste_snow"
STEADY_TOPICS = ("healthcare", "roads")
START = date(2025, 1, 1)
N_DAYS = 30
SPIKE_DAY = START + timedelta(days=24)  # day 25 of the stream
MSK = timezone(timedelta(hours=3))


def _stream(corpus: pd.DataFrame, seed: int = 7) -> pd.DataFrame:
    """2-4 comments per topic per day (actionable texts of that topic), 3 non-actionable a day, and ~25
    extra snow/garbage complaints on day 25. Test-split texts first; reuse is fine."""
    rng = np.random.default_rng(seed)
    nq = TAX.no_question_flag
    actionable = corpus[corpus[nq] == 0]
    pools = {t: actionable[actionable["topic"] == t]["text"].tolist() for t in TAX.topic_ids}
    chatter = corpus[corpus[nq] == 1]["text"].tolist()
    snow = actionable[(actionable["topic"] == SPIKE_TOPIC) & (actionable["split"] == "test")]
    test_snow = snow["text"].tolist()
    rows = []

    def add(day: date, text: str) -> None:
        minute = int(rng.integers(0, 1440))
        ts = datetime(day.year, day.month, day.day, tzinfo=MSK) + timedelta(minutes=minute)
        rows.append({"id": f"s{len(rows):05d}", "text": text, "timestamp": ts.isoformat()})

    for d in range(N_DAYS):
        day = START + timedelta(days=d)
        for topic in TAX.topic_ids:
            for _ in range(int(rng.integers(2, 5))):
                add(day, pools[topic][int(rng.integers(len(pools[topic])))])
        for _ in range(3):
            add(day, chatter[int(rng.integers(len(chatter)))])
    for k in range(25):
        add(SPIKE_DAY, test_snow[k % len(test_snow)])
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def stream(corpus) -> pd.DataFrame:
    return _stream(corpus)


@pytest.fixture(scope="module")
def stream_analytics(stream, trained_model):
    results = trained_model.classify(stream["text"].tolist())
    frame = build_frame(results, stream["timestamp"].tolist(), ids=stream["id"].tolist(), texts=stream["text"].tolist())
    return analyze(frame)


def test_real_stream_reports_the_snow_spike_on_day_25(stream_analytics):
    a = stream_analytics
    assert a.days[0] == START and len(a.days) == N_DAYS
    snow = [s for s in a.spikes if s.topic == SPIKE_TOPIC]
    assert [s.day for s in snow] == [SPIKE_DAY], a.spikes
    s = snow[0]
    assert s.count == a.topic_counts.get(SPIKE_DAY, SPIKE_TOPIC) >= 20
    assert s.p_value < 1e-6 and s.ratio >= 4 and s.history_days == 14
    print(
        f"\nwaste_snow spike {s.day}: count={s.count} baseline_mean={s.baseline_mean} "
        f"ratio={s.ratio} p={s.p_value:.3g}; all: {[(x.topic, x.day.isoformat()) for x in a.spikes]}"
    )


@pytest.mark.parametrize("topic", STEADY_TOPICS)
def test_steady_topics_have_no_spike(stream_analytics, topic):
    counts = stream_analytics.topic_counts.series(topic)
    # The topic really runs through the whole month (the model may miss one on some day).
    assert (counts > 0).mean() >= 0.9 and counts.sum() >= 2 * N_DAYS
    assert [s for s in stream_analytics.spikes if s.topic == topic] == []


def test_shares_counts_and_urgent_are_consistent(stream, stream_analytics):
    a = stream_analytics
    assert sum(a.category_share_overall.values()) == pytest.approx(1.0, abs=1e-3)
    assert set(a.category_share_overall) == set(TAX.categories)
    per_day = a.category_share_per_day
    assert per_day.shape == (N_DAYS, len(TAX.categories))
    assert np.allclose(per_day.sum(axis=1), 1.0)
    assert int(a.category_counts.counts.sum()) == len(stream)
    # The spike day carries the extra comments.
    totals = a.category_counts.day_totals()
    k = a.days.index(SPIKE_DAY)
    assert totals[k] > np.delete(totals, k).max()
    # Safety topics hold urgent comments in the corpus: the real model must find some, newest first.
    assert a.urgent, "no urgent comment found in a month of real comments"
    stamps = [datetime.fromisoformat(u["timestamp"]) for u in a.urgent]
    assert stamps == sorted(stamps, reverse=True)
    d = a.as_dict()
    assert d["method"]["params"]["alpha"] == 0.001 and "Poisson" in d["method"]["description"]
    assert all("text" not in u for u in d["urgent"])


def test_incidents_of_a_real_month_follow_the_rule(stream, stream_analytics):
    """Every actionable comment of the month is in exactly one incident of its own topic, within the window
    of its first comment, with the deadline the taxonomy gives; the 25 snow complaints of day 25 are about
    different places (distinct corpus texts, a few repeated), so they stay many small incidents, not one."""
    report = stream_analytics.incidents
    assert report is not None and report.reference_time == max(datetime.fromisoformat(t) for t in stream["timestamp"])
    seen: list[str] = []
    for incident in report.incidents:
        seen += incident.comment_ids
        assert incident.first <= incident.last <= incident.first + timedelta(hours=72)
        hours = TAX.answer_hours(incident.topic, incident.urgent)
        assert incident.deadline == incident.first + timedelta(hours=hours)
        assert incident.overdue == (report.reference_time > incident.deadline)
    assert len(seen) == len(set(seen)) and set(seen) <= set(stream["id"])
    actionable = stream_analytics.category_counts.label_totals()["actionable"]
    # the actionable comments, plus urgent comments of another category (escalated, so answered too)
    assert actionable <= len(seen) <= actionable + len(stream_analytics.urgent)
    spike = [i for i in report.incidents if i.topic == SPIKE_TOPIC and i.first.date() == SPIKE_DAY]
    sizes = sorted((i.n_comments for i in spike), reverse=True)
    print("\nday-25 snow incidents:", sizes)
    assert sum(sizes) >= 20 and len(sizes) >= 8 and sizes[0] <= 5, sizes


def test_incidents_can_be_left_out():
    frame = build_frame([_r(topic="roads")] * 2, ["2025-02-01T08:00", "2025-02-01T09:00"], texts=["яма", "яма"])
    a = analyze(frame, incidents=None)
    assert a.incidents is None and a.as_dict()["incidents"] is None
    wide = analyze(frame, incidents=IncidentParams(window_hours=0.5))
    assert wide.incidents is not None and [i.n_comments for i in wide.incidents.incidents] == [1, 1]


def test_flat_series_has_no_spike():
    assert spikes_in_series([4] * 30) == []
    assert spikes_in_series([2, 3, 4, 3] * 8) == []


def test_jump_is_found_on_the_right_day():
    series = [3, 2, 4, 3] * 5 + [19, 3, 3]
    found = spikes_in_series(series)
    assert [s["index"] for s in found] == [20]
    s = found[0]
    assert s["count"] == 19 and s["baseline_mean"] == pytest.approx(np.mean(series[6:20]), abs=1e-3)
    assert s["p_value"] < 0.001 and s["ratio"] > 2


def test_short_history_gives_no_spike():
    assert spikes_in_series([1, 1, 1, 1, 1, 1, 40]) == []  # 6 days of history < 7
    assert [s["index"] for s in spikes_in_series([1, 1, 1, 1, 1, 1, 1, 40])] == [7]


def test_guards_count_and_ratio():
    loose = SpikeParams(alpha=0.01)
    quiet = [0] * 14 + [4]  # λ floored at 0.5: p = P(X ≥ 4) ≈ 0.0018, ratio 8, but only 4 comments
    assert spikes_in_series(quiet, loose) == []
    assert [s["index"] for s in spikes_in_series(quiet, SpikeParams(alpha=0.01, min_count=4))] == [14]
    big = [100, 104, 96, 100] * 4
    assert spikes_in_series(big + [150]) == []  # p ≈ 1e-6 but only 1.5×λ
    assert [s["index"] for s in spikes_in_series(big + [150], SpikeParams(min_ratio=1.0))] == [16]
    assert [s["index"] for s in spikes_in_series(big + [210])] == [16]


def test_detect_spikes_on_a_table_names_topic_and_day():
    days = [START + timedelta(days=i) for i in range(20)]
    counts = np.array([[3] * 20, [2] * 15 + [15, 2, 2, 2, 2]]).T
    spikes = detect_spikes(CountTable(days=days, labels=["roads", "waste_snow"], counts=counts))
    assert [(s.topic, s.day) for s in spikes] == [("waste_snow", days[15])]


def test_bad_timestamps_are_named():
    with pytest.raises(AnalyticsError, match=r"row 1 \('вчера'\).*row 3"):
        parse_timestamps(["2025-01-01T10:00:00+03:00", "вчера", "2025-01-02", "32.01.2025"])


def test_days_follow_the_written_wall_clock():
    results = [{"category": "actionable", "topic": "roads", "urgent": False, "urgent_score": 0.1}] * 2
    frame = build_frame(results, ["2025-01-25T23:30:00+03:00", "2025-01-25T22:00:00Z"])
    assert isinstance(frame, CommentFrame) and len(frame) == 2
    assert set(frame.day) == {date(2025, 1, 25)}


# --- structures and the JSON summary on hand-made streams ------------------------------------------------


def _r(category: str = "actionable", topic: str | None = "roads", urgent: bool = False, score: float = 0.1) -> dict:
    return {"category": category, "topic": topic, "urgent": urgent, "urgent_score": score}


def test_runtime_analytics_does_not_import_pandas():
    code = "import sys, training.runtime.analytics; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stdout + out.stderr


def test_counts_cover_every_day_of_the_span_with_zeros():
    results = [_r(topic="roads"), _r(topic="roads"), _r("no_question", None), _r(topic="healthcare")]
    stamps = ["2025-03-01T10:00", "2025-03-01T23:59:00+03:00", "2025-03-01T12:00Z", "2025-03-04"]
    a = analyze(build_frame(results, stamps))
    assert a.days == [date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 3), date(2025, 3, 4)]
    t = a.topic_counts
    assert t.days == a.days and t.labels == list(TAX.topic_ids) and t.counts.dtype.kind == "i"
    assert t.series("roads").tolist() == [2, 0, 0, 0] and t.series("healthcare").tolist() == [0, 0, 0, 1]
    assert t.get(date(2025, 3, 1), "roads") == 2 and t.on(date(2025, 3, 2))["roads"] == 0
    assert t.day_totals().tolist() == [2, 0, 0, 1]  # the topic-less comment is not counted as a topic
    assert a.category_counts.day_totals().tolist() == [3, 0, 0, 1]
    assert a.category_counts.label_totals() == {
        "profanity": 0,
        "insult_commenter": 0,
        "disrespect_authority": 0,
        "no_question": 1,
        "actionable": 3,
    }
    shares = a.category_share_per_day
    assert shares[1].tolist() == [0.0] * len(TAX.categories)  # a day without comments has no shares
    assert shares[0, TAX.categories.index("no_question")] == pytest.approx(1 / 3)
    assert a.category_share_overall == {
        "profanity": 0.0,
        "insult_commenter": 0.0,
        "disrespect_authority": 0.0,
        "no_question": 0.25,
        "actionable": 0.75,
    }
    with pytest.raises(KeyError):
        t.series("no_such_topic")
    with pytest.raises(KeyError):
        t.get(date(2025, 2, 28), "roads")


def test_count_table_and_frame_refuse_misaligned_columns():
    with pytest.raises(ValueError, match="shape"):
        CountTable(days=[START], labels=["roads", "healthcare"], counts=np.zeros((2, 2), dtype=int))
    with pytest.raises(AnalyticsError, match="2 results but 1 timestamps"):
        build_frame([_r(), _r()], ["2025-01-01"])
    with pytest.raises(AnalyticsError, match="different lengths"):
        build_frame([_r(), _r()], ["2025-01-01", "2025-01-02"], ids=["a"])
    with pytest.raises(AnalyticsError, match="different lengths"):
        build_frame([_r()], ["2025-01-01"], texts=["a", "b"])
    with pytest.raises(AnalyticsError, match="no comments"):
        analyze(build_frame([], []))


def test_urgent_newest_wall_clock_first_ties_in_input_order():
    results = [_r(urgent=True, score=0.51234), _r(urgent=False), _r(urgent=True), _r(urgent=True), _r(urgent=True)]
    stamps = [
        "2025-01-20T09:00:00+03:00",
        "2025-01-21T09:00:00Z",
        "2025-01-20T09:00:00Z",
        "2025-01-20T10:00:00+05:00",
        "2025-01-19T23:00:00",
    ]
    a = analyze(build_frame(results, stamps, ids=["a", "b", "c", "d", "e"], texts=list("ABCDE")))
    assert [u["id"] for u in a.urgent] == ["d", "a", "c", "e"]
    assert a.urgent[1] == {
        "id": "a",
        "timestamp": "2025-01-20T09:00:00+03:00",
        "day": "2025-01-20",
        "topic": "roads",
        "category": "actionable",
        "urgent_score": 0.5123,
        "text": "A",
    }


def test_as_dict_is_the_documented_json():
    results = [_r(topic="roads", urgent=True, score=0.9), _r("no_question", None), _r(topic="roads")]
    stamps = ["2025-02-01T08:00:00+03:00", "2025-02-01T09:00:00", "2025-02-03T12:00:00Z"]
    ids = np.array([10, 11, 12])  # numpy ids come back as plain ints
    a = analyze(build_frame(results, stamps, ids=list(ids), texts=["яма", "спасибо", "яма опять"]))
    zeros = dict.fromkeys(TAX.topic_ids, 0)
    zero_shares = dict.fromkeys(TAX.categories, 0.0)
    expected = {
        "n_comments": 3,
        "days": ["2025-02-01", "2025-02-02", "2025-02-03"],
        "method": SpikeParams().as_method(),
        "topic_counts": [
            {"day": "2025-02-01", "counts": {**zeros, "roads": 1}},
            {"day": "2025-02-02", "counts": zeros},
            {"day": "2025-02-03", "counts": {**zeros, "roads": 1}},
        ],
        "category_shares": {
            "overall": {**zero_shares, "no_question": 0.3333, "actionable": 0.6667},
            "per_day": [
                {"day": "2025-02-01", "total": 2, "shares": {**zero_shares, "no_question": 0.5, "actionable": 0.5}},
                {"day": "2025-02-02", "total": 0, "shares": zero_shares},
                {"day": "2025-02-03", "total": 1, "shares": {**zero_shares, "actionable": 1.0}},
            ],
        },
        "urgent": [
            {
                "id": 10,
                "timestamp": "2025-02-01T08:00:00+03:00",
                "day": "2025-02-01",
                "topic": "roads",
                "category": "actionable",
                "urgent_score": 0.9,
            }
        ],
        "spikes": [],
        "incidents": {  # the two roads comments share the word "яма" and 52 h: one urgent incident
            "method": IncidentParams().as_method(),
            "reference_time": "2025-02-03T12:00:00+00:00",
            "n_incidents": 1,
            "n_single": 0,
            "n_single_overdue": 0,
            "n_without_time": 0,
            "items": [
                {
                    "id": a.incidents.incidents[0].id if a.incidents else None,
                    "topic": "roads",
                    "route": TAX.route_for("roads"),
                    "n_comments": 2,
                    "comment_ids": [10, 12],
                    "first": "2025-02-01T08:00:00+03:00",
                    "last": "2025-02-03T12:00:00+00:00",
                    "typical_id": 10,
                    "address": None,
                    "urgent": True,
                    "answer_hours": 1.0,
                    "deadline": "2025-02-01T09:00:00+03:00",
                    "overdue": True,
                }
            ],
        },
    }
    d = a.as_dict()
    assert d == expected
    assert list(d["topic_counts"][0]["counts"]) == list(TAX.topic_ids)  # key order is the taxonomy's
    assert type(d["urgent"][0]["id"]) is int
    with_texts = a.as_dict(include_texts=True)
    assert with_texts["urgent"][0]["text"] == "яма" and "text" not in d["urgent"][0]
    assert with_texts["incidents"]["items"][0]["typical_text"] == "яма"
    assert "typical_text" not in d["incidents"]["items"][0]
    json.dumps(with_texts, allow_nan=False)  # plain JSON: no numpy scalars, no NaN


def test_spikes_in_the_summary_name_topic_and_day():
    results, stamps = [], []
    for day in range(16):
        n = 12 if day == 15 else 1
        results += [_r(topic="waste_snow")] * n
        stamps += [f"2025-01-{day + 1:02d}T10:00:00+03:00"] * n
    spikes = analyze(build_frame(results, stamps)).as_dict()["spikes"]
    assert len(spikes) == 1
    s = spikes[0]
    assert (s["topic"], s["day"], s["count"], s["baseline_mean"], s["expected"], s["history_days"]) == (
        "waste_snow",
        "2025-01-16",
        12,
        1.0,
        1.0,
        14,
    )
    assert s["ratio"] == 12.0 and 0 < s["p_value"] < 1e-6


# --- D1: the span of a stream is bounded -----------------------------------------------------------------

SPANS_OVER_THE_LIMIT = {
    "year_1_to_9999": ("0001-01-01", "9999-12-31T23:59:59+03:00"),  # > 4 min and 2.4 GB before the limit
    "three_centuries": ("1800-01-01T00:00", "2100-01-01T00:00"),
    "eleven_years": ("2014-01-01", "2025-01-10T12:00:00+03:00"),
}


@pytest.mark.parametrize("case", list(SPANS_OVER_THE_LIMIT))
def test_a_span_over_the_limit_is_refused_before_any_day_table(case):
    first, last = SPANS_OVER_THE_LIMIT[case]
    started = time.perf_counter()
    with pytest.raises(
        AnalyticsError, match=rf"span \d+ days \({first[:10]} to {last[:10]}\).*limit is {MAX_SPAN_DAYS} days"
    ):
        analyze(build_frame([_r(), _r()], [first, last]))
    assert time.perf_counter() - started < 1.0
    # The report CLI parses the timestamps first: the same error, before any model is loaded.
    with pytest.raises(AnalyticsError, match="limit is 3660 days"):
        parse_timestamps([last, first])


def test_the_span_limit_counts_both_days():
    assert MAX_SPAN_DAYS == 3660
    first = date(2016, 1, 1)
    at_limit = first + timedelta(days=MAX_SPAN_DAYS - 1)
    a = analyze(build_frame([_r(), _r()], [first.isoformat(), at_limit.isoformat()]))
    assert len(a.days) == MAX_SPAN_DAYS and a.topic_counts.counts.shape[0] == MAX_SPAN_DAYS
    with pytest.raises(AnalyticsError, match=f"span {MAX_SPAN_DAYS + 1} days"):
        build_frame([_r(), _r()], [first.isoformat(), (at_limit + timedelta(days=1)).isoformat()])


def test_a_frame_built_by_hand_is_checked_too():
    """daily_counts guards itself: a CommentFrame made without build_frame cannot build a huge table."""
    days = [date(1, 1, 1), date(9999, 12, 31)]
    frame = CommentFrame(
        id=[0, 1],
        timestamp=[datetime(d.year, d.month, d.day) for d in days],
        day=days,
        wall_clock=[datetime(d.year, d.month, d.day) for d in days],
        category=["actionable"] * 2,
        topic=["roads"] * 2,
        urgent=[False] * 2,
        urgent_score=[0.0] * 2,
        text=[None] * 2,
    )
    with pytest.raises(AnalyticsError, match="limit is 3660 days"):
        daily_counts(frame, "topic", TAX.topic_ids)


def test_report_cli_refuses_a_span_over_the_limit(tmp_path, capsys):
    src = _write(
        tmp_path / "long.csv",
        [{"text": "нет воды", "timestamp": "0001-01-01"}, {"text": "яма на дороге", "timestamp": "9999-12-31"}],
    )
    out = tmp_path / "r"
    started = time.perf_counter()
    # No model directory at all: the span is refused before a model is loaded or a comment classified.
    rc = main(["report", src, "--out", str(out), "--model-dir", str(tmp_path / "no-models")])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.startswith("error: ") and "Traceback" not in err
    assert "span 3652059 days (0001-01-01 to 9999-12-31)" in err and "limit is 3660 days" in err
    assert time.perf_counter() - started < 5.0 and not (out / "report.html").exists()


# --- the report CLI -------------------------------------------------------------------------------------


def test_report_cli_writes_html_and_charts(stream, trained_model_dir, tmp_path, capsys):
    src = tmp_path / "stream.csv"
    hostile = {
        "id": "x<1>",
        "text": "<script>alert(1)</script> пахнет газом в подъезде, срочно!",
        "timestamp": "2025-01-30T12:00:00+03:00",
    }
    pd.concat([stream, pd.DataFrame([hostile])]).to_csv(src, index=False, quoting=csv.QUOTE_MINIMAL)
    out = tmp_path / "report"
    rc = main(["report", str(src), "--out", str(out), "--model-dir", str(trained_model_dir)])
    assert rc == 0, capsys.readouterr().err
    page = (out / "report.html").read_text(encoding="utf-8")
    for png in ("topics_per_day.png", "category_shares.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png in page
    assert "25.01.2025" in page and "Мусор и снег" in page and "p &lt; 0.001" in page
    assert "<script>alert" not in page
    assert "spike 2025-01-25 waste_snow" in capsys.readouterr().out


def _write(path, rows: list[dict]) -> str:
    pd.DataFrame(rows).to_csv(path, index=False)
    return str(path)


def test_report_cli_errors(trained_model_dir, tmp_path, capsys):
    md = ["--model-dir", str(trained_model_dir), "--out", str(tmp_path / "r")]

    def run(*args: str) -> str:
        assert main(["report", *args, *md]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and "Traceback" not in err
        return err

    assert "not found" in run(str(tmp_path / "missing.csv"))
    no_ts = _write(tmp_path / "no_ts.csv", [{"text": "нет воды", "date": "2025-01-01"}])
    assert "no column 'timestamp'" in run(no_ts)
    assert "no column 'body'" in run(no_ts, "--text-column", "body")
    bad = _write(
        tmp_path / "bad.csv",
        [{"text": "нет воды", "timestamp": "2025-01-01"}, {"text": "яма на дороге", "timestamp": "позавчера"}],
    )
    assert "line 3 ('позавчера')" in run(bad)
    (tmp_path / "empty.csv").write_text("", encoding="utf-8")
    assert "empty" in run(str(tmp_path / "empty.csv"))
    (tmp_path / "header.csv").write_text("id,text,timestamp\n", encoding="utf-8")
    assert "no comments" in run(str(tmp_path / "header.csv"))
    assert not (tmp_path / "r" / "report.html").exists()


def test_report_cli_prints_and_writes_the_incidents(trained_model_dir, tmp_path, capsys):
    rows = [
        {
            "id": "a1",
            "text": "Во дворе дома 5 по улице Ленина не убран снег, машины не выехать",
            "timestamp": "2025-01-14T08:00",
        },
        {
            "id": "a2",
            "text": "ул. Ленина, д. 5 — снег во дворе так и не убрали | когда?",
            "timestamp": "2025-01-14T12:00",
        },
        {"id": "a3", "text": "Ленина 5, двор в снегу, дворника нет", "timestamp": "2025-01-15T09:00"},
        {"id": "b1", "text": "Когда откроют запись в первый класс?", "timestamp": "2025-01-15T10:00"},
    ]
    src, out = _write(tmp_path / "yard.csv", rows), tmp_path / "r"
    md = ["--model-dir", str(trained_model_dir), "--out", str(out)]
    assert main(["report", src, *md, "--now", "2025-01-14T20:00"]) == 0
    printed = capsys.readouterr().out
    section = (out / "incidents.md").read_text(encoding="utf-8")
    assert printed.endswith(section) and section.startswith("## Инциденты (1)")
    assert "Окно 72 ч" in section and "Просрочка — на 14.01.2025 20:00." in section
    # The address as the first comment naming it wrote it.
    row = "| Мусор и снег | 3 | 14.01.2025 08:00 | 15.01.2025 09:00 | 15.01.2025 08:00 | нет | дома 5 по улице Ленина |"
    assert row in section
    assert "\\|" in section or "a2" not in section  # a "|" written by a resident cannot break the table
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Инциденты (1)" in page and "дома 5 по улице Ленина" in page
    assert main(["report", src, *md, "--incident-window-hours", "5"]) == 0  # a2 joins a1, a3 is a day later
    assert "## Инциденты (1)" in capsys.readouterr().out
    assert main(["report", src, *md, "--incident-window-hours", "5", "--incident-min-comments", "1"]) == 0
    assert "## Инциденты (3)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--incident-window-hours", "0"], "--incident-window-hours must be in (0, 720]"),
        (["--incident-window-hours", "1000"], "--incident-window-hours must be in (0, 720]"),
        (["--incident-min-comments", "0"], "--incident-min-comments must be at least 1"),
        (["--now", "завтра"], "--now:"),
    ],
)
def test_report_cli_incident_options_are_checked(tmp_path, capsys, args, message):
    src = _write(tmp_path / "s.csv", [{"text": "нет воды", "timestamp": "2025-01-01"}])
    assert main(["report", src, "--out", str(tmp_path / "r"), "--model-dir", str(tmp_path / "none"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err
