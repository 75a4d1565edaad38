"""The desk in Chromium, as an editor uses it, from what `make run` sets up: the app
under gunicorn on a migrated store with the sample topic, and an account made with
`flask desk add-user`. Sign in, find a story by a word, correct it and see its feed
change, run the linter on a topic and read its problems, sync a source, move a topic, read the audience,
add a member (their secret shown once) and revoke them;
with the keyboard alone, axe-core finding nothing on any page in light and dark, and
pages that fit 375 px. Screenshots go to test-artifacts/desk-*.png."""

from __future__ import annotations

import json
import os
import re
import time

import pytest
import requests

from stories.sample import SAMPLE_MEDIA

from .browser_support import ARTIFACTS, CHROMIUM
from .conftest import story_record
from .desk_support import EDITOR, PASSWORD, SAMPLE_TOPIC, SECRET
from .servers import Gunicorn, flask_cli, service_env
from .test_player_features import axe_script, axe_violations  # noqa: F401 (a fixture)

NEW_TITLE = "Defectors face deportation, corrected on the desk"
INGEST_TOKEN = "desk-browser-test-token"
BROKEN = "8001"  # a story whose audio is nowhere: the linter has a problem to show
# Three listeners' apps (the address is the test's own for all): Apple's, Overcast, Spotify.
LISTENERS = ["Podcasts/1650.20 CFNetwork/1404.0.5 Darwin/22.3.0",
             "Overcast/3.0 (+http://overcast.fm/; iOS podcast app)", "Spotify/8.8.12 iOS/16.5 (iPhone14,2)"]

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Chromium is not installed")]


@pytest.fixture(scope="module")
def upstream_records():
    from .upstream import Upstream

    server = Upstream()
    server.serve("/records.json", json.dumps({"stories": [
        story_record(id="7001", title="Wire story from upstream", topics=["wire"]),
        story_record(id="7002", url="not a url", topics=["wire"])]}))
    yield server
    server.close()


@pytest.fixture(scope="module")
def desk(tmp_path_factory, upstream_records):
    folder = tmp_path_factory.mktemp("desk")
    sources = folder / "sources.toml"
    sources.write_text(f'[[source]]\nname = "wire"\nurl = "{upstream_records.url("/records.json")}"\n'
                       'kind = "records"\nallow_private = true\n', encoding="utf-8")
    env = service_env(DATABASE_URL=f"sqlite:///{folder / 'desk.sqlite3'}", DESK="on", SECRET_KEY=SECRET,
                      SOURCES_FILE=str(sources), SOURCES_CACHE_PATH=str(folder / "cache.sqlite3"),
                      SOURCES_RETRIES="0", REDIS_URL="", FAST_PATH="on", INGEST_TOKENS=INGEST_TOKEN,
                      AUDIENCE_FLUSH_SECONDS="0.2")
    server = Gunicorn(env, workers=1)
    server.env["SITE_URL"] = server.base + "/"
    # What `make run` does, then the account.
    for args, stdin in ((("db", "upgrade"), None), (("stories", "sample", "--if-empty"), None),
                        (("desk", "add-user", EDITOR, "--password-stdin"), PASSWORD + "\n")):
        done = flask_cli(server.env, *args, stdin=stdin)
        assert done.returncode == 0, done.stderr
    with server:
        yield server.base



def tab_to(page, selector: str, presses: int = 60) -> None:
    """Presses Tab until the element has the focus: the keyboard alone reaches it."""
    target = page.locator(selector).first
    for _ in range(presses):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            return
    raise AssertionError(f"Tab never reached {selector}")


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"desk-{name}.png"), full_page=True)


def sign_in(page, base: str) -> None:
    page.goto(f"{base}/desk/")
    assert "/desk/login" in page.url
    tab_to(page, "#name")
    page.keyboard.type(EDITOR)
    tab_to(page, "#password")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/desk/")


def wait_until_text(page, text: str, timeout: float = 90) -> None:
    """The job pages reload themselves (a Refresh header) until the job is done."""
    # A locator, not wait_for_function: the CSP allows no string evaluated as script.
    page.get_by_text(text).first.wait_for(timeout=timeout * 1000)


def test_an_editor_walks_every_flow_with_the_keyboard(desk, browser):
    ctx = browser.new_context(viewport={"width": 1000, "height": 800})
    page = ctx.new_page()
    try:
        sign_in(page, desk)
        shot(page, "overview")
        assert "Stories About north korean defectors" in page.inner_text("main")

        # Find a story by a word, open it, correct it, see its feed change.
        tab_to(page, "a[href='/desk/stories']")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/desk/stories$"))
        tab_to(page, "#q")
        page.keyboard.type("deportation")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"q=deportation"))
        shot(page, "stories")
        result = page.locator("ol.results a").first
        assert "deportation" in result.inner_text()
        tab_to(page, "ol.results a")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/desk/stories/\d+$"))
        story_id = page.url.rsplit("/", 1)[1]
        tab_to(page, "#f-title")
        page.keyboard.press("Control+A")
        page.keyboard.type(NEW_TITLE)
        tab_to(page, "form.stack button[type=submit]")
        page.keyboard.press("Enter")
        wait_until_text(page, "The story is saved")
        shot(page, "story")
        feed = requests.get(f"{desk}/topics/{SAMPLE_TOPIC}/rss.xml", timeout=10).text
        assert NEW_TITLE in feed
        assert story_id in feed

        # Run the linter on the topic and read its problems.
        broken = story_record(id=BROKEN, topics=[SAMPLE_TOPIC], title="Audio that is not there")
        broken["audio"][0]["url"] = f"{desk}/media/nowhere/{BROKEN}.mp3"
        answer = requests.put(f"{desk}/api/stories/{BROKEN}", json=broken, timeout=10,
                              headers={"Authorization": f"Bearer {INGEST_TOKEN}"})
        assert answer.status_code == 201, answer.text
        page.goto(f"{desk}/desk/topics/{SAMPLE_TOPIC}")
        tab_to(page, "form[action$='/check'] button")
        page.keyboard.press("Enter")
        wait_until_text(page, "Last run done")
        shot(page, "topic")
        assert re.search(r"Last check .*: [1-9]\d* error\(s\), \d+ warning\(s\)", page.inner_text("main"))
        problems = page.locator("table.problems tbody tr").all_inner_texts()
        assert any(BROKEN in row and "audio[0]" in row for row in problems), problems

        # Sync a source.
        page.goto(f"{desk}/desk/sources")
        tab_to(page, "form[action$='/wire/sync'] button")
        page.keyboard.press("Enter")
        wait_until_text(page, "Last run done")
        shot(page, "sources")
        text = page.inner_text("main")
        assert "wire: fetched; 1 added" in text and "skipped:" in text and "7002" in text

        # Move the topic; its old feed answers 301 to the new one.
        page.goto(f"{desk}/desk/topics/{SAMPLE_TOPIC}")
        tab_to(page, "#f-new_slug")
        page.keyboard.type("defectors")
        page.keyboard.press("Enter")
        page.wait_for_url(f"{desk}/desk/topics/defectors")
        old = requests.get(f"{desk}/topics/{SAMPLE_TOPIC}/rss.xml", allow_redirects=False, timeout=10)
        assert old.status_code == 301
        assert old.headers["Location"] == f"{desk}/topics/defectors/rss.xml"
        assert NEW_TITLE in requests.get(old.headers["Location"], timeout=10).text

        # Sign out, with the keyboard too.
        tab_to(page, "header form button")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/desk/login"))
        shot(page, "login")
    finally:
        ctx.close()


def test_an_editor_reads_the_audience_with_the_keyboard(desk, browser):
    """Listens through /media/ (recorded by the app under gunicorn, written by its thread),
    then the audience page, its range form and a CSV, as /api/audience counts them."""
    urls = [f"/media/{SAMPLE_TOPIC}/{f.name}" for f in sorted((SAMPLE_MEDIA / SAMPLE_TOPIC).glob("*.mp3"))][:3]
    assert len(urls) == 3
    for n, url in enumerate(urls):
        for agent in LISTENERS[:n + 1]:
            assert requests.get(desk + url, headers={"User-Agent": agent}, timeout=30).status_code == 200
    audience = {}
    for _ in range(100):  # written every 0.2 s
        audience = requests.get(f"{desk}/api/audience", headers={"Authorization": f"Bearer {INGEST_TOKEN}"},
                                timeout=10).json()
        if audience["downloads"] >= 6:
            break
        time.sleep(0.1)
    assert audience["downloads"] == 6, audience
    ctx = browser.new_context(viewport={"width": 1000, "height": 800})
    page = ctx.new_page()
    try:
        sign_in(page, desk)
        tab_to(page, "a[href='/desk/audience']")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/desk/audience$"))
        assert "6 download(s)" in page.inner_text("main")
        # The range form, with the keyboard: the topic, then Show.
        tab_to(page, "#audience-topic")
        page.keyboard.press("ArrowDown")
        tab_to(page, "form.range button[type=submit]")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/desk/audience\?from=.*&topic="))
        main = page.inner_text("main")
        assert "6 download(s)" in main and "Apple Podcasts" in main and "Overcast" in main
        shot(page, "audience")
        link = page.locator("a[href*='/desk/audience/episodes.csv']").first
        tab_to(page, "a[href*='/desk/audience/episodes.csv']")
        answer = ctx.request.get(desk + link.get_attribute("href"))
        assert answer.headers["content-type"] == "text/csv; charset=utf-8"
        rows = answer.text().splitlines()
        assert sum(int(row.split(",")[1]) for row in rows[1:]) == 6
        assert {e["file"] for e in audience["episodes"]} == {row.split(",")[0] for row in rows[1:]}
    finally:
        ctx.close()


def test_an_editor_adds_a_member_sees_the_secret_once_and_revokes_them_with_the_keyboard(desk, browser):
    """The member's feed URL, as the desk shows it, answers 200, then 410 once revoked; the
    secret is on no page after its own, and not in gunicorn's log (its access log included)."""
    ctx = browser.new_context(viewport={"width": 1000, "height": 800})
    page = ctx.new_page()
    try:
        sign_in(page, desk)
        # Whichever slug the sample topic has now (another test moves it).
        topic = page.locator("table.data tbody th a").first.get_attribute("href").rsplit("/", 1)[1]
        tab_to(page, "a[href='/desk/members']")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/desk/members$"))
        tab_to(page, "#member-name")
        page.keyboard.type("Keyboard Listener")
        page.keyboard.press("Enter")
        wait_until_text(page, "Keyboard Listener #")
        assert "is added" in page.inner_text("h1")
        secret = page.input_value("#secret")
        assert len(secret) == 32
        feed = f"{desk}/m/{secret}/topics/{topic}/rss.xml"
        assert page.locator(f"a[href='{feed}']").count() == 1
        shot(page, "member-secret")
        assert requests.get(feed, timeout=10).status_code == 200
        # Back to the list, with the keyboard: the secret is not there, nor will be again.
        tab_to(page, "main a[href='/desk/members']")
        with page.expect_navigation():  # to the same URL the form was posted to
            page.keyboard.press("Enter")
        assert secret not in page.content()
        row = page.locator("table.members tbody tr", has_text="Keyboard Listener")
        assert "live" in row.inner_text()
        # Revoke: opening the confirmation, then its button.
        tab_to(page, "table.members details.confirm summary")
        page.keyboard.press("Enter")
        tab_to(page, "table.members form[action$='/revoke'] button")
        page.keyboard.press("Enter")
        wait_until_text(page, "is revoked: their feeds answer 410")
        assert page.url == f"{desk}/desk/members"
        assert "revoked" in page.locator("table.members tbody tr", has_text="Keyboard Listener").inner_text()
        shot(page, "members")
        assert requests.get(feed, timeout=10).status_code == 410
        assert secret not in page.content()
    finally:
        ctx.close()
    port = desk.rsplit(":", 1)[1]
    log = (ARTIFACTS / f"gunicorn-{port}.log").read_text()
    assert "/desk/members" in log and "/m/" in log  # the requests were logged ...
    assert secret not in log  # ... without the secret


DESK_PAGES = {"overview": "/desk/", "stories": "/desk/stories?q=defectors", "topic": "/desk/topics/{topic}",
              "sources": "/desk/sources", "story": "/desk/stories/{story}", "audience": "/desk/audience",
              # After the walk: the moved topic, with the linter's problems listed.
              "moved-topic": f"/desk/topics/{SAMPLE_TOPIC}"}


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_violations_and_every_page_fits_a_phone(desk, browser, axe_script, scheme):  # noqa: F811
    ctx = browser.new_context(viewport={"width": 375, "height": 740}, color_scheme=scheme)
    ctx.add_init_script(axe_script)  # an init script, which the pages' CSP does not govern
    page = ctx.new_page()
    found, too_wide = {}, {}
    try:
        page.goto(f"{desk}/desk/login")
        found["login"] = axe_violations(page)
        sign_in(page, desk)
        # Whichever slug the topic has now (the other test moves it).
        topic = page.locator("table.data tbody th a").first.get_attribute("href").rsplit("/", 1)[1]
        page.goto(f"{desk}/desk/stories")
        story = page.locator("ol.results a").first.get_attribute("href").rsplit("/", 1)[1]
        for name, path in DESK_PAGES.items():
            url = desk + path.format(topic=topic, story=story)
            page.goto(url)
            page.wait_for_load_state("load")
            found[path] = axe_violations(page)
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > 375:
                too_wide[path] = width
            page.screenshot(path=str(ARTIFACTS / f"desk-phone-{scheme}-{name}.png"), full_page=True)
        # The members page's two answers: a new member's secret, and the list with a live
        # member's confirmation open.
        page.goto(f"{desk}/desk/members")
        page.fill("#member-name", f"Phone Listener {scheme}")
        page.click("form[action='/desk/members'] button[type=submit]")
        page.wait_for_selector("#secret")
        for name in ("member-secret", "members"):
            if name == "members":
                page.goto(f"{desk}/desk/members")
                page.locator("table.members details.confirm summary").first.click()
            found[name] = axe_violations(page)
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > 375:
                too_wide[name] = width
            page.screenshot(path=str(ARTIFACTS / f"desk-phone-{scheme}-{name}.png"), full_page=True)
        problems = {p: v for p, v in found.items() if v}
        assert problems == {}, json.dumps(problems, indent=1)
        assert too_wide == {}
    finally:
        ctx.close()
