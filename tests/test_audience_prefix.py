"""ANALYTICS_PREFIX: a measurement service's redirect in front of every enclosure (OP3,
Podtrac...), and `flask feeds check` following it to the file."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import feedparser
import pytest

from serving.links import Links
from serving.state import app_state
from stories.errors import SettingsError

from .conftest import make_app, migrated_sqlite
from .servers import InThread
from .upstream import Upstream

OP3 = "https://op3.dev/e/"
TOPIC = "north-korean-defectors"


def sample_app(tmp_path, **config):
    app = make_app(migrated_sqlite(tmp_path / "prefix.sqlite3"), **config)
    assert app.test_cli_runner().invoke(args=["stories", "sample"]).exit_code == 0
    return app


def enclosures(app, path: str) -> list[str]:
    body = app.test_client().get(path).data
    return [link.href for entry in feedparser.parse(body).entries for link in entry.get("links", [])
            if link.get("rel") == "enclosure"]


def test_every_feed_encloses_through_the_prefix(tmp_path):
    app = sample_app(tmp_path, SITE_URL="https://news.example/", ANALYTICS_PREFIX=OP3)
    for path in (f"/topics/{TOPIC}/podcast.xml", f"/topics/{TOPIC}/rss.xml", f"/topics/{TOPIC}/atom.xml"):
        found = enclosures(app, path)
        assert found and all(url.startswith(OP3 + "news.example/media/") for url in found), (path, found)
    items = app.test_client().get(f"/topics/{TOPIC}/feed.json").get_json()["items"]
    attachments = [a["url"] for item in items for a in item.get("attachments", []) if "audio" in a["mime_type"]]
    assert attachments and all(url.startswith(OP3 + "news.example/media/") for url in attachments)


def test_without_a_prefix_nothing_changes(tmp_path):
    app = sample_app(tmp_path, SITE_URL="https://news.example/")
    found = enclosures(app, f"/topics/{TOPIC}/podcast.xml")
    assert found and all(url.startswith("https://news.example/media/") for url in found)


def test_an_http_enclosure_keeps_its_scheme_behind_the_prefix():
    links = Links.build("http://news.example/", None, OP3)
    assert links.enclosure("http://news.example/media/a.mp3") == OP3 + "http://news.example/media/a.mp3"
    assert links.enclosure("https://cdn.example/a.mp3") == OP3 + "cdn.example/a.mp3"
    assert links.enclosure("") == ""
    assert Links.build("http://news.example/").enclosure("https://cdn.example/a.mp3") == "https://cdn.example/a.mp3"
    assert hash(links) != hash(Links.build("http://news.example/"))


@pytest.mark.parametrize("value", ["op3.dev/e/", "https://op3.dev/e", "javascript:alert(1)//",
                                   "https://op3.dev/e/?x=1/", "ftp://op3.dev/e/"])
def test_a_prefix_that_is_no_http_url_ending_in_a_slash_stops_start_up(tmp_path, value):
    with pytest.raises(SettingsError, match="ANALYTICS_PREFIX"):
        make_app(migrated_sqlite(tmp_path / "x.sqlite3"), ANALYTICS_PREFIX=value)


def test_feeds_check_follows_the_prefix_to_the_file(tmp_path):
    """The prefix service (here a local server redirecting as OP3 does) is fetched, and
    what it redirects to is checked as the file."""
    service = Upstream()
    try:
        prefix = service.url("/e/")
        app = sample_app(tmp_path, ANALYTICS_PREFIX=prefix)
        with InThread(app) as site:
            app_state(app).with_settings(SITE_URL=site.base + "/").install(app)
            files = [url for url in enclosures(app, f"/topics/{TOPIC}/podcast.xml")]
            assert files and all(url.startswith(prefix + "http://") for url in files)
            for url in files:
                service.redirect(urlsplit(url).path, url[len(prefix):], status=302)
            result = app.test_cli_runner().invoke(args=["feeds", "check", "--topic", TOPIC, "--json"])
            problems = json.loads(result.stdout)
            assert [p for p in problems if p["severity"] == "error"] == [], problems
            assert sorted(s.path for s in service.seen if s.status == 302) != []
            # The service answering 404: the enclosure is reported broken.
            for url in files:
                service.serve(urlsplit(url).path, b"gone", "text/plain", status=404)
            result = app.test_cli_runner().invoke(args=["feeds", "check", "--topic", TOPIC, "--json"])
            errors = [p for p in json.loads(result.stdout) if p["severity"] == "error"]
            assert result.exit_code == 1 and errors
    finally:
        service.close()
