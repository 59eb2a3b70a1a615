"""POST /analytics on the app from service.app.create_app() with the session's real model: a stream of
real corpus comments with a garbage/snow surge, the API key, and the 4xx answers to bad input."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import numpy as np
import pytest

from training.runtime.taxonomy import default_taxonomy

TAX = default_taxonomy()
SURGE_TOPIC = "waste_snow"
START = date(2025, 2, 1)
N_DAYS = 20
SURGE_DAY = START + timedelta(days=17)
MSK = timezone(timedelta(hours=3))


@pytest.fixture(scope="module")
def payload(corpus) -> dict:
    """Real texts: 2-3 per topic per day, 2 chatter comments a day, +20 snow/garbage complaints on day 18,
    and the corpus's urgent comments sprinkled over the month."""
    rng = np.random.default_rng(11)
    nq = TAX.no_question_flag
    actionable = corpus[(corpus[nq] == 0) & (corpus[TAX.urgent] == 0)]
    pools = {t: actionable[actionable["topic"] == t]["text"].tolist() for t in TAX.topic_ids}
    chatter = corpus[corpus[nq] == 1]["text"].tolist()
    urgent = corpus[(corpus[TAX.urgent] == 1) & (corpus["split"] == "test")]["text"].tolist()
    surge = [t for t in pools[SURGE_TOPIC] if t in set(corpus[corpus["split"] == "test"]["text"])]
    comments: list[dict] = []

    def add(day: date, text: str, prefix: str = "c") -> None:
        ts = datetime(day.year, day.month, day.day, tzinfo=MSK) + timedelta(minutes=int(rng.integers(1440)))
        comments.append({"id": f"{prefix}{len(comments)}", "text": text, "timestamp": ts.isoformat()})

    for d in range(N_DAYS):
        day = START + timedelta(days=d)
        for topic in TAX.topic_ids:
            for _ in range(int(rng.integers(2, 4))):
                add(day, pools[topic][int(rng.integers(len(pools[topic])))])
        for _ in range(2):
            add(day, chatter[int(rng.integers(len(chatter)))])
        add(day, urgent[d % len(urgent)], prefix="u")
    for k in range(20):
        add(SURGE_DAY, surge[k % len(surge)])
    return {"comments": comments}


@pytest.fixture(scope="module")
def answer(api, payload) -> dict:
    r = api.post("/analytics", json=payload)
    assert r.status_code == 200, r.text
    return r.json()


def test_surge_is_reported_with_the_method(answer, payload):
    assert answer["model_version"] and answer["n_comments"] == len(payload["comments"])
    assert answer["days"][0] == START.isoformat() and len(answer["days"]) == N_DAYS
    method = answer["method"]
    assert "Poisson" in method["description"] and method["params"]["alpha"] == 0.001
    surge = [s for s in answer["spikes"] if s["topic"] == SURGE_TOPIC]
    assert [s["day"] for s in surge] == [SURGE_DAY.isoformat()], answer["spikes"]
    s = surge[0]
    assert s["p_value"] < 1e-6 and s["ratio"] > 3 and s["count"] >= 18 and s["history_days"] == 14
    assert s["baseline_mean"] < 6
    print(
        f"\n/analytics surge {s['day']}: count={s['count']} baseline_mean={s['baseline_mean']} "
        f"ratio={s['ratio']} p={s['p_value']:.3g}; spikes: {[(x['topic'], x['day']) for x in answer['spikes']]}"
    )


def test_counts_shares_and_urgent(answer, payload):
    per_day = {row["day"]: row["counts"] for row in answer["topic_counts"]}
    assert set(per_day[START.isoformat()]) == set(TAX.topic_ids)
    assert per_day[SURGE_DAY.isoformat()][SURGE_TOPIC] == max(c[SURGE_TOPIC] for c in per_day.values())
    shares = answer["category_shares"]
    assert sum(shares["overall"].values()) == pytest.approx(1.0, abs=1e-3)
    assert sum(d["total"] for d in shares["per_day"]) == len(payload["comments"])
    for d in shares["per_day"]:
        assert sum(d["shares"].values()) == pytest.approx(1.0, abs=1e-3)
    # One comment a day comes from the corpus's urgent test texts: the real model must escalate most.
    sent_urgent = {c["id"] for c in payload["comments"] if c["id"].startswith("u")}
    got = set(answer["urgent_ids"])
    assert len(got & sent_urgent) >= N_DAYS // 2, (len(got & sent_urgent), len(got))
    assert [u["id"] for u in answer["urgent"]] == answer["urgent_ids"]
    index = {c["id"]: i for i, c in enumerate(payload["comments"])}
    assert all(index[u["id"]] == u["index"] for u in answer["urgent"])
    assert "text" not in answer["urgent"][0]


def test_positions_stand_in_for_missing_ids(api):
    body = {
        "comments": [
            {
                "text": "В подвале дома 3 по Мира сильно пахнет газом, срочно приезжайте!",
                "timestamp": "2025-02-03T08:00:00+03:00",
            },
            {"text": "Спасибо!", "timestamp": "2025-02-03"},
        ]
    }
    r = api.post("/analytics", json=body)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["days"] == ["2025-02-03"] and data["spikes"] == []
    assert data["urgent_ids"] == [0] and data["urgent"][0]["id"] is None


def test_api_key_is_required_when_configured(app_factory):
    client = app_factory(api_keys="k1")
    body = {"comments": [{"id": "a", "text": "Когда уберут снег во дворе?", "timestamp": "2025-02-01T10:00"}]}
    assert client.post("/analytics", json=body).status_code == 401
    r = client.post("/analytics", json=body, headers={"X-API-Key": "k1"})
    assert r.status_code == 200 and r.json()["n_comments"] == 1


@pytest.mark.parametrize(
    "body, status, needle",
    [
        ({"comments": []}, 422, "comments"),
        ({"comments": [{"text": "яма", "timestamp": "вчера"}]}, 422, "comments[0].timestamp"),
        ({"comments": [{"text": "яма", "timestamp": "2025-02-01"}, {"text": "яма"}]}, 422, "comments[1].timestamp"),
        ({"comments": [{"text": "   ", "timestamp": "2025-02-01"}]}, 422, "comments[0].text"),
        (
            {
                "comments": [{"text": "яма", "timestamp": "2025-02-01"}],
                "spike": {"window_days": 7, "min_history_days": 10},
            },
            422,
            "min_history_days",
        ),
        ({"comments": [{"text": "яма", "timestamp": "2025-02-01"}], "spike": {"alpha": 2}}, 422, "alpha"),
    ],
)
def test_bad_input_is_a_clear_4xx(api, body, status, needle):
    r = api.post("/analytics", json=body)
    assert r.status_code == status and needle in r.text, r.text
    assert "error" in r.json()


def test_limits(app_factory, api):
    small = app_factory(max_text_chars=40)
    r = small.post(
        "/analytics",
        json={"comments": [{"text": "яма", "timestamp": "2025-02-01"}, {"text": "я" * 41, "timestamp": "2025-02-01"}]},
    )
    assert r.status_code == 422 and "comments[1].text" in r.text and "40" in r.text
    many = {"comments": [{"text": "a", "timestamp": "2025-02-01"}] * 20_001}
    r = app_factory(max_body_bytes=3_000_000).post("/analytics", json=many)
    assert r.status_code == 422 and "20000" in r.text, r.text[:300]
    r = api.post("/analytics", content=b"comments", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415


def test_openapi_has_a_russian_example(api):
    schema = api.get("/openapi.json").json()
    assert "/analytics" in schema["paths"]
    example = schema["components"]["schemas"]["AnalyticsRequest"]["examples"][0]
    assert "мусор" in example["comments"][0]["text"]


# D1: the day tables cover every day of the span; 0001-01-01 .. 9999-12-31 ran > 4 min at 2.4 GB, 300 years 18.7 s.
@pytest.mark.parametrize(
    "first, last",
    [("0001-01-01", "9999-12-31T23:00:00+03:00"), ("1800-01-01", "2100-01-01"), ("2014-01-01", "2025-01-10")],
    ids=["year_1_to_9999", "three_centuries", "eleven_years"],
)
def test_a_span_over_ten_years_is_a_422_before_classifying(api, first, last):
    import time

    body = {"comments": [{"text": "яма на дороге", "timestamp": first}, {"text": "нет воды", "timestamp": last}]}
    started = time.perf_counter()
    r = api.post("/analytics", json=body)
    assert time.perf_counter() - started < 5.0
    assert r.status_code == 422, r.text[:300]
    data = r.json()
    assert "limit is 3660 days" in data["error"] and f"({first[:10]} to {last[:10]})" in data["error"]
    assert data["details"] == [
        {"field": "comments", "index": None, "message": data["details"][0]["message"], "type": "value_error"}
    ]
    assert "яма" not in r.text  # no echo of the texts


def test_a_span_of_exactly_the_limit_is_analysed(api):
    body = {
        "comments": [
            {"text": "яма на дороге", "timestamp": "2016-01-01"},
            {"text": "нет воды", "timestamp": "2026-01-07"},
        ]
    }
    r = api.post("/analytics", json=body)
    assert r.status_code == 200, r.text[:300]
    assert len(r.json()["days"]) == 3660


# --- incidents ----------------------------------------------------------------------------------------

YARD = [
    ("y1", "2025-01-14T08:00:00+03:00", "Во дворе дома 5 по улице Ленина не убран снег, машины не могут выехать"),
    (None, "2025-01-14T12:00:00+03:00", "ул. Ленина, д. 5 — двор завален снегом, когда уберут?"),
    ("y3", "2025-01-15T09:00:00+03:00", "Ленина 5, снег во дворе так и не убрали, сугробы по колено"),
    ("o1", "2025-01-15T10:00:00+03:00", "Когда откроют запись в первый класс в школу 5?"),
    ("o2", "2025-01-15T11:00:00+03:00", "Спасибо за работу!"),
]


def _yard_body(**incidents) -> dict:
    comments = [{"text": t, "timestamp": ts, **({"id": cid} if cid else {})} for cid, ts, t in YARD]
    return {"comments": comments, **({"incidents": incidents} if incidents else {})}


def test_incidents_come_back_with_ids_positions_and_no_texts(api):
    r = api.post("/analytics", json=_yard_body())
    assert r.status_code == 200, r.text
    inc = r.json()["incidents"]
    assert inc["method"]["params"]["window_hours"] == 72 and "NearestNeighbors" in inc["method"]["description"]
    assert inc["reference_time"] == "2025-01-15T11:00:00+03:00" and inc["n_without_time"] == 0
    assert (inc["n_incidents"], inc["n_single"]) == (2, 1)  # the yard, and the school question alone
    (item,) = inc["items"]
    assert item["comment_ids"] == ["y1", 1, "y3"] and item["comment_indexes"] == [0, 1, 2]
    assert item["typical_id"] in ("y1", 1, "y3") and item["typical_index"] in (0, 1, 2)
    assert (item["topic"], item["address"], item["n_comments"]) == ("waste_snow", "ленин 5", 3)
    assert item["first"] == YARD[0][1] and item["last"] == YARD[2][1] and item["route"]
    assert item["deadline"] == "2025-01-15T08:00:00+03:00" and item["overdue"] is True and item["answer_hours"] == 24
    assert "Ленина" not in r.text and "typical_text" not in item  # texts are personal data: never echoed


def test_incident_options(api):
    def items(**options) -> list[dict]:
        r = api.post("/analytics", json=_yard_body(**options))
        assert r.status_code == 200, r.text
        return r.json()["incidents"]["items"]

    assert [i["comment_ids"] for i in items(window_hours=6)] == [["y1", 1]]  # y3 is 25 h after y1
    assert [i["n_comments"] for i in items(min_comments=1)] == [3, 1]
    assert items(now="2025-01-14T20:00:00+03:00")[0]["overdue"] is False


@pytest.mark.parametrize(
    "options, needle",
    [
        ({"window_hours": 0}, "incidents.window_hours"),
        ({"window_hours": 1000}, "incidents.window_hours"),
        ({"min_comments": 0}, "incidents.min_comments"),
        ({"now": "завтра"}, "now is not ISO 8601"),
        ({"now": 5}, "incidents.now"),
    ],
)
def test_bad_incident_options_are_a_422(api, options, needle):
    r = api.post("/analytics", json=_yard_body(**options))
    assert r.status_code == 422 and needle in r.text, r.text
    assert "error" in r.json()


@pytest.mark.parametrize(
    "timestamps, now",
    [
        (["0001-01-01T00:00:00+05:00", "0001-01-01T01:00:00+05:00"], None),  # no UTC instant: was a 500
        (["9999-12-31T23:00:00-05:00"], None),
        (["2025-01-01T00:00:00+05:00"], "0001-01-01T00:00:00+05:00"),
    ],
)
def test_times_at_the_calendars_ends_are_a_422(api, timestamps, now):
    body = {
        "comments": [{"text": "снег во дворе на Ленина 5 не убран, когда уберут?", "timestamp": t} for t in timestamps]
    }
    if now:
        body["incidents"] = {"now": now}
    r = api.post("/analytics", json=body)
    assert r.status_code == 422 and "1-9999" in r.json()["error"]
