"""Feeds: RSS 2.0, Atom 1.0, JSON Feed 1.1, podcast RSS and OPML, built with feedgen.

The renderers take records and a `serving.links.Links` and return bytes; `web.feeds` is
the blueprint that serves them.
"""

from .content import CONTENT_MEMOS
from .podcast import podcast_guid
from .render import (
    render_atom_feed,
    render_json_feed,
    render_opml,
    render_podcast_feed,
    render_rss_feed,
)
from .urls import Paging

# What renders remember between them, per process: each story's URLs checked, ids made
# and body found clean once (`feeds.content`), each podcast's guid made once,
# not on every render of every format after every write. A benchmark's first render
# empties them all, as a new process starts without them.
PROCESS_MEMOS = (*CONTENT_MEMOS, podcast_guid)

__all__ = [
    "PROCESS_MEMOS",
    "Paging",
    "render_atom_feed",
    "render_json_feed",
    "render_opml",
    "render_podcast_feed",
    "render_rss_feed",
]
