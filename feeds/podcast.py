"""What a topic needs to be a podcast, the podcast's guid, and its pages of episodes."""

from __future__ import annotations

import uuid

from stories.model import Story, Topic
from stories.store import StoryPage, StoryStore, decode_cursor, encode_cursor

from .content import feed_audio
from .urls import url_without_scheme

# The Podcast Index namespace's own UUIDv5 namespace for podcast:guid.
PODCAST_GUID_NAMESPACE = uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")

# Apple Podcasts: artwork from 1400x1400 to 3000x3000 pixels.
ARTWORK_MIN = 1400
ARTWORK_MAX = 3000


class PodcastSettingsIncomplete(Exception):
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


def podcast_guid(feed_url: str) -> str:
    """podcast:guid: UUIDv5 over the feed URL without its scheme and trailing slash."""
    return str(uuid.uuid5(PODCAST_GUID_NAMESPACE, url_without_scheme(feed_url)))


def is_episode(story: Story) -> bool:
    # By the record alone (no Links here): a story whose only audio URL is not http(s),
    # which validation refuses, counts, and its page shows one episode fewer.
    return bool(feed_audio(story))


def latest_episodes(store: StoryStore, slug: str, limit: int = 50,
                    cursor: str | None = None) -> StoryPage:
    """Like `StoryStore.latest`, counting only stories a podcast can enclose.

    A podcast app reads the first page only, so it must hold `limit` episodes even when
    stories without audio sit between them. Cursors are the store's own, pointing at the
    last episode shown, so page 100 still costs a few keyset reads.
    """
    direction = decode_cursor(cursor)[0] if cursor else "older"
    batch = min(max(2 * limit, 20), 1000)
    found: list[Story] = []
    at = cursor
    changed_at = None
    while len(found) <= limit:
        page = store.latest(slug, limit=batch, cursor=at)
        changed_at = changed_at or page.changed_at  # the first read's: never past what was read
        episodes = [s for s in page.stories if is_episode(s)]
        if direction == "older":
            found.extend(episodes)
            at = page.next_cursor
        else:  # walking towards newer stories: each batch is newer than the last
            found[:0] = episodes
            at = page.previous_cursor
        if at is None:
            break
    more = len(found) > limit
    if direction == "older":
        stories = found[:limit]
    else:
        stories = found[-limit:]
    if not stories:
        return StoryPage((), None, None)
    first, last = stories[0], stories[-1]
    has_older = more if direction == "older" else True
    has_newer = bool(cursor) if direction == "older" else more
    return StoryPage(
        tuple(stories),
        encode_cursor("older", last.published, last.id) if has_older else None,
        encode_cursor("newer", first.published, first.id) if has_newer else None,
        changed_at,
    )
