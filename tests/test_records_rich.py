"""The Podcasting 2.0 parts of a record: transcripts, chapters, soundbites, alternates and
persons of stories; medium, license, funding, location, persons and moves of topics.
Every rule with a good form and each bad form's exact message, and the round trip."""

from __future__ import annotations

import copy
import json

import pytest

from stories.files import read_records, write_ndjson
from stories.model import (
    Chapter,
    Person,
    story_from_record,
    story_to_record,
    topic_from_record,
    topic_to_record,
)
from stories.validate import MAX_CHAPTERS, RecordInvalid, parse_story, parse_topic

from .conftest import story_record

LOC = "stories.json: record 3 (id 1001)"
TOPIC_LOC = "topics.json: topic 1 (slug world)"

AUDIO = {"id": "2001", "url": "https://media.example.org/2001.mp3", "length": 123456, "duration": 61}

RICH_AUDIO = {
    **AUDIO,
    "transcripts": [
        {"url": "/media/world/2001.vtt", "type": "text/vtt", "language": "en-US", "captions": True},
        {"url": "https://media.example.org/2001.json", "type": "application/json", "language": "es"},
        {"url": "https://media.example.org/2001.srt", "type": "application/x-subrip"},
        {"url": "https://www.example.org/transcripts/1001", "type": "text/html"},
    ],
    "chapters": {
        "version": "1.2.0",
        "chapters": [
            {"startTime": 0, "title": "Intro"},
            {"startTime": 12.5, "title": "The picture", "img": "/media/world/1001.jpg",
             "url": "https://www.example.org/1001", "endTime": 40.25},
            {"startTime": 41, "toc": False},
        ],
    },
    "soundbites": [{"start": 12.5, "duration": 27.75, "title": "Why it matters"}],
    "alternates": [
        {"url": "/media/world/2001.opus", "type": "audio/ogg", "length": 80000, "bitrate": 20480,
         "codecs": "opus", "title": "Opus (smaller)"},
        {"url": "https://media.example.org/2001.m4a", "type": "audio/mp4", "length": 900000,
         "bitrate": 118103.5, "codecs": "mp4a.40.2"},
    ],
}

RICH_STORY = {
    "persons": [
        {"name": "Ann Reporter", "role": "reporter", "img": "/media/world/ann.jpg",
         "href": "https://www.example.org/people/ann"},
        {"name": "Ed Itor", "role": "Editor", "group": "writing"},
        {"name": "Hal Host"},
    ],
    "season": 2,
    "episode": 14,
    "episode_type": "trailer",
}

RICH_TOPIC = {
    "slug": "world",
    "title": "World",
    "medium": "newsletter",
    "license": {"name": "CC-BY-4.0"},
    "funding": [{"url": "https://www.example.org/donate", "text": "Support us"}],
    "location": {"name": "Eiffel Tower, Paris", "geo": "geo:48.858093,2.294694;u=350", "osm": "W5013364"},
    "persons": [{"name": "Hal Host", "role": "Host", "group": "Cast"}],
    "moved_to": "planet",
}


def rich_story(**overrides) -> dict:
    return story_record(audio=[copy.deepcopy(RICH_AUDIO)], **copy.deepcopy(RICH_STORY), **overrides)


def with_audio(**fields) -> dict:
    """A story whose one audio has `fields` on top of a plain 61-second MP3."""
    return story_record(audio=[{**AUDIO, **fields}])


def problems_of(record, parse=parse_story, location=LOC) -> list[str]:
    with pytest.raises(RecordInvalid) as info:
        parse(record, location)
    return [str(p) for p in info.value.problems]


# -- good forms and the round trip --------------------------------------------------

def test_every_new_story_field_is_read():
    story, warnings = parse_story(rich_story(), LOC)
    assert warnings == []
    audio = story.audio[0]
    assert [t.type for t in audio.transcripts] == [
        "text/vtt", "application/json", "application/x-subrip", "text/html"]
    assert audio.transcripts[0].captions and audio.transcripts[0].language == "en-US"
    assert not audio.transcripts[3].captions
    assert audio.chapters.version == "1.2.0" and audio.chapters.url == ""
    assert audio.chapters.chapters[1] == Chapter(
        start_time=12.5, title="The picture", img="/media/world/1001.jpg",
        url="https://www.example.org/1001", end_time=40.25, toc=True)
    assert audio.chapters.chapters[2].toc is False
    assert (audio.soundbites[0].start, audio.soundbites[0].duration) == (12.5, 27.75)
    assert audio.alternates[0].codecs == "opus" and audio.alternates[1].bitrate == 118103.5
    # Roles and groups are matched case-insensitively and kept as the taxonomy spells
    # them; a role found in one group only (Reporter) takes that group; no role is Host.
    assert story.persons == (
        Person("Ann Reporter", "Reporter", "Cast", "/media/world/ann.jpg",
               "https://www.example.org/people/ann"),
        Person("Ed Itor", "Editor", "Writing"),
        Person("Hal Host", "Host", "Cast"),
    )
    assert (story.season, story.episode, story.episode_type) == (2, 14, "trailer")


def test_every_new_topic_field_is_read():
    topic, _ = parse_topic(RICH_TOPIC, TOPIC_LOC)
    assert topic.medium == "newsletter" and topic.license.name == "CC-BY-4.0"
    assert topic.funding[0].text == "Support us"
    assert topic.location.osm == "W5013364" and topic.location.geo.startswith("geo:48.858093")
    assert topic.persons == (Person("Hal Host"),) and topic.moved_to == "planet"


def test_defaults_of_the_new_fields():
    story, _ = parse_story(story_record())
    assert story.persons == () and story.season is None and story.episode is None
    assert story.episode_type == "full"
    audio = story.audio[0]
    assert (audio.transcripts, audio.chapters, audio.soundbites, audio.alternates) == ((), None, (), ())
    topic, _ = parse_topic({"slug": "world"})
    assert topic.medium == "podcast" and topic.license is None and topic.location is None
    assert topic.funding == () and topic.persons == () and topic.moved_to == ""
    # Defaults stay out of the record, so records without the new fields are unchanged.
    assert story_to_record(story) == story_to_record(parse_story(story_to_record(story))[0])
    assert not {"persons", "season", "episode", "episode_type"} & set(story_to_record(story))
    assert topic_to_record(topic) == {"slug": "world", "title": "World"}


def test_stories_with_every_new_field_round_trip_model_record_model():
    story, _ = parse_story(rich_story(), LOC)
    record = json.loads(json.dumps(story_to_record(story)))  # through JSON text, as stored
    assert story_from_record(record) == story
    assert parse_story(record, LOC)[0] == story
    assert story_to_record(story_from_record(record)) == record
    # Inline chapters keep the Podcast Index JSON names: the record is a chapters document.
    chapters = record["audio"][0]["chapters"]
    assert chapters["chapters"][1] == {
        "startTime": 12.5, "title": "The picture", "img": "/media/world/1001.jpg",
        "url": "https://www.example.org/1001", "endTime": 40.25}
    assert chapters["chapters"][2] == {"startTime": 41, "toc": False}


def test_topics_with_every_new_field_round_trip_model_record_model():
    topic, _ = parse_topic(RICH_TOPIC, TOPIC_LOC)
    record = json.loads(json.dumps(topic_to_record(topic)))
    assert topic_from_record(record) == topic
    assert parse_topic(record, TOPIC_LOC)[0] == topic
    assert record["persons"] == [{"name": "Hal Host"}]


def test_an_export_with_every_new_field_reads_back_unchanged():
    batch = read_records(json.dumps({"topics": [RICH_TOPIC], "stories": [rich_story()]}), "x.json")
    assert not batch.problems
    text = "".join(write_ndjson(batch.topics, batch.stories))
    again = read_records(text, "export.ndjson")
    assert (again.topics, again.stories, again.problems) == (batch.topics, batch.stories, [])


def test_chapters_may_be_given_by_url_or_media_path():
    for url in ("https://media.example.org/2001.chapters.json", "/media/world/2001.chapters.json"):
        story, _ = parse_story(with_audio(chapters={"url": url}))
        assert story.audio[0].chapters.url == url and story.audio[0].chapters.chapters == ()
        assert story_to_record(story)["audio"][0]["chapters"] == {"url": url}


@pytest.mark.parametrize("language", [
    "en", "en-US", "es-419", "zh-Hant-TW", "sr-Latn-RS", "de-CH-1901", "en-US-x-twain", "x-klingon",
])
def test_transcript_languages_of_every_bcp47_shape(language):
    story, _ = parse_story(with_audio(transcripts=[
        {"url": "https://x.example/t.vtt", "type": "text/vtt", "language": language}]))
    assert story.audio[0].transcripts[0].language == language


@pytest.mark.parametrize("geo", [
    "geo:37.786971,-122.399677", "geo:37.786971,-122.399677,250", "geo:-90,180",
    "GEO:39.7837304,-100.445882;u=3900000", "geo:37.786971,-122.399677;crs=Mars-2031",
    "geo:48.2,16.3;crs=wgs84;u=40;name=vienna",
])
def test_geo_uris_of_rfc5870_shape(geo):
    topic, _ = parse_topic({"slug": "w", "location": {"name": "Somewhere", "geo": geo}})
    assert topic.location.geo == geo


@pytest.mark.parametrize("medium", [
    "podcast", "music", "video", "film", "audiobook", "newsletter", "blog", "podcastL", "musicL", "blogL",
])
def test_every_medium_and_its_list_variant(medium):
    assert parse_topic({"slug": "w", "medium": medium})[0].medium == medium


def test_times_may_reach_the_rounded_duration_and_half_a_second_past_it():
    # duration 61 is a rounded 60.5..61.5, so 61.4 may still be inside the audio
    story, _ = parse_story(with_audio(
        chapters={"version": "1.2", "chapters": [{"startTime": 0}, {"startTime": 61.4, "endTime": 61.5}]},
        soundbites=[{"start": 30, "duration": 31.5}],
    ))
    assert story.audio[0].chapters.chapters[1].end_time == 61.5


def test_times_are_not_bounded_when_the_duration_is_unknown():
    story, _ = parse_story(story_record(audio=[{
        "id": "a", "url": "https://x.example/a.mp3",
        "chapters": {"version": "1.2.0", "chapters": [{"startTime": 9000}]},
        "soundbites": [{"start": 9000, "duration": 60}],
    }]))
    assert story.audio[0].chapters.chapters[0].start_time == 9000


# -- bad forms, each named --------------------------------------------------------

A = "audio[0]"


@pytest.mark.parametrize("fields, message", [
    # transcripts
    ({"transcripts": {"url": "x"}}, f'{A}.transcripts: must be a list, not {{"url": "x"}}'),
    ({"transcripts": ["https://x.example/t.vtt"]},
     f'{A}.transcripts[0]: must be an object, not "https://x.example/t.vtt"'),
    ({"transcripts": [{"type": "text/vtt"}]}, f"{A}.transcripts[0].url: is required"),
    ({"transcripts": [{"url": "ftp://x.example/t.vtt", "type": "text/vtt"}]},
     f'{A}.transcripts[0].url: "ftp://x.example/t.vtt" is not an absolute http(s) URL or a /media/ path of letters, digits and -._~'),
    ({"transcripts": [{"url": "/media/../etc/passwd", "type": "text/vtt"}]},
     f'{A}.transcripts[0].url: "/media/../etc/passwd" is not an absolute http(s) URL or a /media/ path of letters, digits and -._~'),
    ({"transcripts": [{"url": "https://x.example/t.vtt"}]}, f"{A}.transcripts[0].type: is required"),
    ({"transcripts": [{"url": "https://x.example/t.txt", "type": "text/plain"}]},
     f'{A}.transcripts[0].type: "text/plain" is not one of text/vtt, application/x-subrip, '
     "application/json, text/html"),
    ({"transcripts": [{"url": "https://x.example/t.vtt", "type": "text/vtt", "language": "e"}]},
     f'{A}.transcripts[0].language: "e" is not a BCP 47 language tag such as en-US'),
    ({"transcripts": [{"url": "https://x.example/t.vtt", "type": "text/vtt", "language": "en_US"}]},
     f'{A}.transcripts[0].language: "en_US" is not a BCP 47 language tag such as en-US'),
    ({"transcripts": [{"url": "https://x.example/t.vtt", "type": "text/vtt", "captions": "yes"}]},
     f'{A}.transcripts[0].captions: "yes" is not true or false'),
    ({"transcripts": [{"url": "https://x.example/t.html", "type": "text/html", "captions": True}]},
     f"{A}.transcripts[0].captions: text/html has no timings, so it cannot be captions"),
    ({"transcripts": [{"url": "https://x.example/t.vtt", "type": "text/vtt", "rel": "captions"}]},
     f"{A}.transcripts[0].rel: unknown field"),
    ({"transcripts": [{"url": "https://x.example/t.vtt", "type": "text/vtt"},
                      {"url": "https://x.example/t.vtt", "type": "text/vtt"}]},
     f'{A}.transcripts[1].url: "https://x.example/t.vtt" appears twice in this audio'),
    ({"transcripts": [{"url": f"https://x.example/{i}.vtt", "type": "text/vtt"} for i in range(21)]},
     f"{A}.transcripts: has 21 entries, at most 20 allowed"),
    # chapters
    ({"chapters": [{"startTime": 0}]}, f'{A}.chapters: must be an object, not [{{"startTime": 0}}]'),
    ({"chapters": {"url": "https://x.example/c.json", "version": "1.2.0"}},
     f"{A}.chapters: has both a url and inline chapters; give one or the other"),
    ({"chapters": {"url": "javascript:alert(1)"}},
     f'{A}.chapters.url: "javascript:alert(1)" is not an absolute http(s) URL or a /media/ path of letters, digits and -._~'),
    ({"chapters": {"chapters": [{"startTime": 0}]}}, f"{A}.chapters.version: is required"),
    ({"chapters": {"version": "one", "chapters": [{"startTime": 0}]}},
     f'{A}.chapters.version: "one" is not a version such as 1.2.0'),
    ({"chapters": {"version": "1.2.0"}}, f"{A}.chapters.chapters: is required: a url, or at least one chapter"),
    ({"chapters": {"version": "1.2.0", "chapters": []}},
     f"{A}.chapters.chapters: is required: a url, or at least one chapter"),
    ({"chapters": {"version": "1.2.0", "author": "Me", "chapters": [{"startTime": 0}]}},
     f"{A}.chapters.author: unknown field"),
    ({"chapters": {"version": "1.2.0", "chapters": [{"title": "No start"}]}},
     f"{A}.chapters.chapters[0].startTime: is required"),
    ({"chapters": {"version": "1.2.0", "chapters": [{"startTime": "0:00"}]}},
     f'{A}.chapters.chapters[0].startTime: "0:00" is not a number'),
    ({"chapters": {"version": "1.2.0", "chapters": [{"startTime": True}]}},
     f"{A}.chapters.chapters[0].startTime: true is not a number"),
    ({"chapters": {"version": "1.2.0", "chapters": [{"startTime": -1}]}},
     f"{A}.chapters.chapters[0].startTime: -1 is below 0"),
    ({"chapters": {"version": "1.2.0", "chapters": [{"startTime": float("inf")}]}},
     f"{A}.chapters.chapters[0].startTime: Infinity is not a finite number"),
    ({"chapters": {"version": "1.2.0", "chapters": [{"startTime": float("nan")}]}},
     f"{A}.chapters.chapters[0].startTime: NaN is not a finite number"),
    ({"chapters": {"version": "1.2.0", "chapters": [{"startTime": 10}, {"startTime": 5}]}},
     f"{A}.chapters.chapters[1].startTime: 5 is not after the previous chapter's 10"),
    ({"chapters": {"version": "1.2.0", "chapters": [{"startTime": 10}, {"startTime": 10}]}},
     f"{A}.chapters.chapters[1].startTime: 10 is not after the previous chapter's 10"),
    ({"chapters": {"version": "1.2.0", "chapters": [{"startTime": 0}, {"startTime": 62}]}},
     f"{A}.chapters.chapters[1].startTime: 62 is past the end of the audio (61 s)"),
    ({"chapters": {"version": "1.2.0", "chapters": [{"startTime": 20, "endTime": 20}]}},
     f"{A}.chapters.chapters[0].endTime: 20 is not after its startTime 20"),
    ({"chapters": {"version": "1.2.0", "chapters": [{"startTime": 20, "endTime": 70}]}},
     f"{A}.chapters.chapters[0].endTime: 70 is past the end of the audio (61 s)"),
    ({"chapters": {"version": "1.2.0", "chapters": [{"startTime": 0, "img": "data:image/png,x"}]}},
     f'{A}.chapters.chapters[0].img: "data:image/png,x" is not an absolute http(s) URL or a /media/ path of letters, digits and -._~'),
    ({"chapters": {"version": "1.2.0", "chapters": [{"startTime": 0, "url": "/media/a.html"}]}},
     f'{A}.chapters.chapters[0].url: "/media/a.html" is not an absolute http(s) URL'),
    ({"chapters": {"version": "1.2.0", "chapters": [{"startTime": 0, "toc": "no"}]}},
     f'{A}.chapters.chapters[0].toc: "no" is not true or false'),
    ({"chapters": {"version": "1.2.0", "chapters": [{"startTime": 0, "title": "x" * 1001}]}},
     f"{A}.chapters.chapters[0].title: is 1001 characters long, at most 1000 allowed"),
    ({"chapters": {"version": "1.2.0", "chapters": [{"startTime": 0, "location": {}}]}},
     f"{A}.chapters.chapters[0].location: unknown field"),
    ({"chapters": {"version": "1.2.0", "chapters": [{"startTime": i / 10} for i in range(MAX_CHAPTERS + 1)]}},
     f"{A}.chapters.chapters: has {MAX_CHAPTERS + 1} entries, at most {MAX_CHAPTERS} allowed"),
    # soundbites
    ({"soundbites": [{"duration": 10}]}, f"{A}.soundbites[0].start: is required"),
    ({"soundbites": [{"start": 10}]}, f"{A}.soundbites[0].duration: is required"),
    ({"soundbites": [{"start": 10, "duration": 0}]}, f"{A}.soundbites[0].duration: 0 must be above 0"),
    ({"soundbites": [{"start": -5, "duration": 10}]}, f"{A}.soundbites[0].start: -5 is below 0"),
    ({"soundbites": [{"start": 10, "duration": "30s"}]}, f'{A}.soundbites[0].duration: "30s" is not a number'),
    ({"soundbites": [{"start": 50, "duration": 30}]},
     f"{A}.soundbites[0].duration: ends at 80 s, past the end of the audio (61 s)"),
    ({"soundbites": [{"start": 0, "duration": 10, "title": "x" * 129}]},
     f"{A}.soundbites[0].title: is 129 characters long, at most 128 allowed"),
    # alternates
    ({"alternates": [{"type": "audio/ogg", "length": 1, "bitrate": 1, "codecs": "opus"}]},
     f"{A}.alternates[0].url: is required"),
    ({"alternates": [{"url": AUDIO["url"], "type": "audio/mpeg", "length": 1, "bitrate": 1, "codecs": "mp3"}]},
     f'{A}.alternates[0].url: "{AUDIO["url"]}" is the audio\'s own url, not another file'),
    ({"alternates": [{"url": "/media/a.opus", "length": 1, "bitrate": 1, "codecs": "opus"}]},
     f"{A}.alternates[0].type: is required"),
    ({"alternates": [{"url": "/media/a.opus", "type": "opus", "length": 1, "bitrate": 1, "codecs": "opus"}]},
     f'{A}.alternates[0].type: "opus" is not a MIME type'),
    ({"alternates": [{"url": "/media/a.opus", "type": "audio/ogg", "bitrate": 1, "codecs": "opus"}]},
     f"{A}.alternates[0].length: is required"),
    ({"alternates": [{"url": "/media/a.opus", "type": "audio/ogg", "length": 0, "bitrate": 1, "codecs": "opus"}]},
     f"{A}.alternates[0].length: 0 is below 1"),
    ({"alternates": [{"url": "/media/a.opus", "type": "audio/ogg", "length": 1, "codecs": "opus"}]},
     f"{A}.alternates[0].bitrate: is required"),
    ({"alternates": [{"url": "/media/a.opus", "type": "audio/ogg", "length": 1, "bitrate": -8, "codecs": "opus"}]},
     f"{A}.alternates[0].bitrate: -8 must be above 0"),
    ({"alternates": [{"url": "/media/a.opus", "type": "audio/ogg", "length": 1, "bitrate": 1}]},
     f"{A}.alternates[0].codecs: is required"),
    ({"alternates": [{"url": "/media/a.opus", "type": "audio/ogg", "length": 1, "bitrate": 1,
                      "codecs": 'opus"><script>'}]},
     f'{A}.alternates[0].codecs: "opus\\"><script>" is not an RFC 6381 codecs list such as opus'),
    ({"alternates": [{"url": "/media/a.opus", "type": "audio/ogg", "length": 1, "bitrate": 1, "codecs": "opus"},
                     {"url": "/media/a.opus", "type": "audio/ogg", "length": 1, "bitrate": 1, "codecs": "opus"}]},
     f'{A}.alternates[1].url: "/media/a.opus" appears twice in this audio'),
    ({"alternates": [{"url": "/media/a.opus", "type": "audio/ogg", "length": 1, "bitrate": 1, "codecs": "opus",
                      "default": True}]},
     f"{A}.alternates[0].default: unknown field"),
])
def test_audio_part_rules(fields, message):
    assert problems_of(with_audio(**fields)) == [f"{LOC}: {message}"]


P = "persons[0]"


@pytest.mark.parametrize("overrides, message", [
    ({"persons": {"name": "A"}}, 'persons: must be a list, not {"name": "A"}'),
    ({"persons": [{"role": "Host"}]}, f"{P}.name: is required"),
    ({"persons": [{"name": "x" * 129}]}, f"{P}.name: is 129 characters long, at most 128 allowed"),
    ({"persons": [{"name": "A", "role": "Anchor"}]},
     f'{P}.role: "Anchor" is not a role of the Podcasting 2.0 taxonomy'),
    ({"persons": [{"name": "A", "group": "Band"}]},
     f'{P}.group: "Band" is not a group of the Podcasting 2.0 taxonomy'),
    ({"persons": [{"name": "A", "role": "Composer", "group": "Cast"}]},
     f'{P}.role: "Composer" is not a role of group "Cast" in the Podcasting 2.0 taxonomy'),
    ({"persons": [{"name": "A", "role": "Editor"}]},
     f'{P}.group: is required: role "Editor" is in the groups Writing, Video Post-Production'),
    ({"persons": [{"name": "A", "group": "Writing"}]}, f"{P}.role: is required when the group is Writing"),
    ({"persons": [{"name": "A", "img": "javascript:alert(1)"}]},
     f'{P}.img: "javascript:alert(1)" is not an absolute http(s) URL or a /media/ path of letters, digits and -._~'),
    ({"persons": [{"name": "A", "href": "/media/a"}]}, f'{P}.href: "/media/a" is not an absolute http(s) URL'),
    ({"persons": [{"name": "A", "email": "a@example.org"}]}, f"{P}.email: unknown field"),
    ({"persons": [{"name": str(i)} for i in range(51)]}, "persons: has 51 entries, at most 50 allowed"),
    ({"season": 0}, "season: 0 is below 1"),
    ({"season": "2"}, 'season: "2" is not a whole number'),
    ({"episode": 1.5}, "episode: 1.5 is not a whole number"),
    ({"episode": 1_000_001}, "episode: 1000001 is above 1000000"),
    ({"episode_type": "special"}, 'episode_type: "special" is not one of full, trailer, bonus'),
    ({"episode_type": "Full"}, 'episode_type: "Full" is not one of full, trailer, bonus'),
])
def test_story_part_rules(overrides, message):
    assert problems_of(story_record(**overrides)) == [f"{LOC}: {message}"]


@pytest.mark.parametrize("fields, message", [
    ({"medium": "radio"}, '"radio" is not a podcast:medium value'),
    ({"medium": "Podcast"}, '"Podcast" is not a podcast:medium value'),
    ({"license": "CC-BY-4.0"}, 'license: must be an object, not "CC-BY-4.0"'),
    ({"license": {"url": "https://x.example/l"}}, "license.name: is required"),
    ({"license": {"name": "x" * 129}}, "license.name: is 129 characters long, at most 128 allowed"),
    ({"license": {"name": "mine", "url": "file:///l.txt"}},
     'license.url: "file:///l.txt" is not an absolute http(s) URL'),
    ({"funding": [{"text": "Give"}]}, "funding[0].url: is required"),
    ({"funding": [{"url": "https://x.example/give"}]}, "funding[0].text: is required"),
    ({"funding": [{"url": "javascript:give()", "text": "Give"}]},
     'funding[0].url: "javascript:give()" is not an absolute http(s) URL'),
    ({"funding": [{"url": f"https://x.example/{i}", "text": "Give"} for i in range(11)]},
     "funding: has 11 entries, at most 10 allowed"),
    ({"location": {"geo": "geo:1,2"}}, "location.name: is required"),
    ({"location": {"name": "Austin", "geo": "30.2672,97.7431"}},
     'location.geo: "30.2672,97.7431" is not a geo URI such as geo:48.858093,2.294694'),
    ({"location": {"name": "Austin", "geo": "geo:30.2672"}},
     'location.geo: "geo:30.2672" is not a geo URI such as geo:48.858093,2.294694'),
    ({"location": {"name": "Austin", "geo": "geo:30.2672,97.7431;u=a"}},
     'location.geo: "geo:30.2672,97.7431;u=a" is not a geo URI such as geo:48.858093,2.294694'),
    ({"location": {"name": "Austin", "geo": "geo:30.2672,97.7431;u=1;crs=wgs84"}},
     'location.geo: "geo:30.2672,97.7431;u=1;crs=wgs84" is not a geo URI such as geo:48.858093,2.294694'),
    ({"location": {"name": "Nowhere", "geo": "geo:91,0"}}, "location.geo: latitude 91 is not between -90 and 90"),
    ({"location": {"name": "Nowhere", "geo": "geo:0,-180.5"}},
     "location.geo: longitude -180.5 is not between -180 and 180"),
    ({"location": {"name": "USA", "osm": "148838"}},
     'location.osm: "148838" is not an OpenStreetMap type and id such as R148838'),
    ({"location": {"name": "USA", "osm": "X148838"}},
     'location.osm: "X148838" is not an OpenStreetMap type and id such as R148838'),
    ({"location": {"name": "USA", "country": "us"}}, "location.country: unknown field"),
    ({"persons": [{"name": "A", "role": "Anchor"}]},
     'persons[0].role: "Anchor" is not a role of the Podcasting 2.0 taxonomy'),
    ({"moved_to": "world"}, "moved_to: points at the topic itself"),
    ({"moved_to": "New World"}, 'moved_to: "New World" must be lowercase letters, digits and hyphens'),
    ({"moved_to": "https://x.example/feed"},
     'moved_to: "https://x.example/feed" must be lowercase letters, digits and hyphens'),
])
def test_topic_part_rules(fields, message):
    found = problems_of({"slug": "world", **fields}, parse_topic, TOPIC_LOC)
    assert len(found) == 1 and found[0].startswith(f"{TOPIC_LOC}: ")
    assert message in found[0]


def test_every_problem_of_the_new_parts_is_reported_at_once():
    found = problems_of(with_audio(
        transcripts=[{"url": "ftp://x", "type": "text/plain"}],
        chapters={"version": "1.2.0", "chapters": [{"startTime": 5}, {"startTime": 1}]},
        soundbites=[{"start": 60, "duration": 10}],
    ) | {"persons": [{"name": "A", "role": "Anchor"}], "episode_type": "special"})
    assert len(found) == 6 and all(p.startswith(LOC) for p in found)


def test_nan_and_infinity_in_a_file_are_named_problems_not_crashes():
    # Python's json module reads NaN and Infinity; the record reader refuses them as it
    # reads, and the validator refuses them in values that come from elsewhere (sync).
    text = ('[{"id": "1", "url": "https://x.example/1", "title": "T", "published": "2024-01-01T00:00:00Z",'
            ' "audio": [{"id": "a", "url": "https://x.example/a.mp3", "duration": 60,'
            ' "soundbites": [{"start": NaN, "duration": Infinity}]}]}]')
    batch = read_records(text, "stories.json")
    assert [str(p) for p in batch.problems] == ["stories.json: file: not valid JSON: NaN is not a number"]
    assert batch.stories == []
    record = {"id": "1", "url": "https://x.example/1", "title": "T",
              "published": "2024-01-01T00:00:00Z",
              "audio": [{"id": "a", "url": "https://x.example/a.mp3", "duration": 60,
                         "soundbites": [{"start": float("nan"), "duration": float("inf")}]}]}
    assert problems_of(record) == [
        f"{LOC}: audio[0].soundbites[0].start: NaN is not a finite number",
        f"{LOC}: audio[0].soundbites[0].duration: Infinity is not a finite number",
    ]
