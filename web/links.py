"""Absolute URLs of the service's own resources, for feeds, embeds and pages.

Plain data, no Flask: renderers take a `Links` so they can run outside a request
(the CLI, a static export).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urljoin


@dataclass(frozen=True)
class Links:
    site_url: str  # ends with "/"
    media_base_url: str  # ends with "/"

    @classmethod
    def build(cls, site_url: str, media_base_url: str | None = None) -> "Links":
        site = site_url.rstrip("/") + "/"
        media = (media_base_url or urljoin(site, "media/")).rstrip("/") + "/"
        return cls(site, media)

    def absolute(self, path: str) -> str:
        return urljoin(self.site_url, path.lstrip("/"))

    def topic(self, slug: str) -> str:
        return self.absolute(f"topics/{quote(slug)}")

    def story(self, story_id: str) -> str:
        return self.absolute(f"stories/{quote(story_id)}")

    def media(self, url: str) -> str:
        """A record's media URL made absolute: `/media/...` paths live under MEDIA_BASE_URL."""
        if url.startswith("/media/"):
            return urljoin(self.media_base_url, url[len("/media/"):])
        return url
