"""Incidents (training/runtime/incidents): the address key, the window, the deadline, overdue, stability under
reordering, what is left out, and the issue's stream: 40 comments classified by the session's real model, of
which 12 residents of one yard complain about one uncleared courtyard; exactly one incident of those 12."""

from __future__ import annotations

import copy
import random
import subprocess
import sys
import time
from datetime import datetime, timedelta

import numpy as np
import pytest

from training.runtime.incidents import IncidentError, IncidentParams, address_key, find_address, group_incidents
from training.runtime.incidents.similarity import content_lemmas, text_vectors
from training.runtime.taxonomy import TaxonomyError, default_taxonomy, parse_taxonomy

TAX = default_taxonomy()
T0 = datetime.fromisoformat("2025-01-14T08:00:00+03:00")


def _row(cid, text, hours: float = 0.0, topic="waste_snow", urgent=False, action="answer", ts="hours") -> dict:
    stamp = (T0 + timedelta(hours=hours)).isoformat() if ts == "hours" else ts
    return {"id": cid, "text": text, "timestamp": stamp, "topic": topic, "urgent": urgent, "action": action}


def _groups(report) -> list[tuple]:
    return [i.comment_ids for i in report.incidents]


# --- the address key ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "ул. Ленина, д. 5",
        "Ленина 5",
        "улица ленина дом 5",
        "ул.Ленина,д.5",
        "Ленина д5",
        "на Ленина, 5 опять не чистят",
        "улице Ленина дом №5",
        "Ленина ул., д. 5",
        "дом 5 по улице Ленина",
        "д. 5 по ул. Ленина",
        "ЛЕНИНА 5",
        "[club1|Администрация], Ленина 5, когда уберут?",
    ],
)
def test_the_forms_of_one_address_share_one_key(text):
    assert address_key(text) == "ленин 5"


@pytest.mark.parametrize(
    "text, key",
    [
        ("Ленина, д. 5к1", "ленин 5 к1"),
        ("ленина 5 корп. 1", "ленин 5 к1"),
        ("Ленина 5 корпус 2 строение 1", "ленин 5 к2 с1"),
        ("Ленина 5а", "ленин 5а"),
        ("Ленина 5 А", "ленин 5а"),
        ("Марата 45/12", "марат 45/12"),
        ("на Садовой 12 снег", "садовый 12"),
        ("Садовая улица, 12", "садовый 12"),
        ("пр-т Мира 12", "мир 12"),
        ("просп. Мира, д.12", "мир 12"),
        ("Невский пр. 95", "невский 95"),
        ("наб. реки Фонтанки 52", "фонтанка 52"),
        ("К.Заслонова 26", "заслонов 26"),
        ("Константина Заслонова 26", "заслонов 26"),
        ("ул. 1-я Советская 10", "1 советский 10"),
        ("Кирочной 55", "кирочный 55"),
        ("ул. Кременчугская. д.13", "кременчугский 13"),
        ("Ул Некрасова напротив дома 58", "некрасов 58"),
        ("Во дворе дома 12 по Садовой сильно пахнет газом", "садовый 12"),
    ],
)
def test_house_details_and_street_forms(text, key):
    assert address_key(text) == key


@pytest.mark.parametrize(
    "text",
    [
        "Автобус 12 не пришёл",
        "Школы 5 ремонт",
        "Жилкомсервис № 3 не отвечает",
        "в 5 утра",
        "Мира 5 минут ждали",
        "Ленина 5-го числа",
        "Петербург, 195197",
        "Сначала 15 минут ждали",
        "мамы 3 раза звонили",
        "улыбка 5",
        "третий день не вывозят мусор",
    ],
)
def test_numbers_that_are_not_addresses(text):
    assert address_key(text) is None


def test_a_street_alone_has_no_key_but_keeps_its_street():
    a = find_address("Тротуары на проспекте Ленина не чистят")
    assert a is not None and (a.street, a.key) == ("ленин", None)
    assert find_address("улицы убирают плохо") is None


# --- the rule ---------------------------------------------------------------------------------------------


def test_the_window_counts_from_the_first_comment():
    rows = [_row("a", "Ленина 5 снег", 0), _row("b", "Ленина 5 снег", 48), _row("c", "Ленина 5 снег", 96)]
    assert _groups(group_incidents(rows)) == [("a", "b"), ("c",)]  # c is 96 h after a, though 48 h after b
    assert _groups(group_incidents(rows, params=IncidentParams(window_hours=24))) == [("a",), ("b",), ("c",)]
    assert _groups(group_incidents(rows, params=IncidentParams(window_hours=100))) == [("a", "b", "c")]


def test_aware_times_are_compared_as_instants():
    # 70.5 h apart on the wall clock, 78.5 h apart as instants (UTC+5 then UTC-3): beyond the window.
    rows = [
        _row("a", "Ленина 5 снег", ts="2025-01-10T00:00:00+05:00"),
        _row("b", "Ленина 5 снег", ts="2025-01-12T22:30:00-03:00"),
    ]
    assert _groups(group_incidents(rows)) == [("a",), ("b",)]
    naive = [dict(r, timestamp=r["timestamp"][:19]) for r in rows]  # no offsets: the wall clock
    assert _groups(group_incidents(naive)) == [("a", "b")]


def test_same_address_joins_whatever_the_words_and_different_addresses_never():
    rows = [
        _row("a", "Снег во дворе не убран, Ленина 5", 0),
        _row("b", "ул. Ленина, д. 5 — контейнеры переполнены", 1),
        _row("c", "Снег во дворе не убран, Мира 7", 2),
        _row("d", "Снег во дворе не убран, на проспекте Мира", 3),  # a street alone still keeps them apart
    ]
    report = group_incidents(rows)
    assert _groups(report) == [("a", "b"), ("c", "d")]
    assert [i.address for i in report.incidents] == ["ленин 5", "мир 7"]
    # As the first comment that named it wrote it, for people; only with the texts (personal data).
    assert [i.address_text for i in report.incidents] == ["Ленина 5", "Мира 7"]
    assert report.incidents[0].as_dict(include_texts=True)["address_text"] == "Ленина 5"
    assert "address_text" not in report.incidents[0].as_dict()


def test_similar_text_joins_and_unrelated_text_does_not():
    rows = [
        _row("a", "Во дворе не убран снег, сугробы по колено, машины не выехать", 0),
        _row("b", "у нас во дворе снег не убирают, машину не выехать", 5),
        _row("c", "Контейнеры переполнены, мусор не вывозят неделю", 6),
    ]
    assert _groups(group_incidents(rows)) == [("a", "b"), ("c",)]


def test_the_centroid_stops_chaining():
    yard = [
        "Во дворе не убран снег, сугробы, машины не выехать",
        "Снег во дворе не убирают, сугробы по колено",
        "Двор в сугробах, снег не убран, машины не выехать",
        "Сугробы во дворе, снег никто не убирает",
    ]
    bridge = "Во дворе сугробы и снег, а ещё контейнеры переполнены и мусор не вывозят"
    far = "Контейнеры переполнены, мусор не вывозят, пакеты вокруг контейнеров"
    texts = [*yard, bridge, far]
    rows = [_row(f"c{k}", t, k) for k, t in enumerate(texts)]
    sims = (text_vectors(texts) @ text_vectors(texts).T).toarray()
    p = IncidentParams()
    assert sims[4, 5] >= p.min_similarity and sims[0:4, 5].max() < p.min_similarity  # bridge links far to yard
    assert _groups(group_incidents(rows)) == [("c0", "c1", "c2", "c3", "c4"), ("c5",)]


def test_the_typical_comment_is_the_medoid():
    rows = [
        _row("a", "снег во дворе", 0),
        _row("b", "снег во дворе не убран, сугробы, машины не выехать", 1),
        _row("c", "сугробы, машины не выехать", 2),
    ]
    (incident,) = group_incidents(rows).incidents
    assert incident.n_comments == 3 and incident.typical_id == "b" and incident.typical_text == rows[1]["text"]


def test_which_rows_are_grouped():
    rows = [
        _row("a", "Ленина 5 снег", 0),
        _row("b", "Ленина 5 снег", 1, action="skip", topic=None),
        _row("c", "Ленина 5 снег", 2, action="moderate"),  # a moderated comment is never an incident
        _row("d", "Ленина 5 снег", 3, urgent=True, action="escalate"),
        _row("e", "Ленина 5 снег", ts=None),
        _row("f", "Ленина 5 снег", ts=""),
        _row("g", "Ленина 5 снег", ts=T0.timestamp() + 7200),  # Unix seconds, as VK sends them
    ]
    report = group_incidents(rows)
    assert _groups(report) == [("a", "g", "d")] and report.n_without_time == 2


def test_bad_rows_are_named():
    with pytest.raises(IncidentError, match="row 1: not an ISO 8601 timestamp: 'вчера'"):
        group_incidents([_row("a", "снег"), _row("b", "снег", ts="вчера")])
    with pytest.raises(IncidentError, match="row 0: unknown topic 'weather'"):
        group_incidents([_row("a", "снег", topic="weather")])
    assert group_incidents([]).incidents == ()


def test_grouping_runs_without_pandas():
    """A serving install has no pandas: importing analytics stays light, and grouping works without it."""
    code = (
        "import sys; sys.modules['pandas'] = None\n"
        "from training.runtime.analytics import analyze, build_frame\n"
        "light = 'sklearn' not in sys.modules\n"
        "r = {'category': 'actionable', 'topic': 'waste_snow', 'urgent': False, 'urgent_score': 0.1}\n"
        "stamps = ['2025-01-14T08:00', '2025-01-14T09:00']\n"
        "frame = build_frame([r, r], stamps, texts=['Ленина 5', 'ул. Ленина, д. 5'])\n"
        "print(light, [i.n_comments for i in analyze(frame).incidents.incidents])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True [2]", out.stdout + out.stderr


# --- deadlines and overdue ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "topic, urgent, hours",
    [("roads", False, 24), ("roads", True, 1), ("safety_emergency", False, 4), ("safety_emergency", True, 1)],
)
def test_the_deadline(topic, urgent, hours):
    assert TAX.answer_hours(topic, urgent) == hours
    rows = [_row("a", "Ленина 5 яма", 0, topic=topic), _row("b", "Ленина 5 яма", 3, topic=topic, urgent=urgent)]
    (incident,) = group_incidents(rows).incidents
    assert incident.urgent is urgent and incident.answer_hours == hours  # any urgent member makes it urgent
    assert incident.deadline == T0 + timedelta(hours=hours) and incident.deadline.utcoffset() == T0.utcoffset()


def test_deadlines_come_from_the_taxonomy():
    raw = copy.deepcopy(TAX.raw)
    raw["answer_deadlines"] = {"default_hours": 48, "urgent_hours": 2}
    next(t for t in raw["topics"] if t["id"] == "roads")["answer_hours"] = 12
    tax = parse_taxonomy(raw)
    assert (tax.answer_hours("roads", False), tax.answer_hours("healthcare", False)) == (12, 48)
    assert tax.answer_hours("roads", True) == 2
    (incident,) = group_incidents([_row("a", "яма", 0, topic="roads")], taxonomy=tax).incidents
    assert incident.deadline == T0 + timedelta(hours=12)
    del raw["answer_deadlines"]
    assert parse_taxonomy(raw).deadlines.default_hours == 24  # absent: 24 h and 1 h


@pytest.mark.parametrize(
    "section, message",
    [
        ({"default_hours": 0}, "default_hours must be a number of hours"),
        ({"urgent_hours": "час"}, "urgent_hours must be a number of hours"),
        ({"default_hours": 10_000}, "in (0, 720]"),
        ({"weekly": 3}, "unknown keys ['weekly']"),
        ([24, 1], "answer_deadlines must be a mapping"),
    ],
)
def test_bad_deadlines_are_refused(section, message):
    raw = copy.deepcopy(TAX.raw)
    raw["answer_deadlines"] = section
    with pytest.raises(TaxonomyError, match=message.replace("[", r"\[").replace("(", r"\(")):
        parse_taxonomy(raw)
    raw = copy.deepcopy(TAX.raw)
    raw["topics"][0]["answer_hours"] = -1
    with pytest.raises(TaxonomyError, match="topic housing_utilities: answer_hours"):
        parse_taxonomy(raw)


def test_overdue_against_the_stream_end_or_now():
    rows = [_row("a", "Ленина 5 снег", 0), _row("b", "яма на дороге", 23, topic="roads")]
    report = group_incidents(rows)
    assert report.reference_time == T0 + timedelta(hours=23)
    assert [(i.comment_ids, i.overdue) for i in report.incidents] == [(("a",), False), (("b",), False)]
    rows.append(_row("c", "Когда откроют каток?", 25, topic="culture_sport"))
    assert group_incidents(rows).incidents[0].overdue is True  # a: 25 h after its first comment
    later = group_incidents(rows, now=T0 + timedelta(hours=60))
    assert [i.overdue for i in later.incidents] == [True, True, True]
    earlier = group_incidents(rows, now=datetime(2025, 1, 14, 9, 0))  # naive now: read as the wall clock
    assert [i.overdue for i in earlier.incidents] == [False, False, False]


def test_listing_hides_singletons_but_counts_them():
    rows = [_row("a", "Ленина 5 снег", 0), _row("b", "Ленина 5 снег", 1), _row("c", "яма", 30, topic="roads")]
    summary = group_incidents(rows).as_dict()
    assert (summary["n_incidents"], summary["n_single"], summary["n_single_overdue"]) == (2, 1, 0)
    assert [i["comment_ids"] for i in summary["items"]] == [["a", "b"]]
    assert "typical_text" not in summary["items"][0] and summary["items"][0]["overdue"] is True
    everything = group_incidents(rows, params=IncidentParams(min_comments=1)).as_dict(include_texts=True)
    assert len(everything["items"]) == 2 and everything["items"][1]["typical_text"] == "яма"
    assert summary["method"]["params"]["window_hours"] == 72 and "NearestNeighbors" in summary["method"]["description"]


# --- the stream: 12 residents of one yard in 40 comments ---------------------------------------

# (id, "day hour" in January 2025, Moscow time, text). y01-y12: the courtyard of Строителей 14, written the
# ways residents write (address forms, no address, replies, a typo). The 28 others: other yards and addresses
# of the same topic, the same yard a week before and after (beyond the window), the same address on other
# topics, other topics, chatter and an insult.
YARD = [
    (
        "y01",
        "14 07:40",
        "Здравствуйте! Во дворе дома 14 по улице Строителей с выходных не чистят снег, машины не "
        "могут выехать. Когда уберут?",
    ),
    (
        "y02",
        "14 09:05",
        "ул. Строителей, д. 14 — двор завален снегом, дворника не видели три дня. Просим прислать технику",
    ),
    ("y03", "14 12:30", "Строителей 14, двор так и не почистили, сугробы по колено, с коляской не пройти"),
    ("y04", "14 13:10", "[id48213|Ольга], у нас то же самое, машину со двора не выехать, когда уберут снег во дворе?"),
    ("y05", "14 18:45", "Двор не чистят уже который день, снегу навалило, трактор ни разу не приезжал. Строителей д14"),
    (
        "y06",
        "15 08:20",
        "Присоединяюсь к соседям, двор завален снегом, дворника не видно, машину со двора не выехать, откапывал сам",
    ),
    ("y07", "15 10:00", "улица Строителей дом 14, снег во дворе не убирают и не вывозят, вся парковка в снегу"),
    ("y08", "15 14:35", "Снег во дворе Строителей 14 так и лежит, дорожки не чищены, пожилые люди не могут выйти"),
    ("y09", "15 19:50", "Почему не убирают снег во дворе?? третий день пробираемся по сугробам, Строителей 14"),
    ("y10", "16 07:15", "сннег во дворе так и не почистили, трактор не приезжал, машины не выехать, сугробы по колено"),
    ("y11", "16 12:00", "Строителей,14 двор не чищенный, снег по пояс, прошу принять меры по уборке снега"),
    (
        "y12",
        "16 21:00",
        "[club1234|Администрация района], когда наконец почистят двор на Строителей 14? снег не убирали с пятницы",
    ),
]
OTHERS = [
    ("u01", "08 09:00", "Строителей 14, во дворе не убран снег после снегопада, почистите пожалуйста"),
    ("u02", "14 08:30", "Во дворе дома 3 по ул. Гагарина снег сгребли на детскую площадку и не вывозят"),
    ("u03", "15 11:20", "ул. Гагарина, д. 3 — на детской площадке гора снега, дети лазят, когда вывезут?"),
    ("u04", "14 16:00", "Мира 21, снег с крыши сбросили прямо на тротуар и не вывезли"),
    ("u05", "15 07:30", "На остановке Школьная сплошная наледь, никто не посыпает, люди падают"),
    ("u06", "14 10:15", "Контейнеры переполнены, мусор не вывозят неделю, Садовая 8"),
    ("u07", "15 17:40", "На Садовой 8 мусорка переполнена третий день, пакеты валяются вокруг"),
    ("u08", "20 09:10", "Строителей 14, снова двор не чистят, снег опять лежит"),
    ("u09", "15 12:10", "Тротуары на проспекте Ленина не чистят, сплошной лед, скользко"),
    ("u10", "14 20:00", "Строителей 14, в квартирах холодные батареи, отопление еле тёплое"),
    ("u11", "15 09:40", "Нет горячей воды на Мира 21 второй день, управляющая компания молчит"),
    ("u12", "14 11:00", "Огромная яма на дороге у дома Гагарина 10, машины бьют колёса"),
    ("u13", "16 08:00", "Светофор на перекрёстке Ленина и Мира не работает с утра"),
    ("u14", "14 07:55", "Автобус 12 опять не пришёл утром, люди мёрзнут на остановке по полчаса"),
    ("u15", "15 13:30", "Почему изменили расписание 5 маршрута? раньше ходил каждые 15 минут"),
    ("u16", "15 16:20", "Во дворе Строителей 14 сломаны качели на детской площадке, дети могут пораниться"),
    ("u17", "16 18:30", "Не горят фонари на улице Садовой, вечером идти страшно, темно"),
    ("u18", "14 14:00", "Когда откроют запись в первый класс в школу 5?"),
    (
        "u19",
        "15 15:00",
        "В поликлинике на Мира не дозвониться до регистратуры, к терапевту запись только через две недели",
    ),
    ("u20", "16 10:30", "Подскажите, как оформить единое пособие на ребёнка?"),
    ("u21", "16 15:45", "Когда откроется каток в парке? В прошлом году уже в декабре работал"),
    ("u22", "15 22:10", "В подъезде дома Строителей 16 сильно пахнет газом, срочно приезжайте!"),
    ("u23", "16 11:15", "Как записаться на приём к главе района?"),
    ("u24", "14 19:00", "В посёлке Лесном нет мобильной связи и интернета уже неделю"),
    ("u25", "15 18:00", "Спасибо за оперативную работу!"),
    ("u26", "16 09:00", "[id77|Ольга], полностью согласна с вами"),
    ("u27", "16 13:20", "Сергей, ты вообще читать умеешь? бестолочь"),
    ("u28", "21 08:00", "Снег во дворе опять не убран, дом 14 по улице Строителей"),
]
STREAM = [(cid, f"2025-01-{when[:2]}T{when[3:]}:00+03:00", text) for cid, when, text in YARD + OTHERS]
YARD_IDS = tuple(cid for cid, _, _ in YARD)


@pytest.fixture(scope="module")
def stream_rows(trained_model) -> list[dict]:
    """The 40 comments classified by the real model, as the rows any source hands to group_incidents()."""
    results = trained_model.classify([text for _, _, text in STREAM])
    return [
        {"id": cid, "text": text, "timestamp": ts, "topic": r["topic"], "urgent": r["urgent"], "action": r["action"]}
        for (cid, ts, text), r in zip(STREAM, results, strict=True)
    ]


def test_twelve_residents_of_one_yard_are_one_incident(stream_rows):
    assert len(STREAM) == 40 and len(YARD) == 12 and len(set(text for _, _, text in STREAM)) == 40
    routed = {r["id"]: (r["topic"], r["action"]) for r in stream_rows}
    misrouted = {cid: routed[cid] for cid in YARD_IDS if routed[cid] != ("waste_snow", "answer")}
    assert not misrouted, f"the model routed courtyard comments elsewhere: {misrouted}"
    report = group_incidents(stream_rows)
    big = [i for i in report.incidents if i.n_comments >= 3]
    assert len(big) == 1, [(i.n_comments, i.comment_ids) for i in report.incidents]
    (yard,) = big
    assert yard.comment_ids == YARD_IDS  # exactly those 12, in time order
    assert not {cid for i in report.incidents if i is not yard for cid in i.comment_ids} & set(YARD_IDS)
    assert (yard.topic, yard.address, yard.urgent, yard.answer_hours) == ("waste_snow", "строитель 14", False, 24)
    assert yard.first.isoformat() == STREAM[0][1] and yard.last.isoformat() == STREAM[11][1]
    assert yard.deadline == yard.first + timedelta(hours=24) and yard.route == TAX.route_for("waste_snow")
    assert yard.overdue and yard.typical_id in YARD_IDS
    assert not group_incidents(stream_rows, now=yard.first + timedelta(hours=2)).incidents[0].overdue
    # The same yard a week before and after, and its address on other topics, stay out.
    assert ("u08", "u28") in _groups(report) and ("u01",) in _groups(report)
    print("\nincidents of 2+:", [(i.n_comments, i.address, i.comment_ids) for i in report.listed])


def test_the_order_of_the_input_does_not_change_the_incidents(stream_rows):
    expected = [i.as_dict(include_texts=True) for i in group_incidents(stream_rows).incidents]
    for seed in range(5):
        shuffled = stream_rows[:]
        random.Random(seed).shuffle(shuffled)
        assert [i.as_dict(include_texts=True) for i in group_incidents(shuffled).incidents] == expected


@pytest.mark.slow
def test_twenty_thousand_comments_are_grouped_in_bounded_time(corpus):
    """The /analytics ceiling: 20,000 real comments over 30 days (the time is printed for the README)."""
    rng = np.random.default_rng(3)
    actionable = corpus[corpus["topic"].notna() & (corpus["topic"] != "")]
    picks = rng.integers(0, len(actionable), 20_000)
    minutes = rng.integers(0, 30 * 24 * 60, 20_000)
    rows = [
        _row(k, actionable["text"].iat[int(i)], float(m) / 60, topic=actionable["topic"].iat[int(i)])
        for k, (i, m) in enumerate(zip(picks, minutes, strict=True))
    ]
    content_lemmas("прогрев")  # load the lemmatiser outside the clock
    started = time.perf_counter()
    report = group_incidents(rows)
    elapsed = time.perf_counter() - started
    assert sum(i.n_comments for i in report.incidents) == len(rows)
    assert elapsed < 90, elapsed
    print(f"\n20,000 comments: {elapsed:.1f} s, {len(report.incidents)} incidents, {len(report.listed)} of 2+")
