"""WebSub publishing: tell the hub which feeds changed after every committed write.

The store announces writes through `stories.store.stories_changed`; this pings the hub
with `hub.mode=publish` for each feed of the touched topics and the all-stories feeds.
A hub that fails is logged and never fails the write: the write is committed already,
and subscribers still see the change at their next poll.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import requests

from serving.links import Links
from serving.settings import Settings
from stories.store import StoryStore, stories_changed

from .podcast import has_podcast
from .urls import PODCAST, SITE_FORMATS, TOPIC_FORMATS, feed_url

log = logging.getLogger(__name__)

# A hub answers a publish ping at once and fetches the feed later; a hub that takes
# longer than this is treated as down, so an import never waits on it for long.
HUB_TIMEOUT = (3.05, 5)


def changed_feed_urls(store: StoryStore, links: Links, topics: Iterable[str]) -> list[str]:
    """The first pages of every feed a change to `topics` touches."""
    urls = [feed_url(links, fmt) for fmt in SITE_FORMATS]
    for slug in sorted(topics):
        topic = store.get_topic(slug)
        if topic is None:
            continue
        for fmt in TOPIC_FORMATS:
            if fmt is PODCAST and not has_podcast(topic):
                continue
            urls.append(feed_url(links, fmt, slug))
    return urls


def publish(hub: str, urls: Iterable[str], session: requests.Session | None = None) -> int:
    """POST one `hub.mode=publish` per feed URL; the number the hub accepted."""
    accepted = 0
    session = session or requests.Session()
    for url in urls:
        try:
            response = session.post(
                hub, data={"hub.mode": "publish", "hub.url": url}, timeout=HUB_TIMEOUT
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            log.warning("WebSub hub %s unreachable, feeds not announced: %s", hub, exc)
            return accepted  # the others would wait for the same dead hub
        except requests.RequestException as exc:
            log.warning("WebSub hub %s: publishing %s failed: %s", hub, url, exc)
            continue
        if 200 <= response.status_code < 300:
            accepted += 1
        else:
            log.warning("WebSub hub %s refused %s: HTTP %s %s", hub, url,
                        response.status_code, response.text[:200])
    return accepted


class WebSubPublisher:
    """Listens to one store's writes and pings the app's hub."""

    def __init__(self, hub: str, site_url: str | None, media_base_url: str | None):
        self.hub = hub
        self.links = Links.build(site_url, media_base_url) if site_url else None

    def stories_changed(self, store: StoryStore, topics: frozenset[str] = frozenset(), **_: object) -> None:
        if self.links is None:
            log.warning("WEBSUB_HUB is set but SITE_URL is not: the hub needs absolute feed "
                        "URLs, so the change to %s was not announced", ", ".join(sorted(topics)))
            return
        try:
            publish(self.hub, changed_feed_urls(store, self.links, topics))
        except Exception:  # nothing here may fail a write that is already committed
            log.exception("WebSub: announcing the change to %s failed", ", ".join(sorted(topics)))


def publisher_for(settings: Settings, store: StoryStore) -> WebSubPublisher | None:
    """A publisher listening to `store`'s writes when WEBSUB_HUB is set; the caller keeps
    it (blinker holds receivers weakly) for as long as the store."""
    hub = settings["WEBSUB_HUB"]
    if not hub:
        return None
    publisher = WebSubPublisher(hub, settings["SITE_URL"], settings["MEDIA_BASE_URL"])
    stories_changed.connect(publisher.stories_changed, sender=store)
    return publisher
