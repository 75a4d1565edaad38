"""The story record model: frozen dataclasses, nothing of HTTP or storage.

Records come in through `stories.validate` (the only way to build one from outside
data) and go out through `story_to_record` / `topic_to_record`, which give the same
JSON-ready form that `validate` reads back unchanged.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timezone


@dataclass(frozen=True)
class Image:
    url: str
    width: int | None = None
    height: int | None = None
    caption: str = ""
    credit: str = ""
    alt: str = ""

    @property
    def producer(self) -> str:
        """The part of the credit before the first "/" (NPR's producer); "" when none."""
        producer, sep, _ = self.credit.partition("/")
        return producer.strip() if sep else ""

    @property
    def provider(self) -> str:
        """The part after the first "/", or the whole credit when it has no "/"."""
        producer, sep, provider = self.credit.partition("/")
        return provider.strip() if sep else producer.strip()


@dataclass(frozen=True)
class Audio:
    id: str
    url: str = ""
    type: str = ""
    length: int | None = None
    duration: int | None = None
    embed: str = ""
    transcript_url: str = ""
    downloadable: bool = True
    embeddable: bool = True


@dataclass(frozen=True)
class Story:
    id: str
    url: str
    title: str
    published: datetime
    updated: datetime
    teaser: str = ""
    body_html: str = ""
    bylines: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    image: Image | None = None
    audio: tuple[Audio, ...] = ()
    note: str = ""

    @property
    def downloadable_audio(self) -> tuple[Audio, ...]:
        return tuple(a for a in self.audio if a.downloadable and a.url)

    @property
    def embeddable_audio(self) -> tuple[Audio, ...]:
        return tuple(a for a in self.audio if a.embeddable)

    def find_audio(self, audio_id: str) -> Audio | None:
        return next((a for a in self.audio if a.id == audio_id), None)


@dataclass(frozen=True)
class TopicImage:
    url: str
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class Topic:
    slug: str
    title: str
    description: str = ""
    link: str = ""
    language: str = "en-us"
    image: TopicImage | None = None
    # Podcast settings (Apple Podcasts / PSP-1).
    author: str = ""
    owner_name: str = ""
    owner_email: str = ""
    category: str = ""
    subcategory: str = ""
    explicit: bool = False
    type: str = "episodic"
    copyright: str = ""

    @classmethod
    def from_slug(cls, slug: str) -> "Topic":
        """The topic a story names before anyone described it."""
        return cls(slug=slug, title=slug.replace("-", " ").strip().title())


# Kept, imported and exported for editors, never published (feeds, pages, the read API).
EDITOR_ONLY_FIELDS = ("note",)

# A story's fields in the order records are written out.
STORY_FIELDS = tuple(f.name for f in dataclasses.fields(Story))
TOPIC_FIELDS = tuple(f.name for f in dataclasses.fields(Topic))
IMAGE_FIELDS = tuple(f.name for f in dataclasses.fields(Image))
AUDIO_FIELDS = tuple(f.name for f in dataclasses.fields(Audio))
TOPIC_IMAGE_FIELDS = tuple(f.name for f in dataclasses.fields(TopicImage))


def format_datetime(value: datetime) -> str:
    """RFC 3339 in UTC with a `Z`, the one form records are written in."""
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _compact(obj, defaults) -> dict:
    """A dataclass as a dict without the fields that hold their default."""
    out = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.name in defaults and value == defaults[f.name]:
            continue
        out[f.name] = value
    return out


def _defaults(cls) -> dict:
    result = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            result[f.name] = f.default
    return result


_STORY_DEFAULTS = _defaults(Story)
_TOPIC_DEFAULTS = _defaults(Topic)
_IMAGE_DEFAULTS = _defaults(Image)
_AUDIO_DEFAULTS = _defaults(Audio)
_TOPIC_IMAGE_DEFAULTS = _defaults(TopicImage)


def story_to_record(story: Story) -> dict:
    """The JSON-ready record `stories.validate.parse_story` reads back unchanged."""
    out = _compact(story, _STORY_DEFAULTS)
    out["published"] = format_datetime(story.published)
    out["updated"] = format_datetime(story.updated)
    if story.bylines:
        out["bylines"] = list(story.bylines)
    if story.topics:
        out["topics"] = list(story.topics)
    if story.image is not None:
        out["image"] = _compact(story.image, _IMAGE_DEFAULTS)
    if story.audio:
        out["audio"] = [_compact(a, _AUDIO_DEFAULTS) for a in story.audio]
    return out


def story_to_public_record(story: Story) -> dict:
    """The record as anyone may read it: without the fields kept for editors."""
    out = story_to_record(story)
    for name in EDITOR_ONLY_FIELDS:
        out.pop(name, None)
    return out


def topic_to_record(topic: Topic) -> dict:
    out = _compact(topic, _TOPIC_DEFAULTS)
    out["slug"] = topic.slug
    out["title"] = topic.title
    if topic.image is not None:
        out["image"] = _compact(topic.image, _TOPIC_IMAGE_DEFAULTS)
    return out


def _parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(timezone.utc)


def story_from_record(record: dict) -> Story:
    """The inverse of `story_to_record`, for records this service wrote itself.

    Outside data goes through `stories.validate.parse_story` instead; this skips the
    checks (and the HTML cleaning) that stored records already passed.
    """
    data = dict(record)
    data["published"] = _parse_utc(data["published"])
    data["updated"] = _parse_utc(data["updated"])
    data["bylines"] = tuple(data.get("bylines", ()))
    data["topics"] = tuple(data.get("topics", ()))
    if data.get("image") is not None:
        data["image"] = Image(**data["image"])
    data["audio"] = tuple(Audio(**a) for a in data.get("audio", ()))
    return Story(**data)


def topic_from_record(record: dict) -> Topic:
    """The inverse of `topic_to_record`, for records this service wrote itself."""
    data = dict(record)
    if data.get("image") is not None:
        data["image"] = TopicImage(**data["image"])
    return Topic(**data)
