"""The static export, served by a plain static file server, answers like the service."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import requests
from lxml import html
from werkzeug.exceptions import NotFound
from werkzeug.middleware.shared_data import SharedDataMiddleware

from serving.state import app_state
from stories.validate import parse_story
from web.export import MANIFEST, export_site, next_page_url

from .conftest import make_app, story_record
from .servers import InThread

SITE = "http://storyfeed.test/"
SLUG = "north-korean-defectors"


@pytest.fixture
def exporting_app(sqlite_url):
    app = make_app(sqlite_url, SITE_URL=SITE)
    assert app.test_cli_runner().invoke(args=["stories", "sample"]).exit_code == 0
    # Enough stories for several pages of every feed.
    base = datetime(2010, 1, 1, tzinfo=UTC)
    extra = [parse_story(story_record(id=f"x{i}", topics=[SLUG], published=(base + timedelta(days=i)).isoformat(),
                                      title=f"Extra {i}", audio=None, image=None))[0] for i in range(120)]
    app_state(app).store.write(extra)
    return app


@pytest.fixture
def static_server(tmp_path):
    root = tmp_path / "export"
    root.mkdir()
    with InThread(SharedDataMiddleware(NotFound(), {"/": str(root)})) as server:
        yield root, server.base + "/"


def test_exported_files_are_the_live_bodies(exporting_app, static_server):
    root, static = static_server
    report = export_site(exporting_app, root)
    manifest = json.loads((root / MANIFEST).read_text())["files"]
    assert report.files == len(manifest) + 1  # and the manifest itself
    live = exporting_app.test_client()
    for path, entry in manifest.items():
        from_file = requests.get(static + path, timeout=10)
        from_service = live.get("/" + path, headers={"Accept-Encoding": "identity"})
        assert from_file.status_code == 200 and from_service.status_code == 200, path
        assert from_file.content == from_service.get_data(), path
        assert entry["content_type"] == from_service.content_type, path
    expected = {"feeds.opml", "rss.xml", "atom.xml", "feed.json",
                f"topics/{SLUG}/rss.xml", f"topics/{SLUG}/podcast.xml",
                "stories/1169464713/oembed.json", "stories/1169464713/oembed.xml",
                f"media/{SLUG}/1169825816.mp3", f"media/{SLUG}/artwork.jpg"}
    assert expected <= set(manifest)


def test_exported_pages_find_their_stylesheets_and_scripts_in_the_export(exporting_app, static_server):
    """A transcript page served from the export links /static/ files: each one is there,
    the same bytes the service sends."""
    root, static = static_server
    export_site(exporting_app, root)
    manifest = json.loads((root / MANIFEST).read_text())["files"]
    pages = [path for path, entry in manifest.items() if entry["content_type"].startswith("text/html")]
    assert pages, "no page was exported"
    linked = set()
    for path in pages:
        tree = html.fromstring(requests.get(static + path, timeout=10).content)
        linked |= {url for url in tree.xpath("//link/@href | //script/@src") if "/static/" in url}
    assert {"/static/player.css", "/static/style.css", "/static/pages.js", "/static/player.js",
            "/static/favicon.svg"} <= {urlsplit(url).path for url in linked}
    live = exporting_app.test_client()
    for url in linked:
        path = urlsplit(url).path
        from_file = requests.get(static + path.lstrip("/"), timeout=10)
        assert from_file.status_code == 200, path
        assert from_file.content == live.get(path).get_data(), path


@pytest.mark.parametrize("name", ["rss.xml", "atom.xml", "feed.json"])
def test_every_page_of_a_feed_is_reachable_from_the_static_files(exporting_app, static_server, name):
    root, static = static_server
    export_site(exporting_app, root)
    url, pages, seen = f"{static}topics/{SLUG}/{name}", 0, 0
    while url:
        answer = requests.get(url, timeout=10)
        assert answer.status_code == 200, url
        body = answer.content
        if name == "feed.json":
            seen += len(json.loads(body)["items"])
        else:
            seen += body.count(b"<item>") + body.count(b"<entry>")
        pages += 1
        following = next_page_url(body, "application/feed+json" if name == "feed.json" else "text/xml")
        url = following.replace(SITE, static) if following else None
    assert pages == 3 and seen == 127


def test_a_second_export_rewrites_only_what_changed(exporting_app, static_server):
    root, _ = static_server
    first = export_site(exporting_app, root)
    assert not first.unchanged
    store = app_state(exporting_app).store
    story = store.get_story("1022642030")
    changed = parse_story(story_record(
        id=story.id, url=story.url, title="A corrected headline", topics=[SLUG],
        published=story.published.isoformat(), audio=[{"id": "1022642033", "embed": story.audio[0].embed}],
    ))[0]
    store.write([changed])
    second = export_site(exporting_app, root)
    assert "stories/1022642030/oembed.json" in second.written
    assert not any(path.startswith("media/") for path in second.written)
    assert "stories/1169464713/oembed.json" in second.unchanged
    assert len(second.written) < len(second.unchanged) / 3
    assert b"A corrected headline" in (root / f"topics/{SLUG}/rss.xml").read_bytes()


def test_a_deleted_story_leaves_the_export(exporting_app, static_server):
    root, _ = static_server
    export_site(exporting_app, root)
    app_state(exporting_app).store.delete_story("511745886")
    report = export_site(exporting_app, root)
    assert "stories/511745886/oembed.json" in report.removed
    assert not (root / "stories/511745886/oembed.json").exists()


def test_export_needs_a_site_url(sqlite_url, tmp_path):
    app = make_app(sqlite_url, SITE_URL=None)
    result = app.test_cli_runner().invoke(args=["export", str(tmp_path / "out")])
    assert result.exit_code != 0 and "SITE_URL must be set" in result.output
    ok = app.test_cli_runner().invoke(args=["export", str(tmp_path / "out"), "--site-url", SITE])
    assert ok.exit_code == 0 and "written" in ok.output
