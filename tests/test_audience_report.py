"""`flask audience report` and `GET /api/audience`: downloads per day, per episode (first
7, 30 and 90 days after publishing) and per app, each total the recount's."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import replace

import pytest

from audience.agents import shipped_agents
from audience.count import count_downloads
from audience.store import read_fetches, write_fetches
from serving.state import app_state

from .audience_support import golden_answers, golden_fetches
from .conftest import make_app

TOKEN = "audience-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TOPIC = "north-korean-defectors"
# The golden log's two files, as two of the sample's episodes.
AS_SAMPLE = {"long.mp3": f"{TOPIC}/1169825816.mp3", "short.mp3": f"{TOPIC}/1022642033.mp3"}
STORY = "1169464713"  # the story enclosing 1169825816.mp3


@pytest.fixture
def app(database_url):
    app = make_app(database_url, INGEST_TOKENS=TOKEN)
    assert app.test_cli_runner().invoke(args=["stories", "sample"]).exit_code == 0
    yield app
    app_state(app).store.engine.dispose()


def store_golden_log(app):
    fetches = [replace(f, episode=AS_SAMPLE[f.episode]) for f in golden_fetches()]
    write_fetches(app_state(app).store.engine, fetches)


def test_the_report_is_the_golden_answers_and_the_recount(app):
    store_golden_log(app)
    answers = golden_answers()
    body = app.test_client().get("/api/audience", headers=AUTH).get_json()
    assert body["downloads"] == answers["downloads"] == 8
    assert {d["day"]: d["downloads"] for d in body["days"]} == answers["days"]
    assert {a["app"]: a["downloads"] for a in body["apps"]} == answers["apps"]
    assert {e["file"]: e["downloads"] for e in body["episodes"]} == {
        AS_SAMPLE[name]: n for name, n in answers["episodes"].items()}
    recount = count_downloads(read_fetches(app_state(app).store.engine), shipped_agents())
    for section in ("days", "apps", "episodes"):
        assert sum(row["downloads"] for row in body[section]) == len(recount)
    [episode] = [e for e in body["episodes"] if e["file"] == AS_SAMPLE["long.mp3"]]
    assert episode["story_id"] == STORY and episode["title"]
    # The lists the numbers were filtered with, as audience/data/VERSION names them.
    assert [v["source"] for v in body["lists"]] == ["github.com/opawg/user-agents-v2",
                                                   "github.com/monperrus/crawler-user-agents"]


def test_days_bound_the_report(app):
    store_golden_log(app)
    client = app.test_client()
    body = client.get("/api/audience?from=2026-03-02&to=2026-03-02", headers=AUTH).get_json()
    assert body["downloads"] == 2 and [d["day"] for d in body["days"]] == ["2026-03-02"]
    assert client.get("/api/audience?to=2026-02-28", headers=AUTH).get_json()["downloads"] == 0


def test_an_episodes_first_7_30_and_90_days(app):
    engine = app_state(app).store.engine
    published = app_state(app).store.get_story(STORY).published.astimezone(dt.UTC).replace(tzinfo=None)
    [template] = [f for f in golden_fetches() if f.method == "GET" and f.status == 200 and f.episode == "long.mp3"][:1]
    after_days = [1, 10, 40, 100]
    write_fetches(engine, [
        replace(template, at=published + dt.timedelta(days=days), listener=f"listener{days}",
                episode=AS_SAMPLE["long.mp3"])
        for days in after_days])
    body = app.test_client().get(f"/api/audience?topic={TOPIC}", headers=AUTH).get_json()
    [episode] = body["episodes"]
    assert episode["downloads"] == 4
    assert episode["first_days"] == {"7": 1, "30": 2, "90": 3}


def test_a_topic_counts_only_the_files_its_stories_enclose(app):
    store_golden_log(app)
    write_fetches(app_state(app).store.engine, [replace(f, episode="elsewhere/other.mp3") for f in golden_fetches()])
    client = app.test_client()
    assert client.get("/api/audience", headers=AUTH).get_json()["downloads"] == 16
    assert client.get(f"/api/audience?topic={TOPIC}", headers=AUTH).get_json()["downloads"] == 8


def test_the_command_says_the_same_as_the_api(app):
    store_golden_log(app)
    runner = app.test_cli_runner()
    api = app.test_client().get("/api/audience", headers=AUTH).get_json()
    as_json = runner.invoke(args=["audience", "report", "--json"])
    assert as_json.exit_code == 0 and json.loads(as_json.output) == api
    as_csv = runner.invoke(args=["audience", "report", "--csv", "--from", "2026-03-01", "--to", "2026-03-02"])
    rows = list(csv.DictReader(io.StringIO(as_csv.output)))
    for section in ("day", "episode", "app"):
        assert sum(int(r["downloads"]) for r in rows if r["section"] == section) == 8
    text = runner.invoke(args=["audience", "report", "--topic", TOPIC])
    assert text.exit_code == 0 and text.output.startswith("8 download(s)") and "Apple Podcasts" in text.output
    assert runner.invoke(args=["audience", "report", "--topic", "nope"]).exit_code != 0
    assert runner.invoke(args=["audience", "report", "--from", "2026-03-02", "--to", "2026-03-01"]).exit_code != 0
    assert runner.invoke(args=["audience", "report", "--from", "yesterday"]).exit_code != 0


@pytest.mark.parametrize("query, headers, status", [
    ("", {}, 401),
    ("", {"Authorization": "Bearer wrong"}, 401),
    ("?from=2026-13-01", AUTH, 400),
    ("?from=2026-03-02&to=2026-03-01", AUTH, 400),
    ("?topic=no-such-topic", AUTH, 404),
])
def test_refusals(app, query, headers, status):
    assert app.test_client().get(f"/api/audience{query}", headers=headers).status_code == status


def test_off_without_tokens(sqlite_url):
    app = make_app(sqlite_url)
    assert app.test_client().get("/api/audience", headers=AUTH).status_code == 403


def test_no_csv_cell_reaches_a_spreadsheet_as_a_formula(app):
    """A file's name and a story's title are anyone's text: a cell starting with = + - @,
    a tab or a carriage return gets a leading quote, as the desk's CSVs do (OWASP)."""
    store = app_state(app).store
    story = store.get_story(STORY)
    store.write([replace(story, title='=HYPERLINK("https://evil.example","Open")')])
    hostile = [f"{TOPIC}/1169825816.mp3", "+1+1.mp3", "-2+3.mp3", "@SUM(A1).mp3", "\tx.mp3", "\rx.mp3"]
    [template] = [f for f in golden_fetches() if f.method == "GET" and f.status == 200][:1]
    write_fetches(store.engine, [replace(template, episode=name, listener=f"l{n}")
                                 for n, name in enumerate(hostile)])
    result = app.test_cli_runner().invoke(args=["audience", "report", "--csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output, newline="")))
    episodes = {row["key"]: row for row in rows if row["section"] == "episode"}
    assert set(episodes) == {hostile[0]} | {"'" + name for name in hostile[1:]}
    assert episodes[hostile[0]]["title"] == '\'=HYPERLINK("https://evil.example","Open")'
    for row in rows:
        for value in row.values():
            assert value[:1] not in ("=", "+", "-", "@", "\t", "\r"), row
    # Numbers stay numbers.
    assert all(int(row["downloads"]) >= 0 for row in rows)
