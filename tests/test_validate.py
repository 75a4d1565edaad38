"""Every validation rule, with good and bad inputs and the exact message."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from stories.files import read_records, write_ndjson
from stories.model import story_to_record, topic_to_record
from stories.validate import (
    KNOWN_CLEAN_BODIES,
    KnownDigests,
    RecordInvalid,
    clean_body_html,
    clean_stored_body_html,
    parse_story,
    parse_topic,
)

from .conftest import story_record

LOC = "stories.json: record 3 (id 761156048)"


def problems_of(record, parse=parse_story) -> list[str]:
    with pytest.raises(RecordInvalid) as info:
        parse(record, LOC)
    return [str(p) for p in info.value.problems]


def test_a_valid_record_parses():
    story, warnings = parse_story(story_record(), LOC)
    assert story.id == "1001" and warnings == []
    assert story.published == datetime(2024, 1, 2, 15, 0, tzinfo=UTC)
    assert story.updated == story.published
    assert story.audio[0].type == "audio/mpeg"  # from the extension
    assert story.image.producer == "Jane Doe" and story.image.provider == "Agency"


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"published": "2019-08-28 10:00"}, 'published: "2019-08-28 10:00" has no time zone'),
        ({"published": "yesterday"}, 'published: "yesterday" is not an RFC 3339 or RFC 822 date'),
        ({"published": None}, "published: is required"),
        ({"updated": "Sat, 20 Nov 2021 16:24:45"}, 'updated: "Sat, 20 Nov 2021 16:24:45" has no time zone'),
        ({"id": "ABC"}, 'id: "ABC" must be lowercase letters, digits and hyphens'),
        ({"id": "a b"}, 'id: "a b" must be lowercase letters, digits and hyphens'),
        ({"id": None}, "id: is required"),
        ({"url": "javascript:alert(1)"}, 'url: "javascript:alert(1)" is not an absolute http(s) URL'),
        ({"url": "data:text/html,x"}, 'url: "data:text/html,x" is not an absolute http(s) URL'),
        ({"url": "/relative"}, 'url: "/relative" is not an absolute http(s) URL'),
        ({"url": None}, "url: is required"),
        ({"title": None}, "title: is required"),
        ({"title": "   "}, "title: is required"),
        ({"title": "x" * 1001}, "title: is 1001 characters long, at most 1000 allowed"),
        ({"title": 5}, "title: must be a string, not 5"),
        ({"topics": ["World"]}, 'topics[0]: "World" must be lowercase letters, digits and hyphens'),
        ({"topics": "world"}, 'topics: must be a list, not "world"'),
        ({"bylines": [""]}, "bylines[0]: is required"),
        ({"colour": "red"}, "colour: unknown field"),
        ({"image": {"caption": "no url"}}, "image.url: is required"),
        ({"image": {"url": "https://x.example/a.jpg", "width": 0}}, "image.width: 0 is below 1"),
        ({"image": {"url": "https://x.example/a.jpg", "size": 3}}, "image.size: unknown field"),
        ({"audio": [{"id": "a1"}]}, "audio[0].url: is required when there is no embed"),
        ({"audio": [{"id": "a1", "url": "https://x.example/a.mp3", "length": "12"}]},
         'audio[0].length: "12" is not a whole number'),
        ({"audio": [{"id": "a1", "url": "https://x.example/a.mp3", "length": 0}]},
         "audio[0].length: 0 is below 1"),
        ({"audio": [{"id": "a1", "url": "https://x.example/a.mp3", "downloadable": "yes"}]},
         'audio[0].downloadable: "yes" is not true or false'),
        ({"audio": [{"id": "a1", "url": "https://x.example/a.mp3", "type": "mp3"}]},
         'audio[0].type: "mp3" is not a MIME type'),
        ({"audio": [{"id": "a1", "url": "/media/../secret"}]},
         'audio[0].url: "/media/../secret" is not an absolute http(s) URL or a /media/ path of letters, digits and -._~'),
        ({"audio": [{"id": "a1", "embed": "<iframe>"}, {"id": "a1", "embed": "<iframe>"}]},
         'audio[1].id: "a1" appears twice in this story'),
        ({"audio": [{"id": "a1", "url": "https://x.example/a.mp3", "transcript_url": "ftp://x"}]},
         'audio[0].transcript_url: "ftp://x" is not an absolute http(s) URL'),
    ],
)
def test_story_rules(overrides, message):
    assert problems_of(story_record(**overrides)) == [f"{LOC}: {message}"]


def test_every_problem_of_a_record_is_reported():
    found = problems_of(story_record(id="Bad", published="2019-08-28 10:00", title=None))
    assert [p[len(LOC) + 2:] for p in found] == [
        'id: "Bad" must be lowercase letters, digits and hyphens',
        'published: "2019-08-28 10:00" has no time zone',
        "title: is required",
    ]


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2021-11-20T16:24:45-05:00", datetime(2021, 11, 20, 21, 24, 45, tzinfo=UTC)),
        ("2021-11-20T21:24:45Z", datetime(2021, 11, 20, 21, 24, 45, tzinfo=UTC)),
        ("Sat, 20 Nov 2021 16:24:45 -0500", datetime(2021, 11, 20, 21, 24, 45, tzinfo=UTC)),
        ("Sat, 20 Nov 2021 21:24:45 GMT", datetime(2021, 11, 20, 21, 24, 45, tzinfo=UTC)),
    ],
)
def test_dates_in_rfc3339_and_rfc822_are_stored_in_utc(value, expected):
    story, _ = parse_story(story_record(published=value))
    assert story.published == expected and story.published.tzinfo == UTC


def test_xml_illegal_characters_are_removed_with_a_warning_naming_the_field():
    story, warnings = parse_story(
        story_record(title="Bad\x00 title\x1b", teaser="lone \ud800 surrogate\tok"), LOC
    )
    assert story.title == "Bad title" and story.teaser == "lone  surrogate\tok"
    assert [str(w) for w in warnings] == [
        f"{LOC}: title: control characters or lone surrogates removed",
        f"{LOC}: teaser: control characters or lone surrogates removed",
    ]


def test_body_html_is_cleaned_to_a_safe_set_of_tags():
    story, _ = parse_story(story_record(
        body_html='<p onclick="x()">Hi <script>alert(1)</script><a href="javascript:x">l</a>'
                  '<iframe src="https://evil.example"></iframe><strong>ok</strong></p>'
    ))
    assert "<script" not in story.body_html and "onclick" not in story.body_html
    assert "javascript:" not in story.body_html and "<iframe" not in story.body_html
    assert "<strong>ok</strong>" in story.body_html


def test_media_paths_are_allowed_for_audio_and_images():
    story, _ = parse_story(story_record(
        image={"url": "/media/t/a.jpg"}, audio=[{"id": "a", "url": "/media/t/a.m4a"}]
    ))
    assert story.image.url == "/media/t/a.jpg"
    assert story.audio[0].type == "audio/x-m4a"


def test_audio_defaults():
    story, _ = parse_story(story_record(audio=[{"id": "a", "embed": "<iframe src=x>"}]))
    audio = story.audio[0]
    assert audio.downloadable and audio.embeddable and audio.url == ""


@pytest.mark.parametrize("credit, producer, provider", [
    ("SeongJoon Cho/Bloomberg via Getty Images", "SeongJoon Cho", "Bloomberg via Getty Images"),
    ("Jung Yeon-Je/AFP/Getty Images", "Jung Yeon-Je", "AFP/Getty Images"),
    ("NurPhoto via Getty Images", "", "NurPhoto via Getty Images"),
])
def test_credit_splits_on_the_first_slash(credit, producer, provider):
    story, _ = parse_story(story_record(image={"url": "https://x.example/a.jpg", "credit": credit}))
    assert (story.image.credit, story.image.producer, story.image.provider) == (credit, producer, provider)


TOPIC_LOC = "topics.json: topic 1 (slug world)"


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"slug": "World"}, 'slug: "World" must be lowercase letters, digits and hyphens'),
        ({"slug": "w", "category": "Newz"}, 'category: "Newz" is not in Apple Podcasts\' category list'),
        ({"slug": "w", "category": "News", "subcategory": "Golf"},
         'subcategory: "Golf" is not a subcategory of "News"'),
        ({"slug": "w", "subcategory": "Golf"}, "subcategory: needs a category"),
        ({"slug": "w", "owner_email": "nobody"}, 'owner_email: "nobody" is not an e-mail address'),
        ({"slug": "w", "type": "weekly"}, 'type: "weekly" is not episodic or serial'),
        ({"slug": "w", "explicit": "no"}, 'explicit: "no" is not true or false'),
        ({"slug": "w", "language": "english please"}, 'language: "english please" is not a language tag such as en-us'),
        ({"slug": "w", "link": "javascript:x"}, 'link: "javascript:x" is not an absolute http(s) URL'),
    ],
)
def test_topic_rules(raw, message):
    with pytest.raises(RecordInvalid) as info:
        parse_topic(raw, TOPIC_LOC)
    assert [str(p) for p in info.value.problems] == [f"{TOPIC_LOC}: {message}"]


def test_topic_defaults_and_title_from_slug():
    topic, _ = parse_topic({"slug": "north-korean-defectors", "category": "News"})
    assert topic.title == "North Korean Defectors"
    assert topic.language == "en-us" and topic.type == "episodic" and topic.explicit is False


def test_records_round_trip_through_their_json_form():
    story, _ = parse_story(story_record(updated="2024-01-03T00:00:00Z", note="n"))
    assert parse_story(story_to_record(story))[0] == story
    topic, _ = parse_topic({"slug": "w", "title": "W", "image": {"url": "https://x.example/a.png", "width": 1400}})
    assert parse_topic(topic_to_record(topic))[0] == topic


# -- files -------------------------------------------------------------------------

def test_files_in_every_format_give_the_same_records():
    import json

    record = story_record()
    as_array = read_records(json.dumps([record]), "a.json")
    as_object = read_records(json.dumps({"stories": [record], "topics": [{"slug": "world"}]}), "b.json")
    as_ndjson = read_records(json.dumps(record) + "\n" + json.dumps({"topic": {"slug": "world"}}) + "\n", "c.ndjson")
    assert as_array.stories == as_object.stories == as_ndjson.stories
    assert as_object.topics == as_ndjson.topics


def test_export_reads_back_unchanged():
    import json

    batch = read_records(json.dumps({"topics": [{"slug": "world", "title": "World"}],
                                     "stories": [story_record(), story_record(id="1002")]}), "x.json")
    text = "".join(write_ndjson(batch.topics, batch.stories))
    again = read_records(text, "export.ndjson")
    assert again.topics == batch.topics and again.stories == batch.stories and not again.problems
    assert "".join(write_ndjson(again.topics, again.stories)) == text


def test_file_problems_name_the_file_record_and_field():
    import json

    records = [story_record(), story_record(id="2", published="2019-08-28 10:00")]
    batch = read_records(json.dumps(records), "stories.json")
    assert [str(p) for p in batch.problems] == [
        'stories.json: record 2 (id 2): published: "2019-08-28 10:00" has no time zone'
    ]
    assert len(batch.stories) == 1


def test_ndjson_problems_name_the_line():
    import json

    text = json.dumps(story_record()) + "\n{not json\n" + json.dumps({"topic": {"slug": "Bad"}}) + "\n"
    problems = [str(p) for p in read_records(text, "s.ndjson").problems]
    assert problems[0].startswith("s.ndjson: line 2: record: not valid JSON")
    assert problems[1] == 's.ndjson: line 3 (slug Bad): slug: "Bad" must be lowercase letters, digits and hyphens'


def test_a_file_that_is_not_json_is_reported():
    problems = [str(p) for p in read_records("[1, 2", "broken.json").problems]
    assert problems and problems[0].startswith("broken.json: file: not valid JSON")


@pytest.mark.parametrize("html", [
    "<pre>\n\nx</pre>",
    "<table><td><table><td><pre>\n\n\n",
    "<p>a<pre>\n\n\n\nb</pre></p>",
])
def test_a_cleaned_body_cleans_to_itself(html):
    """Else every import of an export would change the story again (and lose a little)."""
    story, _ = parse_story(story_record(body_html=html))
    assert parse_story(story_to_record(story))[0] == story


# -- stored bodies cleaned again as they go out ---------------------------------------

CLEAN_BODY = clean_body_html("<p>A body <a href='https://www.npr.org/'>with a link</a>.</p>" * 20)


@pytest.fixture
def no_known_bodies():
    KNOWN_CLEAN_BODIES.cache_clear()
    yield
    KNOWN_CLEAN_BODIES.cache_clear()


@pytest.mark.usefixtures("no_known_bodies")
def test_a_clean_body_goes_out_as_stored_and_is_known_after():
    # The same object, first time and after: callers tell "unchanged" by identity.
    assert clean_stored_body_html(CLEAN_BODY) is CLEAN_BODY
    assert len(KNOWN_CLEAN_BODIES) == 1
    assert clean_stored_body_html(CLEAN_BODY) is CLEAN_BODY
    assert len(KNOWN_CLEAN_BODIES) == 1


@pytest.mark.usefixtures("no_known_bodies")
@pytest.mark.parametrize("tail", [
    "<script>alert(1)</script>", "<img src=x onerror=alert(2)>", "<a href='javascript:x'>y</a>",
    "<iframe src=https://evil.example/>",
])
def test_a_body_unlike_a_known_one_is_cleaned_whatever_came_before(tail):
    # Known bodies are matched whole, by digest: the same text with anything after it
    # (or a body made to look like one) is parsed again, and is never remembered.
    clean_stored_body_html(CLEAN_BODY)
    for _ in range(2):
        out = clean_stored_body_html(CLEAN_BODY + tail)
        assert out.startswith(CLEAN_BODY[:-4])
        assert not any(bad in out for bad in ("<script", "onerror", "javascript:", "<iframe"))
    assert len(KNOWN_CLEAN_BODIES) == 1


@pytest.mark.usefixtures("no_known_bodies")
def test_a_body_one_pass_changes_gets_that_pass_every_time():
    body = "<p>a<pre>\n\n\n\nb</pre></p>"  # settles only over several passes
    first = clean_stored_body_html(body)
    assert first != body and clean_stored_body_html(body) == first
    assert len(KNOWN_CLEAN_BODIES) == 0


def test_known_digests_keep_the_newest_up_to_their_size():
    digests = KnownDigests(2)
    for digest in (b"a", b"b", b"c", b"c"):
        digests.add(digest)
    assert b"a" not in digests and b"b" in digests and b"c" in digests and len(digests) == 2
    digests.cache_clear()
    assert len(digests) == 0
