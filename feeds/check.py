"""`feeds check`: what Apple Podcasts, Spotify and podcast indexes would refuse, found first.

Two halves. `plan_topic` looks at a topic's records and its podcast feed as the renderer
makes it, without the network: podcast settings, required tags, duplicate guids, audio
no feed can enclose, durations against the files in MEDIA_DIR. It also lists every file
the feeds point at (enclosures, alternates, transcripts, chapters by url, artwork), and
`check_target` fetches each through a `Fetcher`: reachable, HEAD answered, byte ranges,
length and type as the feed says, a file extension, short redirect chains, and artwork
that Apple takes.

Problems name the topic, the story and the record field to fix. Nothing here knows of
Flask or the command line: `web.cli.feeds` is the command.
"""

from __future__ import annotations

import dataclasses
import enum
import io
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import mutagen
import requests
from lxml import etree
from PIL import Image

from serving.files import regular_file_in
from serving.links import Links, is_web_url
from serving.outbound import (
    USER_AGENT,
    AddressGuard,
    AddressRefused,
    GuardedAdapter,
    Reach,
    describe_error,
    judge_address,
    private_origin_of,
)
from stories.model import Audio, Story, Topic
from stories.store import StoryPage, StoryStore

from .content import episode_guid, media_url, story_guid
from .podcast import ARTWORK_MAX, ARTWORK_MIN, PodcastSettingsIncomplete
from .render import render_podcast_feed

# More hops than this and some apps give up (and each hop costs a listener a round trip).
MAX_REDIRECT_HOPS = 2
# Artwork is read whole, to be measured; Apple's largest is 3000x3000, rarely 2 MB.
ARTWORK_MAX_BYTES = 10_000_000
# Durations are whole seconds in records, and a VBR file's length is an estimate.
DURATION_SLACK_SECONDS = 1.0
DURATION_SLACK_SHARE = 0.01
ARTWORK_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png"}
# What podcast:chapters says its files are; servers say application/json.
CHAPTERS_TYPE = "application/json+chapters"
# Types that name the same files: what a feed declares, what servers send for it.
SAME_TYPES = (
    frozenset({"application/json", CHAPTERS_TYPE}),
    frozenset({"application/x-subrip", "application/srt", "text/srt", "text/plain"}),
)
ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"


class Severity(enum.StrEnum):
    ERROR = "error"  # a feed or an episode refused, or a file that does not play
    WARNING = "warning"  # taken, but worse for listeners or some apps


@dataclass(frozen=True)
class Problem:
    severity: Severity
    topic: str
    story: str  # "" for the topic's own fields
    field: str  # the record field to fix, e.g. "audio[0].length"
    message: str

    def line(self) -> str:
        story = f"story {self.story}: " if self.story else ""
        return f"{self.severity}: {self.topic}: {story}{self.field}: {self.message}"

    def as_dict(self) -> dict[str, str]:
        return {"severity": str(self.severity), "topic": self.topic, "story": self.story,
                "field": self.field, "message": self.message}


class Kind(enum.Enum):
    ENCLOSURE = "enclosure"
    ALTERNATE = "alternate"
    TRANSCRIPT = "transcript"
    CHAPTERS = "chapters"
    ARTWORK = "artwork"

    @property
    def ranged(self) -> bool:
        """Audio is played from the middle: apps ask for byte ranges, Apple requires them."""
        return self in (Kind.ENCLOSURE, Kind.ALTERNATE)


@dataclass(frozen=True)
class Target:
    """One file a feed points at, and what the feed says of it."""

    kind: Kind
    url: str  # absolute, as the feed has it
    topic: str
    story: str
    field: str  # the record object holding the URL: "audio[0]", "image", ...
    type: str = ""  # declared; "" for artwork, which must be JPEG or PNG
    type_field: str = ""  # where the declared type is written, when the record has one
    length: int | None = None

    @property
    def url_field(self) -> str:
        return f"{self.field}.url"


@dataclass(frozen=True)
class TopicPlan:
    topic: Topic
    problems: tuple[Problem, ...]  # found without the network
    targets: tuple[Target, ...]
    story_order: Mapping[str, int] = field(default_factory=dict)


# -- fetching ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Fetched:
    """The last answer of a request, after the redirects it went through."""

    status: int | None  # None when nothing answered
    headers: Mapping[str, str] = field(default_factory=dict)  # names lower-cased
    body: bytes = b""
    complete: bool = True  # False when the body was longer than asked for
    redirects: tuple[str, ...] = ()  # every URL redirected to, in order
    failure: str = ""  # why nothing answered: unreachable, refused, a redirect loop...


class RequestCapReached(Exception):
    def __init__(self, cap: int):
        self.cap = cap
        super().__init__(f"the cap of {cap} requests is reached")


class Fetcher(Protocol):
    def fetch(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
              max_bytes: int = 0) -> Fetched: ...


class GuardedFetcher:
    """HTTP for the check, through the sources' address guard (`sources.fetch`).

    The guard allows loopback and private addresses only for the service's own hosts (its
    SITE_URL and MEDIA_BASE_URL, so the check works against `make run`), and never
    link-local or metadata addresses. No cache and no retries: a flaky file is a finding.
    Redirects are followed here, hop by hop through the guard, so that a chain is counted
    and a loop named. Every request counts against `max_requests`.
    """

    def __init__(self, private_origins: Iterable[tuple[str, int]] = (), *,
                 connect_timeout: float = 5.0, read_timeout: float = 10.0,
                 deadline: float = 30.0, max_requests: int = 5000, max_redirects: int = 10):
        self.timeout = (connect_timeout, read_timeout)
        self.deadline = deadline  # seconds for one request, body included
        self.max_requests = max_requests
        self.max_redirects = max_redirects
        self.requests_made = 0
        self.session = requests.Session()
        # No proxies or .netrc from the environment: a proxy is a way around the guard.
        self.session.trust_env = False
        self.session.headers["User-Agent"] = USER_AGENT.replace("story sync", "feeds check")
        adapter = GuardedAdapter(AddressGuard(private_origins=frozenset(private_origins)),
                                 max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    @classmethod
    def for_site(cls, links: Links, **settings: Any) -> GuardedFetcher:
        return cls.trusting((links.site_url, links.media_base_url), **settings)

    @classmethod
    def trusting(cls, own_urls: Iterable[str], **settings: Any) -> GuardedFetcher:
        """A fetcher that lets the hosts of `own_urls` (the operator's SITE_URL and
        MEDIA_BASE_URL, never a default) be private addresses."""
        own = (private_origin_of(url) for url in own_urls)
        return cls([origin for origin in own if origin is not None], **settings)

    def close(self) -> None:
        self.session.close()

    def fetch(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
              max_bytes: int = 0) -> Fetched:
        redirects: list[str] = []
        current = url
        while True:
            if self.requests_made >= self.max_requests:
                raise RequestCapReached(self.max_requests)
            self.requests_made += 1
            started = time.monotonic()
            try:
                response = self.session.request(method, current, headers=dict(headers or {}),
                                                allow_redirects=False, stream=True,
                                                timeout=self.timeout)
            except AddressRefused as exc:
                return Fetched(None, redirects=tuple(redirects), failure=_refusal(exc))
            except (requests.RequestException, ValueError) as exc:  # ValueError: a URL urllib3 cannot parse
                return Fetched(None, redirects=tuple(redirects), failure=describe_error(exc))
            with response:
                if response.is_redirect:
                    try:
                        location = urljoin(current, response.headers["Location"])
                    except ValueError:  # e.g. an unclosed IPv6 bracket
                        location = response.headers["Location"]
                    failure = ""
                    if not is_web_url(location):
                        failure = f"redirected to {location[:200]!r}, not an http(s) URL"
                    elif location == url or location in redirects:
                        loop = [url, *redirects, location]
                        failure = "redirect loop: " + " -> ".join(loop[loop.index(location):])
                    elif len(redirects) >= self.max_redirects:
                        failure = f"more than {self.max_redirects} redirects"
                    redirects.append(location)
                    if failure:
                        return Fetched(response.status_code, redirects=tuple(redirects),
                                       failure=failure)
                    current = location
                    continue
                try:
                    body, complete = self._read(response, max_bytes, started)
                except TimeoutError as exc:
                    return Fetched(None, redirects=tuple(redirects), failure=str(exc))
                except requests.RequestException as exc:
                    return Fetched(None, redirects=tuple(redirects), failure=describe_error(exc))
                return Fetched(response.status_code,
                               {k.lower(): v for k, v in response.headers.items()},
                               body, complete, tuple(redirects))

    def _read(self, response: requests.Response, max_bytes: int,
              started: float) -> tuple[bytes, bool]:
        """At most `max_bytes` of the body, within the deadline; the rest is left unread
        (the connection is closed): a server answering a Range with the whole file must
        not cost the whole file."""
        if max_bytes <= 0:
            return b"", True
        body = bytearray()
        for chunk in response.iter_content(64 * 1024):
            body += chunk
            if len(body) > max_bytes:
                return bytes(body[:max_bytes]), False
            if time.monotonic() - started > self.deadline:
                raise TimeoutError(f"the body took more than {self.deadline:g} s")
        return bytes(body), True


def _refusal(exc: AddressRefused) -> str:
    if judge_address(exc.address).reach is Reach.NEVER:
        return (f"refused: {exc.host} resolves to {exc.address}, a link-local, multicast or "
                "cloud metadata address, never fetched")
    return (f"refused: {exc.host} resolves to {exc.address}, a loopback or private address; "
            "only the hosts of SITE_URL and MEDIA_BASE_URL may be")


# -- one file ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Observed:
    """What a URL's server answered to HEAD and to GET, bodies already judged and dropped
    (a run keeps one per URL, and thousands of artwork bodies would not fit)."""

    head: Fetched
    get: Fetched | None = None  # None when HEAD got no answer
    artwork: tuple[tuple[Severity, str], ...] = ()  # what the picture itself fails

    @property
    def content_type(self) -> str:
        return (self.get.headers.get("content-type") if self.get else "") or (
            self.head.headers.get("content-type") or "")


def observe(url: str, kind: Kind, fetcher: Fetcher) -> Observed:
    """HEAD, then a GET: with `Range: bytes=0-1` for audio, whole (capped) for artwork,
    and with no body read for the rest. Raises RequestCapReached."""
    head = fetcher.fetch("HEAD", url)
    if head.failure:
        return Observed(head)
    if kind is Kind.ARTWORK:
        get = fetcher.fetch("GET", url, max_bytes=ARTWORK_MAX_BYTES)
        judged = Observed(head, dataclasses.replace(get, body=b""))
        if get.failure or get.status != 200:
            return judged
        return dataclasses.replace(judged, artwork=tuple(_artwork_problems(get, judged.content_type)))
    return Observed(head, fetcher.fetch("GET", url, headers={"Range": "bytes=0-1"} if kind.ranged else None))


def check_target(target: Target, fetcher: Fetcher,
                 observed: dict[tuple[str, Kind], Observed] | None = None) -> list[Problem]:
    """What is wrong with one file, each problem once. `observed` keeps what each URL
    answered across calls, so that a file several stories share is fetched once.
    Raises RequestCapReached."""
    found: list[Problem] = []

    def problem(severity: Severity, field_name: str, message: str) -> None:
        found.append(Problem(severity, target.topic, target.story, field_name, message))

    if not target.url:  # what `media_url` makes of a URL that is not http(s)
        problem(Severity.ERROR, target.url_field, "is not an http(s) URL")
        return found
    if not PurePosixPath(urlsplit(target.url).path).suffix:
        # Apple Podcasts goes by the extension (.mp3, .m4a; .jpg, .png), as do some players.
        severe = target.kind in (Kind.ENCLOSURE, Kind.ARTWORK)
        problem(Severity.ERROR if severe else Severity.WARNING, target.url_field,
                f"{target.url} has no file extension")
    memo = {} if observed is None else observed
    key = (target.url, target.kind)
    if key not in memo:
        memo[key] = observe(target.url, target.kind, fetcher)
    seen = memo[key]
    head, get = seen.head, seen.get
    if get is None:
        problem(Severity.ERROR, target.url_field, head.failure)
        return found
    if get.failure or get.status not in (200, 206):
        problem(Severity.ERROR, target.url_field,
                get.failure or f"the server answers HTTP {get.status} to GET")
        return found
    hops = len(get.redirects)
    if hops > MAX_REDIRECT_HOPS:
        problem(Severity.WARNING, target.url_field,
                f"{hops} redirects before the file (at most {MAX_REDIRECT_HOPS} is safe): "
                + " -> ".join((target.url, *get.redirects)))
    if head.status is None or not 200 <= head.status < 300:
        problem(Severity.WARNING, target.url_field,
                f"the server answers HTTP {head.status} to HEAD, which apps and validators send")
    if target.kind.ranged and get.status != 206:
        problem(Severity.ERROR, target.url_field,
                f"no byte ranges: a Range request got HTTP {get.status}, not 206 (Apple "
                "Podcasts requires ranges, and players cannot seek without them)")
    if target.kind is Kind.ARTWORK:
        found += [Problem(severity, target.topic, target.story, target.field, message)
                  for severity, message in seen.artwork]
        return found
    mismatch = _type_mismatch(target.type, seen.content_type)
    if mismatch is not None:
        sent = _base_type(seen.content_type) or "no Content-Type"
        problem(mismatch, target.type_field or target.url_field,
                f"the feed says {target.type}, the server sends {sent}")
    if target.length is not None:
        sent_length = _length(head, get)
        if sent_length is None:
            problem(Severity.WARNING, f"{target.field}.length",
                    "the server sends no length (Content-Length or Content-Range)")
        elif sent_length != target.length:
            problem(Severity.ERROR, f"{target.field}.length",
                    f"feed says {target.length} bytes, server sends {sent_length}")
    return found


def _base_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _type_mismatch(declared: str, sent: str) -> Severity | None:
    """None when the server's type names what the feed declares; a warning when it is of
    the same kind of media (audio/mp3 for audio/mpeg); else an error (text/html)."""
    declared, sent = _base_type(declared), _base_type(sent)
    if declared == sent or any(declared in same and sent in same for same in SAME_TYPES):
        return None
    family = declared.split("/", 1)[0]
    if not sent or (family in ("audio", "video", "image") and sent.split("/", 1)[0] == family):
        return Severity.WARNING
    return Severity.ERROR


def _length(head: Fetched, get: Fetched) -> int | None:
    """The file's size: from the ranged answer's Content-Range, else a Content-Length."""
    total = get.headers.get("content-range", "").rpartition("/")[2].strip()
    if get.status == 206 and total.isdigit():
        return int(total)
    for answer in (head, get):
        declared = answer.headers.get("content-length", "").strip()
        if answer.status == 200 and declared.isdigit():
            return int(declared)
    return None


def _artwork_problems(get: Fetched, sent_type: str) -> list[tuple[Severity, str]]:
    """Apple Podcasts' artwork rules: JPEG or PNG, RGB, square, 1400 to 3000 pixels."""
    if not get.complete:
        return [(Severity.ERROR, f"is larger than {ARTWORK_MAX_BYTES} bytes, not read")]
    try:
        # Only the header is read: size, mode and format, no pixels decoded.
        with Image.open(io.BytesIO(get.body)) as image:
            kind, (width, height), mode = image.format or "", image.size, image.mode
    except Exception as exc:  # noqa: BLE001 (hostile bytes fail in many ways, all one finding)
        return [(Severity.ERROR, f"is not an image Pillow can read ({type(exc).__name__})")]
    found: list[tuple[Severity, str]] = []
    if kind not in ARTWORK_FORMATS:
        found.append((Severity.ERROR, f"is {kind or 'an unknown format'}; artwork must be JPEG or PNG"))
    elif _base_type(sent_type) != ARTWORK_FORMATS[kind]:
        found.append((Severity.WARNING, f"is {kind}, but the server sends it as "
                      f"{_base_type(sent_type) or 'no Content-Type'}"))
    if width != height:
        found.append((Severity.ERROR, f"is {width}x{height} pixels, not square"))
    if not all(ARTWORK_MIN <= side <= ARTWORK_MAX for side in (width, height)):
        found.append((Severity.ERROR, f"is {width}x{height} pixels; artwork must be "
                      f"{ARTWORK_MIN}x{ARTWORK_MIN} to {ARTWORK_MAX}x{ARTWORK_MAX}"))
    if mode in ("RGBA", "P"):  # RGB colours, but transparency some apps show as black
        found.append((Severity.WARNING, f"is in mode {mode}; artwork should be plain RGB"))
    elif mode != "RGB":
        found.append((Severity.ERROR, f"is in mode {mode}; artwork must be RGB"))
    return found


# -- one topic, without the network ------------------------------------------------------


# (XPath of the value, record field, severity, what Apple or Spotify make of it missing)
CHANNEL_TAGS = (
    ("title", "title", Severity.ERROR),
    ("description", "description", Severity.ERROR),
    ("language", "language", Severity.ERROR),
    ("itunes:image/@href", "image", Severity.ERROR),
    ("itunes:category/@text", "category", Severity.ERROR),
    ("itunes:explicit", "explicit", Severity.ERROR),
    ("itunes:owner/itunes:email", "owner_email", Severity.WARNING),
    ("itunes:author", "author", Severity.WARNING),
    ("link", "link", Severity.WARNING),
)
ITEM_TAGS = (
    ("title", "title", Severity.ERROR),
    ("enclosure/@url", "{audio}.url", Severity.ERROR),
    ("enclosure/@length", "{audio}.length", Severity.ERROR),
    ("enclosure/@type", "{audio}.type", Severity.ERROR),
    ("guid", "id", Severity.ERROR),
    ("pubDate", "published", Severity.WARNING),
    ("description", "teaser", Severity.WARNING),
    ("itunes:duration", "{audio}.duration", Severity.WARNING),
)


def _tag_name(path: str) -> str:
    element, _, attribute = path.partition("/@")
    return f"<{element.split('/')[-1]} {attribute}>" if attribute else f"<{element.split('/')[-1]}>"


def _value(element: etree._Element, path: str) -> str:
    return str(element.xpath(f"string({path})", namespaces={"itunes": ITUNES_NS})).strip()


@dataclass(frozen=True)
class _Episode:
    story: Story
    index: int  # in story.audio
    audio: Audio
    url: str


def _feed_problems(topic: Topic, feed: bytes, episodes: Sequence[_Episode]) -> tuple[list[Problem], dict[str, str]]:
    """Required and recommended tags of the rendered podcast feed, and each story's
    artwork as its items name it (`itunes:image`)."""
    found: list[Problem] = []
    channel = etree.fromstring(feed, etree.XMLParser(resolve_entities=False, no_network=True)).find("channel")
    assert channel is not None  # the renderer's own RSS
    for path, record_field, severity in CHANNEL_TAGS:
        if not _value(channel, path):
            found.append(Problem(severity, topic.slug, "", record_field,
                                 f"the podcast feed has no {_tag_name(path)}"))
    items = channel.findall("item")
    if len(items) != len(episodes):
        found.append(Problem(Severity.ERROR, topic.slug, "", "podcast",
                             f"the podcast feed has {len(items)} items for {len(episodes)} episodes"))
    artwork: dict[str, str] = {}
    for item, episode in zip(items, episodes, strict=False):
        for path, record_field, severity in ITEM_TAGS:
            if not _value(item, path):
                found.append(Problem(severity, topic.slug, episode.story.id,
                                     record_field.format(audio=f"audio[{episode.index}]"),
                                     f"the podcast item has no {_tag_name(path)}"))
        image = _value(item, "itunes:image/@href")
        if image:
            artwork.setdefault(episode.story.id, image)
    return found, artwork


def _duration_problem(path: str, audio: Audio) -> str:
    """Why `audio.duration` disagrees with the file at `path`; "" when it does not."""
    try:
        # None for a format mutagen does not know. (mutagen re-exports these without __all__.)
        audio_file = mutagen.File(path)  # type: ignore[attr-defined]
    except (mutagen.MutagenError, OSError) as exc:  # type: ignore[attr-defined]
        return f"mutagen cannot read {Path(path).name}: {exc}"
    seconds = audio_file.info.length if audio_file is not None else 0
    if not seconds:
        return f"mutagen cannot tell how long {Path(path).name} lasts"
    assert audio.duration is not None
    if abs(audio.duration - seconds) > max(DURATION_SLACK_SECONDS, DURATION_SLACK_SHARE * seconds):
        return f"feed says {audio.duration} s, the file lasts {seconds:.1f} s"
    return ""


def _local_file(url: str, media_dir: str | Path | None) -> str | None:
    if media_dir is None or not url.startswith("/media/"):
        return None
    return regular_file_in(str(media_dir), url[len("/media/"):])


def plan_topic(topic: Topic, stories: Iterable[Story], links: Links,
               media_dir: str | Path | None = None) -> TopicPlan:
    """What can be told of a topic without the network, and the files to fetch.

    `stories` are the topic's, in feed order (newest first); `media_dir` is where
    `/media/` paths live (MEDIA_DIR), for durations measured from the files themselves.
    """
    slug = topic.slug
    stories = list(stories)
    problems: list[Problem] = []
    targets: list[Target] = []

    def problem(severity: Severity, story: str, field_name: str, message: str) -> None:
        problems.append(Problem(severity, slug, story, field_name, message))

    episodes: list[_Episode] = []
    enclosed: dict[str, str] = {}  # enclosure URL -> the story that encloses it
    guids: dict[str, str] = {}  # podcast item guid -> its story and audio
    story_ids: set[str] = set()
    for story in stories:
        if story.id in story_ids:
            problem(Severity.ERROR, story.id, "id",
                    f"another story of the topic has this id: their items share the guid {story_guid(story)}")
        for index, audio in enumerate(story.audio):
            af = f"audio[{index}]"
            if not (audio.downloadable and audio.url):
                continue
            if not audio.type or not audio.length:
                missing = "type" if not audio.type else "length"
                problem(Severity.WARNING, story.id, f"{af}.{missing}",
                        "missing, so no feed encloses this audio")
                continue
            url = links.enclosure(media_url(links, audio.url))
            if not url:
                problem(Severity.ERROR, story.id, f"{af}.url", "is not an http(s) URL")
                continue
            if url in enclosed:
                problem(Severity.WARNING, story.id, f"{af}.url",
                        f"story {enclosed[url]} encloses the same file, so the podcast feed "
                        "leaves this episode out")
                continue
            enclosed[url] = story.id
            guid = episode_guid(story, audio)
            if guid in guids and story.id not in story_ids:  # a duplicate id is told above
                problem(Severity.ERROR, story.id, f"{af}.id",
                        f"the podcast guid {guid} is also {guids[guid]}'s")
            guids.setdefault(guid, f"story {story.id} {af}")
            episodes.append(_Episode(story, index, audio, url))
            targets += _audio_targets(slug, story, index, audio, url, links)
            problems += _duration_problems(slug, story, index, audio, media_dir)
        story_ids.add(story.id)
    page = StoryPage(tuple(dict.fromkeys(e.story for e in episodes)), None, None)
    try:
        feed = render_podcast_feed(topic, page, links)
    except PodcastSettingsIncomplete as exc:
        # No podcast feed is served, so nothing of it can be refused: its enclosures still
        # reach podcast apps through the RSS feed.
        for missing in exc.missing:
            problem(Severity.WARNING, "", "podcast", f"no podcast feed: the topic lacks {missing}")
    else:
        feed_problems, artwork = _feed_problems(topic, feed, episodes)
        problems += feed_problems
        topic_artwork = media_url(links, topic.image.url) if topic.image else ""
        targets.insert(0, Target(Kind.ARTWORK, topic_artwork, slug, "", "image"))
        targets += [Target(Kind.ARTWORK, url, slug, story_id, "image")
                    for story_id, url in artwork.items()]
    order: dict[str, int] = {}
    for position, story in enumerate(stories):
        order.setdefault(story.id, position)
    problems.sort(key=lambda p: order.get(p.story, -1))  # the topic's own first
    return TopicPlan(topic, tuple(problems), tuple(targets), order)


def _audio_targets(slug: str, story: Story, index: int, audio: Audio, url: str,
                   links: Links) -> list[Target]:
    af = f"audio[{index}]"
    found = [Target(Kind.ENCLOSURE, url, slug, story.id, af, audio.type, f"{af}.type", audio.length)]
    for j, alternate in enumerate(audio.alternates):
        f = f"{af}.alternates[{j}]"
        found.append(Target(Kind.ALTERNATE, media_url(links, alternate.url), slug, story.id, f,
                            alternate.type, f"{f}.type", alternate.length))
    for j, transcript in enumerate(audio.transcripts):
        f = f"{af}.transcripts[{j}]"
        found.append(Target(Kind.TRANSCRIPT, media_url(links, transcript.url), slug, story.id, f,
                            transcript.type, f"{f}.type"))
    if audio.chapters is not None and audio.chapters.url:
        found.append(Target(Kind.CHAPTERS, media_url(links, audio.chapters.url), slug, story.id,
                            f"{af}.chapters", CHAPTERS_TYPE))
    return found


def _duration_problems(slug: str, story: Story, index: int, audio: Audio,
                       media_dir: str | Path | None) -> list[Problem]:
    """The audio's duration against its file and its alternates' files, where local."""
    if audio.duration is None:
        return []  # the feed's tags check says it is missing
    files = [(f"audio[{index}].duration", audio.url)]
    files += [(f"audio[{index}].alternates[{j}].url", a.url) for j, a in enumerate(audio.alternates)]
    found = []
    for field_name, url in files:
        path = _local_file(url, media_dir)
        message = _duration_problem(path, audio) if path else ""
        if message:
            found.append(Problem(Severity.WARNING, slug, story.id, field_name, message))
    return found


# -- running -----------------------------------------------------------------------------


def plan_store(store: StoryStore, links: Links, media_dir: str | Path | None = None,
               slug: str | None = None) -> list[TopicPlan]:
    """Plans for one topic of the store, or for all of them."""
    topics = [store.get_topic(slug)] if slug is not None else store.list_topics()
    return [plan_topic(topic, store.iter_stories(topic.slug), links, media_dir)
            for topic in topics if topic is not None]


def run_checks(plans: Sequence[TopicPlan], fetcher: Fetcher,
               on_target: Callable[[Target], None] = lambda target: None) -> list[Problem]:
    """Every plan's problems and its files' problems, topic by topic, each topic's in
    story order. Stops fetching at the fetcher's request cap, and says so."""
    observed: dict[tuple[str, Kind], Observed] = {}
    found: list[Problem] = []
    capped: RequestCapReached | None = None
    capped_in = ""
    unchecked = 0
    for plan in plans:
        problems = list(plan.problems)
        for target in plan.targets:
            if capped is None:
                try:
                    problems += check_target(target, fetcher, observed)
                except RequestCapReached as exc:
                    capped, capped_in = exc, plan.topic.slug
            if capped is not None:
                unchecked += 1
            on_target(target)
        problems.sort(key=lambda p: plan.story_order.get(p.story, -1))
        found += problems
    if capped is not None:
        found.append(Problem(Severity.ERROR, capped_in, "", "requests",
                             f"stopped at the cap of {capped.cap} requests: {unchecked} "
                             "file(s) not checked"))
    return found
