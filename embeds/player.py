"""What storyfeed's embeddable player shows of one audio: records in, a dict for
templates/player.html out (nothing of HTTP).

The page's script (static/player.js) gets its data as JSON in one data- attribute, since the
player's Content-Security-Policy allows no inline script: chapters, the transcript to
fetch, the share link and embed code, and the Media Session metadata.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from serving.links import Links
from stories.model import Alternate, Audio, Story, Transcript

from .oembed import embed_iframe
from .providers import ProviderRegistry

# The order of `<source>` elements: the browser plays the first it can, so the codec
# that sounds best for its size comes first. A file of an unknown codec goes last.
CODEC_PREFERENCE = ("opus", "aac", "vorbis", "mp3", "flac")
# Codecs by RFC 6381 name, then by MIME type when the record names none.
CODECS = {"opus": "opus", "mp4a": "aac", "aac": "aac", "vorbis": "vorbis", "mp3": "mp3",
          "mp4a.40.34": "mp3", "mp4a.6b": "mp3", "flac": "flac", "fLaC": "flac"}
TYPE_CODECS = {"audio/opus": "opus", "audio/webm": "opus", "audio/ogg": "vorbis",
               "audio/mp4": "aac", "audio/aac": "aac", "audio/x-m4a": "aac",
               "audio/mpeg": "mp3", "audio/mp3": "mp3", "audio/flac": "flac"}
# Transcripts the player can follow along with: cue files with timings (one parser).
CUE_TYPES = ("text/vtt", "application/x-subrip")


@dataclass(frozen=True)
class Source:
    src: str
    type: str  # the `type` attribute: MIME type and codecs, or "" to let the browser try


def codec_of(type_: str, codecs: str = "") -> str:
    for name in codecs.split(","):
        name = name.strip()
        if name in CODECS:
            return CODECS[name]
        if name.split(".")[0] in CODECS:
            return CODECS[name.split(".")[0]]
    return TYPE_CODECS.get(type_.lower(), "")


def _rank(codec: str) -> int:
    return CODEC_PREFERENCE.index(codec) if codec in CODEC_PREFERENCE else len(CODEC_PREFERENCE)


def audio_sources(audio: Audio, links: Links) -> list[Source]:
    """The enclosure and its alternates, best first: by codec (`CODEC_PREFERENCE`), then
    the smaller file (by length, else bitrate), and the enclosure before an equal
    alternate. URLs that are not http(s) are left out, and so is a URL given twice."""
    candidates: list[tuple[tuple[int, float, int], Source]] = []
    enclosure = Alternate(url=audio.url, type=audio.type, length=audio.length)
    for position, alt in enumerate((enclosure, *audio.alternates)):
        src = links.media(alt.url) if alt.url else ""
        if not src or any(s.src == src for _, s in candidates):
            continue
        type_attr = alt.type
        if alt.type and alt.codecs:
            type_attr = f'{alt.type}; codecs="{alt.codecs}"'
        size = alt.length if alt.length else (alt.bitrate or float("inf"))
        key = (_rank(codec_of(alt.type, alt.codecs)), size, position)
        candidates.append((key, Source(src, type_attr)))
    return [source for _, source in sorted(candidates, key=lambda c: c[0])]


def inline_chapters(audio: Audio) -> list[dict[str, Any]]:
    """The record's inline chapters in Podcast Index JSON terms, as a chapters file at
    `chapters.url` gives them: the script reads both the same way."""
    if audio.chapters is None:
        return []
    out = []
    for chapter in audio.chapters.chapters:
        entry: dict[str, Any] = {"startTime": chapter.start_time, "title": chapter.title}
        if chapter.end_time is not None:
            entry["endTime"] = chapter.end_time
        if not chapter.toc:
            entry["toc"] = False
        out.append(entry)
    return out


def cue_transcript(audio: Audio) -> Transcript | None:
    """The transcript the player follows playback with: captions first, then by type."""
    timed = [t for t in audio.transcripts if t.type in CUE_TYPES]
    timed.sort(key=lambda t: (not t.captions, CUE_TYPES.index(t.type)))
    return timed[0] if timed else None


def caption_tracks(audio: Audio, links: Links) -> list[dict[str, Any]]:
    """`<track kind="captions">` for every WebVTT file the record marks as captions."""
    tracks = []
    for transcript in audio.transcripts:
        src = links.media(transcript.url)
        if transcript.type == "text/vtt" and transcript.captions and src:
            label = f"Captions ({transcript.language})" if transcript.language else "Captions"
            tracks.append({"src": src, "srclang": transcript.language, "label": label})
    return tracks


def transcript_page(story: Story, audio: Audio, links: Links) -> str:
    """A transcript to read as a page: the story's own on this site when it has one (as
    every story with a transcript file does), else the record's `transcript_url`, else an
    HTML transcript file."""
    if story.has_transcripts:
        return links.transcript_page(story.id)
    if audio.transcript_url:
        return links.media(audio.transcript_url)
    html = next((t for t in audio.transcripts if t.type == "text/html"), None)
    return links.media(html.url) if html is not None else ""


def session_metadata(story: Story, links: Links, site_name: str) -> dict[str, Any]:
    """`MediaMetadata` fields: what lock screens and hardware players show."""
    artwork = []
    image_url = links.media(story.image.url) if story.image else ""
    if story.image and image_url:
        entry = {"src": image_url}
        if story.image.width and story.image.height:
            entry["sizes"] = f"{story.image.width}x{story.image.height}"
        artwork.append(entry)
    return {"title": story.title, "artist": ", ".join(story.bylines), "album": site_name,
            "artwork": artwork}


def player_page(story: Story, audio: Audio, links: Links, *, registry: ProviderRegistry,
                page_url: str, site_name: str) -> dict[str, Any]:
    """The template's values for one embeddable audio that has a file to play."""
    sources = audio_sources(audio, links)
    transcript = cue_transcript(audio)
    transcript_url = links.media(transcript.url) if transcript is not None else ""
    chapters_url = ""
    if audio.chapters is not None and audio.chapters.url:
        chapters_url = links.media(audio.chapters.url)
    embed = embed_iframe(story, audio, registry, links)
    tracks = caption_tracks(audio, links)
    # A frame sandboxed without allow-same-origin (WordPress's) has an opaque origin: to it
    # our captions are cross-origin, and Chromium loads a <track> then only for a media
    # element in CORS mode ("Unsafe attempt to load URL"). CORS mode would also make the
    # audio itself fail from a host that sends no Access-Control-Allow-Origin, so it is
    # asked only when everything comes from this site, whose /media/ answers say `*`.
    cors = bool(tracks) and all(
        url.startswith(links.site_url) for url in [*(s.src for s in sources), *(t["src"] for t in tracks)])
    return {
        "story": story,
        "audio": audio,
        "oembed_page_url": page_url,
        "story_url": links.story(story.id),
        "image_url": links.media(story.image.url) if story.image else "",
        "media_url": links.media(audio.url),
        "sources": sources,
        "tracks": tracks,
        "cors": cors,
        "transcript_page_url": transcript_page(story, audio, links),
        "script_data": {
            "duration": audio.duration,
            "chapters": inline_chapters(audio),
            "chaptersUrl": chapters_url,
            "transcriptUrl": transcript_url,
            "shareUrl": page_url,
            "embedCode": str(embed) if embed is not None else "",
            "session": session_metadata(story, links, site_name),
        },
    }
