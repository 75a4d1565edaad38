"""What blueprints reach through the current app: the store and the site's links."""

from __future__ import annotations

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
    return Links.build(site_url, current_app.config.get("MEDIA_BASE_URL"))


def current_version(topic: str | None = None) -> int:
    """The store's version for cache keys, remembered briefly (see `VersionMemo`)."""
    memo = current_app.extensions.get("storyfeed.version_memo")
    if memo is None:
        memo = current_app.extensions.setdefault("storyfeed.version_memo",
                                                 VersionMemo(current_store()))
    return memo.version(topic)
