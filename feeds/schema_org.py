"""A story page's schema.org structured data: a `PodcastEpisode` whose audio are
`AudioObject`s with their duration, transcript, captions files and chapters (`Clip`s).

Records and URLs in, a JSON-ready dict out; the page serializes it (Jinja's `tojson`,
which escapes `<`, `>`, `&` and `'` so nothing in it can close the script element).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from serving.links import Links
from stories.model import Audio, Person, Story, format_datetime

from .content import audio_transcripts, decimal_text, http_url, media_url, xml_text

CONTEXT = "https://schema.org"


@dataclass(frozen=True)
class Series:
    """A podcast the story is an episode of: its topic's page and podcast feed."""

    name: str
    url: str
    feed_url: str


@dataclass(frozen=True)
class AudioExtras:
    """What the page knows of one audio beyond its record: where it plays (a URL that
    takes a `#t=` start time) and its transcript as text, read from the file."""

    listen_url: str = ""
    embed_url: str = ""
    transcript: str = ""


def iso_duration(seconds: float) -> str:
    """ISO 8601 duration, as schema.org wants it: 3723 -> "PT1H2M3S", 56 -> "PT56S"."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    out = "PT" + (f"{int(hours)}H" if hours else "") + (f"{int(minutes)}M" if minutes else "")
    if secs or out == "PT":
        out += f"{decimal_text(secs)}S"
    return out


def _person(person: Person, links: Links) -> dict[str, Any]:
    out: dict[str, Any] = {"@type": "Person", "name": xml_text(person.name)}
    if http_url(person.href):
        out["url"] = http_url(person.href)
    if person.img and media_url(links, person.img):
        out["image"] = media_url(links, person.img)
    return out


def _audio_object(audio: Audio, links: Links, extras: AudioExtras) -> dict[str, Any] | None:
    content_url = media_url(links, audio.url) if audio.url else ""
    if not content_url and not extras.embed_url:
        return None
    out: dict[str, Any] = {"@type": "AudioObject"}
    if content_url:
        out["contentUrl"] = content_url
        if audio.type:
            out["encodingFormat"] = audio.type
    if extras.embed_url:
        out["embedUrl"] = extras.embed_url
    if audio.duration is not None:
        out["duration"] = iso_duration(audio.duration)
    if extras.transcript:
        out["transcript"] = extras.transcript
    # schema.org: captions files are `caption` MediaObjects with their encodingFormat.
    captions = [{"@type": "MediaObject", "contentUrl": t.url, "encodingFormat": t.type,
                 **({"inLanguage": t.language} if t.language else {})}
                for t in audio_transcripts(audio, links) if t.captions]
    if captions:
        out["caption"] = captions
    clips = []
    for chapter in audio.chapters.chapters if audio.chapters is not None else ():
        if not chapter.toc:
            continue
        clip: dict[str, Any] = {"@type": "Clip", "name": xml_text(chapter.title),
                      "startOffset": chapter.start_time}
        if chapter.end_time is not None:
            clip["endOffset"] = chapter.end_time
        if extras.listen_url:
            clip["url"] = f"{extras.listen_url}#t={decimal_text(chapter.start_time)}"
        clips.append(clip)
    if clips:
        out["hasPart"] = clips
    return out


def podcast_episode(story: Story, links: Links, *, series: tuple[Series, ...] = (),
                    extras: Mapping[str, AudioExtras] | None = None) -> dict[str, Any] | None:
    """The story page's `PodcastEpisode`; None for a story without audio."""
    if not story.audio:
        return None
    page_url = links.story(story.id)
    out: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "PodcastEpisode",
        "@id": page_url,
        "url": page_url,
        "name": xml_text(story.title),
        "datePublished": format_datetime(story.published),
        "dateModified": format_datetime(story.updated),
    }
    if story.teaser:
        out["description"] = xml_text(story.teaser)
    if http_url(story.url):
        out["sameAs"] = http_url(story.url)
    if story.image is not None and media_url(links, story.image.url):
        out["image"] = media_url(links, story.image.url)
    names = [xml_text(b) for b in story.bylines if xml_text(b).strip()]
    if names:
        out["author"] = [{"@type": "Person", "name": name} for name in names]
    if story.persons:
        out["contributor"] = [_person(p, links) for p in story.persons]
    if story.episode is not None:
        out["episodeNumber"] = story.episode
    if story.season is not None:
        out["partOfSeason"] = {"@type": "PodcastSeason", "seasonNumber": story.season}
    if series:
        out["partOfSeries"] = [{"@type": "PodcastSeries", "name": s.name, "url": s.url,
                                "webFeed": s.feed_url} for s in series]
    media = [_audio_object(audio, links, (extras or {}).get(audio.id, AudioExtras()))
             for audio in story.audio]
    media = [m for m in media if m is not None]
    if media:
        out["associatedMedia"] = media
    return out
