"""The feed URLs, served the way a CDN would serve them (see `serving.rendered`).

A warm request costs a cache lookup: the cache key holds the store's version of what
the feed shows (remembered briefly per process, `serving.context.current_version`), so a
write by any process (the CLI, another worker, another instance) makes the old entry
unreachable.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from flask import Blueprint, Flask, Response, abort, request

from feeds.podcast import (
    PodcastSettingsIncomplete,
    has_podcast,
    missing_podcast_settings,
)
from feeds.render import (
    SITE_TITLE,
    render_atom_feed,
    render_json_feed,
    render_opml,
    render_podcast_feed,
    render_rss_feed,
)
from feeds.urls import (
    ATOM,
    JSON_FEED,
    OPML_CONTENT_TYPE,
    PODCAST,
    RSS,
    SITE_FORMATS,
    TOPIC_FORMATS,
    FeedFormat,
    Paging,
    feed_url,
    opml_url,
    url_without_scheme,
)
from serving import fastpath
from serving.context import (
    answer_is_stale,
    cache_key,
    current_links,
    current_render_cache,
    current_store,
    current_version,
)
from serving.links import Links
from serving.params import parse_cursor, parse_limit
from serving.rendered import Rendered, send_rendered
from serving.state import app_state
from stories.model import Topic
from stories.store import StoryStore

from .moves import current_moves, listed_topics

bp = Blueprint("feeds", __name__)

RENDERERS = {RSS: render_rss_feed, ATOM: render_atom_feed, JSON_FEED: render_json_feed}
# Every query parameter a feed reads (`serve_feed`): the fast path's URLs ignore the rest.
FEED_PARAMS = ("limit",)


def _render(store: StoryStore, slug: str | None, fmt: FeedFormat, paging: Paging,
            links: Links, hub: str | None) -> Rendered:
    topic = None
    if slug is not None:
        topic = store.get_topic(slug)
        if topic is None:
            abort(404, description=f"There is no topic {slug!r}.")
    if fmt is PODCAST:
        missing = missing_podcast_settings(topic)
        if missing:
            raise PodcastSettingsIncomplete(topic, missing)
        page = store.latest(slug, limit=paging.limit, cursor=paging.cursor, episodes=True)
        body = render_podcast_feed(topic, page, links, paging, hub=hub,
                                   guid=current_moves().podcast_guid(links, slug))
    else:
        page = store.latest(slug, limit=paging.limit, cursor=paging.cursor)
        titles = store.topic_titles(slug for story in page.stories for slug in story.topics)
        body = RENDERERS[fmt](topic, page, links, paging, hub=hub, topic_titles=titles)
    last_modified = page.changed_at
    return Rendered.of(body, fmt.content_type, last_modified)


def serve_feed(slug: str | None, fmt: FeedFormat, cursor: str | None = None):
    store = current_store()
    limit = parse_limit(request.args.get("limit"), default=fmt.page_size, maximum=fmt.max_page_size)
    paging = Paging(limit=limit or fmt.page_size, cursor=parse_cursor(cursor))
    links = current_links()
    settings = app_state().settings
    hub = settings["WEBSUB_HUB"]
    key = version = None
    # Other page sizes are answered but not kept: a key per `limit` value adds up.
    if paging.limit == fmt.page_size:
        version = current_version(slug)
        # While the store does not answer, a page kept before is served: its cursor was
        # checked when it was kept.
        if answer_is_stale() or store.is_story_position(slug, paging.cursor):
            key = cache_key("feed", fmt.name, slug or "", version, paging.limit,
                            paging.cursor or "", hub or "")
    try:
        rendered = current_render_cache().get_or_render(
            key, lambda: _render(store, slug, fmt, paging, links, hub)
        )
    except PodcastSettingsIncomplete as exc:
        # Plain text: podcast apps and validators show it as it is.
        return Response(f"{exc}\n", 404, content_type="text/plain; charset=utf-8")
    fastpath.remember(key, slug, version, settings["FEED_MAX_AGE"], FEED_PARAMS)
    return send_rendered(rendered, max_age=settings["FEED_MAX_AGE"])


@bp.get("/rss.xml")
@bp.get("/pages/<cursor>/rss.xml")
def site_rss(cursor: str | None = None):
    return serve_feed(None, RSS, cursor)


@bp.get("/atom.xml")
@bp.get("/pages/<cursor>/atom.xml")
def site_atom(cursor: str | None = None):
    return serve_feed(None, ATOM, cursor)


@bp.get("/feed.json")
@bp.get("/pages/<cursor>/feed.json")
def site_json(cursor: str | None = None):
    return serve_feed(None, JSON_FEED, cursor)


@bp.get("/topics/<slug>/rss.xml")
@bp.get("/topics/<slug>/pages/<cursor>/rss.xml")
def topic_rss(slug: str, cursor: str | None = None):
    return serve_feed(slug, RSS, cursor)


@bp.get("/topics/<slug>/atom.xml")
@bp.get("/topics/<slug>/pages/<cursor>/atom.xml")
def topic_atom(slug: str, cursor: str | None = None):
    return serve_feed(slug, ATOM, cursor)


@bp.get("/topics/<slug>/feed.json")
@bp.get("/topics/<slug>/pages/<cursor>/feed.json")
def topic_json(slug: str, cursor: str | None = None):
    return serve_feed(slug, JSON_FEED, cursor)


@bp.get("/topics/<slug>/podcast.xml")
@bp.get("/topics/<slug>/pages/<cursor>/podcast.xml")
def topic_podcast(slug: str, cursor: str | None = None):
    return serve_feed(slug, PODCAST, cursor)


@bp.get("/feeds.opml")
def opml():
    store = current_store()
    links = current_links()
    key = cache_key("opml", current_version())
    rendered = current_render_cache().get_or_render(
        key, lambda: Rendered.of(render_opml(listed_topics(store), links), OPML_CONTENT_TYPE)
    )
    return send_rendered(rendered, max_age=app_state().settings["FEED_MAX_AGE"])


# -- what pages show: <head> discovery links and subscribe options -------------------

def feed_alternates(topics: list[Topic] | tuple[Topic, ...] = ()) -> list[dict]:
    """`<link rel="alternate">` data for a page about `topics` (none: the whole site)."""
    links = current_links()
    if not topics:
        return [{"type": fmt.content_type.split(";")[0], "title": f"{SITE_TITLE} ({fmt.label})",
                 "href": feed_url(links, fmt)} for fmt in SITE_FORMATS]
    out = []
    for topic in topics:
        for fmt in TOPIC_FORMATS:
            if fmt is PODCAST and not has_podcast(topic):
                continue
            label = "podcast" if fmt is PODCAST else fmt.label
            out.append({"type": fmt.content_type.split(";")[0],
                        "title": f"{topic.title} ({label})",
                        "href": feed_url(links, fmt, topic.slug)})
    return out


def podcast_app_links(url: str, title: str) -> list[dict]:
    """Links that open a podcast feed in the common apps: each app's own documented
    form (custom schemes on iOS, web deep links where the app offers one)."""
    bare = url_without_scheme(url)
    encoded = quote(url, safe="")
    return [
        {"name": "Apple Podcasts", "href": f"podcast://{bare}"},
        {"name": "Overcast", "href": f"overcast://x-callback-url/add?url={encoded}"},
        {"name": "Pocket Casts", "href": f"pktc://subscribe/{bare}"},
        {"name": "AntennaPod",
         "href": "https://antennapod.org/deeplink/subscribe?" + urlencode({"url": url, "title": title})},
        {"name": "Podcast Addict", "href": f"https://podcastaddict.com/feed/{encoded}"},
    ]


def subscribe_options(topic: Topic) -> dict:
    links = current_links()
    feeds = [{"label": fmt.label, "href": feed_url(links, fmt, topic.slug)}
             for fmt in (RSS, ATOM, JSON_FEED)]
    podcast = None
    if has_podcast(topic):
        url = feed_url(links, PODCAST, topic.slug)
        podcast = {"href": url, "apps": podcast_app_links(url, topic.title)}
    return {"feeds": feeds, "podcast": podcast, "opml": opml_url(links)}


@bp.app_context_processor
def feed_helpers():
    return {"feed_alternates": feed_alternates, "subscribe_options": subscribe_options}


# -- wiring ----------------------------------------------------------------------------

def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
