"""Hostile records, by surface: the validator itself, record files, the `stories import`
command, the ingest API and `sync`. Every refusal is a named problem (record, field,
reason) or a clear 4xx, never an exception or a 500, and a refused write leaves the store
exactly as it was (its `stories export` is unchanged)."""

from __future__ import annotations

import json
import math
import time
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import create_app
from serving.links import Links
from serving.state import app_state
from sources.fetch import FetchSettings, HTTPRetriever
from sources.model import Outcome, Source
from sources.state import SourceStates
from sources.sync import Syncer
from stories.errors import SettingsError
from stories.files import read_records
from stories.model import story_to_record
from stories.validate import RecordInvalid, parse_story, parse_topic, record_location

from .conftest import make_app, story_record

LOC = "stories.json: record 3 (id 761156048)"
AUTH = {"Authorization": "Bearer hostile-token"}


def problems_of(record, parse=parse_story) -> list[str]:
    with pytest.raises(RecordInvalid) as info:
        parse(record, LOC)
    return [str(p) for p in info.value.problems]


def deep(depth: int, leaf=1):
    """`depth` nested lists, built without recursion."""
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


# -- the validator: URLs ------------------------------------------------------------------

MEDIA_PAYLOADS = [
    "/media/javascript:alert(document.domain)//x.mp3",
    "/media/javascript:alert(1)",
    "/media//evil.example/x.mp3",
    "/media/../secret.mp3",
    "/media/a/../../x.mp3",
    "/media/./x.mp3",
    "/media/.hidden.mp3",
    "/media/%2e%2e/x.mp3",
    "/media/%2F%2Fevil.example/x.mp3",
    "/media/a\\..\\x.mp3",
    "/media/\\\\evil.example\\x.mp3",
    "/media/a b.mp3",
    "/media/a.mp3?x=1",
    "/media/a.mp3#x",
    "/media/data:text/html,x",
    "/media/x:y/z.mp3",
    "/media/",
    "/media",
    "/media/a/",
    "/media/a//b.mp3",
    "/media/\u2028.mp3",
    "/media/é.mp3",
    "/MEDIA/x.mp3",
    "//evil.example/x.mp3",
]


@pytest.mark.parametrize("payload", MEDIA_PAYLOADS)
@pytest.mark.parametrize("where", ["audio", "image", "topic image"])
def test_unsafe_media_paths_are_refused_everywhere(payload, where):
    if where == "audio":
        record, field, parse = story_record(audio=[{"id": "a", "url": payload}]), "audio[0].url", parse_story
    elif where == "image":
        record, field, parse = story_record(image={"url": payload}), "image.url", parse_story
    else:
        record, field, parse = {"slug": "w", "image": {"url": payload}}, "image.url", parse_topic
    found = problems_of(record, parse)
    assert len(found) == 1 and found[0].startswith(f"{LOC}: {field}: ")
    assert found[0].endswith("is not an absolute http(s) URL or a /media/ path of letters, digits and -._~")


@pytest.mark.parametrize("path", ["/media/a.mp3", "/media/t/1169825816.mp3",
                                  "/media/north-korean-defectors/1022642030.jpg", "/media/A_b~c-d.e.f"])
def test_plain_media_paths_are_kept(path):
    story, _ = parse_story(story_record(audio=[{"id": "a", "url": path}], image={"url": path}))
    assert story.audio[0].url == story.image.url == path


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40))
@settings(max_examples=300, deadline=None)
def test_every_accepted_media_path_resolves_under_the_media_base(tail):
    """Whatever follows /media/, an accepted path joined with MEDIA_BASE_URL stays an
    http(s) URL under that base."""
    path = "/media/" + tail
    try:
        story, _ = parse_story(story_record(audio=[{"id": "a", "url": path}], image=None))
    except RecordInvalid:
        return
    for base in ("https://cdn.example/media/", "http://storyfeed.test/", "https://cdn.example/a/b"):
        url = Links.build("https://site.example/", base).media(story.audio[0].url)
        assert urlsplit(url).scheme in ("http", "https")
        assert url.startswith(Links.build("https://site.example/", base).media_base_url)
        assert "/../" not in url and "/./" not in url


@pytest.mark.parametrize("url", [
    "http://[::1", "http://[::1]:99999/", "http://a:99999/", "http://a:port/", "http://@/",
    "https://", "https:///path", "javascript:alert(1)", "JAVASCRIPT:alert(1)", "data:,x",
    "vbscript:x", "file:///etc/passwd", "https://a b.example/", "https://a.example/\u2028",
    "https:\\\\evil.example", "//evil.example/", "/relative", "x" * 3000,
])
@pytest.mark.parametrize("field", ["url", "transcript_url", "topic link"])
def test_hostile_absolute_urls_are_refused(url, field):
    if field == "url":
        record, parse = story_record(url=url), parse_story
    elif field == "transcript_url":
        record = story_record(audio=[{"id": "a", "url": "https://x.example/a.mp3", "transcript_url": url}])
        parse, field = parse_story, "audio[0].transcript_url"
    else:
        record, parse, field = {"slug": "w", "link": url}, parse_topic, "link"
    found = problems_of(record, parse)
    assert len(found) == 1 and found[0].startswith(f"{LOC}: {field}: "), found


# -- the validator: dates and numbers --------------------------------------------------------

@pytest.mark.parametrize("value", [
    "0001-01-01T00:00:00+05:00",  # year 0 in UTC: datetime overflows
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00-05:00",
    "9999-12-31T23:00:00-05:00",  # year 10000 in UTC: datetime overflows
    "9999-12-31T23:59:59Z",
    "1969-12-31T23:59:59Z",
    "1970-01-01T04:00:00+05:00",  # 1969 in UTC
    "2201-01-01T00:00:00Z",
    "Mon, 01 Jan 1900 00:00:00 +0500",
    "Fri, 31 Dec 9999 23:00:00 -0500",
])
@pytest.mark.parametrize("field", ["published", "updated"])
def test_dates_outside_the_sane_years_are_problems(value, field):
    assert problems_of(story_record(**{field: value})) == [
        f"{LOC}: {field}: {json.dumps(value)} is not between the years 1970 and 2200"
    ]


@pytest.mark.parametrize("value", [
    "2024-01-01T00:00:00+24:00", "2024-13-01T00:00:00Z", "2024-01-01T00:00:00" + "0" * 200 + "Z",
    "Mon, 01 Jan 2024 00:00:00 +9999", "\u0000", 20240101, 1e308, True, [], {},
])
def test_malformed_dates_are_problems(value):
    found = problems_of(story_record(published=value))
    assert len(found) == 1 and found[0].startswith(f"{LOC}: published: ")
    assert found[0].endswith("is not an RFC 3339 or RFC 822 date")


@pytest.mark.parametrize("value", ["1970-01-01T00:00:00Z", "2200-12-31T23:59:59Z",
                                   "1970-01-01T05:00:00+05:00"])
def test_the_edges_of_the_sane_years_are_accepted(value):
    assert parse_story(story_record(published=value))[0].published.year in (1970, 2200)


NUMBER_CASES = [
    ("duration", math.inf, "Infinity is not a whole number"),
    ("duration", -math.inf, "-Infinity is not a whole number"),
    ("duration", math.nan, "NaN is not a whole number"),
    ("duration", 1e300, "a number of about 300 digits is above 1000000"),
    ("duration", 10**5000, "a number of about 5000 digits is above 1000000"),
    ("duration", -(10**5000), "a number of about 5000 digits is below 0"),
    ("duration", 1_000_001, "1000001 is above 1000000"),
    ("duration", -1, "-1 is below 0"),
    ("duration", -0.5, "-0.5 is not a whole number"),
    ("length", 2**53, "9007199254740992 is above 9007199254740991"),
    ("length", 10**79, f"{10**79} is above 9007199254740991"),
    ("length", 10**99, "a number of about 99 digits is above 9007199254740991"),
    ("length", -math.inf, "-Infinity is not a whole number"),
    ("length", True, "true is not a whole number"),
    ("length", "12", '"12" is not a whole number'),
]


@pytest.mark.parametrize("key, value, reason", NUMBER_CASES,
                         ids=[f"{key}-{reason[:24]}" for key, _, reason in NUMBER_CASES])
def test_audio_numbers_are_finite_and_bounded(key, value, reason):
    audio = {"id": "a", "url": "https://x.example/a.mp3", key: value}
    assert problems_of(story_record(audio=[audio])) == [f"{LOC}: audio[0].{key}: {reason}"]


@pytest.mark.parametrize("value, reason", [
    (100_001, "100001 is above 100000"), (0, "0 is below 1"), (math.inf, "Infinity is not a whole number"),
    (10**5000, "a number of about 5000 digits is above 100000"),
], ids=["above", "zero", "infinity", "5000-digits"])
@pytest.mark.parametrize("side", ["width", "height"])
def test_image_sizes_are_bounded(value, reason, side):
    record = story_record(image={"url": "https://x.example/a.jpg", side: value})
    assert problems_of(record) == [f"{LOC}: image.{side}: {reason}"]


def test_a_large_float_duration_is_rounded_not_crashed():
    audio = {"id": "a", "url": "https://x.example/a.mp3", "duration": 61.4}
    assert parse_story(story_record(audio=[audio]))[0].audio[0].duration == 61


# -- the validator: shape, nesting, names ---------------------------------------------------

@pytest.mark.parametrize("depth", [9, 50, 900, 5000, 100_000])
def test_deep_nesting_is_one_problem_before_anything_recursive(depth):
    for record in (deep(depth), story_record(title=deep(depth)), story_record(audio=[deep(depth)])):
        assert problems_of(record) == [f"{LOC}: record: is nested more than 8 levels deep"]


def test_a_huge_integer_inside_a_list_is_shown_briefly():
    found = problems_of(story_record(title=[10**5000]))
    assert found == [f"{LOC}: title: must be a string, not a list"]


def test_hostile_keys_and_ids_give_one_line_messages():
    record = story_record(id="a\nb\u2028c\ud800", **{"k" * 5000: 1, "x\ny": 2, "\ud800": 3})
    with pytest.raises(RecordInvalid) as info:
        parse_story(record, record_location("stories.json", "record", 3, record["id"]))
    problems = [str(p) for p in info.value.problems]
    for message in problems:
        assert len(message.splitlines()) == 1
        message.encode("utf-8")  # no lone surrogate left
        assert len(message) < 400
    assert problems[0].startswith("stories.json: record 3 (id a\\u000ab\\u2028c\\ud800): ")


# -- the validator: any JSON value at all ---------------------------------------------------

json_scalars = st.one_of(
    st.none(), st.booleans(), st.floats(allow_nan=True, allow_infinity=True),
    st.integers(), st.integers(-6000, 6000).map(lambda n: 10 ** abs(n) * (1 if n > 0 else -1)),
    st.text(), st.sampled_from(["/media/javascript:x//a", "0001-01-01T00:00:00+05:00", "\ud800"]),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
STORY_KEYS = ["id", "url", "title", "teaser", "body_html", "published", "updated", "bylines",
              "topics", "image", "audio", "note"]
AUDIO_KEYS = ["id", "url", "type", "length", "duration", "embed", "transcript_url",
              "downloadable", "embeddable"]
story_shaped = st.fixed_dictionaries(
    {},
    optional={
        **{key: json_values for key in STORY_KEYS},
        "image": st.dictionaries(st.sampled_from(["url", "width", "height", "caption"]), json_values),
        "audio": st.lists(st.dictionaries(st.sampled_from(AUDIO_KEYS), json_values), max_size=3),
    },
)
topic_shaped = st.dictionaries(
    st.sampled_from(["slug", "title", "link", "language", "image", "owner_email", "category",
                     "subcategory", "explicit", "type"]), json_values)


def record_or_problems(parse, value):
    try:
        record, warnings = parse(value, "x.json: record 1")
    except RecordInvalid as exc:
        assert exc.problems
        for problem in exc.problems:
            assert len(str(problem).splitlines()) == 1
            str(problem).encode("utf-8")
        return None
    for warning in warnings:
        str(warning).encode("utf-8")
    return record


@given(st.one_of(json_values, story_shaped, st.integers(1, 3000).map(deep)))
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_json_value_is_a_story_or_problems(value):
    story = record_or_problems(parse_story, value)
    if story is not None:
        json.dumps(story_to_record(story), allow_nan=False)  # storable as it is


@given(st.one_of(json_values, topic_shaped))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_json_value_is_a_topic_or_problems(value):
    record_or_problems(parse_topic, value)


# -- record files ----------------------------------------------------------------------------

@pytest.mark.parametrize("text, reason", [
    ('[{"id": NaN}]', "not valid JSON: NaN is not a number"),
    ('[{"duration": Infinity}]', "not valid JSON: Infinity is not a number"),
    ('[{"duration": -Infinity}]', "not valid JSON: -Infinity is not a number"),
    ('[{"duration": 1e400}]', "not accepted: 1e400 is too large a number"),
    ("[" + "1" * 5000 + "]", "not accepted: a number has 5000 digits, at most 100 allowed"),
    ("[" * 100_000 + "]" * 100_000, "nested more than 10 levels deep"),
    ("[" * 900 + "]" * 900, "nested more than 10 levels deep"),
    ('{"stories": ' + "[" * 20 + "]" * 20 + "}", "nested more than 10 levels deep"),
])
def test_files_that_no_record_can_come_from_are_one_problem(text, reason):
    batch = read_records(text, "bad.json")
    assert [str(p) for p in batch.problems] == [f"bad.json: file: {reason}"]
    assert batch.stories == [] and batch.topics == []


def test_ndjson_lines_are_refused_one_by_one():
    good = json.dumps(story_record())
    text = "\n".join([good, '{"id": NaN}', "[" * 5000, '{"n": ' + "9" * 5000 + "}",
                      json.dumps(story_record(id="1002", title="a\u2028b\u2029c\x85d"), ensure_ascii=False)])
    batch = read_records(text, "s.ndjson")
    assert [s.id for s in batch.stories] == ["1001", "1002"]
    assert batch.stories[1].title == "a\u2028b\u2029c\x85d"
    assert [str(p) for p in batch.problems] == [
        "s.ndjson: line 2: record: not valid JSON: NaN is not a number",
        "s.ndjson: line 3: record: nested more than 9 levels deep",
        "s.ndjson: line 4: record: not accepted: a number has 5000 digits, at most 100 allowed",
    ]


def test_a_million_items_are_refused_after_the_limit_without_building_them():
    from stories.files import TooManyItems, load_json

    text = "[" + ",".join(["{}"] * 1_000_000) + "]"
    started = time.perf_counter()
    with pytest.raises(TooManyItems) as info:
        load_json(text, max_items=1000)
    assert time.perf_counter() - started < 2
    assert str(info.value) == "not accepted: more than 1000 items"


# -- the command line --------------------------------------------------------------------------

HOSTILE_FILES = {
    "xss-media.json": json.dumps([story_record(id="x1", audio=[{"id": "a", "url": MEDIA_PAYLOADS[0]}])]),
    "year-one.json": json.dumps([story_record(id="x2", published="0001-01-01T00:00:00+05:00")]),
    "year-9999.json": json.dumps([story_record(id="x3", updated="9999-12-31T23:00:00-05:00")]),
    "infinity.json": '[{"id": "x4", "duration": Infinity}]',
    "digits.json": '[{"id": "x5", "title": ' + "7" * 5000 + "}]",
    "deep.json": "[" * 50_000 + "]" * 50_000,
    "nested-record.json": json.dumps([story_record(id="x6", title=deep(9))]),
    "surrogate.json": '[{"id": "x7\\ud800", "title": 1}]',
}


@pytest.fixture
def loaded_app(sqlite_url):
    app = make_app(sqlite_url, INGEST_TOKENS="hostile-token")
    result = app.test_cli_runner().invoke(args=["stories", "sample"])
    assert result.exit_code == 0, result.output
    yield app
    app_state(app).store.engine.dispose()


def export(app) -> str:
    result = app.test_cli_runner().invoke(args=["stories", "export"])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("name", sorted(HOSTILE_FILES))
@pytest.mark.parametrize("skip_invalid", [False, True])
def test_hostile_files_are_refused_by_import_with_the_store_unchanged(loaded_app, tmp_path, name, skip_invalid):
    path = tmp_path / name
    path.write_text(HOSTILE_FILES[name], encoding="utf-8")
    before = export(loaded_app)
    args = ["stories", "import", *(["--skip-invalid"] if skip_invalid else []), str(path)]
    result = loaded_app.test_cli_runner().invoke(args=args)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert f"error: {name}: " in result.output
    assert "Traceback" not in result.output
    assert result.exit_code == (0 if skip_invalid else 1)
    assert export(loaded_app) == before


def test_stdin_that_is_not_utf8_is_refused_cleanly(loaded_app):
    before = export(loaded_app)
    result = loaded_app.test_cli_runner().invoke(args=["stories", "import", "-"], input=b"[\xff]")
    assert result.exit_code == 1 and "<stdin>: cannot read" in result.output
    assert export(loaded_app) == before


# -- the ingest API -------------------------------------------------------------------------------

def send(client, body: str | bytes, method="POST", path="/api/stories"):
    return client.open(path, method=method, data=body, content_type="application/json", headers=AUTH)


INGEST_CASES = [
    # (body, status, what the message or a problem says)
    ('{"id": "x", "duration": NaN}', 400, "The body is not valid JSON: NaN is not a number"),
    ("[Infinity]", 400, "The body is not valid JSON: Infinity is not a number"),
    ('[{"published": 1e400}]', 400, "The body is not accepted: 1e400 is too large a number"),
    ('{"id": ' + "1" * 5000 + "}", 400, "The body is not accepted: a number has 5000 digits, at most 100 allowed"),
    ("[" * 100_000 + "]" * 100_000, 400, "The body is nested more than 10 levels deep"),
    ("[" * 950 + "]" * 950, 400, "The body is nested more than 10 levels deep"),
    ("[" + ",".join(["{}"] * 1001) + "]", 413,
     "The body holds more than 1000 records; at most 1000 are accepted per request."),
    (json.dumps([story_record(id="h1", audio=[{"id": "a", "url": MEDIA_PAYLOADS[0]}])]), 422,
     "audio[0].url: \"/media/javascript:alert(document.domain)//x.mp3\" is not an absolute"),
    (json.dumps([story_record(id="h2", image={"url": "/media/javascript:alert(1)"})]), 422,
     "image.url: \"/media/javascript:alert(1)\" is not an absolute"),
    (json.dumps(story_record(id="h3", published="0001-01-01T00:00:00+05:00")), 422,
     'published: "0001-01-01T00:00:00+05:00" is not between the years 1970 and 2200'),
    (json.dumps(story_record(id="h4", published="0001-01-01T00:00:00Z")), 422,
     'published: "0001-01-01T00:00:00Z" is not between the years 1970 and 2200'),
    (json.dumps(story_record(id="h5", updated="9999-12-31T23:00:00-05:00")), 422,
     'updated: "9999-12-31T23:00:00-05:00" is not between the years 1970 and 2200'),
    (json.dumps([story_record(id="h6", title=deep(8))]), 422, "record: is nested more than 8 levels deep"),
    (json.dumps(story_record(id="h7", audio=[{"id": "a", "url": "https://x.example/a.mp3",
                                              "duration": 10**20}])), 422,
     "audio[0].duration: 100000000000000000000 is above 1000000"),
]


@pytest.mark.parametrize("body, status, says", INGEST_CASES)
def test_hostile_ingest_bodies_answer_4xx_and_write_nothing(loaded_app, body, status, says):
    client = loaded_app.test_client()
    before = export(loaded_app)
    try:
        put_id = json.loads(body).get("id") or "h9"
    except (ValueError, AttributeError, RecursionError):
        put_id = "h9"
    for method, path in (("POST", "/api/stories"), ("PUT", f"/api/stories/{put_id}")):
        response = send(client, body, method, path)
        if method == "PUT" and status == 422 and body.startswith("["):
            assert response.status_code == 422  # a list is not a record
            continue
        assert response.status_code == status, response.json
        text = response.json["message"] + " ".join(p["message"] for p in response.json.get("problems", []))
        assert says in text
    assert export(loaded_app) == before


def test_a_million_empty_records_answer_quickly(loaded_app):
    client = loaded_app.test_client()
    before = export(loaded_app)
    body = "[" + ",".join(["{}"] * 1_000_000) + "]"  # 3 MB
    started = time.perf_counter()
    response = send(client, body)
    assert time.perf_counter() - started < 3
    assert response.status_code == 413
    ones = send(client, json.dumps([1] * 1_000_000))
    assert ones.status_code == 413 and len(ones.data) < 1000
    assert export(loaded_app) == before


def test_problems_are_capped_and_the_rest_counted(loaded_app):
    client = loaded_app.test_client()
    before = export(loaded_app)
    response = send(client, json.dumps([1] * 1000))
    assert response.status_code == 422
    assert len(response.json["problems"]) == 100 and response.json["more_problems"] == 900
    assert response.json["message"] == "1000 problem(s) found; nothing was written."
    assert len(response.data) < 50_000
    unknown = send(client, json.dumps(story_record(id="h8", **{f"k{i}": 1 for i in range(5000)})))
    assert unknown.status_code == 422 and unknown.json["more_problems"] == 4900
    assert export(loaded_app) == before

    # With ?partial=1 the valid records are written and the rest counted the same way.
    body = [story_record(id="ok1")] + [1] * 150
    partial = send(client, json.dumps(body), path="/api/stories?partial=1")
    assert partial.status_code == 200 and partial.json["added"] == ["ok1"]
    assert len(partial.json["problems"]) == 100 and partial.json["more_problems"] == 50


@pytest.mark.parametrize("name", ["INGEST_MAX_BYTES", "INGEST_MAX_RECORDS"])
@pytest.mark.parametrize("value", ["10MB", "0", "-5", "1.5", "ten"])
def test_a_bad_limit_setting_stops_the_app_naming_it(sqlite_url, name, value):
    with pytest.raises(SettingsError) as info:
        create_app({"DATABASE_URL": sqlite_url, name: value})
    assert str(info.value) == f"{name}={value!r}: must be a whole number of at least 1"


def test_limit_settings_are_read_from_the_environment(sqlite_url, monkeypatch):
    monkeypatch.setenv("INGEST_MAX_RECORDS", "2")
    monkeypatch.setenv("INGEST_MAX_BYTES", "5000")
    app = create_app({"DATABASE_URL": sqlite_url, "INGEST_TOKENS": "hostile-token"})
    client = app.test_client()
    assert send(client, json.dumps([story_record(id=f"r{i}") for i in range(3)])).status_code == 413
    assert send(client, json.dumps([story_record(id=f"r{i}") for i in range(2)])).status_code == 200
    assert send(client, json.dumps(story_record(teaser="x" * 6000))).status_code == 413
    app_state(app).store.engine.dispose()


# -- sync -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [
    "0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00Z",
])
def test_one_bad_date_in_a_source_keeps_the_others(store, upstream, tmp_path, bad):
    from requests_cache.backends import SQLiteCache

    good = story_record(id="1001", topics=["world"])
    worse = story_record(id="1002", topics=["world"], published=bad)
    upstream.serve("/stories.json", json.dumps([good, worse]))
    retriever = HTTPRetriever(SQLiteCache(db_path=str(tmp_path / "cache.sqlite3")),
                              FetchSettings(connect_timeout=2, read_timeout=2, retries=0))
    try:
        source = Source(name="newsroom", url=upstream.url("/stories.json"), kind="records",
                        allow_private=True)
        report = Syncer(store, SourceStates(store.engine), retriever).sync(source)
    finally:
        retriever.close()
    assert report.outcome is Outcome.FETCHED, report
    assert (report.added, report.invalid) == (1, 1)
    assert report.problems == (
        f'newsroom: record 2 (id 1002): published: "{bad}" is not between the years 1970 and 2200',
    )
    assert store.get_story("1001") is not None and store.get_story("1002") is None



# -- keys and cursors from URLs, on every backend ----------------------------------------------

NUL_PATHS = [
    ("GET", "/api/stories/a%00b"), ("GET", "/api/topics/a%00b/stories"), ("GET", "/stories/a%00b"),
    ("GET", "/topics/a%00b"), ("GET", "/topics/a%00b/rss.xml"), ("GET", "/topics/a%00b/feed.json"),
    ("GET", "/topics/a%00b/podcast.xml"), ("GET", "/player/a%00b/c"), ("GET", "/player/1001/a%00b"),
    ("GET", "/stories/a%00b/oembed.json"), ("DELETE", "/api/stories/a%00b"),
    ("PUT", "/api/topics/a%00b"), ("PUT", "/api/stories/a%00b"),
    ("GET", "/api/topics/world/stories?cursor=WyJvbGRlciIsICIyMDI0LTAxLTAxVDAwOjAwOjAwIiwgImFcdTAwMDBiIl0"),
    ("GET", "/topics/world?cursor=WyJvbGRlciIsICIyMDI0LTAxLTAxVDAwOjAwOjAwIiwgIlx1ZDgwMCJd"),
    ("GET", "/topics/world/pages/WyJvbGRlciIsICIyMDI0LTAxLTAxVDAwOjAwOjAwIiwgImFcdTAwMDBiIl0/rss.xml"),
    ("GET", "/pages/" + "W" * 40 + "/atom.xml"),
]


@pytest.fixture
def backend_app(database_url):
    app = make_app(database_url, INGEST_TOKENS="hostile-token")
    yield app
    app_state(app).store.engine.dispose()


def test_keys_and_cursors_no_record_can_have_are_4xx_on_every_backend(backend_app):
    client = backend_app.test_client()
    assert send(client, json.dumps(story_record(topics=["world"]))).status_code == 200
    before = export(backend_app)
    for method, path in NUL_PATHS:
        body = json.dumps({"title": "x"} if "topics" in path else story_record(id=None))
        response = client.open(path, method=method, data=body, content_type="application/json",
                               headers=AUTH)
        assert 400 <= response.status_code < 500, (method, path, response.status_code)
    assert export(backend_app) == before


# -- URLs: the validator refuses whatever the OpenAPI document refuses ----------------------

def _document_url_schema() -> dict:
    from web.openapi import load_document

    return load_document()["components"]["schemas"]["StoryInput"]["properties"]["url"]


URL_CHARACTERS = st.characters(codec="utf-8", exclude_categories=("Cs",))
URL_HOSTS = st.sampled_from(["example.org", "пример.рф", "xn--e1afmkfd.xn--p1ai", "exa\u0085mple.org",
                             "[::1]", "example.org:8080", "ex ample.org"])


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scheme=st.sampled_from(["http", "https"]), host=URL_HOSTS, rest=st.text(URL_CHARACTERS, max_size=20))
def test_a_url_the_validator_takes_is_one_the_openapi_document_takes(scheme, host, rest):
    """C1 controls and Unicode hosts passed the validator but not the document's
    `format: uri` (RFC 3986, checked by jsonschema with rfc3986-validator)."""
    import jsonschema

    url = f"{scheme}://{host}/{rest}"
    validator = jsonschema.Draft202012Validator(_document_url_schema(), format_checker=jsonschema.FormatChecker())
    if not problems_of_url(url):
        assert validator.is_valid(url), url


def problems_of_url(url: str) -> list[str]:
    try:
        parse_story(story_record(url=url), LOC)
    except RecordInvalid as exc:
        return [str(p) for p in exc.problems]
    return []


@pytest.mark.parametrize("url", ["http://example.org/\x85", "http://пример.рф/", "http://example.org/caf\u00e9",
                                 "https://example.org/\u202eevil"])
def test_c1_controls_and_unicode_in_a_url_are_a_named_problem(url):
    [problem] = problems_of_url(url)
    assert "punycode" in problem and "percent-encode" in problem
