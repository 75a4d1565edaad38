"""What views reach through the current request: the store, the site's links, cache keys.

Shorthands over `serving.state.app_state()`, the one place the app's state lives.
"""

from __future__ import annotations

import functools

from flask import request
from werkzeug.urls import iri_to_uri

from stories.store import StoryStore

from .links import Links
from .rendered import STALE, RenderCache
from .state import app_state


def current_store() -> StoryStore:
    return app_state().store


def current_render_cache() -> RenderCache:
    return app_state().render_cache


def current_links() -> Links:
    """From SITE_URL when it is set, else from the request (behind ProxyFix).

    Werkzeug decodes a punycode Host ("xn--80ak6aa92e.com") into Unicode in `url_root`;
    links go into headers (Link), which must be ASCII, and into pages, where a Unicode
    look-alike host is worse than its honest punycode. So they are built from the URI form.
    """
    settings = app_state().settings
    return _links(settings["SITE_URL"] or iri_to_uri(request.url_root), settings["MEDIA_BASE_URL"],
                  settings["ANALYTICS_PREFIX"])


def links_are_known() -> bool:
    """Whether this request's absolute URLs are ones the operator named: from SITE_URL, or
    from a Host listed exactly in TRUSTED_HOSTS (not by a ".suffix" that takes any name)."""
    settings = app_state().settings
    if settings["SITE_URL"]:
        return True
    return request.host.lower() in (settings["TRUSTED_HOSTS"] or ())


def cache_key(kind: str, *parts: object) -> str | None:
    """The render-cache key of an answer of `kind` made from `parts` and this site's links;
    None (render, keep nothing) when the links come from a Host nobody configured.

    `parts` must name every version the bytes depend on (`current_version`). Keys must
    not grow with what strangers send: every Host header would otherwise add entries,
    each holding absolute URLs of that host for the next client to be served.
    """
    if not links_are_known():
        return None
    links = current_links()
    return "|".join((kind, *map(str, parts), links.site_url, links.media_base_url, links.enclosure_prefix))


# A site has one or a few hosts; building Links on every request showed in profiles.
_links = functools.lru_cache(maxsize=64)(Links.build)


def current_version(topic: str | None = None) -> int:
    """The store's version for cache keys: of everything (no topic), or of everything a
    topic's feeds show; remembered briefly (see `VersionMemo`).

    With Redis, writes in other processes arrive as change notices and are seen at once;
    without it, within VERSION_MEMO_SECONDS. While the store does not answer, the last
    version it gave, and the request is marked stale (`serving.rendered.STALE`).
    """
    version, stale = app_state().versions.lookup(topic)
    if stale:
        request.environ[STALE] = True
    return version


def answer_is_stale() -> bool:
    """Whether this request is answered from store versions that could not be checked."""
    return bool(request.environ.get(STALE))
