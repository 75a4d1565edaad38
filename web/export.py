"""Static export: every topic's feeds (every page), the OPML file, the oEmbed answers of
every story, its transcript page, transcript files and chapters, the media, and the
static files those pages link to (stylesheets, scripts, the icon), as files
under the live service's own paths, with a manifest of content types — ready to sync to
object storage behind a CDN.

Bodies are taken from the app itself (through its test client), so an exported file is
byte for byte what the live service answers. Files whose bytes did not change are left
alone, so a sync after a small change moves only what changed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask
from lxml import etree

from feeds.urls import PODCAST, SITE_FORMATS, TOPIC_FORMATS, feed_url, opml_url
from serving.files import regular_file_in
from serving.links import Links
from serving.members import is_member_file
from serving.state import app_state
from stories.errors import StoryfeedError

from .moves import SiteMoves
from .transcripts import served_paths

MANIFEST = "manifest.json"
ATOM_NS = "http://www.w3.org/2005/Atom"


class ExportError(StoryfeedError):
    """The export cannot be made (no SITE_URL, a feed that fails to render...)."""


@dataclass
class ExportReport:
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def files(self) -> int:
        return len(self.written) + len(self.unchanged)


def next_page_url(body: bytes, content_type: str) -> str | None:
    """The `next` link a feed page gives (RFC 5005 in RSS and Atom, `next_url` in JSON)."""
    if content_type.startswith("application/feed+json"):
        return json.loads(body).get("next_url")
    root = etree.fromstring(body)
    found = root.xpath("//a:link[@rel='next']/@href", namespaces={"a": ATOM_NS})
    return found[0] if found else None


class _Exporter:
    def __init__(self, app: Flask, target: Path, links: Links, on_file: Callable[[str], None]):
        self.app = app
        self.on_file = on_file
        self.client = app.test_client()
        self.target = target
        self.links = links
        self.report = ExportReport()
        self.manifest: dict[str, dict] = {}
        self.redirects: list[dict] = []

    def path_of(self, url: str) -> str:
        if not url.startswith(self.links.site_url) or urlsplit(url).query:
            raise ExportError(f"{url} is not a plain path under SITE_URL")
        return url[len(self.links.site_url):]

    def fetch(self, path: str, required: bool = True):
        response = self.client.get("/" + path, headers={"Accept-Encoding": "identity"})
        if response.status_code != 200:
            if required:
                raise ExportError(f"/{path} answered {response.status_code}: {response.get_data(as_text=True)[:200]}")
            return None
        self.save(path, response.get_data(), response.content_type)
        return response

    def save(self, path: str, body: bytes, content_type: str) -> None:
        file = self.target / path
        if file.is_file() and file.read_bytes() == body:
            self.report.unchanged.append(path)
        else:
            file.parent.mkdir(parents=True, exist_ok=True)
            # Write beside, then rename: a sync running meanwhile never sees half a file.
            partial = file.with_name(file.name + ".partial")
            partial.write_bytes(body)
            os.replace(partial, file)
            self.report.written.append(path)
        self.manifest[path] = {"content_type": content_type, "bytes": len(body)}
        self.on_file(path)

    def feed(self, first_url: str, required: bool) -> None:
        url: str | None = first_url
        while url:
            response = self.fetch(self.path_of(url), required)
            if response is None:
                return
            url = next_page_url(response.get_data(), response.content_type)
            required = True

    def moved(self, old: str, new: str) -> None:
        """A moved topic: the redirects a host must answer for its feeds, and its old
        podcast feed (with itunes:new-feed-url) as a file, for hosts that cannot."""
        for fmt in TOPIC_FORMATS:
            self.redirects.append({"from": self.path_of(feed_url(self.links, fmt, old)),
                                   "to": self.path_of(feed_url(self.links, fmt, new)),
                                   "status": 301})
        # Pages of a feed share their cursors across topics: one prefix rule covers them.
        self.redirects.append({"from": f"topics/{old}/", "to": f"topics/{new}/",
                               "status": 301, "prefix": True})
        path = self.path_of(feed_url(self.links, PODCAST, old))
        response = self.client.get("/" + path, headers={"Accept-Encoding": "identity"})
        if response.status_code == 301 and response.mimetype == "application/rss+xml":
            self.save(path, response.get_data(), response.content_type)

    def media(self, media_dir: Path) -> None:
        if self.links.media_base_url != self.links.absolute("media/"):
            return  # media live elsewhere (MEDIA_BASE_URL): nothing of ours to export
        for file in sorted(media_dir.rglob("*")):
            relative = file.relative_to(media_dir).as_posix()
            # Exactly what /media/ serves: no symlink (a planted one would publish what it
            # points to), no folder or FIFO.
            if regular_file_in(str(media_dir), relative) is None:
                continue
            if is_member_file(relative):
                continue  # members' files: never in a public copy
            # Through the app, like every other file, so the manifest's content type is
            # the one the service sends (text/vtt carries a charset, for one).
            self.fetch("media/" + relative)

    def static(self, static_dir: Path, url_path: str) -> None:
        """The stylesheets, scripts and icon the exported pages (transcripts) link to:
        without them a page served from the export has no style and no player."""
        for file in sorted(static_dir.rglob("*")):
            relative = file.relative_to(static_dir).as_posix()
            if regular_file_in(str(static_dir), relative) is None:
                continue  # as for media: no symlink, no folder
            self.fetch(f"{url_path.strip('/')}/{relative}")

    def remove_stale(self, previous: dict[str, dict]) -> None:
        for path in sorted(set(previous) - set(self.manifest)):
            file = self.target / path
            if file.is_file():
                file.unlink()
                self.report.removed.append(path)


def export_site(app: Flask, target: Path, on_file: Callable[[str], None] = lambda _path: None) -> ExportReport:
    """Every file under `target`; `on_file(path)` after each (the command's progress)."""
    state = app_state(app)
    site_url = state.settings["SITE_URL"]
    if not site_url:
        raise ExportError("SITE_URL must be set: exported files carry absolute links")
    links = Links.build(site_url, state.settings["MEDIA_BASE_URL"], state.settings["ANALYTICS_PREFIX"])
    target.mkdir(parents=True, exist_ok=True)
    manifest_file = target / MANIFEST
    previous = json.loads(manifest_file.read_text())["files"] if manifest_file.is_file() else {}

    exporter = _Exporter(app, target, links, on_file)
    store = state.store
    exporter.fetch(exporter.path_of(opml_url(links)))
    for fmt in SITE_FORMATS:
        exporter.feed(feed_url(links, fmt), required=True)
    moves = SiteMoves.load(store)
    for old, new in sorted(moves.redirects().items()):
        exporter.moved(old, new)
    for topic in store.list_topics():
        if moves.answer(topic.slug) != topic.slug:
            continue  # moved: redirected above; in a loop of moves: 404, nothing to write
        for fmt in TOPIC_FORMATS:
            # A topic without complete podcast settings has no podcast feed (404).
            exporter.feed(feed_url(links, fmt, topic.slug), required=fmt.name != "podcast")
    for story in store.iter_stories():
        if story.embeddable_audio:
            for fmt in ("json", "xml"):
                # 401/404 answers (audio that may not be embedded) are not files.
                exporter.fetch(f"stories/{story.id}/oembed.{fmt}", required=False)
        # The story's own paths for its transcripts and chapters (the feeds link them).
        for path in served_paths(story, state.settings["MEDIA_DIR"]):
            exporter.fetch(path)
    exporter.media(Path(state.settings["MEDIA_DIR"]))
    if app.static_folder is not None and app.static_url_path is not None:
        exporter.static(Path(app.static_folder), app.static_url_path)
    exporter.remove_stale(previous)

    body = json.dumps({"site_url": links.site_url, "files": exporter.manifest,
                       "redirects": exporter.redirects}, indent=1, sort_keys=True)
    exporter.save(MANIFEST, body.encode(), "application/json")
    return exporter.report
