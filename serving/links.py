"""Absolute URLs of the service's own resources, for feeds, embeds and pages.

Plain data, no Flask: renderers take a `Links` so they can run outside a request
(the CLI, a static export).

Every URL a `Links` hands out is http(s): records are validated on the way in, and URLs
built from them are checked again here, on the way out, so that a record that slipped past
validation (an old row, a bug, a direct write) still cannot put `javascript:` into a page.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from urllib.parse import quote, urljoin, urlsplit

log = logging.getLogger(__name__)

WEB_SCHEMES = ("http", "https")


def is_web_url(url: str) -> bool:
    """An absolute http(s) URL with a host: what a browser fetches and never runs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in WEB_SCHEMES and bool(parts.netloc) and url.isprintable()


@dataclass(frozen=True)
class Links:
    site_url: str  # ends with "/"
    media_base_url: str  # ends with "/"
    # ANALYTICS_PREFIX: a measurement service's redirect put in front of each enclosure
    # (`enclosure`); "" for none.
    enclosure_prefix: str = ""
    # Computed once: a `Links` is half the key of the URL memos that every feed item
    # looks up several times (`feeds.content.media_url`), and a dataclass's own hash
    # builds and hashes a tuple of its fields on every call.
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((self.site_url, self.media_base_url, self.enclosure_prefix)))

    def __hash__(self) -> int:
        return self._hash

    @classmethod
    def build(cls, site_url: str, media_base_url: str | None = None,
              enclosure_prefix: str | None = None) -> Links:
        site = site_url.rstrip("/") + "/"
        media = (media_base_url or urljoin(site, "media/")).rstrip("/") + "/"
        return cls(site, media, enclosure_prefix or "")

    def enclosure(self, url: str) -> str:
        """An enclosure's absolute URL behind the analytics prefix, as prefix services
        take it (OP3, Podtrac): the URL after its "https://", or whole when it is http,
        which the service could not tell otherwise (OP3's setup page)."""
        if not self.enclosure_prefix or not url:
            return url
        if url[:8].lower() == "https://":
            url = url[8:]
        return self.enclosure_prefix + url

    def absolute(self, path: str) -> str:
        # Appended, never urljoin'ed: a path like "javascript:x" or "//elsewhere" must stay
        # a path on this site.
        return self.site_url + path.lstrip("/")

    def topic(self, slug: str) -> str:
        return self.absolute(f"topics/{quote(slug)}")

    def story(self, story_id: str) -> str:
        return self.absolute(f"stories/{quote(story_id)}")

    def transcript_page(self, story_id: str) -> str:
        """The story's transcript page (served when `Story.has_transcripts`)."""
        return self.absolute(f"stories/{quote(story_id, safe='')}/transcript")

    def media(self, url: str) -> str:
        """A record's media URL made absolute: `/media/...` paths live under MEDIA_BASE_URL.

        "" (and a warning) for anything that would not be an http(s) URL: callers emit
        nothing rather than a link that runs script.
        """
        if url.startswith("/media/"):
            # Appended for the same reason as `absolute`: "/media/javascript:x//y.mp3"
            # is a file name under the media base, not a URL of its own.
            url = self.media_base_url + url[len("/media/"):]
        return self.external(url)

    def external(self, url: str) -> str:
        """A record's absolute URL (the story's page at its source) if it is http(s); else ""."""
        if is_web_url(url):
            return url
        if url:
            log.warning("not emitting a record URL that is not http(s): %r", url[:200])
        return ""
