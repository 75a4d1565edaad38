"""What every feed format says about a story: safe text, the rich HTML, ids, the audio.

Records are cleaned on the way in (`stories.validate`), but feeds must stay readable
"whatever a record holds", so text is cleaned again here: one XML-illegal character in
one story would make a whole feed unreadable.
"""

from __future__ import annotations

import functools
import html
import re
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import quote, urlsplit

from serving.links import Links
from stories.model import Audio, Chapters, Story
from stories.validate import KNOWN_CLEAN_BODIES, XML_ILLEGAL_RE, clean_stored_body_html

# Ids are UUIDv5 names under this namespace, so they never change when the site moves,
# a story's URL is corrected or the story joins another topic. Never change it.
ID_NAMESPACE = uuid.UUID("96b2c0ad-2624-43e9-84e8-5cd21fde0303")
# What lastBuildDate/updated say when a feed has no story and its topic no time of
# change (a store never written): a fixed time, never "now", so the same data always
# gives the same bytes.
EMPTY_FEED_UPDATED = datetime(1970, 1, 1, tzinfo=UTC)
# The type the Podcast Index namespace gives JSON chapters (`podcast:chapters`).
CHAPTERS_TYPE = "application/json+chapters"
# The older `transcript_url` of a record links a page (NPR's transcripts are HTML).
TRANSCRIPT_PAGE_TYPE = "text/html"


def xml_text(value: str) -> str:
    """`value` without the characters XML 1.0 forbids (C0 controls, lone surrogates)."""
    return _known_xml_text(value) if len(value) <= MEMO_TEXT_CHARS else _xml_text(value)


def _xml_text(value: str) -> str:
    # Nearly every value is already clean, and proving it in C costs a half to a quarter
    # of the regex's scan (which was a tenth of what a podcast feed's items cost beyond
    # feedgen's own work): a lone surrogate cannot be encoded, a C0 control is one byte
    # that never occurs inside a UTF-8 sequence, and U+FFFE/U+FFFF are found by `in`
    # without a scan when the text cannot hold them.
    try:
        encoded = value.encode("utf-8")
    except UnicodeEncodeError:
        return XML_ILLEGAL_RE.sub("", value)
    if (len(encoded.translate(None, _C0_CONTROLS)) == len(encoded)
            and "\ufffe" not in value and "\uffff" not in value):
        return value
    return XML_ILLEGAL_RE.sub("", value)


# The C0 controls XML 1.0 forbids: all but tab, line feed and carriage return.
_C0_CONTROLS = bytes(c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D))


def html_text(value: str, max_bytes: int | None = None) -> str:
    """Plain text made ready for a field readers take as HTML (RSS `<description>`),
    at most `max_bytes` of UTF-8 when given (Apple counts the bytes of the HTML).

    Only `&`, `<` and `>` mean anything in HTML text: quotes are left alone, so a reader
    that shows the field raw meets as few entities as possible.
    """
    escaped = _known_html_text(value) if len(value) <= MEMO_TEXT_CHARS else _html_text(value)
    # A character is at most 4 bytes of UTF-8: most texts need no counting.
    if max_bytes is None or len(escaped) * 4 <= max_bytes or len(escaped.encode("utf-8")) <= max_bytes:
        return escaped
    # Cut between characters of the text: never inside an entity or a UTF-8 sequence.
    kept, size = [], 0
    for char in xml_text(value):
        piece = html.escape(char, quote=False)
        size += len(piece.encode("utf-8"))
        if size > max_bytes - 3:
            break
        kept.append(piece)
    return "".join(kept).rstrip() + "..."


def _html_text(value: str) -> str:
    return html.escape(xml_text(value), quote=False)


def html_attribute(value: str) -> str:
    """Text, or a URL from `http_url`, made ready for a double-quoted HTML attribute."""
    return _known_html_attribute(value) if len(value) <= MEMO_TEXT_CHARS else _html_attribute(value)


def _html_attribute(value: str) -> str:
    return html.escape(xml_text(value))


# Titles, teasers, bylines, captions, credits, ids and URLs are made fit again in every
# format, on every render after every write (ten texts an episode): short ones are
# remembered per process, which took a twentieth off a podcast feed's cold render.
#
# Each memo is sized to what it buys (docs/scaling.md, the memory account): the values
# of the largest page `bench.feeds` renders (500 stories, five times the most a request
# may ask for, `serving.params.MAX_LIMIT`: about 1,500 texts, 1,000 attributes, 2,000
# URLs, 1,000 media URLs and 500 ids), so that a feed rendered again in another format
# after a write finds them all, and not the whole site: a hit saves 0.2 to 3 us, and a
# memo of 16,384 long texts held 20 to 200 MB. Never a body or other long text or URL: a value of at most
# MEMO_TEXT_CHARS characters, so that the worst an entry can hold (4 bytes a character,
# every one escaped) stays within a few kilobytes.
MEMO_TEXT_CHARS = 256
_known_xml_text = functools.lru_cache(maxsize=2_048)(_xml_text)
_known_html_text = functools.lru_cache(maxsize=1_024)(_html_text)  # teasers: one or two a story
_known_html_attribute = functools.lru_cache(maxsize=1_024)(_html_attribute)


def http_url(url: str) -> str:
    """`url` when it is an absolute http(s) URL fit for XML, else "".

    Every URL a feed emits passes here, whatever the record holds: validation refuses
    other URLs on the way in, but a record may predate it or come from elsewhere, and a
    `javascript:` link in a feed runs in every reader that shows the feed as a page.
    Kept per process like `media_url`: each story's URLs are checked in every format,
    on every render after every write, three times per podcast episode.
    """
    return _known_http_url(url) if len(url) <= MEMO_TEXT_CHARS else _http_url(url)


def _http_url(url: str) -> str:
    if _UNFIT_IN_URL_RE.search(url):
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return ""
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    return url


# Whitespace (what str.isspace calls so: `\s` of a str pattern) or what XML forbids. One
# search in C: testing each character in Python was a third of a podcast feed's render.
_UNFIT_IN_URL_RE = re.compile(r"\s|" + XML_ILLEGAL_RE.pattern)
_known_http_url = functools.lru_cache(maxsize=4_096)(_http_url)


def media_url(links: Links, url: str) -> str:
    """A record's media URL made absolute (`Links.media`); "" when that is not http(s).

    The check comes after joining: `/media/javascript:...` joins into `javascript:...`.
    Renders resolve the same URLs again and again (enclosure, picture, thumbnail, every
    page of every feed): urljoin was a tenth of a podcast feed's cost before this cache.
    """
    return _known_media_url(links, url) if len(url) <= MEMO_TEXT_CHARS else _media_url(links, url)


def _media_url(links: Links, url: str) -> str:
    return http_url(links.media(url))


_known_media_url = functools.lru_cache(maxsize=2_048)(_media_url)


# A UUIDv5 is 3 us; one for each story and each audio of a page. Names are made of ids
# (at most 100 characters each), so entries are small.
@functools.lru_cache(maxsize=2_048)
def _guid(name: str) -> str:
    return f"urn:uuid:{uuid.uuid5(ID_NAMESPACE, name)}"


# This module's part of `feeds.PROCESS_MEMOS`.
CONTENT_MEMOS = (_known_xml_text, _known_html_text, _known_html_attribute, _known_http_url, _known_media_url,
                 _guid, KNOWN_CLEAN_BODIES)


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

    Every value is escaped by the standard library's HTML escaper (quotes too, inside
    attributes); the body is cleaned by nh3. Not MarkupSafe here: its `Markup` objects
    made this function nearly twice as slow, and it runs for every item of every render.
    """
    parts = []
    image = story.image
    picture = media_url(links, image.url) if image is not None else ""
    # Each piece is made fit for XML on its own, not the whole at the end: that scanned a
    # stored body twice. URLs from http_url hold nothing XML forbids.
    if image is not None and picture:
        size = (f' width="{int(image.width)}" height="{int(image.height)}"'
                if image.width and image.height else "")
        parts.append(f'<p><img src="{html_attribute(picture)}" '
                     f'alt="{html_attribute(image.caption or image.alt)}"{size}></p>')
    if story.teaser:
        parts.append(f"<p>{html_text(story.teaser)}</p>")
    if story.body_html:
        # nh3 takes no lone surrogates, so the body is cleaned for XML first; what nh3
        # changes may hold forbidden characters again (it decodes `&#1;`).
        body = xml_text(story.body_html)
        cleaned = clean_stored_body_html(body)
        parts.append(body if cleaned is body else xml_text(cleaned))
    if image is not None and picture and image.credit:
        parts.append(f"<p>(Image credit: {html_text(image.credit)})</p>")
    for audio in story.audio:
        transcript = http_url(audio.transcript_url)
        if transcript:
            parts.append(f'<p><a href="{html_attribute(transcript)}">Transcript</a></p>')
    return "\n".join(parts)


def feed_audio(story: Story) -> tuple[Audio, ...]:
    """Audio a feed can enclose (`Audio.enclosable`)."""
    return tuple([a for a in story.audio if a.enclosable])


def feed_enclosures(story: Story, links: Links) -> tuple[tuple[Audio, str], ...]:
    """`feed_audio` with each file's absolute URL (behind ANALYTICS_PREFIX, when set),
    without those whose URL is not http(s)."""
    # One pass over the audio, not over `feed_audio`'s tuple of it, and a plain loop,
    # not a generator (0.4 µs, not 0.7): this runs for every item of every render.
    found = []
    for audio in story.audio:
        if audio.enclosable:
            url = media_url(links, audio.url)
            if url:
                found.append((audio, links.enclosure(url)))
    return tuple(found)


def decimal_text(value: float) -> str:
    """Seconds or bits per second as the namespace writes them: a plain decimal to the
    millisecond, never an exponent (`1e-05`), no trailing zeros (`12`, `11.403`)."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def story_file_url(links: Links, story_id: str, audio_id: str, name: str) -> str:
    """A file this service serves for one audio of a story (its chapters, its transcript
    files), under the story's own path: one podcast item per audio, each its own file."""
    return links.absolute(f"stories/{quote(story_id, safe='')}/audio/{quote(audio_id, safe='')}/{name}")


class Companion(NamedTuple):
    """A file that goes with one audio: a transcript, or the chapters. (A NamedTuple:
    several are made per item of every feed render, and a frozen dataclass costs three
    times as much to build.)"""

    url: str  # absolute http(s)
    type: str
    title: str  # what a reader shows for the link: "Transcript (en-US)", "Chapters"
    language: str = ""
    captions: bool = False


def audio_transcripts(audio: Audio, links: Links, label: str = "") -> tuple[Companion, ...]:
    """The audio's transcripts with absolute URLs, in the record's order, then its older
    `transcript_url`; those whose URL is not http(s) are left out.

    Transcripts in one language share their title, so JSON Feed readers take them for
    the same thing in other formats, as the JSON Feed spec says titles mean.
    """
    found: list[Companion] = []
    for transcript in audio.transcripts:
        url = media_url(links, transcript.url)
        if url:
            language = xml_text(transcript.language)
            title = f"Transcript ({language})" if language else "Transcript"
            found.append(Companion(url, transcript.type, title + label, language, transcript.captions))
    legacy = http_url(audio.transcript_url)
    # `found and`: most audio has no transcripts of its own, and no list need be built.
    if legacy and not (found and legacy in [c.url for c in found]):
        found.append(Companion(legacy, TRANSCRIPT_PAGE_TYPE, "Transcript" + label))
    return tuple(found)


def audio_chapters(story: Story, audio: Audio, links: Links, label: str = "") -> Companion | None:
    """The audio's chapters file: its own URL, or ours when the record holds them inline."""
    chapters = audio.chapters
    if chapters is None:
        return None
    if chapters.url:
        url = media_url(links, chapters.url)
    elif chapters.chapters:
        url = story_file_url(links, story.id, audio.id, "chapters.json")
    else:
        url = ""
    return Companion(url, CHAPTERS_TYPE, "Chapters" + label) if url else None


def part_label(number: int, count: int) -> str:
    """What tells one audio of a story from the others in titles: "" when it is alone."""
    return "" if count == 1 else f" (part {number} of {count})"


def chapters_document(story: Story, chapters: Chapters, links: Links) -> dict[str, Any]:
    """Inline chapters as the Podcast Index JSON chapters file apps fetch: the record's
    form, with picture paths made absolute and URLs that are not http(s) left out."""
    items = []
    for chapter in chapters.chapters:
        item: dict[str, Any] = {"startTime": chapter.start_time}
        if chapter.end_time is not None:
            item["endTime"] = chapter.end_time
        if xml_text(chapter.title):
            item["title"] = xml_text(chapter.title)
        if chapter.img and media_url(links, chapter.img):
            item["img"] = media_url(links, chapter.img)
        if http_url(chapter.url):
            item["url"] = http_url(chapter.url)
        if not chapter.toc:
            item["toc"] = False
        items.append(item)
    document: dict[str, Any] = {"version": chapters.version or "1.2.0"}
    if xml_text(story.title).strip():
        document["title"] = xml_text(story.title)
    document["chapters"] = items
    return document


def newest_update(stories: Iterable[Story], changed_at: datetime | None = None) -> datetime:
    """The newest story's update; for a feed with none, when what it shows last changed
    (`changed_at`: a topic made before its stories is not from 1970)."""
    return max((s.updated for s in stories), default=changed_at or EMPTY_FEED_UPDATED)
