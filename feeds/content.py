"""What every feed format says about a story: safe text, the rich HTML, ids, the audio.

Records are cleaned on the way in (`stories.validate`), but feeds must stay readable
"whatever a record holds", so text is cleaned again here: one XML-illegal character in
one story would make a whole feed unreadable.
"""

from __future__ import annotations

import functools
import uuid
from datetime import datetime, timezone

from markupsafe import escape

from stories.model import Audio, Story
from stories.validate import XML_ILLEGAL_RE, clean_body_html
from web.links import Links

# Ids are UUIDv5 names under this namespace, so they never change when the site moves,
# a story's URL is corrected or the story joins another topic. Never change it.
ID_NAMESPACE = uuid.UUID("96b2c0ad-2624-43e9-84e8-5cd21fde0303")
# What lastBuildDate/updated say when a feed has no story: a fixed time, never "now",
# so the same data always gives the same bytes.
EMPTY_FEED_UPDATED = datetime(1970, 1, 1, tzinfo=timezone.utc)


def xml_text(value: str) -> str:
    """`value` without the characters XML 1.0 forbids (C0 controls, lone surrogates)."""
    return XML_ILLEGAL_RE.sub("", value)


@functools.lru_cache(maxsize=16_384)
def media_url(links: Links, url: str) -> str:
    """A record's media URL made absolute (`Links.media`) and safe for XML.

    Renders resolve the same URLs again and again (enclosure, picture, thumbnail, every
    page of every feed): urljoin was a tenth of a podcast feed's cost before this cache.
    """
    return xml_text(links.media(url))


@functools.lru_cache(maxsize=65_536)
def _guid(name: str) -> str:
    return f"urn:uuid:{uuid.uuid5(ID_NAMESPACE, name)}"


def story_guid(story: Story) -> str:
    return _guid("story:" + story.id)


def episode_guid(story: Story, audio: Audio) -> str:
    return _guid(f"audio:{story.id}/{audio.id}")


def feed_id(slug: str | None) -> str:
    """The permanent Atom id of a topic's feed (or of the all-stories feed)."""
    return _guid(f"feed:topic:{slug}" if slug else "feed:all")


def item_html(story: Story, links: Links) -> str:
    """The rich HTML of a story, as NPR's own topic feeds have it: the picture with its
    caption as alt text, the teaser, the body, "(Image credit: ...)", the transcript.

    Every value is escaped by MarkupSafe (Jinja's escaper); the body is cleaned by nh3.
    """
    parts = []
    image = story.image
    if image is not None:
        size = (f' width="{int(image.width)}" height="{int(image.height)}"'
                if image.width and image.height else "")
        parts.append(f'<p><img src="{escape(media_url(links, image.url))}" '
                     f'alt="{escape(image.caption or image.alt)}"{size}></p>')
    if story.teaser:
        parts.append(f"<p>{escape(story.teaser)}</p>")
    if story.body_html:
        # nh3 takes no lone surrogates, so the body is cleaned for XML first.
        parts.append(clean_body_html(xml_text(story.body_html)))
    if image is not None and image.credit:
        parts.append(f"<p>(Image credit: {escape(image.credit)})</p>")
    for audio in story.audio:
        if audio.transcript_url:
            parts.append(f'<p><a href="{escape(audio.transcript_url)}">Transcript</a></p>')
    return xml_text("\n".join(parts))


def feed_audio(story: Story) -> tuple[Audio, ...]:
    """Audio a feed can enclose: downloadable, with a URL, a type and a length in bytes
    (an enclosure without its length gets podcasts rejected)."""
    return tuple(a for a in story.downloadable_audio if a.type and a.length)


def newest_update(stories) -> datetime:
    return max((s.updated for s in stories), default=EMPTY_FEED_UPDATED)


def truncate_utf8(text: str, max_bytes: int) -> str:
    """At most `max_bytes` of UTF-8, cut on a character boundary (Apple counts bytes)."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    return data[:max_bytes - 3].decode("utf-8", errors="ignore").rstrip() + "..."
