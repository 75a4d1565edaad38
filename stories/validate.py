"""Turn outside data (JSON-shaped dicts) into validated records.

Every problem names where it was found (file, record index and id), the field and the
reason, e.g. `stories.json: record 3 (id 761156048): published: "2019-08-28 10:00" has no
time zone`. All problems of a record are reported at once, not just the first.
"""

from __future__ import annotations

import dataclasses
import email.utils
import hashlib
import json
import math
import mimetypes
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import nh3
from rfc3986_validator import validate_rfc3986

from .apple_categories import APPLE_CATEGORIES
from .errors import InvalidInput
from .members import SECRET_PLACEHOLDER
from .model import (
    ACCESS_LEVELS,
    AUDIO_FIELDS,
    IMAGE_FIELDS,
    MEMBERS,
    STORY_FIELDS,
    TOPIC_FIELDS,
    TOPIC_IMAGE_FIELDS,
    Alternate,
    Audio,
    Chapter,
    Chapters,
    Funding,
    Image,
    License,
    Location,
    Person,
    Soundbite,
    Story,
    Topic,
    TopicImage,
    Transcript,
    record_keys,
)
from .person_taxonomy import GROUPS, ROLES

ID_RE = re.compile(r"[a-z0-9-]+")
LANGUAGE_RE = re.compile(r"[a-z]{2,3}(-[a-z0-9]{1,8})*")
# XML 1.0 forbids these anywhere in a document; one of them in one story would make a
# whole feed unreadable, so they are removed on the way in.
XML_ILLEGAL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")

MAX_ID = 100
MAX_TITLE = 1_000
MAX_SHORT_TEXT = 10_000
MAX_BODY = 500_000
MAX_URL = 2_000
MAX_EMBED = 65_536
MAX_LIST = 100
# Records are shallow (a story, its audio list, one audio object): anything nested deeper
# is refused before any recursive code (json.dumps in messages, copies) touches it.
MAX_DEPTH = 8

# Dates outside these years are typos or hostile, and near datetime's own limits a time
# zone offset overflows during conversion to UTC.
MIN_YEAR = 1970
MAX_YEAR = 2200
MAX_DATE_TEXT = 100

# Bounds for numbers, so every stored value fits every consumer (JavaScript's safe
# integers for byte lengths, a few days of audio, images no wider than any screen).
MAX_PIXELS = 100_000
MAX_LENGTH = 2**53 - 1
MAX_DURATION = 1_000_000

# A `/media/...` path is joined to MEDIA_BASE_URL: only segments of unreserved URL
# characters (RFC 3986), none starting with a dot, so the join can only ever give a URL
# under that base: no scheme (`javascript:`), no `//host`, no `..`, no `%2e%2e`, no `\`.
MEDIA_PATH_RE = re.compile(r"/media(?:/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)+")
# What a message must not carry raw: line breaks of every kind (a message is one line),
# C1 controls and lone surrogates (which cannot be written to a terminal or as UTF-8).
UNPRINTABLE_RE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")

# Tags a story body may keep; everything else (scripts, styles, frames, event handlers) goes.
BODY_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "cite", "code", "em", "figcaption", "figure",
    "h2", "h3", "h4", "hr", "i", "img", "li", "ol", "p", "pre", "q", "s", "small", "strong",
    "sub", "sup", "u", "ul",
}
BODY_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "width", "height"}}
MAX_CLEAN_PASSES = 10

# Apple wants audio/x-m4a for AAC; the rest come from the platform's table.
EXTRA_AUDIO_TYPES = {".m4a": "audio/x-m4a", ".mp3": "audio/mpeg", ".opus": "audio/ogg"}


@dataclass(frozen=True)
class Problem:
    location: str
    field: str
    reason: str

    def __str__(self) -> str:
        prefix = f"{self.location}: " if self.location else ""
        return f"{prefix}{self.field}: {self.reason}"


class RecordInvalid(InvalidInput):
    """Records (or a file of them: stories, topics, sources) that cannot be used;
    `problems` lists every reason."""

    def __init__(self, problems: list[Problem]):
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def printable(text: str) -> str:
    """`text` with line breaks, controls and lone surrogates written as \\uXXXX escapes."""
    return UNPRINTABLE_RE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def record_location(source: str, kind: str, index: int, ident: Any, key: str = "id") -> str:
    """`stories.json: record 3 (id 761156048)`; index is 1-based as people count."""
    where = f"{kind} {index}"
    if isinstance(ident, str) and ident:
        where += f" ({key} {printable(ident[:MAX_ID])})"
    return f"{source}: {where}" if source else where


def show(value: Any) -> str:
    """A value quoted for an error message, cut short so a huge field stays readable.

    Callers have checked the nesting depth (`too_deep`), so json.dumps cannot recurse far.
    """
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**80:
        # Python refuses to print integers of over 4,300 digits; this one is too long anyway.
        return f"a number of about {int(value.bit_length() * math.log10(2))} digits"
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):  # a huge integer inside a list, a key that is no string
        text = "an object" if isinstance(value, dict) else "a list"
    return printable(text if len(text) <= 80 else text[:77] + "...")


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether lists and objects nest more than `limit` levels; never recursive itself."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def field_name(key: str) -> str:
    """A field named by a record's key, fit for a one-line message."""
    return printable(key if len(key) <= MAX_ID else key[:MAX_ID] + "...")


class _Reader:
    """Reads fields of one record, collecting problems and warnings as it goes."""

    def __init__(self, location: str):
        self.location = location
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    def fail(self, field: str, reason: str) -> None:
        self.problems.append(Problem(self.location, field, reason))

    def check_keys(self, raw: dict[str, Any], allowed: tuple[str, ...], prefix: str = "") -> None:
        for key in raw:
            if key not in allowed:
                self.fail(f"{prefix}{field_name(key)}", "unknown field")

    def text(self, raw: dict[str, Any], key: str, field: str, *, limit: int, required: bool = False) -> str:
        value = raw.get(key)
        if value is None or value == "":
            if required:
                self.fail(field, "is required")
            return ""
        if not isinstance(value, str):
            self.fail(field, f"must be a string, not {show(value)}")
            return ""
        cleaned = XML_ILLEGAL_RE.sub("", value)
        if cleaned != value:
            self.warnings.append(
                Problem(self.location, field, "control characters or lone surrogates removed")
            )
        if len(cleaned) > limit:
            self.fail(field, f"is {len(cleaned)} characters long, at most {limit} allowed")
            return ""
        if required and not cleaned.strip():
            self.fail(field, "is required")
        return cleaned

    def slug(self, value: Any, field: str) -> str:
        if not isinstance(value, str) or not ID_RE.fullmatch(value) or len(value) > MAX_ID:
            self.fail(field, f"{show(value)} must be lowercase letters, digits and hyphens")
            return ""
        return value

    def url(self, raw: dict[str, Any], key: str, field: str, *, required: bool = False,
            media_path: bool = False) -> str:
        value = self.text(raw, key, field, limit=MAX_URL, required=required)
        if not value:
            return ""
        if value != raw.get(key):
            # Controls are not cleaned out of a URL as out of text: the URL would be
            # another one, and the API's document refuses them (format: uri).
            value = raw[key]
        if media_path and MEDIA_PATH_RE.fullmatch(value):
            return value
        if not is_http_url(value):
            expected = "an absolute http(s) URL"
            if media_path:
                expected += " or a /media/ path of letters, digits and -._~"
            if value.lower().startswith(("http://", "https://")):
                expected += (" (RFC 3986: write a host in punycode, xn--..., and "
                             "percent-encode spaces, quotes and anything not ASCII)")
            self.fail(field, f"{show(value)} is not {expected}")
            return ""
        return value

    def integer(self, raw: dict[str, Any], key: str, field: str, *, minimum: int = 0,
                maximum: int) -> int | None:
        value = raw.get(key)
        if value is None:
            return None
        if isinstance(value, float) and value.is_integer():  # never Infinity or NaN
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(field, f"{show(value)} is not a whole number")
            return None
        if value < minimum:
            self.fail(field, f"{show(value)} is below {minimum}")
            return None
        if value > maximum:
            self.fail(field, f"{show(value)} is above {maximum}")
            return None
        return value

    def boolean(self, raw: dict[str, Any], key: str, field: str, default: bool) -> bool:
        value = raw.get(key, default)
        if not isinstance(value, bool):
            self.fail(field, f"{show(value)} is not true or false")
            return default
        return value

    def when(self, raw: dict[str, Any], key: str, field: str, *, required: bool) -> datetime | None:
        value = raw.get(key)
        if value is None or value == "":
            if required:
                self.fail(field, "is required")
            return None
        parsed = parse_datetime(value) if isinstance(value, str) else None
        if parsed is None:
            self.fail(field, f"{show(value)} is not an RFC 3339 or RFC 822 date")
            return None
        if parsed.tzinfo is None:
            self.fail(field, f"{show(value)} has no time zone")
            return None
        try:
            utc = parsed.astimezone(UTC)
        except OverflowError:  # e.g. year 1 with a positive offset is in year 0 in UTC
            utc = None
        if utc is None or not MIN_YEAR <= utc.year <= MAX_YEAR:
            self.fail(field, f"{show(value)} is not between the years {MIN_YEAR} and {MAX_YEAR}")
            return None
        return utc

    def string_list(self, raw: dict[str, Any], key: str, field: str, *, slugs: bool = False) -> tuple[str, ...]:
        value = raw.get(key)
        if value is None:
            return ()
        if not isinstance(value, list):
            self.fail(field, f"must be a list, not {show(value)}")
            return ()
        if len(value) > MAX_LIST:
            self.fail(field, f"has {len(value)} entries, at most {MAX_LIST} allowed")
            return ()
        out = []
        for i, item in enumerate(value):
            item_field = f"{field}[{i}]"
            if slugs:
                item = self.slug(item, item_field)
            else:
                item = self.text({"v": item}, "v", item_field, limit=MAX_TITLE, required=True)
            if item and item not in out:
                out.append(item)
        return tuple(out)

    def obj(self, raw: dict[str, Any], key: str, field: str) -> dict[str, Any] | None:
        value = raw.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.fail(field, f"must be an object, not {show(value)}")
            return None
        return value

    def raise_if_failed(self) -> None:
        if self.problems:
            raise RecordInvalid(self.problems)


# The year of an RFC 822 date as written ("02 Jan 2024", day first).
RFC822_YEAR_RE = re.compile(r"\b\d{1,2}\s+[A-Za-z]{3}\s+(\d+)\b")


def parse_datetime(value: str) -> datetime | None:
    """RFC 3339 (and its ISO 8601 cousins) or RFC 822; None when it is neither."""
    text = value.strip()
    if len(text) > MAX_DATE_TEXT:
        return None
    try:
        return datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    written = RFC822_YEAR_RE.search(text)
    if written and len(written.group(1)) > 2 and int(written.group(1)) != parsed.year:
        # email.utils reads any year below 100 as a two-digit one, even written in four
        # digits: "0001" became 2001 and was stored. Keep the year as written, so the
        # range check sees it.
        try:
            parsed = parsed.replace(year=int(written.group(1)))
        except ValueError:  # year 0, or past 9999
            return None
    # parsedate_to_datetime gives a naive datetime for "-0000" and for no zone at all;
    # only a zone-less string is really zone-less.
    if parsed.tzinfo is None and re.search(r"(-0000|GMT|UT|UTC|Z)\s*$", text):
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def is_http_url(value: str) -> bool:
    """An absolute http(s) URL with a host and a valid port that is an RFC 3986 URI: what
    the OpenAPI document declares (`format: uri`, which jsonschema checks with the same
    rfc3986-validator), so that the API and its document refuse the same URLs. C1
    controls and a Unicode host (a look-alike of another) are refused; a host is written
    in punycode (xn--...) and anything else non-ASCII percent-encoded."""
    if not (value.isascii() and value.isprintable()) or validate_rfc3986(value, rule="URI") is None:
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:  # e.g. "http://[::1" (an unclosed IPv6 address)
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def clean_body_html(html: str) -> str:
    """`html` with only BODY_TAGS and safe URLs left; cleaning the result changes nothing.

    One nh3 pass is not always stable (the parser drops the newline after each `<pre>`,
    and misnested tables settle over passes), and a body that changed again on every
    import would never round-trip through export: clean until it holds still.
    """
    cleaned = _clean_once(html)
    for _ in range(MAX_CLEAN_PASSES):
        again = _clean_once(cleaned)
        if again == cleaned:
            break
        cleaned = again
    return cleaned


def clean_stored_body_html(html: str) -> str:
    """A stored body cleaned again as it goes out (a page, a feed item): validation
    cleaned it on the way in, but a record may predate that or reach the store another
    way, and every reader that shows it would run what it holds.

    One nh3 pass: its output is safe, and `clean_body_html` repeats it only so that bodies
    round-trip. A body this process has seen that pass leave unchanged (nearly every
    stored body: `clean_body_html` made it so) is known by its digest and not parsed
    again. The pass costs about 100 µs for 6 KB, three times what feedgen spends on a whole
    feed item, for every format and every render after every write; the digest 3 µs.

    Returns `html` itself (the same object) when it was clean.
    """
    digest = hashlib.sha256(html.encode("utf-8", "surrogatepass")).digest()
    if digest in KNOWN_CLEAN_BODIES:
        return html
    cleaned = _clean_once(html)
    if cleaned != html:
        return cleaned
    KNOWN_CLEAN_BODIES.add(digest)
    return html


class KnownDigests:
    """A bounded set of digests, the oldest dropped first; emptied by `cache_clear`, as
    the `functools.lru_cache` memos are.

    Digests, not bodies: a body can be 500 KB, and no body can be made to pass for a
    clean one by its SHA-256 (here faster than BLAKE2b or MD5: the CPU computes it).
    """

    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self._digests: dict[bytes, None] = {}
        self._lock = threading.Lock()  # for adding; looking up is one atomic dict call

    def __contains__(self, digest: bytes) -> bool:
        return digest in self._digests

    def __len__(self) -> int:
        return len(self._digests)

    def add(self, digest: bytes) -> None:
        with self._lock:
            if digest not in self._digests and len(self._digests) >= self.maxsize:
                del self._digests[next(iter(self._digests))]
            self._digests[digest] = None

    def cache_clear(self) -> None:
        with self._lock:
            self._digests = {}


# About 120 bytes a body: 16,384 stories in 2 MB.
KNOWN_CLEAN_BODIES = KnownDigests(16_384)


def _clean_once(html: str) -> str:
    return nh3.clean(
        html,
        tags=BODY_TAGS,
        attributes=BODY_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )


def guess_audio_type(url: str) -> str:
    try:
        path = urlsplit(url).path.lower()
    except ValueError:  # an unbalanced IPv6 bracket (an upstream's enclosure URL)
        return ""
    for ext, mime in EXTRA_AUDIO_TYPES.items():
        if path.endswith(ext):
            return mime
    return mimetypes.guess_type(path)[0] or ""


# -- Podcasting 2.0 fields: transcripts, chapters, soundbites, alternates, persons, ... --

MIME_RE = re.compile(r"[a-z]+/[a-z0-9.+-]+")
TRANSCRIPT_TYPES = ("text/vtt", "application/x-subrip", "application/json", "text/html")
EPISODE_TYPES = ("full", "trailer", "bonus")
# podcast:medium values a feed of items may carry; each has a list variant ending in "L".
MEDIUMS = tuple(
    m + suffix
    for m in ("podcast", "music", "video", "film", "audiobook", "newsletter", "blog")
    for suffix in ("", "L")
)
# RFC 5646's langtag, by shape only (no registry look-up); private-use tags alone too.
BCP47_RE = re.compile(
    r"""(?:(?:[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{4,8})   # language, extlang
           (?:-[a-z]{4})?                               # script
           (?:-(?:[a-z]{2}|[0-9]{3}))?                  # region
           (?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*     # variants
           (?:-[0-9a-wyz](?:-[a-z0-9]{2,8})+)*          # extensions
           (?:-x(?:-[a-z0-9]{1,8})+)?                   # private use
         | x(?:-[a-z0-9]{1,8})+)""",
    re.IGNORECASE | re.VERBOSE,
)
# RFC 5870: geo:lat,lon[,alt][;crs=...][;u=...][;name=value]...; crs and u only in those places
GEO_URI_RE = re.compile(
    r"""geo:(?P<lat>-?[0-9]+(?:\.[0-9]+)?),(?P<lon>-?[0-9]+(?:\.[0-9]+)?)(?:,-?[0-9]+(?:\.[0-9]+)?)?
        (?:;crs=(?P<crs>[a-z0-9-]+))?
        (?:;u=[0-9]+(?:\.[0-9]+)?)?
        (?:;(?!(?:crs|u)(?:[=;]|$))[a-z0-9-]+(?:=(?:[a-z0-9\-_.!~*'()\[\]:&+$]|%[0-9a-f]{2})+)?)*""",
    re.IGNORECASE | re.VERBOSE,
)
OSM_RE = re.compile(r"[NWR][1-9][0-9]{0,18}")  # OpenStreetMap type (node, way, relation) + id
CHAPTERS_VERSION_RE = re.compile(r"[0-9]+(?:\.[0-9]+){0,2}")
CODECS_RE = re.compile(r"[a-z0-9.+-]+(?:\s*,\s*[a-z0-9.+-]+)*", re.IGNORECASE)  # RFC 6381

MAX_TAG_TEXT = 128  # what aggregators keep of a Podcasting 2.0 tag's text
MAX_MEDIA_LIST = 20  # transcripts, soundbites and alternates of one audio
MAX_CHAPTERS = 500
MAX_PERSONS = 50
MAX_FUNDING = 10
MAX_NUMBERING = 1_000_000  # season and episode
# Times in seconds and bitrates in bits per second: far above any real one, far below
# where a float loses whole numbers.
MAX_NUMBER = 1_000_000_000
# Durations are whole seconds, rounded, so a time may pass them by up to half a second.
DURATION_SLACK = 0.5


def _objects(r: _Reader, raw: dict[str, Any], key: str, field: str, limit: int) -> list[tuple[str, dict[str, Any]]]:
    """The objects of a list field, each with its field name; the rest are problems."""
    value = raw.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        r.fail(field, f"must be a list, not {show(value)}")
        return []
    if len(value) > limit:
        r.fail(field, f"has {len(value)} entries, at most {limit} allowed")
        return []
    out = []
    for i, item in enumerate(value):
        if isinstance(item, dict):
            out.append((f"{field}[{i}]", item))
        else:
            r.fail(f"{field}[{i}]", f"must be an object, not {show(item)}")
    return out


def _number(r: _Reader, raw: dict[str, Any], key: str, field: str, *, required: bool = False,
            above_zero: bool = False) -> float | None:
    """A finite number, at least 0 (above 0 with `above_zero`), kept as int or float."""
    value = raw.get(key)
    if value is None:
        if required:
            r.fail(field, "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        r.fail(field, f"{show(value)} is not a number")
        return None
    # Compared before math.isfinite, which raises OverflowError on a 5,000-digit integer.
    if isinstance(value, float) and not math.isfinite(value):
        r.fail(field, f"{show(value)} is not a finite number")
        return None
    if value > MAX_NUMBER:
        r.fail(field, f"{show(value)} is above {MAX_NUMBER}")
        return None
    if value < 0 or (above_zero and value == 0):
        r.fail(field, f"{value} must be above 0" if above_zero else f"{value} is below 0")
        return None
    return value


def _past_end(seconds: float, audio: Audio) -> bool:
    return audio.duration is not None and seconds > audio.duration + DURATION_SLACK


def _language(r: _Reader, raw: dict[str, Any], key: str, field: str) -> str:
    value = r.text(raw, key, field, limit=35)
    if value and not BCP47_RE.fullmatch(value):
        r.fail(field, f"{show(value)} is not a BCP 47 language tag such as en-US")
        return ""
    return value


def _parse_transcripts(r: _Reader, data: dict[str, Any], f: str) -> tuple[Transcript, ...]:
    out: list[Transcript] = []
    for tf, item in _objects(r, data, "transcripts", f"{f}.transcripts", MAX_MEDIA_LIST):
        r.check_keys(item, record_keys(Transcript), f"{tf}.")
        url = r.url(item, "url", f"{tf}.url", required=True, media_path=True)
        kind = r.text(item, "type", f"{tf}.type", limit=100, required=True)
        if kind and kind not in TRANSCRIPT_TYPES:
            r.fail(f"{tf}.type", f"{show(kind)} is not one of {', '.join(TRANSCRIPT_TYPES)}")
        captions = r.boolean(item, "captions", f"{tf}.captions", False)
        if captions and kind == "text/html":
            r.fail(f"{tf}.captions", "text/html has no timings, so it cannot be captions")
        if url and any(t.url == url for t in out):
            r.fail(f"{tf}.url", f"{show(url)} appears twice in this audio")
        out.append(Transcript(
            url=url, type=kind, language=_language(r, item, "language", f"{tf}.language"),
            captions=captions,
        ))
    return tuple(out)


def _parse_chapters(r: _Reader, data: dict[str, Any], f: str, audio: Audio) -> Chapters | None:
    cf = f"{f}.chapters"
    raw = r.obj(data, "chapters", cf)
    if raw is None:
        return None
    r.check_keys(raw, record_keys(Chapters), f"{cf}.")
    if "url" in raw:
        if "version" in raw or "chapters" in raw:
            r.fail(cf, "has both a url and inline chapters; give one or the other")
            return None
        return Chapters(url=r.url(raw, "url", f"{cf}.url", required=True, media_path=True))
    version = r.text(raw, "version", f"{cf}.version", limit=20, required=True)
    if version and not CHAPTERS_VERSION_RE.fullmatch(version):
        r.fail(f"{cf}.version", f"{show(version)} is not a version such as 1.2.0")
    if not raw.get("chapters"):
        r.fail(f"{cf}.chapters", "is required: a url, or at least one chapter")
    chapters: list[Chapter] = []
    previous: float | None = None
    for chf, item in _objects(r, raw, "chapters", f"{cf}.chapters", MAX_CHAPTERS):
        r.check_keys(item, record_keys(Chapter), f"{chf}.")
        start = _number(r, item, "startTime", f"{chf}.startTime", required=True)
        end = _number(r, item, "endTime", f"{chf}.endTime")
        if start is not None:
            if previous is not None and start <= previous:
                r.fail(f"{chf}.startTime", f"{start} is not after the previous chapter's {previous}")
            elif _past_end(start, audio):
                r.fail(f"{chf}.startTime", f"{start} is past the end of the audio ({audio.duration} s)")
            previous = start
        if end is not None:
            if start is not None and end <= start:
                r.fail(f"{chf}.endTime", f"{end} is not after its startTime {start}")
            elif _past_end(end, audio):
                r.fail(f"{chf}.endTime", f"{end} is past the end of the audio ({audio.duration} s)")
        chapters.append(Chapter(
            start_time=start or 0,
            title=r.text(item, "title", f"{chf}.title", limit=MAX_TITLE),
            img=r.url(item, "img", f"{chf}.img", media_path=True),
            url=r.url(item, "url", f"{chf}.url"),
            end_time=end,
            toc=r.boolean(item, "toc", f"{chf}.toc", True),
        ))
    return Chapters(version=version, chapters=tuple(chapters))


def _parse_soundbites(r: _Reader, data: dict[str, Any], f: str, audio: Audio) -> tuple[Soundbite, ...]:
    out = []
    for sf, item in _objects(r, data, "soundbites", f"{f}.soundbites", MAX_MEDIA_LIST):
        r.check_keys(item, record_keys(Soundbite), f"{sf}.")
        start = _number(r, item, "start", f"{sf}.start", required=True)
        length = _number(r, item, "duration", f"{sf}.duration", required=True, above_zero=True)
        if start is not None and length is not None and _past_end(start + length, audio):
            r.fail(f"{sf}.duration",
                   f"ends at {start + length} s, past the end of the audio ({audio.duration} s)")
        out.append(Soundbite(
            start=start or 0, duration=length or 0,
            title=r.text(item, "title", f"{sf}.title", limit=MAX_TAG_TEXT),
        ))
    return tuple(out)


def _parse_alternates(r: _Reader, data: dict[str, Any], f: str, audio: Audio) -> tuple[Alternate, ...]:
    out: list[Alternate] = []
    for af, item in _objects(r, data, "alternates", f"{f}.alternates", MAX_MEDIA_LIST):
        r.check_keys(item, record_keys(Alternate), f"{af}.")
        url = r.url(item, "url", f"{af}.url", required=True, media_path=True)
        if url and url == audio.url:
            r.fail(f"{af}.url", f"{show(url)} is the audio's own url, not another file")
        elif url and any(a.url == url for a in out):
            r.fail(f"{af}.url", f"{show(url)} appears twice in this audio")
        mime = r.text(item, "type", f"{af}.type", limit=100, required=True)
        if mime and not MIME_RE.fullmatch(mime):
            r.fail(f"{af}.type", f"{show(mime)} is not a MIME type")
        codecs = r.text(item, "codecs", f"{af}.codecs", limit=100, required=True)
        if codecs and not CODECS_RE.fullmatch(codecs):
            r.fail(f"{af}.codecs", f"{show(codecs)} is not an RFC 6381 codecs list such as opus")
        if item.get("length") is None:
            r.fail(f"{af}.length", "is required")
        out.append(Alternate(
            url=url, type=mime,
            length=r.integer(item, "length", f"{af}.length", minimum=1, maximum=MAX_LENGTH),
            bitrate=_number(r, item, "bitrate", f"{af}.bitrate", required=True, above_zero=True),
            codecs=codecs,
            title=r.text(item, "title", f"{af}.title", limit=MAX_TAG_TEXT),
        ))
    return tuple(out)


def _parse_audio_parts(r: _Reader, data: dict[str, Any], f: str, audio: Audio) -> Audio:
    """The audio with its transcripts, chapters, soundbites and alternates."""
    return dataclasses.replace(
        audio,
        transcripts=_parse_transcripts(r, data, f),
        chapters=_parse_chapters(r, data, f, audio),
        soundbites=_parse_soundbites(r, data, f, audio),
        alternates=_parse_alternates(r, data, f, audio),
    )


def _person_role(r: _Reader, item: dict[str, Any], pf: str) -> tuple[str, str]:
    """Role and group as the taxonomy spells them; `podcast:person` assumes Host and Cast.

    With the group left out, a role found in one group only takes that group.
    """
    role_text = r.text(item, "role", f"{pf}.role", limit=100).strip()
    group_text = r.text(item, "group", f"{pf}.group", limit=100).strip()
    group = GROUPS.get(group_text.lower()) if group_text else None
    if group_text and group is None:
        r.fail(f"{pf}.group", f"{show(group_text)} is not a group of the Podcasting 2.0 taxonomy")
        return "Host", "Cast"
    if not role_text:
        if group not in (None, "Cast"):
            r.fail(f"{pf}.role", f"is required when the group is {group}")
        return "Host", "Cast"
    groups = ROLES.get(role_text.lower())
    if groups is None:
        r.fail(f"{pf}.role", f"{show(role_text)} is not a role of the Podcasting 2.0 taxonomy")
        return "Host", "Cast"
    if group is None:
        if len(groups) > 1:
            r.fail(f"{pf}.group", f"is required: role {show(role_text)} is in the groups "
                                  f"{', '.join(groups)}")
            return "Host", "Cast"
        group = next(iter(groups))
    if group not in groups:
        r.fail(f"{pf}.role", f"{show(role_text)} is not a role of group {show(group)} in the "
                             "Podcasting 2.0 taxonomy")
        return "Host", "Cast"
    return groups[group], group


def _parse_persons(r: _Reader, raw: dict[str, Any]) -> tuple[Person, ...]:
    out = []
    for pf, item in _objects(r, raw, "persons", "persons", MAX_PERSONS):
        r.check_keys(item, record_keys(Person), f"{pf}.")
        name = r.text(item, "name", f"{pf}.name", limit=MAX_TAG_TEXT, required=True)
        role, group = _person_role(r, item, pf)
        out.append(Person(
            name=name, role=role, group=group,
            img=r.url(item, "img", f"{pf}.img", media_path=True),
            href=r.url(item, "href", f"{pf}.href"),
        ))
    return tuple(out)


def _numbering(r: _Reader, raw: dict[str, Any], key: str) -> int | None:
    return r.integer(raw, key, key, minimum=1, maximum=MAX_NUMBERING)


def _parse_story_parts(r: _Reader, raw: dict[str, Any], story: Story) -> Story:
    """The story with its persons, season, episode and episode type."""
    episode_type = r.text(raw, "episode_type", "episode_type", limit=20) or "full"
    if episode_type not in EPISODE_TYPES:
        r.fail("episode_type", f"{show(episode_type)} is not one of {', '.join(EPISODE_TYPES)}")
    story = dataclasses.replace(
        story,
        persons=_parse_persons(r, raw),
        season=_numbering(r, raw, "season"),
        episode=_numbering(r, raw, "episode"),
        episode_type=episode_type,
        access=_access(r, raw),
    )
    if story.access == MEMBERS:
        _check_member_media(r, story)
    return story


def _access(r: _Reader, raw: dict[str, Any]) -> str:
    access = r.text(raw, "access", "access", limit=20) or "public"
    if access not in ACCESS_LEVELS:
        r.fail("access", f"{show(access)} is not one of {', '.join(ACCESS_LEVELS)}")
    return access


# Files under MEDIA_DIR/members/ are served to live members only (docs/members.md); a
# member story's own files anywhere else would be anyone's to download.
MEMBER_MEDIA_PREFIX = "/media/members/"


def _check_member_media(r: _Reader, story: Story) -> None:
    for i, audio in enumerate(story.audio):
        urls = [("url", audio.url), *((f"alternates[{j}].url", alt.url)
                                      for j, alt in enumerate(audio.alternates)),
                *((f"transcripts[{j}].url", t.url) for j, t in enumerate(audio.transcripts))]
        if audio.chapters is not None:
            urls.append(("chapters.url", audio.chapters.url))
        for name, url in urls:
            if url.startswith("/media/") and not url.startswith(MEMBER_MEDIA_PREFIX):
                r.fail(f"audio[{i}].{name}", f"{show(url)} is a member story's file: it must be "
                       f"under {MEMBER_MEDIA_PREFIX}, which only members can download")


def _mentions(value: Any, needle: str) -> bool:
    """Whether any text in a record (keys too) holds `needle`, in any case."""
    if isinstance(value, str):
        return needle in value.lower()
    if isinstance(value, dict):
        return any(_mentions(k, needle) or _mentions(v, needle) for k, v in value.items())
    if isinstance(value, list):
        return any(_mentions(item, needle) for item in value)
    return False


def _check_placeholder(r: _Reader, raw: dict[str, Any]) -> None:
    # Member feeds put each member's secret where this stands (stories.members): a record
    # holding it would get a secret written into it.
    if _mentions(raw, SECRET_PLACEHOLDER):
        r.fail("record", f"holds {SECRET_PLACEHOLDER!r}, which storyfeed keeps for itself")


def _parse_license(r: _Reader, raw: dict[str, Any]) -> License | None:
    data = r.obj(raw, "license", "license")
    if data is None:
        return None
    r.check_keys(data, record_keys(License), "license.")
    return License(
        name=r.text(data, "name", "license.name", limit=MAX_TAG_TEXT, required=True),
        url=r.url(data, "url", "license.url"),
    )


def _parse_funding(r: _Reader, raw: dict[str, Any]) -> tuple[Funding, ...]:
    out = []
    for ff, item in _objects(r, raw, "funding", "funding", MAX_FUNDING):
        r.check_keys(item, record_keys(Funding), f"{ff}.")
        out.append(Funding(
            url=r.url(item, "url", f"{ff}.url", required=True),
            text=r.text(item, "text", f"{ff}.text", limit=MAX_TAG_TEXT, required=True),
        ))
    return tuple(out)


def _geo_problem(geo: str) -> str | None:
    """Why `geo` is not an RFC 5870 geo URI, or None when it is one."""
    match = GEO_URI_RE.fullmatch(geo)
    if match is None:
        return f"{show(geo)} is not a geo URI such as geo:48.858093,2.294694"
    if (match["crs"] or "wgs84").lower() == "wgs84":
        lat, lon = float(match["lat"]), float(match["lon"])
        if not -90 <= lat <= 90:
            return f"latitude {match['lat']} is not between -90 and 90"
        if not -180 <= lon <= 180:
            return f"longitude {match['lon']} is not between -180 and 180"
    return None


def _parse_location(r: _Reader, raw: dict[str, Any]) -> Location | None:
    data = r.obj(raw, "location", "location")
    if data is None:
        return None
    r.check_keys(data, record_keys(Location), "location.")
    geo = r.text(data, "geo", "location.geo", limit=MAX_URL)
    if geo and (reason := _geo_problem(geo)):
        r.fail("location.geo", reason)
    osm = r.text(data, "osm", "location.osm", limit=30)
    if osm and not OSM_RE.fullmatch(osm):
        r.fail("location.osm", f"{show(osm)} is not an OpenStreetMap type and id such as R148838")
    return Location(
        name=r.text(data, "name", "location.name", limit=MAX_TAG_TEXT, required=True),
        geo=geo, osm=osm,
    )


def _parse_topic_parts(r: _Reader, raw: dict[str, Any], topic: Topic) -> Topic:
    """The topic with its medium, license, funding, location, persons and move."""
    medium = r.text(raw, "medium", "medium", limit=20) or "podcast"
    if medium not in MEDIUMS:
        r.fail("medium", f"{show(medium)} is not a podcast:medium value ({', '.join(MEDIUMS)})")
    # "" clears a move, as the schema allows and docs/records.md says.
    moved_to = r.slug(raw["moved_to"], "moved_to") if raw.get("moved_to") not in (None, "") else ""
    if moved_to and moved_to == topic.slug:
        r.fail("moved_to", "points at the topic itself")
    return dataclasses.replace(
        topic,
        medium=medium,
        license=_parse_license(r, raw),
        funding=_parse_funding(r, raw),
        location=_parse_location(r, raw),
        persons=_parse_persons(r, raw),
        moved_to=moved_to,
        access=_access(r, raw),
    )


def _parse_image(r: _Reader, raw: dict[str, Any]) -> Image | None:
    data = r.obj(raw, "image", "image")
    if data is None:
        return None
    r.check_keys(data, IMAGE_FIELDS, "image.")
    return Image(
        url=r.url(data, "url", "image.url", required=True, media_path=True),
        width=r.integer(data, "width", "image.width", minimum=1, maximum=MAX_PIXELS),
        height=r.integer(data, "height", "image.height", minimum=1, maximum=MAX_PIXELS),
        caption=r.text(data, "caption", "image.caption", limit=MAX_SHORT_TEXT),
        credit=r.text(data, "credit", "image.credit", limit=MAX_TITLE),
        alt=r.text(data, "alt", "image.alt", limit=MAX_SHORT_TEXT),
    )


def _parse_audio(r: _Reader, raw: dict[str, Any]) -> tuple[Audio, ...]:
    items = raw.get("audio")
    if items is None:
        return ()
    if not isinstance(items, list):
        r.fail("audio", f"must be a list, not {show(items)}")
        return ()
    if len(items) > MAX_LIST:
        r.fail("audio", f"has {len(items)} entries, at most {MAX_LIST} allowed")
        return ()
    out: list[Audio] = []
    for i, data in enumerate(items):
        f = f"audio[{i}]"
        if not isinstance(data, dict):
            r.fail(f, f"must be an object, not {show(data)}")
            continue
        r.check_keys(data, AUDIO_FIELDS, f"{f}.")
        audio_id = r.slug(data.get("id"), f"{f}.id")
        url = r.url(data, "url", f"{f}.url", media_path=True)
        embed = r.text(data, "embed", f"{f}.embed", limit=MAX_EMBED)
        if not url and not embed and not data.get("url"):
            r.fail(f"{f}.url", "is required when there is no embed")
        mime = r.text(data, "type", f"{f}.type", limit=100)
        if mime and not MIME_RE.fullmatch(mime):
            r.fail(f"{f}.type", f"{show(mime)} is not a MIME type")
        if not mime and url:
            mime = guess_audio_type(url)
        duration = raw_duration = data.get("duration")
        if isinstance(raw_duration, float) and math.isfinite(raw_duration) and raw_duration >= 0:
            duration = round(raw_duration)
        duration = r.integer({"d": duration}, "d", f"{f}.duration", maximum=MAX_DURATION)
        if any(a.id == audio_id for a in out):
            r.fail(f"{f}.id", f"{show(audio_id)} appears twice in this story")
        out.append(Audio(
            id=audio_id,
            url=url,
            type=mime,
            length=r.integer(data, "length", f"{f}.length", minimum=1, maximum=MAX_LENGTH),
            duration=duration,
            embed=embed,
            transcript_url=r.url(data, "transcript_url", f"{f}.transcript_url"),
            downloadable=r.boolean(data, "downloadable", f"{f}.downloadable", True),
            embeddable=r.boolean(data, "embeddable", f"{f}.embeddable", True),
        ))
        out[-1] = _parse_audio_parts(r, data, f, out[-1])
    return tuple(out)


def _check_shape(r: _Reader, raw: Any) -> None:
    """A record is an object, and shallow; checked first, before anything else reads it."""
    if too_deep(raw):
        r.fail("record", f"is nested more than {MAX_DEPTH} levels deep")
    elif not isinstance(raw, dict):
        r.fail("record", f"must be an object, not {show(raw)}")
    r.raise_if_failed()


# Stands in for a date that could not be read while the rest of the record is checked,
# so that every problem is reported at once; such a record is refused before it leaves.
_UNREAD_DATE = datetime.min.replace(tzinfo=UTC)


def parse_story(raw: Any, location: str = "") -> tuple[Story, list[Problem]]:
    """A validated Story and the warnings about what was cleaned; raises RecordInvalid."""
    r = _Reader(location)
    _check_shape(r, raw)
    r.check_keys(raw, STORY_FIELDS)
    story_id = r.slug(raw.get("id"), "id") if raw.get("id") is not None else ""
    if raw.get("id") is None:
        r.fail("id", "is required")
    published = r.when(raw, "published", "published", required=True)
    updated = r.when(raw, "updated", "updated", required=False) or published
    body = r.text(raw, "body_html", "body_html", limit=MAX_BODY)
    story = Story(
        id=story_id,
        url=r.url(raw, "url", "url", required=True),
        title=r.text(raw, "title", "title", limit=MAX_TITLE, required=True),
        published=published or _UNREAD_DATE,
        updated=updated or _UNREAD_DATE,
        teaser=r.text(raw, "teaser", "teaser", limit=MAX_SHORT_TEXT),
        body_html=clean_body_html(body) if body else "",
        bylines=r.string_list(raw, "bylines", "bylines"),
        topics=r.string_list(raw, "topics", "topics", slugs=True),
        image=_parse_image(r, raw),
        audio=_parse_audio(r, raw),
        note=r.text(raw, "note", "note", limit=MAX_SHORT_TEXT),
    )
    story = _parse_story_parts(r, raw, story)
    _check_placeholder(r, raw)
    r.raise_if_failed()
    return story, r.warnings


def parse_topic(raw: Any, location: str = "") -> tuple[Topic, list[Problem]]:
    """A validated Topic and the warnings about what was cleaned; raises RecordInvalid."""
    r = _Reader(location)
    _check_shape(r, raw)
    r.check_keys(raw, TOPIC_FIELDS)
    slug = r.slug(raw.get("slug"), "slug") if raw.get("slug") is not None else ""
    if raw.get("slug") is None:
        r.fail("slug", "is required")
    image = None
    image_raw = r.obj(raw, "image", "image")
    if image_raw is not None:
        r.check_keys(image_raw, TOPIC_IMAGE_FIELDS, "image.")
        image = TopicImage(
            url=r.url(image_raw, "url", "image.url", required=True, media_path=True),
            width=r.integer(image_raw, "width", "image.width", minimum=1, maximum=MAX_PIXELS),
            height=r.integer(image_raw, "height", "image.height", minimum=1, maximum=MAX_PIXELS),
        )
    language = r.text(raw, "language", "language", limit=35) or "en-us"
    if not LANGUAGE_RE.fullmatch(language.lower()):
        r.fail("language", f"{show(language)} is not a language tag such as en-us")
    email_addr = r.text(raw, "owner_email", "owner_email", limit=320)
    if email_addr and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email_addr):
        r.fail("owner_email", f"{show(email_addr)} is not an e-mail address")
    category = r.text(raw, "category", "category", limit=100)
    subcategory = r.text(raw, "subcategory", "subcategory", limit=100)
    if category and category not in APPLE_CATEGORIES:
        r.fail("category", f"{show(category)} is not in Apple Podcasts' category list")
    elif subcategory and not category:
        r.fail("subcategory", "needs a category")
    elif subcategory and subcategory not in APPLE_CATEGORIES[category]:
        r.fail("subcategory", f"{show(subcategory)} is not a subcategory of {show(category)}")
    kind = r.text(raw, "type", "type", limit=20) or "episodic"
    if kind not in ("episodic", "serial"):
        r.fail("type", f"{show(kind)} is not episodic or serial")
    topic = Topic(
        slug=slug,
        title=r.text(raw, "title", "title", limit=MAX_TITLE) or Topic.from_slug(slug).title,
        description=r.text(raw, "description", "description", limit=MAX_SHORT_TEXT),
        link=r.url(raw, "link", "link"),
        language=language.lower(),
        image=image,
        author=r.text(raw, "author", "author", limit=MAX_TITLE),
        owner_name=r.text(raw, "owner_name", "owner_name", limit=MAX_TITLE),
        owner_email=email_addr,
        category=category,
        subcategory=subcategory,
        explicit=r.boolean(raw, "explicit", "explicit", False),
        type=kind,
        copyright=r.text(raw, "copyright", "copyright", limit=MAX_TITLE),
    )
    topic = _parse_topic_parts(r, raw, topic)
    _check_placeholder(r, raw)
    r.raise_if_failed()
    return topic, r.warnings
