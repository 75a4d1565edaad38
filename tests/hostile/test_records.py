"""Properties of the record validator and the record files, with hypothesis:

- any JSON value given to the validator is a record or a list of problems, never another
  exception (nor a "record" that later breaks the renderers);
- any story the validator accepts round-trips through export (NDJSON) and import.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stories.files import read_records, write_ndjson
from stories.model import (
    AUDIO_FIELDS,
    IMAGE_FIELDS,
    STORY_FIELDS,
    TOPIC_FIELDS,
    TOPIC_IMAGE_FIELDS,
    format_datetime,
    story_to_record,
    topic_to_record,
)
from stories.validate import RecordInvalid, parse_story, parse_topic

from ..conftest import story_record

PROPERTY = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Text as JSON can carry it: any code point, lone surrogates and line separators included.
TEXT = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=st.characters(codec=None, categories=["Cs", "Zl", "Zp", "Cc"]), max_size=5),
    st.sampled_from(["", " ", "\u2028", "\ud800", "javascript:alert(1)",
                     "/media/javascript:alert(1)//x.mp3", "/media/../x", "https://e.org/a.mp3",
                     "2024-01-02T10:00:00Z", "0001-01-01T00:00:00+01:00",
                     "9999-12-31T23:59:59-01:00", "Mon, 01 Jan 0001 00:00:00 +0100", "1001",
                     "audio/mpeg", "News", "en-us", "a@b.org"]),
)
NUMBERS = st.one_of(
    st.integers(), st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0, 1, 2**63, 1e308, -0.0]),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=12,
)


def shaped(fields: tuple[str, ...], values=JSON):
    """Dicts with some of the model's own keys (and now and then an unknown one)."""
    return st.dictionaries(st.one_of(st.sampled_from(fields), TEXT), values, max_size=len(fields))


STORY_LIKE = st.one_of(
    JSON,
    # One field of a valid record given any scalar (dates, huge and special numbers...).
    st.builds(lambda key, value: {**story_record(), key: value},
              st.sampled_from(STORY_FIELDS), SCALARS),
    st.builds(lambda key, value: story_record(audio=[{"id": "1", "url": "https://e.org/a.mp3",
                                                      key: value}]),
              st.sampled_from(AUDIO_FIELDS), SCALARS),
    st.builds(lambda key, value: story_record(image={"url": "https://e.org/a.jpg", key: value}),
              st.sampled_from(IMAGE_FIELDS), SCALARS),
    shaped(STORY_FIELDS),
    # A valid record with some fields replaced: validation gets past its first checks.
    st.builds(lambda changes: {**story_record(), **changes}, shaped(STORY_FIELDS)),
    st.builds(lambda image: story_record(image=image), shaped(IMAGE_FIELDS)),
    st.builds(lambda audio: story_record(audio=audio), st.lists(shaped(AUDIO_FIELDS), max_size=3)),
    st.builds(lambda deep: story_record(bylines=[deep]), st.integers(900, 1000).map(
        lambda depth: json.loads("[" * depth + "]" * depth))),
)
TOPIC_LIKE = st.one_of(
    JSON,
    st.builds(lambda key, value: {"slug": "world", key: value}, st.sampled_from(TOPIC_FIELDS),
              SCALARS),
    shaped(TOPIC_FIELDS),
    st.builds(lambda changes: {"slug": "world", **changes}, shaped(TOPIC_FIELDS)),
    st.builds(lambda image: {"slug": "world", "image": image}, shaped(TOPIC_IMAGE_FIELDS)),
)


def usable(story) -> None:
    """What every renderer does with an accepted story must work: its dates in UTC and
    RFC 3339, its record as JSON, its numbers as the integers the feeds write."""
    format_datetime(story.published)
    format_datetime(story.updated)
    json.dumps(story_to_record(story), allow_nan=False)
    for audio in story.audio:
        for number in (audio.length, audio.duration):
            assert number is None or 0 <= number < 2**63
    if story.image is not None:
        for number in (story.image.width, story.image.height):
            assert number is None or 0 < number < 2**63


@PROPERTY
@given(STORY_LIKE)
def test_any_json_is_a_story_or_a_list_of_problems(raw):
    try:
        story, warnings = parse_story(raw, "record 1")
    except RecordInvalid as invalid:
        assert invalid.problems and all(p.reason for p in invalid.problems)
        return
    usable(story)


@PROPERTY
@given(TOPIC_LIKE)
def test_any_json_is_a_topic_or_a_list_of_problems(raw):
    try:
        topic, warnings = parse_topic(raw, "topic 1")
    except RecordInvalid as invalid:
        assert invalid.problems and all(p.reason for p in invalid.problems)
        return
    json.dumps(topic_to_record(topic), allow_nan=False)


ACCEPTED_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]),
                        min_size=1, max_size=40)


@settings(max_examples=80, deadline=None)
@given(title=ACCEPTED_TEXT, teaser=ACCEPTED_TEXT, byline=ACCEPTED_TEXT, caption=ACCEPTED_TEXT)
def test_an_accepted_story_round_trips_through_export_and_import(title, teaser, byline, caption):
    raw = story_record(title=title if title.strip() else "t", teaser=teaser, bylines=[byline],
                       image={"url": "https://e.org/a.jpg", "caption": caption})
    try:
        story, _ = parse_story(raw, "record 1")
    except RecordInvalid:
        return  # refused (a byline of controls only, say): nothing to round-trip
    exported = "".join(write_ndjson([], [story]))
    batch = read_records(exported, "export.ndjson")
    assert batch.problems == []
    assert batch.stories == [story]
