"""What blueprints reach through the current app: the store and the site's links."""

from __future__ import annotations

import functools

from flask import current_app, request

from stories.store import StoryStore

from .links import Links
from .rendered import RenderCache, VersionMemo


def current_store() -> StoryStore:
    return current_app.extensions["storyfeed.store"]


def current_render_cache() -> RenderCache:
    return current_app.extensions["storyfeed.render_cache"]


def current_links() -> Links:
    """From SITE_URL when it is set, else from the request (behind ProxyFix)."""
    site_url = current_app.config.get("SITE_URL") or request.url_root
    return _links(site_url, current_app.config.get("MEDIA_BASE_URL"))


def links_are_known() -> bool:
    """Whether this request's absolute URLs are ones the operator named: from SITE_URL, or
    from a Host listed exactly in TRUSTED_HOSTS (not by a ".suffix" that takes any name)."""
    if current_app.config.get("SITE_URL"):
        return True
    trusted = current_app.config.get("TRUSTED_HOSTS") or ()
    return request.host.lower() in trusted


def cache_key(kind: str, *parts: object) -> str | None:
    """The render-cache key of an answer of `kind` made from `parts` and this site's links;
    None (render, keep nothing) when the links come from a Host nobody configured.

    Keys must not grow with what strangers send: every Host header would otherwise add
    entries, each holding absolute URLs of that host for the next client to be served.
    """
    if not links_are_known():
        return None
    links = current_links()
    return "|".join((kind, *map(str, parts), links.site_url, links.media_base_url))


# A site has one or a few hosts; building Links on every request showed in profiles.
_links = functools.lru_cache(maxsize=64)(Links.build)


def current_version(topic: str | None = None) -> int:
    """The store's version for cache keys, remembered briefly (see `VersionMemo`).

    With Redis, writes in other processes arrive as change notices and are seen at once;
    without it, within VERSION_MEMO_SECONDS.
    """
    memo = current_app.extensions.get("storyfeed.version_memo")
    if memo is None:
        memo = VersionMemo(current_store(), ttl=current_app.config["VERSION_MEMO_SECONDS"])
        current_app.extensions["storyfeed.version_memo"] = memo
        notices = current_app.extensions.get("storyfeed.change_notices")
        if notices is not None:
            notices.subscribe(memo.forget)
    return memo.version(topic)
