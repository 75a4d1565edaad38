"""The desk's audience page (/desk/audience): the audience report's downloads per day, per
episode (with the first 7, 30 and 90 days) and per app as charts, tables and CSVs, the
same numbers as `flask audience report`; two years drawn within a second. The hostile
side (anonymous access, markup, bad ranges) is in tests/test_desk_hostile.py, Chromium in
tests/test_desk_browser.py."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
import re
import time
from dataclasses import replace
from html import unescape

import pytest
from flask import g

from audience.count import WINDOWS, AppCount, DayCount, EpisodeCount
from audience.recorder import Recorder
from audience.report import Report
from audience.store import write_fetches
from desk.accounts import Accounts
from serving.state import app_state
from web.desk import audience_html

from .audience_support import golden_fetches
from .desk_support import EDITOR, SAMPLE_TOPIC, add_editor, desk_app, signed_in

# Apps as the lists name them, and addresses: each pair one listener.
AGENTS = {"Apple Podcasts": "Podcasts/1650.20 CFNetwork/1404.0.5 Darwin/22.3.0",
          "Overcast": "Overcast/3.0 (+http://overcast.fm/; iOS podcast app)",
          "Spotify": "Spotify/8.8.12 iOS/16.5 (iPhone14,2)"}
ADDRESSES = ["192.0.2.1", "192.0.2.2", "2001:db8::1"]
# The golden log's two files (tests/fixtures/audience), as two of the sample's episodes.
AS_SAMPLE = {"long.mp3": f"{SAMPLE_TOPIC}/1169825816.mp3", "short.mp3": f"{SAMPLE_TOPIC}/1022642033.mp3"}
TWO_YEARS = 731


@pytest.fixture
def app(database_url):
    app = desk_app(database_url, AUDIENCE_FLUSH_SECONDS=3600)
    add_editor(app)
    assert app.test_cli_runner().invoke(args=["stories", "sample"]).exit_code == 0
    yield app
    app_state(app).store.engine.dispose()


@pytest.fixture
def editor(app):
    return signed_in(app)


def listen(app) -> None:
    """Fetches of the sample's audio through /media/, as players make them, recorded by the
    app (web/media.py) and written as its flush thread would."""
    client = app.test_client()
    files = [a.url for s in app_state(app).store.iter_stories(SAMPLE_TOPIC) for a in s.audio][:4]
    assert len(files) == 4
    for n, url in enumerate(files):
        for app_name, address in list(zip(AGENTS, ADDRESSES, strict=True))[:n % 3 + 1]:
            answer = client.get(url, headers={"User-Agent": AGENTS[app_name]},
                                environ_base={"REMOTE_ADDR": address})
            assert answer.status_code == 200
    # A probe and a bot: recorded or not, never counted.
    client.get(files[0], headers={"User-Agent": AGENTS["Overcast"], "Range": "bytes=0-1"})
    client.get(files[0], headers={"User-Agent": "Googlebot/2.1 (+http://www.google.com/bot.html)"})
    assert app_state(app).area(Recorder).flush() > 0


def csv_rows(answer) -> list[dict[str, str]]:
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert answer.headers["Content-Disposition"].startswith('attachment; filename="downloads-per-')
    assert answer.headers["Cache-Control"] == "no-store"
    return list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))


def table(page: str, caption: str) -> list[list[str]]:
    """The body rows of the page's table with this caption, each cell's text."""
    found = re.search(rf"<caption>{re.escape(caption)}</caption>.*?<tbody>(.*?)</tbody>", page, re.S)
    assert found, caption
    return [[unescape(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", found.group(1), re.S)]


def cli_report(app, *args: str) -> dict:
    done = app.test_cli_runner().invoke(args=["audience", "report", "--json", *args])
    assert done.exit_code == 0, done.output
    report: dict = json.loads(done.output)
    return report


def test_the_page_and_its_csvs_say_what_flask_audience_report_says(app, editor):
    listen(app)
    today = dt.datetime.now(dt.UTC).date()
    first = today - dt.timedelta(89)
    report = cli_report(app, "--from", first.isoformat(), "--to", today.isoformat())
    assert report["downloads"] == 1 + 2 + 3 + 1  # four files, 1, 2, 3 and 1 listeners
    page = editor.get("/desk/audience")  # by default the 90 days up to today
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    assert f"<strong>{report['downloads']}</strong> download(s) from {first} to {today}" in html
    query = f"from={first}&to={today}"

    days = csv_rows(editor.get(f"/desk/audience/days.csv?{query}"))
    assert len(days) == 90  # every day, 0 where none
    assert {r["date"]: int(r["downloads"]) for r in days if r["downloads"] != "0"} == {
        d["day"]: d["downloads"] for d in report["days"]}
    assert [[r["date"], r["downloads"]] for r in days] == table(html, "Downloads per day")

    episodes = csv_rows(editor.get(f"/desk/audience/episodes.csv?{query}"))
    assert [(r["episode"], int(r["downloads"]), r["story_id"], r["title"]) for r in episodes] == [
        (e["file"], e["downloads"], e["story_id"], e["title"]) for e in report["episodes"]]
    for row, e in zip(episodes, report["episodes"], strict=True):
        assert [int(row[f"first_{n}_days"]) for n in WINDOWS] == [e["first_days"][str(n)] for n in WINDOWS]
    assert [list(r.values()) for r in episodes] == table(html, "Downloads per episode")

    apps = csv_rows(editor.get(f"/desk/audience/apps.csv?{query}"))
    assert [(r["app"], int(r["downloads"])) for r in apps] == [(a["app"], a["downloads"]) for a in report["apps"]]
    assert {r["app"] for r in apps} == set(AGENTS)
    assert [list(r.values()) for r in apps] == table(html, "Downloads per app")
    # Each chart is drawn: the days' bars, the episodes' titles, the apps' names.
    for chart_id in ("downloads-per-day", "downloads-per-episode", "downloads-per-app"):
        assert f'id="{chart_id}"' in html
    assert all(name in html.split('id="downloads-per-app"')[1].split("</svg>")[0] for name in AGENTS)


def test_a_range_and_a_topic_choose_the_days_and_files_counted(app, editor):
    engine = app_state(app).store.engine
    write_fetches(engine, [replace(f, episode=AS_SAMPLE[f.episode]) for f in golden_fetches()])
    write_fetches(engine, [replace(f, episode="elsewhere/other.mp3") for f in golden_fetches()])
    for query, args in (("from=2026-03-01&to=2026-03-31", ("--from", "2026-03-01", "--to", "2026-03-31")),
                        ("from=2026-03-02&to=2026-03-02", ("--from", "2026-03-02", "--to", "2026-03-02")),
                        (f"from=2026-03-01&to=2026-03-31&topic={SAMPLE_TOPIC}",
                         ("--from", "2026-03-01", "--to", "2026-03-31", "--topic", SAMPLE_TOPIC))):
        report = cli_report(app, *args)
        assert report["downloads"] > 0
        for part in ("days", "episodes", "apps"):
            rows = csv_rows(editor.get(f"/desk/audience/{part}.csv?{query}"))
            assert sum(int(r["downloads"]) for r in rows) == report["downloads"], (query, part)
        html = editor.get(f"/desk/audience?{query}").get_data(as_text=True)
        assert f"<strong>{report['downloads']}</strong> download(s)" in html
    assert cli_report(app, "--from", "2026-03-01", "--to", "2026-03-31")["downloads"] == 16
    assert cli_report(app, "--from", "2026-03-01", "--to", "2026-03-31", "--topic", SAMPLE_TOPIC)["downloads"] == 8
    # The topic's file name is in the CSV's name; the form keeps the topic chosen.
    answer = editor.get(f"/desk/audience/apps.csv?from=2026-03-01&to=2026-03-31&topic={SAMPLE_TOPIC}")
    assert f'downloads-per-app-{SAMPLE_TOPIC}-2026-03-01-2026-03-31.csv"' in answer.headers["Content-Disposition"]
    html = editor.get(f"/desk/audience?from=2026-03-01&to=2026-03-31&topic={SAMPLE_TOPIC}").get_data(as_text=True)
    assert f'<option value="{SAMPLE_TOPIC}" selected>' in html
    assert f"topic={SAMPLE_TOPIC}" in html.split('id="days-heading"')[1]  # the CSV links keep it


def test_an_episodes_first_7_30_and_90_days_are_columns_of_its_table(app, editor):
    store = app_state(app).store
    story = store.get_story("1169464713")
    published = story.published.astimezone(dt.UTC).replace(tzinfo=None)
    template = next(f for f in golden_fetches() if f.method == "GET" and f.status == 200)
    write_fetches(store.engine, [replace(template, at=published + dt.timedelta(days=days), listener=f"l{days}",
                                         episode=AS_SAMPLE["long.mp3"]) for days in (1, 10, 40, 100)])
    query = f"from={published.date()}&to={(published + dt.timedelta(days=120)).date()}"
    [row] = csv_rows(editor.get(f"/desk/audience/episodes.csv?{query}"))
    assert (row["story_id"], row["downloads"], row["first_7_days"], row["first_30_days"], row["first_90_days"]) == (
        "1169464713", "4", "1", "2", "3")
    html = editor.get(f"/desk/audience?{query}").get_data(as_text=True)
    assert table(html, "Downloads per episode") == [list(row.values())]
    assert "<th scope=\"col\">First 7 days</th>" in html


def test_the_desk_links_the_page_and_it_says_when_there_is_nothing(editor):
    assert 'href="/desk/audience">Audience</a>' in editor.get("/desk/").get_data(as_text=True)
    html = editor.get("/desk/audience").get_data(as_text=True)
    assert "<strong>0</strong> download(s)" in html and "No downloads in these days." in html
    assert csv_rows(editor.get("/desk/audience/apps.csv")) == []


def large_report(days: int = TWO_YEARS, episodes: int = 1000, apps: int = 60) -> Report:
    rng = random.Random(24)
    start = dt.date(2024, 1, 1)
    published = dt.datetime(2023, 12, 1, 10)
    return Report(
        topic=None, start=start, end=start + dt.timedelta(days - 1), downloads=0,
        days=tuple(DayCount(start + dt.timedelta(n), rng.randrange(1, 50_000)) for n in range(days)),
        episodes=tuple(EpisodeCount(f"show/episode-{n}.mp3", str(n), f"Episode {n}", published,
                                    rng.randrange(1, 100_000), ((7, 10), (30, 20), (90, 30)))
                       for n in range(episodes)),
        apps=tuple(AppCount(f"App {n}", rng.randrange(1, 100_000)) for n in range(apps)))


def test_two_years_of_days_and_a_thousand_episodes_render_within_a_second(app):
    report = large_report()
    with app.test_request_context("/desk/audience"):
        g.editor = Accounts(app_state(app).store.engine).get(EDITOR)
        audience_html(report, report.start, report.end)  # templates compiled
        started = time.perf_counter()
        html = audience_html(report, report.start, report.end)
        took = time.perf_counter() - started
    assert len(table(html, "Downloads per day")) == TWO_YEARS
    assert len(table(html, "Downloads per episode")) == 1000
    assert html.count('<text class="tick" x="0"') == 2 * 20  # the first 20 of each drawn
    print(f"took {took:.3f} s")
    assert took < 1.0, took


def test_two_years_of_recorded_downloads_answer_within_a_second(app, editor):
    """From the stored fetches: read, counted and drawn in the one request."""
    start = dt.date(2024, 1, 1)
    template = next(f for f in golden_fetches() if f.method == "GET" and f.status == 200)
    write_fetches(app_state(app).store.engine, [
        replace(template, at=dt.datetime.combine(start + dt.timedelta(day), dt.time(12)), listener=f"l{n}",
                episode=f"show/{(day + n) % 100}.mp3", user_agent=list(AGENTS.values())[n])
        for day in range(TWO_YEARS) for n in range(3)])
    query = f"from={start}&to={start + dt.timedelta(TWO_YEARS - 1)}"
    editor.get(f"/desk/audience?{query}")  # templates compiled, the agents' lists read
    started = time.perf_counter()
    answer = editor.get(f"/desk/audience?{query}")
    took = time.perf_counter() - started
    assert answer.status_code == 200
    assert f"<strong>{3 * TWO_YEARS}</strong> download(s)" in answer.get_data(as_text=True)
    print(f"took {took:.3f} s")
    assert took < 1.0, took
