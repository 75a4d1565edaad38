"""The ingest API under attack: malformed records, bodies, tokens, ids and sizes.

Every refused write answers its exact status (422 with a problem naming the record, the
field and the reason; 400 for a body that is not JSON; 401/403/413/415) and leaves the
store exactly as it was (the export before and after are the same).
"""

from __future__ import annotations

import json
import re

import pytest

from ..conftest import story_record
from .conftest import build_app, dispose
from .payloads import AUTH, TOKEN, json_body, refused_status, store_unchanged

RAW = "@RAW@"  # replaced by raw JSON text the json module would not write (NaN, 5,000 digits)

# (name, record, field the 422 must name). `RAW` stands for the raw JSON in `raw`.
INVALID_STORIES = [
    ("id-missing", story_record(id=None), "id"),
    ("id-uppercase", story_record(id="ABC"), "id"),
    ("id-space", story_record(id="a b"), "id"),
    ("id-too-long", story_record(id="9" * 101), "id"),
    ("id-nul", story_record(id="\x00"), "id"),
    ("id-number", story_record(id=1001), "id"),
    ("id-line-separator", story_record(id="a\u2028b"), "id"),
    ("url-missing", story_record(url=None), "url"),
    ("url-javascript", story_record(url="javascript:alert(1)"), "url"),
    ("url-relative", story_record(url="/stories/1001"), "url"),
    ("url-media-path", story_record(url="/media/x.mp3"), "url"),
    ("url-ftp", story_record(url="ftp://example.org/x"), "url"),
    ("url-no-host", story_record(url="http://"), "url"),
    ("url-space", story_record(url="https://example.org/a b"), "url"),
    ("url-too-long", story_record(url="https://example.org/" + "a" * 2100), "url"),
    ("url-object", story_record(url={"href": "https://example.org/"}), "url"),
    ("url-ipv6-unclosed", story_record(url="http://[::1/story"), "url"),
    ("url-ipv6-not-an-address", story_record(url="https://[example.org]/story"), "url"),
    ("title-missing", story_record(title=None), "title"),
    ("title-blank", story_record(title="  \t "), "title"),
    ("title-only-controls", story_record(title="\x00\x01\x02"), "title"),
    ("title-too-long", story_record(title="x" * 1001), "title"),
    ("title-object", story_record(title={"a": 1}), "title"),
    ("title-list", story_record(title=["a"]), "title"),
    ("title-number", story_record(title=12), "title"),
    ("teaser-too-long", story_record(teaser="x" * 10_001), "teaser"),
    ("body-too-long", story_record(body_html="x" * 500_001), "body_html"),
    ("note-too-long", story_record(note="x" * 10_001), "note"),
    ("published-missing", story_record(published=None), "published"),
    ("published-no-zone", story_record(published="2024-01-02 10:00"), "published"),
    ("published-garbage", story_record(published="yesterday"), "published"),
    ("published-number", story_record(published=1_700_000_000), "published"),
    ("published-year-1-offset", story_record(published="0001-01-01T00:00:00+01:00"), "published"),
    ("published-year-9999-offset", story_record(published="9999-12-31T23:59:59-01:00"),
     "published"),
    ("published-year-1-utc", story_record(published="0001-01-01T00:00:00Z"), "published"),
    ("published-year-9999-utc", story_record(published="9999-12-31T23:59:59Z"), "published"),
    ("published-rfc822-year-1", story_record(published="Mon, 01 Jan 0001 00:00:00 +0100"),
     "published"),
    ("published-offset-24h", story_record(published="2024-01-02T10:00:00+24:00"), "published"),
    ("updated-year-9999-offset", story_record(updated="9999-12-31T23:59:59-01:00"), "updated"),
    ("bylines-string", story_record(bylines="Ann Writer"), "bylines"),
    ("bylines-101", story_record(bylines=[f"B{i}" for i in range(101)]), "bylines"),
    ("bylines-object", story_record(bylines=[{"name": "Ann"}]), "bylines[0]"),
    ("bylines-too-long", story_record(bylines=["x" * 1001]), "bylines[0]"),
    ("topics-uppercase", story_record(topics=["World"]), "topics[0]"),
    ("topics-nul", story_record(topics=["\x00"]), "topics[0]"),
    ("topics-101", story_record(topics=[f"t{i}" for i in range(101)]), "topics"),
    ("image-string", story_record(image="https://example.org/a.jpg"), "image"),
    ("image-url-missing", story_record(image={"width": 1}), "image.url"),
    ("image-url-javascript", story_record(image={"url": "javascript:alert(1)"}), "image.url"),
    ("image-url-media-javascript",
     story_record(image={"url": "/media/javascript:alert(document.domain)//x.jpg"}), "image.url"),
    ("image-url-media-data",
     story_record(image={"url": "/media/data:text/html,<script>alert(1)</script>"}), "image.url"),
    ("image-url-ipv6-unclosed", story_record(image={"url": "http://[::1/a.jpg"}), "image.url"),
    ("image-width-zero", story_record(image={"url": "https://e.org/a.jpg", "width": 0}),
     "image.width"),
    ("image-width-fraction", story_record(image={"url": "https://e.org/a.jpg", "width": 1.5}),
     "image.width"),
    ("image-width-1e308", story_record(image={"url": "https://e.org/a.jpg", "width": 1e308}),
     "image.width"),
    ("image-width-2**70", story_record(image={"url": "https://e.org/a.jpg", "width": 2**70}),
     "image.width"),
    ("image-width-5000-digits", story_record(image={"url": "https://e.org/a.jpg", "width": RAW}),
     "image.width", "9" * 5000),
    ("image-height-infinity", story_record(image={"url": "https://e.org/a.jpg", "height": RAW}),
     "image.height", "Infinity"),
    ("image-unknown-field", story_record(image={"url": "https://e.org/a.jpg", "href": "x"}),
     "image.href"),
    ("audio-object", story_record(audio={"id": "1"}), "audio"),
    ("audio-101", story_record(audio=[{"id": f"a{i}", "url": "https://e.org/a.mp3"}
                                      for i in range(101)]), "audio"),
    ("audio-item-string", story_record(audio=["https://e.org/a.mp3"]), "audio[0]"),
    ("audio-id-missing", story_record(audio=[{"url": "https://e.org/a.mp3"}]), "audio[0].id"),
    ("audio-id-twice", story_record(audio=[{"id": "1", "url": "https://e.org/a.mp3"},
                                           {"id": "1", "url": "https://e.org/b.mp3"}]),
     "audio[1].id"),
    ("audio-url-media-javascript",
     story_record(audio=[{"id": "1", "url": "/media/javascript:alert(document.domain)//x.mp3"}]),
     "audio[0].url"),
    ("audio-url-media-vbscript",
     story_record(audio=[{"id": "1", "url": "/media/vbscript:msgbox(1)//x.mp3"}]),
     "audio[0].url"),
    ("audio-url-media-dotdot", story_record(audio=[{"id": "1", "url": "/media/../app.py"}]),
     "audio[0].url"),
    ("audio-url-data", story_record(audio=[{"id": "1", "url": "data:audio/mpeg;base64,AAAA"}]),
     "audio[0].url"),
    ("audio-no-url-no-embed", story_record(audio=[{"id": "1"}]), "audio[0].url"),
    ("audio-type-not-mime", story_record(audio=[{"id": "1", "url": "https://e.org/a.mp3",
                                                 "type": "text/html; x=1"}]), "audio[0].type"),
    ("audio-length-zero", story_record(audio=[{"id": "1", "url": "https://e.org/a.mp3",
                                               "length": 0}]), "audio[0].length"),
    ("audio-length-string", story_record(audio=[{"id": "1", "url": "https://e.org/a.mp3",
                                                 "length": "12"}]), "audio[0].length"),
    ("audio-length-2**70", story_record(audio=[{"id": "1", "url": "https://e.org/a.mp3",
                                                "length": 2**70}]), "audio[0].length"),
    ("audio-length-5000-digits", story_record(audio=[{"id": "1", "url": "https://e.org/a.mp3",
                                                      "length": RAW}]),
     "audio[0].length", "9" * 5000),
    ("audio-duration-infinity", story_record(audio=[{"id": "1", "url": "https://e.org/a.mp3",
                                                     "duration": RAW}]),
     "audio[0].duration", "Infinity"),
    ("audio-duration-nan", story_record(audio=[{"id": "1", "url": "https://e.org/a.mp3",
                                                "duration": RAW}]), "audio[0].duration", "NaN"),
    ("audio-duration-negative", story_record(audio=[{"id": "1", "url": "https://e.org/a.mp3",
                                                     "duration": -5}]), "audio[0].duration"),
    ("audio-duration-1e300", story_record(audio=[{"id": "1", "url": "https://e.org/a.mp3",
                                                  "duration": 1e300}]), "audio[0].duration"),
    ("audio-downloadable-string", story_record(audio=[{"id": "1", "url": "https://e.org/a.mp3",
                                                       "downloadable": "yes"}]),
     "audio[0].downloadable"),
    ("audio-transcript-javascript", story_record(audio=[{"id": "1", "url": "https://e.org/a.mp3",
                                                         "transcript_url": "javascript:x"}]),
     "audio[0].transcript_url"),
    ("audio-transcript-ipv6-unclosed",
     story_record(audio=[{"id": "1", "url": "https://e.org/a.mp3",
                          "transcript_url": "https://[transcripts"}]), "audio[0].transcript_url"),
    ("audio-transcript-media", story_record(audio=[{"id": "1", "url": "https://e.org/a.mp3",
                                                    "transcript_url": "/media/t.html"}]),
     "audio[0].transcript_url"),
    ("audio-embed-too-long", story_record(audio=[{"id": "1", "embed": "x" * 70_000}]),
     "audio[0].embed"),
    ("unknown-field", story_record(titel="A typo"), "titel"),
    ("field-named-proto", story_record(__proto__={"x": 1}), "__proto__"),
]


def raw_json(record, raw: str | None = None) -> str:
    text = json.dumps(record)
    return text.replace(json.dumps(RAW), raw) if raw is not None else text


def case_id(case) -> str:
    return case[0]


def problem_fields(response) -> list[str]:
    return [p["field"] for p in response.get_json()["problems"]]


# Raw numbers the JSON reader refuses before any record is validated (RFC 8259 has no NaN
# or Infinity; no field holds 5,000 digits): the whole body is a 400 naming the number.
JSON_LEVEL_REASONS = {
    "NaN": "not valid JSON: NaN is not a number",
    "Infinity": "not valid JSON: Infinity is not a number",
    "9" * 5000: "not accepted: a number has 5000 digits",
}


def assert_refused(response, field: str, location: str, raw: str | None = None) -> None:
    """A 422 naming `field` at `location`, or for a raw number the JSON reader refuses,
    a 400 that says which number it was."""
    if raw in JSON_LEVEL_REASONS:
        assert response.status_code == 400, response.get_data()[:300]
        assert JSON_LEVEL_REASONS[raw] in response.get_json()["message"]
    else:
        assert_problem(response, field, location)


def assert_problem(response, field: str, location: str) -> None:
    assert response.status_code == 422, response.get_data()[:300]
    body = response.get_json()
    assert body["message"].endswith("nothing was written.")
    named = [p for p in body["problems"] if p["field"] == field]
    assert named, f"no problem names {field}: {body['problems']}"
    for problem in named:
        assert problem["reason"], problem
        assert problem["location"].startswith(location), problem
        assert problem["message"] == f"{problem['location']}: {field}: {problem['reason']}"


@pytest.mark.parametrize("case", INVALID_STORIES, ids=case_id)
def test_an_invalid_story_in_a_batch_writes_nothing(sqlite_app, client, case):
    name, record, field, *raw = case
    valid = story_record(id="batch-neighbour")
    body = "[" + json.dumps(valid) + "," + raw_json(record, *raw) + "]"
    with store_unchanged(sqlite_app):
        response = client.post("/api/stories", data=body, content_type="application/json",
                               headers=AUTH)
    assert_refused(response, field, "record 2", *raw)


@pytest.mark.parametrize("case", INVALID_STORIES, ids=case_id)
def test_an_invalid_story_put_by_id_is_422(sqlite_app, client, case):
    name, record, field, *raw = case
    if field == "id":
        pytest.skip("PUT takes the id from the URL (see test_put_with_a_hostile_id)")
    record = dict(record, id="put-target")
    with store_unchanged(sqlite_app):
        response = client.put("/api/stories/put-target", data=raw_json(record, *raw),
                              content_type="application/json", headers=AUTH)
    assert_refused(response, field, "story put-target", *raw)


# Dates at the ends of the calendar broke the store and later every page that showed the
# story; these run on both backends.
DATE_CASES = [case for case in INVALID_STORIES if case[2] in ("published", "updated")
              and ("year" in case[0] or "offset" in case[0])]


@pytest.mark.parametrize("case", DATE_CASES, ids=case_id)
def test_dates_out_of_range_are_refused_on_every_backend(backend_app, backend_client, case):
    name, record, field = case
    with store_unchanged(backend_app):
        response = backend_client.post("/api/stories", json=[record], headers=AUTH)
    assert_problem(response, field, "record 1")


def test_partial_writes_the_valid_records_and_names_the_others(tmp_path):
    from ..conftest import migrated_sqlite

    app = build_app(migrated_sqlite(tmp_path / "p.sqlite3"))
    try:
        body = [story_record(id="ok-1"), story_record(id="bad", published="0001-01-01T00:00:00Z"),
                story_record(id="ok-2", audio=[{"id": "1", "url": "/media/javascript:x//a.mp3"}])]
        response = app.test_client().post("/api/stories?partial=1", json=body, headers=AUTH)
        assert response.status_code == 200
        assert response.json["added"] == ["ok-1"]
        assert sorted({p["location"] for p in response.json["problems"]}) == [
            "record 2 (id bad)", "record 3 (id ok-2)"]
    finally:
        dispose(app)


# -- bodies ------------------------------------------------------------------------------

# (name, body bytes, content type, status)
BODIES = [
    ("truncated", b'{"id": "1001",', "application/json", 400),
    ("not-utf8", b'{"title": "\xff\xfe"}', "application/json", 400),
    ("utf16", json.dumps(story_record()).encode("utf-16"), "application/json", 400),
    ("empty", b"", "application/json", 400),
    ("whitespace", b"  \n ", "application/json", 400),
    ("trailing-garbage", json.dumps(story_record()).encode() + b"}", "application/json", 400),
    ("single-quotes", b"{'id': '1'}", "application/json", 400),
    ("nested-100000", b"[" * 100_000 + b"]" * 100_000, "application/json", 400),
    ("nested-5000-objects", b'{"a":' * 5000 + b"1" + b"}" * 5000, "application/json", 400),
    ("empty-list", b"[]", "application/json", 422),
    ("empty-object", b"{}", "application/json", 422),
    ("null", b"null", "application/json", 422),
    ("number", b"12", "application/json", 422),
    ("string", b'"a story"', "application/json", 422),
    ("list-of-lists", b"[[1, 2]]", "application/json", 422),
    ("text-plain", json.dumps(story_record()).encode(), "text/plain", 415),
    ("form", b"id=1001&title=x", "application/x-www-form-urlencoded", 415),
    ("json-lookalike", json.dumps(story_record()).encode(), "application/jsonx", 415),
    ("no-content-type", json.dumps(story_record()).encode(), "", 415),
]


@pytest.mark.parametrize("name, body, content_type, status", BODIES, ids=[b[0] for b in BODIES])
def test_malformed_bodies_get_their_status_and_write_nothing(sqlite_app, client, name, body,
                                                              content_type, status):
    with store_unchanged(sqlite_app):
        response = client.post("/api/stories", data=body, headers=AUTH,
                               content_type=content_type or None)
    assert response.status_code == status, response.get_data()[:300]


NESTING_DEPTHS = [900, 950, 970, 975, 980, 985, 990, 1000, 5000]


@pytest.mark.parametrize("depth", NESTING_DEPTHS)
@pytest.mark.parametrize("where", ["byline", "image", "topic-title"])
def test_nesting_near_the_recursion_limit_is_refused(sqlite_app, client, depth, where):
    """Nested arrays that the JSON parser still reads but that were later shown in a
    problem message (RecursionError, 500). The issue calls them 422 problems, the fixers'
    convention a 400 for nesting: either is a clear refusal, a 5xx is not."""
    nest = "[" * depth + "]" * depth
    if where == "byline":
        path, body = "/api/stories", raw_json(story_record(bylines=[RAW]), nest)
        method = client.post
    elif where == "image":
        path, body = "/api/stories", raw_json(story_record(image=RAW), nest)
        method = client.post
    else:
        path, body = "/api/topics/world", raw_json({"title": RAW}, nest)
        method = client.put
    with store_unchanged(sqlite_app):
        response = method(path, data=body, content_type="application/json", headers=AUTH)
    assert response.status_code in (400, 422)


# -- sizes -------------------------------------------------------------------------------

MANY = 20_000


@pytest.mark.parametrize("body", [
    pytest.param("[" + ",".join(["{}"] * MANY) + "]", id="empty-objects"),
    pytest.param(json.dumps([1] * MANY), id="numbers"),
    pytest.param(json.dumps([{"id": f"s{i}", "published": "never"} for i in range(MANY)]),
                 id="invalid-records"),
])
def test_too_many_records_get_a_short_clear_answer(sqlite_app, client, body):
    """One request may not cost unbounded work: records per request and problems per answer
    are capped, and the answer says how many (more) there were."""
    with store_unchanged(sqlite_app):
        response = client.post("/api/stories", data=body, content_type="application/json",
                               headers=AUTH)
    assert response.status_code in (413, 422)
    assert len(response.get_data()) < 200_000, f"a {len(response.get_data())}-byte answer"
    assert re.search(r"\d", response.get_json()["message"])


@pytest.fixture(scope="module")
def small_body_app(tmp_path_factory):
    from ..conftest import migrated_sqlite

    app = build_app(migrated_sqlite(tmp_path_factory.mktemp("small") / "s.sqlite3"),
                    INGEST_MAX_BYTES="2000")
    yield app
    dispose(app)


@pytest.mark.parametrize("method, path", [
    ("post", "/api/stories"), ("put", "/api/stories/1001"), ("put", "/api/topics/world"),
])
def test_a_body_over_the_limit_is_413(small_body_app, method, path):
    # (A chunked body goes through a real server in tests/test_ingest.py.)
    body = json.dumps(story_record(teaser="x" * 5000)).encode()
    with store_unchanged(small_body_app):
        response = getattr(small_body_app.test_client(), method)(
            path, data=body, content_type="application/json", headers=AUTH)
    assert response.status_code == 413


# -- tokens ------------------------------------------------------------------------------

WRITES = [
    ("post", "/api/stories", story_record()),
    ("put", "/api/stories/1001", story_record()),
    ("delete", "/api/stories/1169464713", None),
    ("put", "/api/topics/world", {"title": "World"}),
]
BAD_AUTH = [
    ("none", {}),
    ("basic", {"Authorization": "Basic " + "aG9zdGlsZTp0b2tlbg=="}),
    ("bearer-empty", {"Authorization": "Bearer "}),
    ("bearer-spaces", {"Authorization": "Bearer      "}),
    ("wrong-token", {"Authorization": "Bearer not-the-token"}),
    ("token-prefix", {"Authorization": f"Bearer {TOKEN[:-1]}"}),
    ("token-longer", {"Authorization": f"Bearer {TOKEN}x"}),
    ("token-twice", {"Authorization": f"Bearer {TOKEN},{TOKEN}"}),
    ("token-as-scheme", {"Authorization": TOKEN}),
    ("non-ascii", {"Authorization": "Bearer h\u00f6stile-token"}),
    ("huge", {"Authorization": "Bearer " + "x" * 8000}),
]


@pytest.mark.parametrize("method, path, body", WRITES, ids=lambda v: v if isinstance(v, str) else "")
@pytest.mark.parametrize("name, headers", BAD_AUTH, ids=[a[0] for a in BAD_AUTH])
def test_a_missing_or_wrong_token_is_401(sqlite_app, client, method, path, body, name, headers):
    with store_unchanged(sqlite_app):
        response = getattr(client, method)(path, json=body, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="storyfeed"')


@pytest.fixture(scope="module")
def ingest_off_app(tmp_path_factory):
    from ..conftest import migrated_sqlite

    app = build_app(migrated_sqlite(tmp_path_factory.mktemp("off") / "o.sqlite3"),
                    INGEST_TOKENS="")
    yield app
    dispose(app)


@pytest.mark.parametrize("method, path, body", WRITES, ids=lambda v: v if isinstance(v, str) else "")
@pytest.mark.parametrize("headers", [{}, AUTH], ids=["no-token", "a-token"])
def test_with_ingest_off_every_write_is_403(ingest_off_app, method, path, body, headers):
    with store_unchanged(ingest_off_app):
        response = getattr(ingest_off_app.test_client(), method)(path, json=body, headers=headers)
    assert response.status_code == 403


# -- ids in the URL ----------------------------------------------------------------------

HOSTILE_IDS = [
    ("uppercase", "ABC"),
    ("space", "a%20b"),
    ("too-long", "9" * 101),
    ("line-separator", "a%E2%80%A8b"),
    ("angle-brackets", "%3Cscript%3E"),
    ("dot-dot", ".."),
    ("underscore", "a_b"),
]


@pytest.mark.parametrize("name, story_id", HOSTILE_IDS, ids=[i[0] for i in HOSTILE_IDS])
def test_put_with_a_hostile_id_is_422(sqlite_app, client, name, story_id):
    with store_unchanged(sqlite_app):
        response = client.put(f"/api/stories/{story_id}", json=story_record(id=None),
                              headers=AUTH)
    assert response.status_code == 422
    assert problem_fields(response) == ["id"]


@pytest.mark.parametrize("name, slug", HOSTILE_IDS, ids=[i[0] for i in HOSTILE_IDS])
def test_put_topic_with_a_hostile_slug_is_422(sqlite_app, client, name, slug):
    with store_unchanged(sqlite_app):
        response = client.put(f"/api/topics/{slug}", json={"title": "T"}, headers=AUTH)
    assert response.status_code == 422
    assert problem_fields(response) == ["slug"]


@pytest.mark.parametrize("method, path", [
    ("put", "/api/stories/%00"), ("put", "/api/stories/1001%00"),
    ("put", "/api/topics/%00"), ("delete", "/api/stories/%00"),
    ("delete", "/api/stories/1169464713%00"),
])
def test_nul_in_an_ingest_path_is_refused_on_every_backend(backend_app, backend_client, method,
                                                           path):
    """NUL is the one character PostgreSQL refuses in text (DataError, 500): one request
    guard refuses it with 400 before any view, for every method (see refused_status)."""
    body = None if method == "delete" else (
        story_record(id=None) if "stories" in path else {"title": "T"})
    with store_unchanged(backend_app):
        response = getattr(backend_client, method)(path, json=body, headers=AUTH)
    assert response.status_code == refused_status(path)


def test_deleting_an_unknown_story_is_404(sqlite_app, client):
    with store_unchanged(sqlite_app):
        assert client.delete("/api/stories/no-such-story", headers=AUTH).status_code == 404


@pytest.mark.parametrize("path, body, field", [
    ("/api/stories/1001", story_record(id="1002"), "id"),
    ("/api/topics/world", {"slug": "asia", "title": "T"}, "slug"),
])
def test_a_body_naming_another_id_is_422(sqlite_app, client, path, body, field):
    with store_unchanged(sqlite_app):
        response = client.put(path, json=body, headers=AUTH)
    assert response.status_code == 422 and problem_fields(response) == [field]


@pytest.mark.parametrize("body", [b"[]", b"null", b"1", b'"x"', b"[{}]"])
@pytest.mark.parametrize("path", ["/api/stories/1001", "/api/topics/world"])
def test_put_of_something_not_an_object_is_422(sqlite_app, client, path, body):
    with store_unchanged(sqlite_app):
        response = client.put(path, data=body, content_type="application/json", headers=AUTH)
    assert response.status_code == 422 and problem_fields(response) == ["record"]


def test_partial_must_be_a_flag(sqlite_app, client):
    with store_unchanged(sqlite_app):
        response = client.post("/api/stories?partial=yes-please", json=story_record(),
                               headers=AUTH)
    assert response.status_code == 400


# -- topics ------------------------------------------------------------------------------

INVALID_TOPICS = [
    ("title-too-long", {"title": "x" * 1001}, "title"),
    ("title-object", {"title": {"a": 1}}, "title"),
    ("description-too-long", {"description": "x" * 10_001}, "description"),
    ("link-javascript", {"link": "javascript:alert(1)"}, "link"),
    ("link-media", {"link": "/media/x"}, "link"),
    ("link-ipv6-unclosed", {"link": "http://[::1"}, "link"),
    ("language-bad", {"language": "english!"}, "language"),
    ("language-object", {"language": ["en"]}, "language"),
    ("category-unknown", {"category": "Crime"}, "category"),
    ("subcategory-without-category", {"subcategory": "News Commentary"}, "subcategory"),
    ("subcategory-wrong", {"category": "News", "subcategory": "Hiking"}, "subcategory"),
    ("type-weekly", {"type": "weekly"}, "type"),
    ("explicit-no", {"explicit": "no"}, "explicit"),
    ("owner-email-bad", {"owner_email": "not an address"}, "owner_email"),
    ("owner-email-header-injection", {"owner_email": "a@b.org\nBcc: c@d.org"}, "owner_email"),
    ("image-url-javascript", {"image": {"url": "javascript:alert(1)"}}, "image.url"),
    ("image-url-media-javascript",
     {"image": {"url": "/media/javascript:alert(document.domain)//a.jpg"}}, "image.url"),
    ("image-width-2**70", {"image": {"url": "https://e.org/a.jpg", "width": 2**70}},
     "image.width"),
    ("image-unknown-field", {"image": {"url": "https://e.org/a.jpg", "alt": "x"}}, "image.alt"),
    ("unknown-field", {"name": "World"}, "name"),
]


@pytest.mark.parametrize("name, body, field", INVALID_TOPICS, ids=[t[0] for t in INVALID_TOPICS])
def test_an_invalid_topic_is_422(sqlite_app, client, name, body, field):
    with store_unchanged(sqlite_app):
        response = client.put("/api/topics/north-korean-defectors", json=body, headers=AUTH)
    assert_problem(response, field, "topic north-korean-defectors")


def test_json_nan_in_a_topic_is_refused(sqlite_app, client):
    body = json_body({"title": "T", "image": {"url": "https://e.org/a.jpg", "width": float("nan")}})
    with store_unchanged(sqlite_app):
        response = client.put("/api/topics/world", data=body, content_type="application/json",
                              headers=AUTH)
    assert_refused(response, "image.width", "topic world", "NaN")
