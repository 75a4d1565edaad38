"""Feeds: RSS 2.0, Atom 1.0, JSON Feed 1.1, podcast RSS and OPML, built with feedgen.

The renderers take records and a `serving.links.Links` and return bytes; `web.feeds` is
the blueprint that serves them.
"""

from .render import (
    render_atom_feed,
    render_json_feed,
    render_opml,
    render_podcast_feed,
    render_rss_feed,
)
from .urls import Paging

__all__ = [
    "Paging",
    "render_atom_feed",
    "render_json_feed",
    "render_opml",
    "render_podcast_feed",
    "render_rss_feed",
]
