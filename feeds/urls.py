"""The feed formats, their URLs and the links every feed page carries (RFC 5005, WebSub)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit

from serving.links import Links
from serving.params import DEFAULT_LIMIT, MAX_LIMIT

# Episodes (stories with audio) on a podcast feed's page of the default size. Podcast apps
# read one document: gPodder reads a next page only while every episode of the page
# before is new to it, and forgets the episodes it did not download once they leave what
# it read. So the feed is whole up to this many; beyond it, the oldest are on later pages.
# It is the default only: such a page is kept in the render cache, made once per change,
# while a `?limit=` (at most MAX_LIMIT) is rendered for each request.
PODCAST_PAGE_SIZE = 1000


@dataclass(frozen=True)
class FeedFormat:
    name: str
    filename: str
    content_type: str
    label: str
    page_size: int = DEFAULT_LIMIT  # a page without `?limit=`
    max_page_size: int = MAX_LIMIT  # the largest `?limit=`


RSS = FeedFormat("rss", "rss.xml", "application/rss+xml; charset=utf-8", "RSS")
ATOM = FeedFormat("atom", "atom.xml", "application/atom+xml; charset=utf-8", "Atom")
JSON_FEED = FeedFormat("json", "feed.json", "application/feed+json", "JSON Feed")
PODCAST = FeedFormat("podcast", "podcast.xml", "application/rss+xml; charset=utf-8", "Podcast",
                     page_size=PODCAST_PAGE_SIZE)

FORMATS = {f.name: f for f in (RSS, ATOM, JSON_FEED, PODCAST)}
# The formats of the all-stories feeds (a podcast belongs to one topic's settings).
SITE_FORMATS = (RSS, ATOM, JSON_FEED)
TOPIC_FORMATS = (RSS, ATOM, JSON_FEED, PODCAST)

OPML_PATH = "feeds.opml"
OPML_CONTENT_TYPE = "text/x-opml; charset=utf-8"


def feed_url(links: Links, fmt: FeedFormat, slug: str | None = None, *,
             limit: int | None = None, cursor: str | None = None) -> str:
    """The absolute URL of a feed page (`limit`: the format's page size when None).

    Pages after the first carry their cursor in the path (`pages/<cursor>/rss.xml`), so
    that every page of the default size is a plain file in a static export; only a
    non-default `limit` is a query.
    """
    path = f"topics/{quote(slug)}/" if slug else ""
    if cursor:
        path += f"pages/{quote(cursor)}/"
    url = links.absolute(path + fmt.filename)
    return f"{url}?{urlencode({'limit': limit})}" if limit not in (None, fmt.page_size) else url


def opml_url(links: Links) -> str:
    return links.absolute(OPML_PATH)


@dataclass(frozen=True)
class Paging:
    """Which page of a feed is asked for: its size and the cursor that led to it."""

    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


@dataclass(frozen=True)
class PageLinks:
    """The absolute URLs one feed page links to."""

    self: str
    first: str
    next: str | None
    previous: str | None
    hub: str | None
    canonical: str  # the feed's first page: what subscribers, hubs and ids go by

    @classmethod
    def build(cls, links: Links, fmt: FeedFormat, slug: str | None, paging: Paging,
              next_cursor: str | None, previous_cursor: str | None,
              hub: str | None = None) -> PageLinks:
        def url(cursor: str | None) -> str:
            return feed_url(links, fmt, slug, limit=paging.limit, cursor=cursor)

        return cls(
            self=url(paging.cursor),
            first=url(None),
            next=url(next_cursor) if next_cursor else None,
            previous=url(previous_cursor) if previous_cursor else None,
            hub=hub or None,
            canonical=feed_url(links, fmt, slug),
        )

    def rfc5005(self) -> list[tuple[str, str]]:
        """(rel, href) of the paging links, in the order feeds list them."""
        out = [("first", self.first)]
        if self.previous:
            out.append(("previous", self.previous))
        if self.next:
            out.append(("next", self.next))
        return out


def url_without_scheme(url: str) -> str:
    """`https://example.org/feed/` -> `example.org/feed`: the form podcast:guid and
    several podcast-app links use."""
    parts = urlsplit(url)
    rest = url[len(parts.scheme) + 3:] if parts.scheme else url
    return rest.rstrip("/")
