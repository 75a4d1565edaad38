"""The sample topic's material: it loads, every file it names exists with its stated
length, and the transcripts, chapters and soundbites agree with each other and with the
audio files they describe (durations read from the files with mutagen)."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest
import webvtt
from mutagen.mp3 import MP3
from mutagen.oggopus import OggOpus

from serving.state import app_state
from stories.files import read_records
from stories.sample import SAMPLE_FILE, make_media

MEDIA_DIR = SAMPLE_FILE.parent / "media"
SLUG = "north-korean-defectors"
# lame pads the last MP3 frame and mutagen counts it: at 22.05 kHz a frame is 26 ms.
MP3_PADDING = 0.1
# Ogg Opus knows its exact sample count; the cue times are rounded to milliseconds.
OPUS_PRECISION = 0.002


def media_file(url: str) -> Path:
    assert url.startswith("/media/"), url
    return MEDIA_DIR / url[len("/media/"):]


def sample():
    batch = read_records(SAMPLE_FILE.read_text(encoding="utf-8"), SAMPLE_FILE.name)
    assert batch.problems == [] and batch.warnings == []
    return batch.topics[0], batch.stories


def cues_of(transcript_url: str) -> list[tuple[float, float, str]]:
    """(start, end, text) of every cue; strict, so a malformed cue block fails."""
    captions = webvtt.read(str(media_file(transcript_url)), strict=True)
    return [
        (c.start_time.in_milliseconds() / 1000, c.end_time.in_milliseconds() / 1000, html.unescape(c.text))
        for c in captions
    ]


def audio_cases():
    _, stories = sample()
    return [pytest.param(story, audio, id=audio.id) for story in stories for audio in story.audio]


def test_flask_stories_sample_stores_every_new_field(sample_app):
    topic, stories = sample()
    store = app_state(sample_app).store
    assert store.get_topic(SLUG) == topic
    assert list(store.iter_stories(SLUG)) == stories
    assert topic.license and topic.funding and topic.location and topic.persons
    for story in stories:
        audio = story.audio[0]
        assert audio.transcripts and audio.chapters and audio.soundbites and audio.alternates
        assert story.persons and story.episode


def test_every_referenced_media_file_exists_with_its_stated_length():
    topic, stories = sample()
    urls = {topic.image.url} | {p.img for p in topic.persons if p.img}
    for story in stories:
        urls |= {story.image.url} | {p.img for p in story.persons if p.img}
        for audio in story.audio:
            assert media_file(audio.url).stat().st_size == audio.length
            for alternate in audio.alternates:
                assert media_file(alternate.url).stat().st_size == alternate.length
            urls |= {t.url for t in audio.transcripts}
            urls |= {c.img for c in audio.chapters.chapters if c.img}
    for url in urls:
        assert media_file(url).is_file(), url
    # and nothing in media/ that no record names
    named = {media_file(u) for u in urls} | {
        media_file(x.url) for s in stories for a in s.audio for x in (a, *a.alternates)}
    assert set((MEDIA_DIR / SLUG).iterdir()) == named


@pytest.mark.parametrize("story, audio", audio_cases())
def test_audio_and_its_opus_alternate_last_as_long_as_the_record_says(story, audio):
    mp3_seconds = MP3(media_file(audio.url)).info.length
    assert audio.duration == round(mp3_seconds)
    assert 25 < mp3_seconds < 70  # about a minute: headline, teaser, caption and credit
    (opus,) = audio.alternates
    assert (opus.type, opus.codecs) == ("audio/ogg", "opus") and opus.url.endswith(".opus")
    opus_seconds = OggOpus(media_file(opus.url)).info.length
    assert abs(opus_seconds - mp3_seconds) < MP3_PADDING
    assert opus.bitrate == round(opus.length * 8 / opus_seconds)
    assert 16_000 <= opus.bitrate <= 24_000


@pytest.mark.parametrize("story, audio", audio_cases())
def test_vtt_cues_parse_ascend_and_end_within_the_audio(story, audio):
    vtt, json_transcript = audio.transcripts
    assert (vtt.type, vtt.captions, vtt.language) == ("text/vtt", True, "en-US")
    assert (json_transcript.type, json_transcript.captions) == ("application/json", False)
    cues = cues_of(vtt.url)
    assert cues[0][0] == 0
    for (start, end, text), following in zip(cues, cues[1:] + [None], strict=True):
        assert start < end and text.strip()
        if following is not None:
            assert end <= following[0]  # in order, never overlapping
    opus_seconds = OggOpus(media_file(audio.alternates[0].url)).info.length
    mp3_seconds = MP3(media_file(audio.url)).info.length
    assert cues[-1][1] <= opus_seconds + OPUS_PRECISION
    assert cues[-1][1] <= mp3_seconds


@pytest.mark.parametrize("story, audio", audio_cases())
def test_the_transcript_is_exactly_what_was_spoken(story, audio):
    spoken = [text for _, texts in make_media.script(_raw_story(story.id)) for text in texts]
    assert [text for _, _, text in cues_of(audio.transcripts[0].url)] == spoken


@pytest.mark.parametrize("story, audio", audio_cases())
def test_json_transcript_agrees_with_the_vtt(story, audio):
    vtt, json_transcript = audio.transcripts
    document = json.loads(media_file(json_transcript.url).read_text(encoding="utf-8"))
    assert document["version"] == "1.0.0"
    segments = [(s["startTime"], s["endTime"], s["body"]) for s in document["segments"]]
    assert segments == cues_of(vtt.url)


@pytest.mark.parametrize("story, audio", audio_cases())
def test_chapters_and_soundbite_fall_on_the_measured_cue_boundaries(story, audio):
    chapters = audio.chapters.chapters
    cues = cues_of(audio.transcripts[0].url)
    parts = make_media.script(_raw_story(story.id))
    assert [c.title for c in chapters] == [title for title, _ in parts] == [
        "Headline", "In brief", "The picture", "Credit"]
    # Each chapter starts on the first cue of its part of the script...
    first_cue = 0
    for chapter, (_, texts) in zip(chapters, parts, strict=True):
        assert chapter.start_time == cues[first_cue][0]
        first_cue += len(texts)
        # ...and ends where the next begins, after its own last cue and a pause.
        assert chapter.end_time >= cues[first_cue - 1][1]
    assert [c.end_time for c in chapters[:-1]] == [c.start_time for c in chapters[1:]]
    opus_seconds = OggOpus(media_file(audio.alternates[0].url)).info.length
    assert abs(chapters[-1].end_time - opus_seconds) <= OPUS_PRECISION
    assert chapters[1].url == "" and chapters[0].url == story.url
    assert chapters[2].img == story.image.url
    (soundbite,) = audio.soundbites
    assert soundbite.start == chapters[1].start_time
    assert soundbite.start + soundbite.duration == pytest.approx(chapters[1].end_time, abs=0.001)


def test_persons_are_marked_as_stand_ins_in_each_note():
    topic, stories = sample()
    assert [p.name for p in topic.persons] == ["eSpeak NG"]
    for story in stories:
        assert [(p.name, p.role, p.group) for p in story.persons] == [
            ("eSpeak NG", "Narrator", "Cast"), ("Sample Reporter", "Reporter", "Cast")]
        assert "Sample Reporter and the avatar are stand-ins" in story.note
    # numbered by publication date, oldest first
    by_date = sorted(stories, key=lambda s: s.published)
    assert [s.episode for s in by_date] == list(range(1, len(stories) + 1))


def _raw_story(story_id: str) -> dict:
    data = json.loads(SAMPLE_FILE.read_text(encoding="utf-8"))
    return next(s for s in data["stories"] if s["id"] == story_id)
