"""A story's transcripts and chapters under its own paths, and what its page says of them.

- `/stories/<id>/transcript`: the transcript as a page (like NPR's), each cue's time a
  link into the player at that time, chapter titles as headings;
- `/stories/<id>/audio/<audio_id>/transcript.vtt|.srt|.json`: the audio's transcript
  files, the first one of each type that lives under `/media/`;
- `/stories/<id>/audio/<audio_id>/chapters.json`: its chapters as a Podcast Index JSON
  chapters file (`application/json+chapters`), the file the feeds' `podcast:chapters`
  link for inline chapters;
- the story page's structured data (`story_structured_data`, schema.org JSON-LD).

Transcripts are read from MEDIA_DIR only: a remote transcript is linked, never fetched
while a request waits. `served_paths` lists what a story has here, for the export.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from flask import Blueprint, Flask, Response, abort, render_template, send_file
from markupsafe import Markup, escape

from feeds.content import (
    CHAPTERS_TYPE,
    Companion,
    audio_transcripts,
    chapters_document,
    decimal_text,
    story_file_url,
)
from feeds.cues import MAX_TRANSCRIPT_BYTES, Cue, TranscriptUnreadable, cues_text, read_cues
from feeds.podcast import has_podcast
from feeds.schema_org import AudioExtras, Series, iso_duration, podcast_episode
from feeds.urls import PODCAST, feed_url
from serving.context import (
    cache_key,
    current_links,
    current_render_cache,
    current_store,
    current_version,
)
from serving.files import regular_file_in
from serving.links import Links
from serving.rendered import Rendered, send_rendered
from serving.state import app_state
from stories.model import Audio, Chapter, Story, Topic, Transcript

from .embeds import player_page_url
from .media import MEDIA_MAX_AGE

log = logging.getLogger(__name__)

bp = Blueprint("transcripts", __name__)

# The transcript files a story serves, by the extension of their path.
FILE_EXTENSIONS = {"text/vtt": "vtt", "application/x-subrip": "srt", "application/json": "json"}
# Which transcript the page is read from when an audio has several: WebVTT first, as the
# namespace recommends it and the player shows it as captions.
PAGE_SOURCES = ("text/vtt", "application/x-subrip", "application/json")
TYPE_NAMES = {"text/vtt": "WebVTT", "application/x-subrip": "SubRip",
              "application/json": "JSON", "text/html": "Web page"}


# -- which files a story has ------------------------------------------------------------

def media_file(media_dir: str, url: str) -> str | None:
    """The local file of a record's `/media/...` URL, if it is one we serve; else None."""
    if not url.startswith("/media/"):
        return None
    return regular_file_in(media_dir, unquote(urlsplit(url).path[len("/media/"):]))


def served_transcripts(audio: Audio, media_dir: str) -> dict[str, tuple[Transcript, str]]:
    """{extension: (transcript, local path)}: the first transcript of each type whose file
    is ours; another of the same type (a translation) is linked by its own URL."""
    found: dict[str, tuple[Transcript, str]] = {}
    for transcript in audio.transcripts:
        extension = FILE_EXTENSIONS.get(transcript.type)
        if extension and extension not in found:
            path = media_file(media_dir, transcript.url)
            if path is not None:
                found[extension] = (transcript, path)
    return found


def _chapters_served(audio: Audio, media_dir: str) -> bool:
    chapters = audio.chapters
    if chapters is None:
        return False
    return bool(chapters.chapters) if not chapters.url else media_file(media_dir, chapters.url) is not None


def served_paths(story: Story, media_dir: str) -> list[str]:
    """The paths (without the leading "/") this module answers 200 for, for the export."""
    paths = [f"stories/{story.id}/transcript"] if story.has_transcripts else []
    for audio in story.audio:
        base = f"stories/{story.id}/audio/{audio.id}/"
        paths += [f"{base}transcript.{ext}" for ext in served_transcripts(audio, media_dir)]
        if _chapters_served(audio, media_dir):
            paths.append(base + "chapters.json")
    return paths


# -- reading transcripts ------------------------------------------------------------------

class CueMemo:
    """The cues of the transcript files read last, up to MEMO_CUES cues and MEMO_BYTES of
    files together (a file past either alone is not kept): a story page and its transcript
    page read the same file, and a page of many cues costs more to read than to find here.

    Keyed by the file's time and size too, so an edited file is read again. Bounded by what
    it holds, not by a count of files: 256 files of up to 5,000 cues each could have held
    hundreds of MB in every worker. Safe under gthread's threads."""

    def __init__(self, max_cues: int, max_bytes: int) -> None:
        self.max_cues, self.max_bytes = max_cues, max_bytes
        self._kept: OrderedDict[tuple[str, str, int, int], tuple[Cue, ...]] = OrderedDict()
        self._cues = self._bytes = 0
        self._lock = threading.Lock()

    def cues(self, path: str, type: str, mtime_ns: int, size: int) -> tuple[Cue, ...]:
        key = (path, type, mtime_ns, size)
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
                return found
        with open(path, "rb") as file:
            cues = read_cues(file.read(MAX_TRANSCRIPT_BYTES + 1), type)
        if len(cues) <= self.max_cues and size <= self.max_bytes:
            with self._lock:
                if key not in self._kept:
                    self._kept[key] = cues
                    self._cues += len(cues)
                    self._bytes += size
                while self._cues > self.max_cues or self._bytes > self.max_bytes:
                    (_, _, _, old_size), old = self._kept.popitem(last=False)
                    self._cues -= len(old)
                    self._bytes -= old_size
        return cues

    def sizes(self) -> tuple[int, int, int]:
        """(files, cues, bytes of files) held now."""
        with self._lock:
            return len(self._kept), self._cues, self._bytes

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
            self._cues = self._bytes = 0


# About 2.9 MB a process for files like the bench's, 5.9 MB at worst (docs/scaling.md);
# reading a plain file again costs some 10 µs a cue.
MEMO_CUES = 10_000
MEMO_BYTES = 1024 * 1024
CUE_MEMO = CueMemo(MEMO_CUES, MEMO_BYTES)


def file_cues(path: str, type: str) -> tuple[Cue, ...]:
    """The cues of a local transcript file; raises `TranscriptUnreadable`."""
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise TranscriptUnreadable(f"cannot be read ({exc.strerror})") from None
    try:
        return CUE_MEMO.cues(path, type, stat.st_mtime_ns, stat.st_size)
    except OSError as exc:
        raise TranscriptUnreadable(f"cannot be read ({exc.strerror})") from None


def _page_cues(audio: Audio, media_dir: str) -> tuple[Transcript | None, tuple[Cue, ...], str]:
    """(the transcript read, its cues, "") from the best local timed transcript, or
    (None, (), why none could be read)."""
    problems = []
    for type in PAGE_SOURCES:
        for transcript in audio.transcripts:
            path = media_file(media_dir, transcript.url) if transcript.type == type else None
            if path is None:
                continue
            try:
                cues = file_cues(path, type)
            except TranscriptUnreadable as exc:
                log.warning("transcript %s of audio %s: %s", transcript.url, audio.id, exc)
                problems.append(f"The {TYPE_NAMES[type]} transcript {exc}.")
                continue
            if cues:
                return transcript, cues, ""
            problems.append(f"The {TYPE_NAMES[type]} transcript has no cues.")
    return None, (), " ".join(problems)


def player_url(story: Story, audio: Audio, links: Links) -> str:
    """storyfeed's player of the audio, when it may be embedded and has a file to play."""
    if audio.embeddable and audio.url and links.media(audio.url):
        return player_page_url(links, story.id, audio.id)
    return ""


def listen_url(story: Story, audio: Audio, links: Links, player: bool = True) -> str:
    """Where the audio plays from a `#t=SECONDS` start: the player, else the audio file
    itself (browsers take the same media fragment), else "". `player=False` for a member
    item, which the public player does not play."""
    if player and player_url(story, audio, links):
        return player_url(story, audio, links)
    if audio.downloadable and audio.url:
        return links.media(audio.url)
    return ""


# -- the transcript page ------------------------------------------------------------------

@dataclass
class Row:
    cue: Cue
    chapter: Chapter | None = None  # the chapter that starts with this cue


@dataclass
class Section:
    """One audio's transcript on the page."""

    audio: Audio
    heading: str
    listen_url: str
    language: str
    rows: list[Row] = field(default_factory=list)
    problem: str = ""
    files: list[tuple[str, Companion]] = field(default_factory=list)  # (url, transcript)


def _rows(cues: tuple[Cue, ...], audio: Audio) -> list[Row]:
    """The cues, each table-of-contents chapter's title before the first cue it holds."""
    rows = [Row(cue) for cue in cues]
    chapters = [c for c in audio.chapters.chapters if c.toc] if audio.chapters is not None else []
    for chapter in chapters:
        # A cue that starts a hair before its chapter (rounding) still belongs to it.
        row = next((r for r in rows if r.cue.start >= chapter.start_time - 0.0005), None)
        if row is not None and row.chapter is None:
            row.chapter = chapter
    return rows


def _sections(story: Story, topic_language: str, links: Links, media_dir: str,
              player: bool = True) -> list[Section]:
    with_transcripts = [a for a in story.audio if a.transcripts]
    sections = []
    for number, audio in enumerate(with_transcripts, 1):
        transcript, cues, problem = _page_cues(audio, media_dir)
        served = {ext: t.url for ext, (t, _) in served_transcripts(audio, media_dir).items()}
        files = []
        for companion in audio_transcripts(audio, links):
            extension = FILE_EXTENSIONS.get(companion.type)
            ours = extension in served and links.media(served[extension]) == companion.url
            url = story_file_url(links, story.id, audio.id, f"transcript.{extension}") if ours else companion.url
            files.append((url, companion))
        sections.append(Section(
            audio=audio,
            heading=f"Part {number} of {len(with_transcripts)}" if len(with_transcripts) > 1 else "",
            listen_url=listen_url(story, audio, links, player),
            language=(transcript.language if transcript else "") or topic_language,
            rows=_rows(cues, audio),
            problem=problem,
            files=files,
        ))
    return sections


def cues_html(section: Section) -> Markup:
    """The section's cues, each table-of-contents chapter's title before its first cue,
    in the Podcast Index HTML transcript shape (<cite> speaker, <time> start, <p> words).

    Written here, not in the template's loop: a page of a thousand cues spent some 70 ms
    in Jinja's calls per cue, five times what these f-strings cost.
    """
    listen = escape(section.listen_url)
    level = 3 if section.heading else 2
    out = []
    for row in section.rows:
        chapter = row.chapter
        if chapter is not None:
            title = escape(chapter.title or clock(chapter.start_time))
            if listen:
                title = Markup(f'<a href="{listen}#t={decimal_text(chapter.start_time)}">{title}</a>')
            out.append(f'<h{level} class="chapter" dir="auto">{title}</h{level}>')
        cue = row.cue
        start = clock(cue.start)
        # dir="auto": a speaker's or a cue's words may be RTL, and must not reorder the
        # page around them (tests/test_text_direction.py).
        speaker = f'<cite dir="auto">{escape(cue.speaker)}:</cite>' if cue.speaker else ""
        if listen:
            start = f'<a href="{listen}#t={decimal_text(cue.start)}" aria-label="Listen from {start}">{start}</a>'
        # data-start: where the page's script (static/pages.js) marks the cue playing.
        out.append(f'<div class="cue" data-start="{decimal_text(cue.start)}">{speaker}'
                   f'<time datetime="{iso_duration(cue.start)}">{start}</time>'
                   f'<p dir="auto">{escape(cue.text)}</p></div>')
    return Markup("\n".join(out))


def clock(seconds: float) -> str:
    """A cue's time as people read it: 0:05, 12:34, 1:02:03."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def story_or_404(story_id: str, members: bool = False) -> Story:
    story = current_store().get_story(story_id, members=members)
    if story is None:
        abort(404, description=f"There is no story {story_id!r}.")
    return story


def audio_or_404(story_id: str, audio_id: str, members: bool = False) -> tuple[Story, Audio]:
    story = story_or_404(story_id, members)
    audio = story.find_audio(audio_id)
    if audio is None:
        abort(404, description=f"The story {story_id!r} has no audio {audio_id!r}.")
    return story, audio


def _topics(story: Story, members: bool = False) -> list[Topic]:
    store = current_store()
    return [t for t in (store.get_topic(slug, members=members) for slug in story.topics) if t is not None]


def _files_stamp(story: Story, media_dir: str) -> tuple[tuple[str, int, int], ...]:
    """(path, mtime, size) of each local transcript file the page may read: an edited file
    makes a new page, as a write to the store does."""
    stamp = []
    for audio in story.audio:
        for transcript in audio.transcripts:
            path = media_file(media_dir, transcript.url) if transcript.type in PAGE_SOURCES else None
            if path is not None:
                try:
                    stat = os.stat(path)
                except OSError:
                    continue
                stamp.append((path, stat.st_mtime_ns, stat.st_size))
    return tuple(stamp)


def transcript_page_rendered(story: Story, links: Links, *, members: bool = False) -> Rendered:
    """The story's transcript page (the story has transcripts). `members`: a member item's,
    made with `links` holding the secret's placeholder (serving.members.MemberLinks): no
    player (the public one does not play member items), its audio and files the member's."""
    media_dir = app_state().settings["MEDIA_DIR"]
    # Reading cues is CPU and so is a page of thousands of them: made once per
    # change of the store (topics' languages and titles show too) or of the files.
    key = cache_key("member-transcript" if members else "transcript", current_version(), story.id,
                    _files_stamp(story, media_dir))

    def render() -> Rendered:
        topics = _topics(story, members)
        language = topics[0].language if topics else ""
        sections = _sections(story, language, links, media_dir, player=not members)
        extra = {"links": links} if members else {}
        html = render_template("transcript.html", story=story, topics=topics, sections=sections,
                               cues_html=cues_html, type_names=TYPE_NAMES, member_page=members,
                               **extra)
        return Rendered.of(html.encode("utf-8"), "text/html; charset=utf-8")

    return current_render_cache().get_or_render(key, render)


def transcript_file_response(audio: Audio, extension: str) -> Response:
    found = served_transcripts(audio, app_state().settings["MEDIA_DIR"]).get(extension)
    if found is None:
        abort(404, description=f"This audio has no .{extension} transcript served here.")
    transcript, path = found
    # send_file adds "; charset=utf-8" to text/vtt itself.
    response = send_file(path, mimetype=transcript.type,
                         max_age=MEDIA_MAX_AGE, conditional=True)
    # Browser players on other sites read transcripts (the namespace asks for CORS).
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def chapters_answer(story: Story, audio: Audio, links: Links) -> Response | Rendered:
    """The audio's chapters: its file (a response), or the document made of inline
    chapters (a render, which `links` may have made with a member's placeholder)."""
    chapters = audio.chapters
    if chapters is not None and chapters.url:
        path = media_file(app_state().settings["MEDIA_DIR"], chapters.url)
        if path is None:
            abort(404, description="This audio's chapters file is not served here.")
        response = send_file(path, mimetype=CHAPTERS_TYPE, max_age=MEDIA_MAX_AGE, conditional=True)
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response
    if chapters is None or not chapters.chapters:
        abort(404, description="This audio has no chapters.")
    document = chapters_document(story, chapters, links)
    body = json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")
    return Rendered.of(body, CHAPTERS_TYPE, story.updated)


@bp.get("/stories/<story_id>/transcript")
def transcript_page(story_id: str):
    # The story is read before the cache is asked: an id that names no story (or none
    # with a transcript) is a 404 that leaves no key behind.
    story = story_or_404(story_id)
    if not story.has_transcripts:
        abort(404, description="This story has no transcript.")
    rendered = transcript_page_rendered(story, current_links())
    return send_rendered(rendered, max_age=app_state().settings["FEED_MAX_AGE"], cors=False)


@bp.get("/stories/<story_id>/audio/<audio_id>/transcript.<extension>")
def transcript_file(story_id: str, audio_id: str, extension: str):
    _story, audio = audio_or_404(story_id, audio_id)
    return transcript_file_response(audio, extension)


@bp.get("/stories/<story_id>/audio/<audio_id>/chapters.json")
def chapters_file(story_id: str, audio_id: str):
    story, audio = audio_or_404(story_id, audio_id)
    answer = chapters_answer(story, audio, current_links())
    if isinstance(answer, Rendered):
        return send_rendered(answer, max_age=app_state().settings["FEED_MAX_AGE"])
    return answer


# -- what the story page says -----------------------------------------------------------

@bp.app_template_global()
def transcript_page_url(story: Story) -> str:
    """The story's transcript page, "" when it has none."""
    return current_links().transcript_page(story.id) if story.has_transcripts else ""


@bp.app_template_global()
def story_structured_data(story: Story, topics: list[Topic]) -> dict | None:
    """The story page's schema.org `PodcastEpisode` (see feeds/schema_org.py)."""
    links = current_links()
    media_dir = app_state().settings["MEDIA_DIR"]
    series = tuple(Series(t.title, links.topic(t.slug), feed_url(links, PODCAST, t.slug))
                   for t in topics if has_podcast(t))
    extras = {}
    for audio in story.audio:
        _, cues, _ = _page_cues(audio, media_dir)
        extras[audio.id] = AudioExtras(listen_url=listen_url(story, audio, links),
                                       embed_url=player_url(story, audio, links),
                                       transcript=cues_text(cues))
    return podcast_episode(story, links, series=series, extras=extras)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
