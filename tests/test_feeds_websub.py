"""WebSub: feeds announce the hub, and writes ping a real hub on 127.0.0.1."""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs

import feedparser
import pytest
from werkzeug.wrappers import Request, Response

from serving.state import app_state

from .conftest import make_app, story_record
from .feeds_support import SAMPLE_SLUG, TOPIC_FEEDS, check_json_feed
from .servers import InThread


class Hub:
    """A stand-in hub: records publish pings and answers with `status`."""

    def __init__(self, status: int = 204):
        self.status = status
        self.pings: list[dict[str, list[str]]] = []
        self.server = InThread(self.receive)
        self.url = f"{self.server.base}/hub"

    @Request.application
    def receive(self, request: Request) -> Response:
        self.pings.append(parse_qs(request.get_data(as_text=True)))
        return Response(status=self.status)

    def __enter__(self):
        self.server.start()
        return self

    def __exit__(self, *exc):
        self.server.stop()

    def published(self) -> list[str]:
        assert all(p["hub.mode"] == ["publish"] for p in self.pings)
        return [url for p in self.pings for url in p["hub.url"]]


@pytest.fixture
def hub():
    with Hub() as running:
        yield running


def import_records(app, tmp_path, records) -> None:
    path = tmp_path / "records.json"
    path.write_text(json.dumps(records))
    result = app.test_cli_runner().invoke(args=["stories", "import", str(path)])
    assert result.exit_code == 0, result.output


def test_an_import_pings_the_hub_for_every_changed_feed(sqlite_url, tmp_path, hub):
    app = make_app(sqlite_url, WEBSUB_HUB=hub.url)
    result = app.test_cli_runner().invoke(args=["stories", "sample"])
    assert result.exit_code == 0, result.output
    base = "http://storyfeed.test"
    assert sorted(hub.published()) == sorted([
        f"{base}/rss.xml", f"{base}/atom.xml", f"{base}/feed.json",
        f"{base}{TOPIC_FEEDS['rss']}", f"{base}{TOPIC_FEEDS['atom']}",
        f"{base}{TOPIC_FEEDS['json']}", f"{base}{TOPIC_FEEDS['podcast']}",
    ])

    hub.pings.clear()
    import_records(app, tmp_path, [story_record(topics=["world"])])
    published = hub.published()
    assert f"{base}/topics/world/rss.xml" in published
    assert f"{base}/topics/world/podcast.xml" not in published  # world is no podcast
    assert not any(SAMPLE_SLUG in url for url in published)  # the sample did not change

    hub.pings.clear()
    import_records(app, tmp_path, [story_record(topics=["world"])])  # unchanged: no ping
    assert hub.pings == []
    app_state(app).store.engine.dispose()


def test_feeds_name_the_hub_and_themselves(sqlite_url, hub):
    app = make_app(sqlite_url, WEBSUB_HUB=hub.url)
    app.test_cli_runner().invoke(args=["stories", "sample"])
    client = app.test_client()
    for fmt in ("rss", "atom", "podcast"):
        links = feedparser.parse(client.get(TOPIC_FEEDS[fmt]).data).feed.links
        assert [link.href for link in links if link.rel == "hub"] == [hub.url], fmt
        assert [link.href for link in links if link.rel == "self"] == [f"http://storyfeed.test{TOPIC_FEEDS[fmt]}"]
    assert check_json_feed(client.get(TOPIC_FEEDS["json"]).data)["hubs"] == [
        {"type": "WebSub", "url": hub.url}]
    app_state(app).store.engine.dispose()


@pytest.mark.parametrize("status", [500, None])
def test_a_failing_hub_is_logged_and_never_fails_the_write(sqlite_url, tmp_path, caplog, status):
    if status is None:  # a hub that is not there at all
        with Hub() as gone:
            url = gone.url
        failing = None
    else:
        failing = Hub(status).__enter__()
        url = failing.url
    try:
        app = make_app(sqlite_url, WEBSUB_HUB=url)
        with caplog.at_level(logging.WARNING, logger="feeds.websub"):
            import_records(app, tmp_path, [story_record()])
        assert app_state(app).store.get_story("1001") is not None
        assert any("WebSub hub" in r.getMessage() for r in caplog.records)
        if failing is not None:
            assert failing.pings  # it was asked, and refused
        app_state(app).store.engine.dispose()
    finally:
        if failing is not None:
            failing.__exit__(None, None, None)


def test_without_site_url_the_hub_is_not_pinged(sqlite_url, tmp_path, hub, caplog):
    app = make_app(sqlite_url, WEBSUB_HUB=hub.url, SITE_URL=None)
    with caplog.at_level(logging.WARNING, logger="feeds.websub"):
        import_records(app, tmp_path, [story_record()])
    assert hub.pings == []
    assert any("SITE_URL" in r.getMessage() for r in caplog.records)
    app_state(app).store.engine.dispose()
