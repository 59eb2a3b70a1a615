"""The moderation page end to end: a real uvicorn process, a real headless chromium, a real SQLite store."""

from __future__ import annotations

import csv
import io
import os
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from training.runtime.taxonomy import default_taxonomy

TAX = default_taxonomy()
VK_SECRET = "ui-test-secret"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
COMMENTS = [
    "Опять х*йня с отоплением, батареи ледяные, сколько можно",  # disguised мат
    "Спасибо большое за вашу работу!",  # thanks: no question
    "Третий день не вывозят мусор на Ленина 5, контейнеры переполнены, когда уберут?",  # concrete complaint
    "<b>Когда</b> отремонтируют яму на дороге по улице Мира?",  # markup must stay text
    "[id5|Марина], ты тупая курица, не пиши сюда больше",  # an insult: its phrases marked, the mention a name
]


@pytest.fixture(scope="module")
def server(trained_model_dir, tmp_path_factory, service_process):
    """`python -m service` on a free port; yields its base URL once /ready answers 200."""
    tmp = tmp_path_factory.mktemp("e2e")
    env = {
        "MODEL_DIR": str(trained_model_dir),
        "DATABASE_URL": f"sqlite:///{tmp / 'fb.db'}",
        "LOG_LEVEL": "warning",
        "VK_SECRET": VK_SECRET,  # the Inbox view's comments come through /vk/callback
    }
    with service_process(env, tmp / "server.log", ready_timeout=180) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does it)"
        if os.environ.get("CI"):
            pytest.fail(message)  # in CI the browser test must really run
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def test_moderation_page_end_to_end(server, browser, tmp_path):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, accept_downloads=True, locale="ru-RU")
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    external: list[str] = []
    page.on(
        "request",
        lambda r: None if r.url.startswith(server) or r.url.startswith(("blob:", "data:")) else external.append(r.url),
    )

    page.goto(f"{server}/ui")
    assert "Разбор комментариев" in page.title()
    page.fill("#comments", "\n".join(COMMENTS))
    page.fill("#moderator", "Иванова")
    page.click("#submit")
    page.wait_for_selector("table#results")

    rows = page.locator("tr.result-row")
    assert rows.count() == len(COMMENTS)
    categories = [rows.nth(i).get_attribute("data-category") for i in range(rows.count())]
    assert categories[0] == TAX.lexicon_flag
    assert categories[1] == TAX.no_question_flag
    assert categories[2] == "actionable" and categories[3] == "actionable"
    # The disguised мат is highlighted, the rest of the text is escaped user input.
    assert rows.nth(0).locator("td.text mark").first.inner_text() == "х*йня"
    assert rows.nth(3).locator("td.text b").count() == 0
    assert "<b>Когда</b>" in rows.nth(3).locator("td.text").inner_text()
    # An insult's evidence is marked as the insult flag's (its name in the title); the mention reads as the name.
    insult_marks = rows.nth(4).locator("td.text mark.ev-insult_commenter")
    assert insult_marks.count() >= 1
    flag_names = {f["id"]: f["name_ru"] for f in TAX.raw["flags"]}
    assert insult_marks.first.get_attribute("title") == flag_names["insult_commenter"]
    assert rows.nth(4).locator("td.text").inner_text().startswith("Марина, ты")
    assert rows.nth(0).locator("td.text mark").first.get_attribute("class") == f"ev ev-{TAX.lexicon_flag}"
    assert rows.nth(2).locator("td.topic").inner_text() == "Мусор и снег"
    assert rows.nth(1).locator("td.topic").inner_text() == "—"

    # Filters hide the other rows client-side.
    page.select_option("#filter-category", TAX.lexicon_flag)
    assert [rows.nth(i).is_visible() for i in range(4)] == [True, False, False, False]
    page.select_option("#filter-category", "")
    page.select_option("#filter-action", "answer")
    assert [rows.nth(i).is_visible() for i in range(4)] == [False, False, True, True]
    page.select_option("#filter-action", "")

    # Correct the complaint: it is about a courtyard, and urgent (made up for the test), then save.
    target = rows.nth(2)
    comment_id = target.get_attribute("data-id")
    target.locator(".edit-btn").click()
    editor = page.locator("tr.editor-row form.editor")
    editor.locator("select[name=topic]").select_option("landscaping")
    editor.locator(f"input[name={TAX.urgent}]").check()
    editor.locator(".save-btn").click()
    page.wait_for_selector("tr.editor-row .editor-status.saved")
    assert editor.locator(".editor-status").inner_text() == "Сохранено"

    stored = httpx.get(f"{server}/feedback/{comment_id}", timeout=10).json()
    assert stored["text"] == COMMENTS[2]
    assert stored["labels"]["topic"] == "landscaping" and stored["labels"][TAX.urgent] == 1
    assert stored["moderator"] == "Иванова" and len(stored["history"]) == 1
    export = list(csv.DictReader(io.StringIO(httpx.get(f"{server}/feedback/export", timeout=10).text)))
    assert [r["id"] for r in export] == [comment_id]

    shot = tmp_path / "ui.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")
    assert shot.stat().st_size > 10_000

    # An invalid correction is refused with the server's message shown next to the form.
    editor.locator(f"input[name={TAX.no_question_flag}]").check()  # no question + urgent: invalid
    editor.locator(".save-btn").click()
    page.wait_for_selector("tr.editor-row .editor-status.failed")
    assert TAX.urgent in editor.locator(".editor-status").inner_text()

    # CSV download generated in the page from the rendered results, corrections included.
    with page.expect_download() as dl:
        page.click("#download")
    text = Path(dl.value.path()).read_text(encoding="utf-8-sig")
    downloaded = list(csv.DictReader(io.StringIO(text)))
    assert [r["text"] for r in downloaded] == COMMENTS
    assert downloaded[0]["category"] == TAX.lexicon_flag
    assert downloaded[0]["evidence"].split("|")[0] == f"{TAX.lexicon_flag}:х*йня"  # мат spans come first
    assert downloaded[2]["corrected_topic"] == "landscaping" and downloaded[2]["corrected_by"] == "Иванова"

    assert dialogs == [] and external == []
    context.close()


@pytest.fixture(scope="module")
def keyed(trained_model_dir, tmp_path_factory):
    app = create_app(
        Settings(
            model_dir=trained_model_dir,
            api_keys="k1",
            database_url=f"sqlite:///{tmp_path_factory.mktemp('ui') / 'fb.db'}",
        )
    )
    with TestClient(app) as client:
        yield client


def test_ui_form_errors_upload_and_static(keyed):
    page = keyed.get("/ui")
    assert page.status_code == 200 and "Классифицировать" in page.text
    assert "https://" not in page.text and "http://" not in page.text  # no CDN
    r = keyed.post("/ui/classify", data={"text": "Когда починят дорогу?"})
    assert r.status_code == 401 and "API-ключ" in r.text
    r = keyed.post("/ui/classify", data={"text": "  \n ", "api_key": "k1"})
    assert r.status_code == 400 and "Нет комментариев" in r.text
    upload = "id,text\nx-1,Когда починят дорогу на Мира?\nx-2,<script>alert(1)</script> спасибо\n"
    r = keyed.post(
        "/ui/classify", data={"api_key": "k1"}, files={"file": ("comments.csv", upload.encode("utf-8"), "text/csv")}
    )
    assert r.status_code == 200
    assert 'data-id="x-1"' in r.text and 'data-id="x-2"' in r.text
    assert "<script>alert(1)</script>" not in r.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    r = keyed.post("/ui/classify", data={"api_key": "k1"}, files={"file": ("c.csv", b"comment\nhello\n", "text/csv")})
    assert r.status_code == 400 and "нет столбца" in r.text
    r = keyed.post(
        "/ui/classify",
        data={"api_key": "k1"},
        files={"file": ("c.txt", "Пахнет газом в подъезде!\n\nСпасибо!\n".encode("cp1251"), "text/plain")},
    )
    assert r.status_code == 200 and r.text.count('class="result-row') == 2
    assert keyed.get("/ui/static/ui.css").status_code == 200
    assert keyed.get("/ui/static/ui.js").headers["content-type"].startswith("text/javascript")
    assert keyed.get("/ui/static/..%2Fapp.py").status_code == 404
    assert keyed.get("/ui/static/nothing.css").status_code == 404


# --------------------------------------------------------------------------------------- the Inbox view
INBOX_TEXTS = [
    "[id123|Марина], вы дура совсем? Читать научитесь",  # mention + insult
    "[club45|Администрация], когда отремонтируют дорогу на улице Ленина?",  # mention + question
    "<img src=x onerror=alert(1)> когда уберут снег во дворе на Мира 3?",  # markup must stay text
    *(f"Когда починят фонарь у дома {n} на улице Садовой?" for n in range(1, 10)),
]


def _post_inbox_events(server: str) -> None:
    from tests.service.fake_vk import DATE, comment_object, vk_event

    for i, text in enumerate(INBOX_TEXTS):  # comment i was written i minutes after DATE: the last is the newest
        body = vk_event("wall_reply_new", comment_object("wall", 9000 + i, text, date=DATE + 60 * i), VK_SECRET)
        r = httpx.post(f"{server}/vk/callback", json=body, timeout=10)
        assert r.status_code == 200 and r.text == "ok"
    deadline = time.monotonic() + 60
    while True:
        page = httpx.get(f"{server}/inbox?limit=100", timeout=10).json()
        if page["total"] == len(INBOX_TEXTS) and all(i["status"] == "classified" for i in page["items"]):
            return
        assert time.monotonic() < deadline, page
        time.sleep(0.2)


def test_inbox_view(server, browser):
    from playwright.sync_api import expect

    _post_inbox_events(server)
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="ru-RU")
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))  # a script error

    page.goto(f"{server}/ui#inbox")
    page.wait_for_load_state("load")
    assert errors == []
    assert page.locator("#view-classify").is_hidden() and page.locator("#view-inbox").is_visible()
    page.wait_for_selector("tr.inbox-row")
    assert page.locator("#inbox-error").is_hidden()
    rows = page.locator("tr.inbox-row")
    assert rows.count() == len(INBOX_TEXTS)  # 12 on a page of 20
    assert page.locator("#inbox-count").inner_text() == f"Показано 1–{len(INBOX_TEXTS)} из {len(INBOX_TEXTS)}"
    texts = [rows.nth(i).locator(".comment").inner_text() for i in range(rows.count())]
    # Newest first; mentions read as the names, never as markup; markup in a text stays text.
    assert texts[-1] == "Марина, вы дура совсем? Читать научитесь"
    assert texts[-2] == "Администрация, когда отремонтируют дорогу на улице Ленина?"
    assert texts[-3] == INBOX_TEXTS[2] and page.locator("#inbox img").count() == 0
    assert "[id" not in page.locator("#inbox").inner_text() and "[club" not in page.locator("#inbox").inner_text()
    insult = rows.nth(len(INBOX_TEXTS) - 1)
    assert insult.get_attribute("data-category") == "insult_commenter"
    assert insult.locator("td.category").inner_text() == "Оскорбление комментатора"
    assert rows.nth(len(INBOX_TEXTS) - 2).locator("td.topic").inner_text() == "Дороги"
    assert insult.locator("a").get_attribute("href") == "https://vk.com/wall-123456_321?reply=9000"

    # Filters go to the server: only the insult is left.
    page.select_option("#inbox-form select[name=category]", "insult_commenter")
    page.click("#inbox-load")
    expect(rows).to_have_count(1)
    assert rows.first.locator(".comment").inner_text().startswith("Марина")
    page.select_option("#inbox-form select[name=category]", "")

    # Pages of 10: 10 rows, then the 2 oldest, then back.
    page.select_option("#inbox-form select[name=limit]", "10")
    page.click("#inbox-load")
    expect(rows).to_have_count(10)
    assert page.locator("#inbox-count").inner_text() == f"Показано 1–10 из {len(INBOX_TEXTS)}"
    assert page.locator("#inbox-prev").is_disabled()
    page.click("#inbox-next")
    expect(rows).to_have_count(2)
    assert page.locator("#inbox-next").is_disabled()
    assert rows.last.locator(".comment").inner_text().startswith("Марина")
    page.click("#inbox-prev")
    expect(rows).to_have_count(10)

    # The other view: the classify form, whose results show mentions as names too (server-rendered).
    page.click("#tab-classify")
    # The switch runs on "hashchange", which the browser fires after the click returns: wait for it.
    expect(page.locator("#view-classify")).to_be_visible()
    expect(page.locator("#view-inbox")).to_be_hidden()
    page.fill("#comments", INBOX_TEXTS[0])
    page.click("#submit")
    page.wait_for_selector("table#results")
    assert page.locator("tr.result-row td.text").first.inner_text().startswith("Марина, вы дура")
    assert dialogs == [] and errors == []
    context.close()
