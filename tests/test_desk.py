"""The editors' desk (/desk) through Flask's test client: accounts and sessions, the
overview, a topic's linter run, settings, move and purge, story search and correction,
a source's sync. The hostile side is tests/test_desk_hostile.py; Chromium walks it in
tests/test_desk_browser.py."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from desk.accounts import Accounts
from desk.checks import FeedChecks
from desk.schema import desk_users
from desk.search import Query, StorySearch
from serving.state import app_state
from stories.errors import SettingsError
from stories.model import Topic
from stories.validate import parse_story

from .conftest import make_app, story_record
from .desk_support import (
    EDITOR,
    PASSWORD,
    SAMPLE_TOPIC,
    add_editor,
    desk_app,
    sign_in,
    signed_in,
    token,
    wait_for_job,
)


@pytest.fixture
def app(sqlite_url):
    app = desk_app(sqlite_url)
    add_editor(app)
    yield app
    app_state(app).store.engine.dispose()


@pytest.fixture
def editor(sample_app):
    return signed_in(sample_app)


# -- start-up and accounts ---------------------------------------------------------------


def test_the_desk_on_without_a_secret_key_stops_start_up_naming_it(sqlite_url):
    with pytest.raises(SettingsError, match="SECRET_KEY is not set"):
        make_app(sqlite_url, DESK="on")
    with pytest.raises(SettingsError, match="SECRET_KEY .*at least 32 characters"):
        make_app(sqlite_url, DESK="on", SECRET_KEY="short")


def test_without_the_desk_the_app_starts_and_desk_urls_are_not_found(sqlite_url):
    app = make_app(sqlite_url)
    assert app.test_client().get("/desk/login").status_code == 404
    assert app.test_client().get("/desk/").status_code == 404


def test_add_user_hashes_with_scrypt_and_refuses_a_short_password_or_a_second_account(app):
    with app_state(app).store.engine.connect() as conn:
        stored = conn.execute(sa.select(desk_users.c.password_hash)).scalar_one()
    assert stored.startswith("scrypt:") and PASSWORD not in stored
    runner = app.test_cli_runner()
    short = runner.invoke(args=["desk", "add-user", "bob", "--password-stdin"], input="short\n")
    assert short.exit_code == 1 and "12 to 1024 characters" in short.output
    again = runner.invoke(args=["desk", "add-user", EDITOR, "--password-stdin"], input=PASSWORD + "\n")
    assert again.exit_code == 1 and "already" in again.output
    assert runner.invoke(args=["desk", "users"]).output == f"{EDITOR}\n"


def test_signing_in_sets_a_scoped_http_only_lax_cookie_and_leads_to_the_page_asked_for(app):
    client = app.test_client()
    answer = sign_in(client, next="/desk/stories?q=x")
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/desk/stories?q=x"
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/desk" in cookie
    assert "Secure" not in cookie  # SITE_URL is http here
    assert client.get("/desk/").status_code == 200


def test_the_cookie_is_secure_when_the_site_is_https(sqlite_url):
    app = desk_app(sqlite_url, SITE_URL="https://storyfeed.test/")
    add_editor(app)
    assert "; Secure" in sign_in(app.test_client()).headers["Set-Cookie"]


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(app):
    client = app.test_client()
    for name, password in ((EDITOR, "wrong password!"), ("nobody", PASSWORD)):
        answer = sign_in(client, name, password)
        assert answer.status_code == 401
        assert "do not match an account" in answer.get_data(as_text=True)
    assert client.get("/desk/").status_code == 303


def test_a_session_ends_after_its_lifetime(app):
    client = app.test_client()
    sign_in(client)
    with client.session_transaction() as session:
        session["at"] = time.time() - 481 * 60
    answer = client.get("/desk/")
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/desk/login")


@pytest.mark.parametrize("command", ["remove-user", "set-password"])
def test_removing_an_account_or_changing_its_password_ends_its_sessions(app, command):
    client = app.test_client()
    sign_in(client)
    assert client.get("/desk/").status_code == 200
    result = app.test_cli_runner().invoke(args=["desk", command, EDITOR, *(
        ["--password-stdin"] if command == "set-password" else [])], input="a brand new password\n")
    assert result.exit_code == 0, result.output
    assert client.get("/desk/").status_code == 303
    if command == "set-password":
        assert sign_in(client, password="a brand new password").status_code == 303
        assert Accounts(app_state(app).store.engine).get(EDITOR).generation == 2


def test_signing_out_ends_the_session(app):
    client = app.test_client()
    sign_in(client)
    answer = client.post("/desk/logout", data={"csrf_token": token(client)})
    assert answer.status_code == 303
    assert client.get("/desk/").status_code == 303


# -- the overview -----------------------------------------------------------------------


def test_the_overview_shows_each_topic_its_count_feeds_and_linter_status(sample_app, editor):
    store = app_state(sample_app).store
    FeedChecks(store.engine).save([SAMPLE_TOPIC], [
        {"severity": "error", "topic": SAMPLE_TOPIC, "story": "1", "field": "audio[0].url", "message": "gone"},
        {"severity": "warning", "topic": SAMPLE_TOPIC, "story": "", "field": "image", "message": "small"}])
    page = editor.get("/desk/").get_data(as_text=True)
    assert "Stories About north korean defectors" in page
    assert f">{store.count_stories(SAMPLE_TOPIC)}</td>" in page
    assert f"http://storyfeed.test/topics/{SAMPLE_TOPIC}/podcast.xml" in page
    assert "1 error(s), 1 warning(s)" in page
    assert "Stories published per day" in page and "<svg" in page


def test_the_stories_per_day_csv_counts_what_the_store_holds(sample_app, editor):
    store = app_state(sample_app).store
    answer = editor.get(f"/desk/charts/stories.csv?topic={SAMPLE_TOPIC}&from=2016-01-01&to=2025-12-31")
    assert answer.status_code == 200 and answer.content_type == "text/csv; charset=utf-8"
    rows = answer.get_data(as_text=True).splitlines()
    assert rows[0] == "date,stories"
    assert sum(int(row.split(",")[1]) for row in rows[1:]) == store.count_stories(SAMPLE_TOPIC)
    assert editor.get("/desk/charts/stories.csv?from=2020-01-01&to=2010-01-01").status_code == 400
    for dates in ("from=1900-01-01&to=2020-01-01", "from=9999-12-25&to=9999-12-31", "to=0001-01-01",
                  "from=2020-13-01", "from=x"):
        assert editor.get(f"/desk/charts/stories.csv?{dates}").status_code == 400, dates
        assert editor.get(f"/desk/?{dates}").status_code == 400, dates


# -- a topic ----------------------------------------------------------------------------


def test_running_the_linter_from_the_topic_page_runs_in_the_background_and_lists_problems(sample_app, editor):
    answer = editor.post(f"/desk/topics/{SAMPLE_TOPIC}/check", data={"csrf_token": token(editor)})
    assert answer.status_code == 303
    page = editor.get(f"/desk/topics/{SAMPLE_TOPIC}")
    if "Running since" in page.get_data(as_text=True):
        assert page.headers["Refresh"] == "2"
    job = wait_for_job(sample_app, "feeds-check", SAMPLE_TOPIC)
    assert job.status == "done", job.message
    check = FeedChecks(app_state(sample_app).store.engine).get(SAMPLE_TOPIC)
    assert check is not None and check.problems  # storyfeed.test is no host to fetch from
    page = editor.get(f"/desk/topics/{SAMPLE_TOPIC}")
    assert "Refresh" not in page.headers
    text = page.get_data(as_text=True)
    assert f"{check.errors} error(s), {check.warnings} warning(s)" in text
    assert check.problems[0]["field"] in text
    assert job.message in text


def test_the_feeds_check_command_keeps_its_results_for_the_desk(sample_app):
    result = sample_app.test_cli_runner().invoke(args=["feeds", "check", "--topic", SAMPLE_TOPIC,
                                                       "--max-requests", "3"])
    check = FeedChecks(app_state(sample_app).store.engine).get(SAMPLE_TOPIC)
    assert check is not None
    assert check.errors == sum(line.startswith("error:") for line in result.output.splitlines())


def test_podcast_settings_are_validated_as_the_api_does_with_problems_by_their_fields(sample_app, editor):
    answer = editor.post(f"/desk/topics/{SAMPLE_TOPIC}/settings", data={
        "csrf_token": token(editor), "title": "Defectors", "owner_email": "not an address",
        "category": "News"})
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert 'id="p-owner_email"' in page and "is not an e-mail address" in page
    assert app_state(sample_app).store.get_topic(SAMPLE_TOPIC).title != "Defectors"
    answer = editor.post(f"/desk/topics/{SAMPLE_TOPIC}/settings", data={
        "csrf_token": token(editor), "title": "Defectors", "owner_email": "desk@example.org",
        "category": "News", "explicit": "on"})
    assert answer.status_code == 303
    topic = app_state(sample_app).store.get_topic(SAMPLE_TOPIC)
    assert (topic.title, topic.owner_email, topic.explicit) == ("Defectors", "desk@example.org", True)


def test_moving_a_topic_takes_its_stories_and_its_old_urls_answer_301(sample_app, editor):
    store = app_state(sample_app).store
    count = store.count_stories(SAMPLE_TOPIC)
    answer = editor.post(f"/desk/topics/{SAMPLE_TOPIC}/move",
                         data={"csrf_token": token(editor), "new_slug": "defectors"})
    assert answer.status_code == 303 and answer.headers["Location"] == "/desk/topics/defectors"
    assert store.count_stories("defectors") == count
    old = sample_app.test_client().get(f"/topics/{SAMPLE_TOPIC}/rss.xml")
    assert old.status_code == 301
    assert old.headers["Location"] == "http://storyfeed.test/topics/defectors/rss.xml"
    # Back again would make a loop: refused next to the field.
    answer = editor.post("/desk/topics/defectors/move",
                         data={"csrf_token": token(editor), "new_slug": SAMPLE_TOPIC})
    assert answer.status_code == 422 and "loop" in answer.get_data(as_text=True)


def test_a_move_to_a_slug_that_is_none_is_refused_by_the_field(sample_app, editor):
    answer = editor.post(f"/desk/topics/{SAMPLE_TOPIC}/move",
                         data={"csrf_token": token(editor), "new_slug": "Not A Slug"})
    assert answer.status_code == 422
    assert 'id="p-new_slug"' in answer.get_data(as_text=True)


def test_purging_a_topic_moves_its_version_so_cached_renders_are_made_again(sample_app, editor):
    store = app_state(sample_app).store
    before, changed = store.version(SAMPLE_TOPIC), store.latest(SAMPLE_TOPIC).changed_at
    answer = editor.post(f"/desk/topics/{SAMPLE_TOPIC}/purge", data={"csrf_token": token(editor)})
    assert answer.status_code == 303
    assert store.version(SAMPLE_TOPIC) > before
    assert store.latest(SAMPLE_TOPIC).changed_at == changed  # nothing in the feeds changed


# -- stories ----------------------------------------------------------------------------


def write(store, **fields):
    story, _ = parse_story(story_record(**fields))
    store.write(stories=[story], topics=[Topic.from_slug(slug) for slug in story.topics])


def test_search_finds_by_words_of_title_and_teaser_on_each_backend(store):
    write(store, id="1", title="Defectors cross the border", teaser="A long walk.", topics=["world"],
          published="2024-01-02T10:00:00Z")
    write(store, id="2", title="Harvest report", teaser="Rice and defectors' families",
          topics=["farm"], published="2024-03-02T10:00:00Z")
    write(store, id="3", title="Élection à Séoul", teaser="", topics=["world"],
          published="2024-05-02T10:00:00Z")
    search = StorySearch(store.engine, page_size=1)

    def ids(**query) -> list[str]:
        found, page = [], 1
        while True:
            results = search.find(Query(page=page, **query))
            found += [s.id for s in results.stories]
            if not results.has_more:
                return found
            page += 1

    assert ids(words="defectors") == ["2", "1"]
    assert ids(words="defect") == []  # whole words
    assert ids(words="border defectors") == ["1"]
    assert ids(words="defectors", topic="farm") == ["2"]
    assert ids(words="", topic="world") == ["3", "1"]
    assert ids(since=datetime(2024, 2, 1), until=datetime(2024, 4, 1)) == ["2"]
    assert ids(words="seoul") == (["3"] if store.engine.dialect.name == "sqlite" else [])
    # A later write is found by its new words, no longer by its old ones.
    write(store, id="1", title="Walkers", teaser="", topics=["world"], published="2024-01-02T10:00:00Z")
    assert ids(words="border") == []
    assert ids(words="walkers") == ["1"]
    store.delete_story("1")
    assert ids(words="walkers") == []
    # Search engines' operators are words here, never syntax.
    for words in ('"', "defectors OR harvest", "NEAR(a b)", "a:*", "!", "*", "'", "- -", "^x"):
        search.find(Query(words=words))


def test_the_stories_page_lists_matches_with_paging(sample_app, editor):
    page = editor.get("/desk/stories?q=korea").get_data(as_text=True)
    assert "/desk/stories/" in page and "No story matches" not in page
    assert "No story matches" in editor.get("/desk/stories?q=zzzzqqq").get_data(as_text=True)
    assert editor.get("/desk/stories?page=x").status_code == 400
    for dates in ("from=yesterday", "to=9999-12-31", "from=0001-01-01", "page=" + "9" * 5000):
        assert editor.get(f"/desk/stories?{dates}").status_code == 400, dates


def test_correcting_a_story_changes_its_feed(sample_app, editor):
    store = app_state(sample_app).store
    story = next(store.iter_stories(SAMPLE_TOPIC))
    path = f"/desk/stories/{story.id}"
    values = {"csrf_token": token(editor, path), "title": "A corrected title", "teaser": story.teaser,
              "url": story.url, "published": story.published.isoformat(), "topics": ", ".join(story.topics),
              "note": ""}
    bad = editor.post(path, data={**values, "url": "javascript:alert(1)"})
    assert bad.status_code == 422
    assert 'id="p-url"' in bad.get_data(as_text=True)
    assert store.get_story(story.id).title == story.title
    answer = editor.post(path, data=values)
    assert answer.status_code == 303
    assert store.get_story(story.id).title == "A corrected title"
    feed = sample_app.test_client().get(f"/topics/{SAMPLE_TOPIC}/rss.xml").get_data(as_text=True)
    assert "A corrected title" in feed


# -- sources ----------------------------------------------------------------------------


@pytest.fixture
def sources_app(sqlite_url, tmp_path, upstream):
    upstream.serve("/records.json", json.dumps({"stories": [
        story_record(id="5001", title="From upstream", topics=["upstream"]),
        story_record(id="5002", url="ftp://nope", topics=["upstream"])]}))
    path = tmp_path / "sources.toml"
    path.write_text(f'[[source]]\nname = "wire"\nurl = "{upstream.url("/records.json")}"\n'
                    'kind = "records"\nallow_private = true\n', encoding="utf-8")
    app = desk_app(sqlite_url, SOURCES_FILE=str(path), SOURCES_CACHE_PATH=str(tmp_path / "cache.sqlite3"),
                   SOURCES_RETRIES="0")
    add_editor(app)
    yield app
    app_state(app).store.engine.dispose()


def test_sync_now_pulls_one_source_and_shows_its_result_and_skipped_records(sources_app):
    client = sources_app.test_client()
    sign_in(client)
    page = client.get("/desk/sources").get_data(as_text=True)
    assert "wire" in page and "not run yet" in page
    answer = client.post("/desk/sources/wire/sync", data={"csrf_token": token(client, "/desk/sources")})
    assert answer.status_code == 303
    job = wait_for_job(sources_app, "sync", "wire")
    assert job.status == "done", job.message
    assert app_state(sources_app).store.get_story("5001") is not None
    page = client.get("/desk/sources").get_data(as_text=True)
    assert "wire: fetched; 1 added" in page
    assert "skipped: " in page and "5002" in page and "url" in page
    assert client.post("/desk/sources/nope/sync",
                       data={"csrf_token": token(client, "/desk/sources")}).status_code == 404


def test_a_second_click_while_a_job_runs_starts_no_second_one(sample_app):
    from desk.jobs import Jobs

    jobs = Jobs(app_state(sample_app).store.engine)
    release = __import__("threading").Event()
    first = jobs.start("test", "t", EDITOR, lambda progress: release.wait(10) and "ok")
    second = jobs.start("test", "t", EDITOR, lambda progress: "never")
    assert second.id == first.id
    release.set()
    assert wait_for_job(sample_app, "test", "t").message == "ok"


def test_a_job_that_raises_ends_failed_with_its_reason(sample_app):
    from desk.jobs import Jobs

    def work(progress):
        raise RuntimeError("the upstream fell over")

    Jobs(app_state(sample_app).store.engine).start("test", "boom", EDITOR, work)
    job = wait_for_job(sample_app, "test", "boom")
    assert (job.status, job.message) == ("failed", "RuntimeError: the upstream fell over")
    assert job.finished_at - job.started_at < timedelta(seconds=30)


@pytest.mark.slow
def test_a_process_with_the_desk_on_and_no_secret_key_stops_with_one_line_naming_it(sqlite_url):
    from .servers import flask_cli, service_env

    env = service_env(DATABASE_URL=sqlite_url, DESK="on")
    env.pop("SECRET_KEY", None)
    done = flask_cli(env, "desk", "users")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "SECRET_KEY is not set" in lines[0], done.stderr
    env["SECRET_KEY"] = "s" * 32
    assert flask_cli(env, "desk", "users").returncode == 0


def test_the_desk_works_alike_on_each_backend(database_url):
    """Accounts, the throttle's upserts, jobs, stored checks, the chart's day counts and
    a correction, on SQLite and PostgreSQL."""
    app = desk_app(database_url)
    try:
        add_editor(app)
        assert app.test_cli_runner().invoke(args=["stories", "sample"]).exit_code == 0
        client = app.test_client()
        for _ in range(2):
            assert sign_in(client, EDITOR, "not the password").status_code == 401
        assert sign_in(client).status_code == 303
        overview = client.get("/desk/")
        assert overview.status_code == 200
        csv_rows = client.get("/desk/charts/stories.csv?from=2017-01-01&to=2023-12-31").get_data(as_text=True)
        assert sum(int(r.split(",")[1]) for r in csv_rows.splitlines()[1:]) == 7
        client.post(f"/desk/topics/{SAMPLE_TOPIC}/check", data={"csrf_token": token(client)})
        assert wait_for_job(app, "feeds-check", SAMPLE_TOPIC).status == "done"
        assert FeedChecks(app_state(app).store.engine).get(SAMPLE_TOPIC) is not None
        assert "deportation" in client.get("/desk/stories?q=deportation").get_data(as_text=True)
        store = app_state(app).store
        story = next(store.iter_stories(SAMPLE_TOPIC))
        path = f"/desk/stories/{story.id}"
        answer = client.post(path, data={"csrf_token": token(client, path), "title": "Fixed on the desk",
                                         "url": story.url, "published": story.published.isoformat(),
                                         "topics": SAMPLE_TOPIC})
        assert answer.status_code == 303
        assert "Fixed on the desk" in client.get(f"/topics/{SAMPLE_TOPIC}/atom.xml").get_data(as_text=True)
        assert "Fixed on the desk" in client.get("/desk/stories?q=fixed").get_data(as_text=True)
    finally:
        app_state(app).store.engine.dispose()
