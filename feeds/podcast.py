"""What a topic needs to be a podcast, and the podcast's guid. Which stories are episodes
is the record's (`Story.is_episode`): the store picks them (`StoryStore.latest(...,
episodes=True)`)."""

from __future__ import annotations

import functools
import uuid

from stories.errors import NotFound
from stories.model import Topic

from .urls import url_without_scheme

# The Podcast Index namespace's own UUIDv5 namespace for podcast:guid.
PODCAST_GUID_NAMESPACE = uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")

# Apple Podcasts: artwork from 1400x1400 to 3000x3000 pixels.
ARTWORK_MIN = 1400
ARTWORK_MAX = 3000


class PodcastSettingsIncomplete(NotFound):
    """A topic whose podcast settings lack what Apple Podcasts requires."""

    def __init__(self, topic: Topic, missing: list[str]):
        self.topic = topic
        self.missing = tuple(missing)
        super().__init__(
            f"The topic {topic.slug!r} has no podcast feed: its podcast settings lack "
            + "; ".join(missing) + "."
        )


def missing_podcast_settings(topic: Topic) -> list[str]:
    """What the topic lacks for a podcast feed Apple accepts, each naming its field."""
    missing = []
    if not topic.description.strip():
        missing.append("a description (description)")
    if not topic.owner_email:
        missing.append("an owner e-mail (owner_email)")
    if not topic.category:
        missing.append("an Apple Podcasts category (category)")
    image = topic.image
    if image is None:
        missing.append(f"artwork of at least {ARTWORK_MIN}x{ARTWORK_MIN} pixels (image)")
    elif not image.width or not image.height:
        missing.append(
            f"the artwork's size: artwork must be at least {ARTWORK_MIN}x{ARTWORK_MIN} pixels "
            "(image.width, image.height)"
        )
    elif not (ARTWORK_MIN <= image.width <= ARTWORK_MAX and ARTWORK_MIN <= image.height <= ARTWORK_MAX):
        missing.append(
            f"artwork of {ARTWORK_MIN}x{ARTWORK_MIN} to {ARTWORK_MAX}x{ARTWORK_MAX} pixels "
            f"(image is {image.width}x{image.height})"
        )
    return missing


def has_podcast(topic: Topic | None) -> bool:
    return topic is not None and not missing_podcast_settings(topic)


# Made on every render of a podcast feed (and every request for one): a SHA-1 and a UUID
# each time were a tenth of the channel's cost beyond feedgen's. One a podcast topic (a
# few hundred at most; past them, 3 us a render).
@functools.lru_cache(maxsize=256)
def podcast_guid(feed_url: str) -> str:
    """podcast:guid: UUIDv5 over the feed URL without its scheme and trailing slash."""
    return str(uuid.uuid5(PODCAST_GUID_NAMESPACE, url_without_scheme(feed_url)))
