"""Moved topics (`Topic.moved_to`): every old URL answers 301 to the same URL under the
topic it moved to, checked once, before any view runs.

Pages, every feed format and every page of them, the read API: whatever follows
`/topics/<old>` is kept, and so is the query. Podcast apps that read a feed before they
follow its redirect get the old podcast feed once more, as the 301's body, carrying
`itunes:new-feed-url`. A loop of moves, or a chain too long to be meant, answers a clear
404, never a redirect loop.

Only GET and HEAD are redirected: an editor still writes to the old topic (PUT) to undo
or change its move.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote, quote_from_bytes

from flask import Flask, Response, abort, request
from werkzeug.utils import redirect

from feeds.podcast import PodcastSettingsIncomplete, has_podcast, podcast_guid
from feeds.render import render_podcast_feed
from feeds.urls import PODCAST, Paging, feed_url
from serving.context import cache_key, current_links, current_render_cache, current_store, current_version
from serving.links import Links
from serving.rendered import PerVersion, Rendered, VersionMemo
from serving.state import app_state
from stories.model import Topic
from stories.moves import MoveProblem, TopicMoves
from stories.store import InvalidCursor, StoryStore, normalize_cursor

TOPICS_PREFIX = "/topics/"
# What may stay unquoted in the rest of a path we put into a Location header.
PATH_SAFE = "/:@!$&'()*+,;=-._~"


@dataclass
class SiteMoves:
    """The store's moves with each moved topic's answer worked out: a destination slug,
    or the MoveProblem that makes it a 404. Made once per store version."""

    moves: TopicMoves
    answers: dict[str, str | MoveProblem] = field(default_factory=dict)

    @classmethod
    def load(cls, store: StoryStore) -> SiteMoves:
        moves = store.topic_moves()
        existing: dict[str, bool] = {}

        def exists(slug: str) -> bool:
            if slug not in existing:
                existing[slug] = store.get_topic(slug) is not None
            return existing[slug]

        answers: dict[str, str | MoveProblem] = {}
        for slug in moves.moves:
            try:
                answers[slug] = moves.destination(slug, exists)
            except MoveProblem as problem:
                answers[slug] = problem
        return cls(moves, answers)

    def answer(self, slug: str) -> str | MoveProblem:
        """Where `slug`'s URLs lead (itself when they stay), or why they cannot."""
        return self.answers.get(slug, slug)

    def is_listed(self, slug: str) -> bool:
        """Whether the home page and OPML advertise the topic: not when it moved away."""
        return self.answer(slug) == slug

    def redirects(self) -> dict[str, str]:
        """Every moved topic with where it leads, the ones in loops left out."""
        return {old: new for old, new in self.answers.items()
                if isinstance(new, str) and new != old}

    def podcast_guid(self, links: Links, slug: str) -> str:
        """podcast:guid of the topic's podcast feed: that of the feed it all started as, so
        that podcast indexes keep the show's identity across moves."""
        return podcast_guid(feed_url(links, PODCAST, self.moves.origin(slug)))


class SiteMovesMemo(PerVersion[SiteMoves]):
    """The site's moves, made again when the store's version moves (remembered as briefly
    as the version is, `serving.context.current_version`); kept in the app state."""

    @classmethod
    def of(cls, versions: VersionMemo, store: StoryStore) -> SiteMovesMemo:
        # No moves known while the store does not answer: every URL reaches its view,
        # which serves what was rendered before or answers 503.
        return cls(versions, lambda: SiteMoves.load(store), unknown=lambda: SiteMoves(TopicMoves({})))


def current_moves() -> SiteMoves:
    return app_state().area(SiteMovesMemo).get()


def listed_topics(store: StoryStore) -> list[Topic]:
    """The topics the site advertises (home page, OPML): moved ones are not."""
    moves = current_moves()
    return [topic for topic in store.list_topics() if moves.is_listed(topic.slug)]


def redirect_moved_topic():
    path = request.path
    if not path.startswith(TOPICS_PREFIX) or request.method not in ("GET", "HEAD"):
        return None
    slug, slash, rest = path[len(TOPICS_PREFIX):].partition("/")
    moves = current_moves()
    answer = moves.answer(slug)
    if isinstance(answer, MoveProblem):
        abort(404, description=f"There is no topic here: {answer}.")
    if answer == slug:
        return None
    links = current_links()
    location = links.topic(answer) + quote(slash + rest, safe=PATH_SAFE)
    if request.query_string:
        location += "?" + quote_from_bytes(request.query_string, safe=PATH_SAFE + "?%")
    cache_control = f"public, max-age={app_state().settings['FEED_MAX_AGE']}"
    cursor = _podcast_feed_cursor(rest)
    if cursor is not None:
        body = _old_podcast_feed(moves, slug, answer, cursor or None, links)
        if body is not None:
            return Response(body.body, 301, content_type=body.content_type,
                            headers={"Location": location, "Cache-Control": cache_control})
    response = redirect(location, 301)
    response.headers["Cache-Control"] = cache_control
    return response


def _podcast_feed_cursor(rest: str) -> str | None:
    """For a podcast feed's path (after the slug): the page's cursor, "" for the first
    page; None for any other path."""
    if rest == PODCAST.filename:
        return ""
    parts = rest.split("/")
    if len(parts) == 3 and parts[0] == "pages" and parts[2] == PODCAST.filename:
        try:
            return normalize_cursor(parts[1])
        except InvalidCursor:
            return ""  # the new URL answers 400 for it; the body is the first page
    return None


def _old_podcast_feed(moves: SiteMoves, slug: str, destination: str, cursor: str | None,
                      links: Links) -> Rendered | None:
    """The old topic's podcast feed with `itunes:new-feed-url`, or None when the old topic
    had no podcast feed."""
    store = current_store()
    hub = app_state().settings["WEBSUB_HUB"]
    key = cache_key("moved-podcast", slug, current_version(slug), destination,
                    current_version(destination), moves.moves.origin(slug), cursor or "", hub or "")

    def render() -> Rendered:
        topic = store.get_topic(slug)
        if not has_podcast(topic):
            return Rendered.of(b"", "")
        # The episodes are the destination's: a move takes the stories over, and an app
        # that reads this body must not see the show emptied (nor drop what it has).
        page = store.latest(destination, limit=PODCAST.page_size, cursor=cursor, episodes=True)
        try:
            body = render_podcast_feed(
                topic, page, links, Paging(limit=PODCAST.page_size, cursor=cursor), hub=hub,
                guid=moves.podcast_guid(links, slug),
                new_feed_url=feed_url(links, PODCAST, destination),
            )
        except PodcastSettingsIncomplete:  # artwork that is no http(s) URL
            return Rendered.of(b"", "")
        return Rendered.of(body, PODCAST.content_type, page.changed_at)

    rendered = current_render_cache().get_or_render(key, render)
    return rendered if rendered.body else None


def init_app(app: Flask) -> None:
    app.before_request(redirect_moved_topic)
