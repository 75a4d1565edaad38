"""What every feed format says about a story: safe text, the rich HTML, ids, the audio.

Records are cleaned on the way in (`stories.validate`), but feeds must stay readable
"whatever a record holds", so text is cleaned again here: one XML-illegal character in
one story would make a whole feed unreadable.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from jinja2 import Environment
from markupsafe import Markup

from stories.model import Audio, Story
from stories.validate import XML_ILLEGAL_RE, clean_body_html
from web.links import Links

# Ids are UUIDv5 names under this namespace, so they never change when the site moves,
# a story's URL is corrected or the story joins another topic. Never change it.
ID_NAMESPACE = uuid.UUID("96b2c0ad-2624-43e9-84e8-5cd21fde0303")
# What lastBuildDate/updated say when a feed has no story: a fixed time, never "now",
# so the same data always gives the same bytes.
EMPTY_FEED_UPDATED = datetime(1970, 1, 1, tzinfo=timezone.utc)

_html = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
# NPR's own topic feeds: the picture with its caption as alt text, the teaser, then the
# body, "(Image credit: ...)" and the transcript link.
_ITEM_HTML = _html.from_string(
    """\
{% if image_url %}<p><img src="{{ image_url }}" alt="{{ image_alt }}"\
{% if story.image.width %} width="{{ story.image.width }}"{% endif %}\
{% if story.image.height %} height="{{ story.image.height }}"{% endif %}></p>
{% endif %}
{% if teaser %}<p>{{ teaser }}</p>
{% endif %}
{% if body %}{{ body }}
{% endif %}
{% if credit %}<p>(Image credit: {{ credit }})</p>
{% endif %}
{% for url in transcripts %}<p><a href="{{ url }}">Transcript</a></p>
{% endfor %}"""
)


def xml_text(value: str) -> str:
    """`value` without the characters XML 1.0 forbids (C0 controls, lone surrogates)."""
    return XML_ILLEGAL_RE.sub("", value)


def story_guid(story: Story) -> str:
    return f"urn:uuid:{uuid.uuid5(ID_NAMESPACE, 'story:' + story.id)}"


def episode_guid(story: Story, audio: Audio) -> str:
    return f"urn:uuid:{uuid.uuid5(ID_NAMESPACE, f'audio:{story.id}/{audio.id}')}"


def feed_id(slug: str | None) -> str:
    """The permanent Atom id of a topic's feed (or of the all-stories feed)."""
    name = f"feed:topic:{slug}" if slug else "feed:all"
    return f"urn:uuid:{uuid.uuid5(ID_NAMESPACE, name)}"


def item_html(story: Story, links: Links) -> str:
    image = story.image
    image_url = links.media(image.url) if image else ""
    return xml_text(_ITEM_HTML.render(
        story=story,
        image_url=xml_text(image_url),
        image_alt=xml_text(image.caption or image.alt) if image else "",
        teaser=xml_text(story.teaser),
        body=Markup(clean_body_html(xml_text(story.body_html))) if story.body_html else "",
        credit=xml_text(image.credit) if image else "",
        transcripts=[xml_text(a.transcript_url) for a in story.audio if a.transcript_url],
    )).strip()


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
