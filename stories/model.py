"""The story record model: frozen dataclasses, nothing of HTTP or storage.

Records come in through `stories.validate` (the only way to build one from outside
data) and go out through `story_to_record` / `topic_to_record`, which give the same
JSON-ready form that `validate` reads back unchanged.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


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


def _key(name: str, **field_options: Any) -> Any:
    """A field written under another name in records (the Podcast Index JSON spelling)."""
    return dataclasses.field(metadata={"key": name}, **field_options)


@dataclass(frozen=True)
class Transcript:
    """A transcript or captions file of one audio (`podcast:transcript`)."""

    url: str
    type: str
    language: str = ""
    captions: bool = False


@dataclass(frozen=True)
class Chapter:
    """One chapter, in Podcast Index JSON chapters' terms (times in seconds)."""

    start_time: float = _key("startTime")
    title: str = ""
    img: str = ""
    url: str = ""
    end_time: float | None = _key("endTime", default=None)
    toc: bool = True


@dataclass(frozen=True)
class Chapters:
    """Podcast Index JSON chapters: either a `url` to the file or the document inline.

    Inline, the record form *is* a chapters document, so it is served as it stands.
    """

    url: str = ""
    version: str = ""
    chapters: tuple[Chapter, ...] = ()


@dataclass(frozen=True)
class Soundbite:
    """A highlight of the audio (`podcast:soundbite`), in seconds."""

    start: float
    duration: float
    title: str = ""


@dataclass(frozen=True)
class Alternate:
    """The same audio in another format or bitrate (`podcast:alternateEnclosure`)."""

    url: str
    type: str
    length: int | None = None
    bitrate: float | None = None  # bits per second
    codecs: str = ""  # RFC 6381, e.g. "opus" or "mp4a.40.2"
    title: str = ""


@dataclass(frozen=True)
class Person:
    """Someone who made or appears in a story or topic (`podcast:person`).

    `role` and `group` are spelled as in the Podcasting 2.0 taxonomy.
    """

    name: str
    role: str = "Host"
    group: str = "Cast"
    img: str = ""
    href: str = ""


@dataclass(frozen=True)
class License:
    """`name` is an SPDX identifier (lower-cased by apps) or a custom license's name."""

    name: str
    url: str = ""


@dataclass(frozen=True)
class Funding:
    url: str
    text: str


@dataclass(frozen=True)
class Location:
    name: str
    geo: str = ""  # an RFC 5870 geo: URI
    osm: str = ""  # OpenStreetMap type and id, e.g. R148838


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
    transcripts: tuple[Transcript, ...] = ()
    chapters: Chapters | None = None
    soundbites: tuple[Soundbite, ...] = ()
    alternates: tuple[Alternate, ...] = ()

    @property
    def enclosable(self) -> bool:
        """Whether a podcast feed can enclose it: downloadable, with a URL, a type and a
        length in bytes (an enclosure without its type or length gets podcasts rejected)."""
        return bool(self.downloadable and self.url and self.type and self.length)


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
    persons: tuple[Person, ...] = ()
    season: int | None = None
    episode: int | None = None
    episode_type: str = "full"
    access: str = "public"  # PUBLIC or MEMBERS (see `ACCESS_LEVELS`)

    @property
    def downloadable_audio(self) -> tuple[Audio, ...]:
        # A list, not a generator: 0.12 µs, not 0.2, and feeds ask for every item.
        return tuple([a for a in self.audio if a.downloadable and a.url])

    @property
    def is_episode(self) -> bool:
        """Whether a podcast feed has an item for it: the store keeps this beside the
        story's topics (`has_audio`), so podcast pages are picked by the database."""
        return any(a.enclosable for a in self.audio)

    @property
    def embeddable_audio(self) -> tuple[Audio, ...]:
        return tuple(a for a in self.audio if a.embeddable)

    @property
    def has_transcripts(self) -> bool:
        """Whether any audio has a transcript file: such a story has a transcript page,
        which its page and every player of it link to."""
        return any(audio.transcripts for audio in self.audio)

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
    medium: str = "podcast"
    license: License | None = None
    funding: tuple[Funding, ...] = ()
    location: Location | None = None
    persons: tuple[Person, ...] = ()
    moved_to: str = ""  # the slug of the topic this one moved to
    access: str = "public"  # MEMBERS: the topic and every story in it are members' only

    @classmethod
    def from_slug(cls, slug: str) -> Topic:
        """The topic a story names before anyone described it."""
        return cls(slug=slug, title=slug.replace("-", " ").strip().title())


# Who may read a record: anyone, or members only (through their private feed URLs,
# docs/members.md). A story is a member item when it or any topic it is in is MEMBERS.
PUBLIC = "public"
MEMBERS = "members"
ACCESS_LEVELS = (PUBLIC, MEMBERS)

# Kept, imported and exported for editors, never published (feeds, pages, the read API).
EDITOR_ONLY_FIELDS = ("note",)

# A story's fields in the order records are written out.
STORY_FIELDS = tuple(f.name for f in dataclasses.fields(Story))
TOPIC_FIELDS = tuple(f.name for f in dataclasses.fields(Topic))
IMAGE_FIELDS = tuple(f.name for f in dataclasses.fields(Image))
AUDIO_FIELDS = tuple(f.name for f in dataclasses.fields(Audio))
TOPIC_IMAGE_FIELDS = tuple(f.name for f in dataclasses.fields(TopicImage))


_T = TypeVar("_T", bound="DataclassInstance")


def format_datetime(value: datetime) -> str:
    """RFC 3339 in UTC with a `Z`, the one form records are written in."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _compact(obj: Any, defaults: dict[str, Any]) -> dict[str, Any]:
    """A dataclass as a dict without the fields that hold their default."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.name in defaults and value == defaults[f.name]:
            continue
        out[f.name] = value
    return out


def _defaults(cls: type[Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            result[f.name] = f.default
    return result


_STORY_DEFAULTS = _defaults(Story)
_TOPIC_DEFAULTS = _defaults(Topic)
_IMAGE_DEFAULTS = _defaults(Image)
_AUDIO_DEFAULTS = _defaults(Audio)
_TOPIC_IMAGE_DEFAULTS = _defaults(TopicImage)


def record_keys(cls: type[Any]) -> tuple[str, ...]:
    """The keys a record class is written under, in order."""
    return tuple(f.metadata.get("key", f.name) for f in dataclasses.fields(cls))


def _plain(value: Any) -> Any:
    """Record classes, dicts and tuples as JSON-ready dicts and lists, defaults left out."""
    if dataclasses.is_dataclass(value):
        return {
            f.metadata.get("key", f.name): _plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.default is dataclasses.MISSING or getattr(value, f.name) != f.default
        }
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    return value


def _from_plain(cls: type[_T], data: dict[str, Any]) -> _T:
    """The inverse of `_plain` for a record class whose fields hold plain values."""
    names = {f.metadata.get("key", f.name): f.name for f in dataclasses.fields(cls)}
    return cls(**{names[key]: value for key, value in data.items()})


def _audio_from_record(record: dict[str, Any]) -> Audio:
    data = dict(record)
    data["transcripts"] = tuple(Transcript(**t) for t in data.get("transcripts", ()))
    if data.get("chapters") is not None:
        chapters = dict(data["chapters"])
        chapters["chapters"] = tuple(_from_plain(Chapter, c) for c in chapters.get("chapters", ()))
        data["chapters"] = Chapters(**chapters)
    data["soundbites"] = tuple(Soundbite(**s) for s in data.get("soundbites", ()))
    data["alternates"] = tuple(Alternate(**a) for a in data.get("alternates", ()))
    return Audio(**data)


def _persons_from_record(record: dict[str, Any]) -> tuple[Person, ...]:
    return tuple(Person(**p) for p in record.get("persons", ()))


def _topic_parts_from_record(data: dict[str, Any]) -> dict[str, Any]:
    """The topic's nested records (license, funding, location, persons) as classes."""
    if data.get("license") is not None:
        data["license"] = License(**data["license"])
    if data.get("location") is not None:
        data["location"] = Location(**data["location"])
    data["funding"] = tuple(Funding(**f) for f in data.get("funding", ()))
    data["persons"] = _persons_from_record(data)
    return data


def story_to_record(story: Story) -> dict[str, Any]:
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
    record: dict[str, Any] = _plain(out)
    return record


def story_to_public_record(story: Story) -> dict[str, Any]:
    """The record as anyone may read it: without the fields kept for editors."""
    out = story_to_record(story)
    for name in EDITOR_ONLY_FIELDS:
        out.pop(name, None)
    return out


def topic_to_record(topic: Topic) -> dict[str, Any]:
    out = _compact(topic, _TOPIC_DEFAULTS)
    out["slug"] = topic.slug
    out["title"] = topic.title
    if topic.image is not None:
        out["image"] = _compact(topic.image, _TOPIC_IMAGE_DEFAULTS)
    record: dict[str, Any] = _plain(out)
    return record


def _parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def story_from_record(record: dict[str, Any]) -> Story:
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
    data["audio"] = tuple(_audio_from_record(a) for a in data.get("audio", ()))
    data["persons"] = _persons_from_record(data)
    return Story(**data)


def topic_from_record(record: dict[str, Any]) -> Topic:
    """The inverse of `topic_to_record`, for records this service wrote itself."""
    data = dict(record)
    if data.get("image") is not None:
        data["image"] = TopicImage(**data["image"])
    return Topic(**_topic_parts_from_record(data))
