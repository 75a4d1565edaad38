"""`sync` pulling hostile documents from a real upstream on 127.0.0.1: a bad record is
skipped and named (source, record, field) while the good ones are stored; a bad document
fails its source with a reason, stores nothing and never shows a traceback."""

from __future__ import annotations

import json

import pytest

from ..conftest import migrated_sqlite, story_record
from .conftest import build_app, dispose
from .payloads import export, store_unchanged

GOOD = story_record(id="good-one", topics=["world"])


def bad(**overrides) -> dict:
    return story_record(id="bad-one", topics=["world"], **overrides)


@pytest.fixture
def sync_app(tmp_path, upstream):
    sources = tmp_path / "sources.toml"
    sources.write_text(
        '[[source]]\nname = "newsroom"\n'
        f'url = "{upstream.url("/stories.json")}"\n'
        'kind = "records"\nallow_private = true\n'
        '[[source]]\nname = "feedroom"\n'
        f'url = "{upstream.url("/feed.xml")}"\n'
        'kind = "feed"\nallow_private = true\n'
    )
    app = build_app(migrated_sqlite(tmp_path / "sync.sqlite3"), SOURCES_FILE=str(sources),
                    SOURCES_CACHE_PATH=str(tmp_path / "http-cache.sqlite3"),
                    SOURCES_RETRIES="0", SOURCES_READ_TIMEOUT="5")
    yield app
    dispose(app)


def sync(app, source: str):
    result = app.test_cli_runner().invoke(args=["sync", "--source", source])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"sync raised {type(result.exception).__name__}: {result.exception}")
    assert "Traceback" not in result.output
    assert "internal error" not in result.output, result.output
    return result


# A document with one good and one bad record: the good one is stored, the bad one named.
MIXED = [
    ("year-1-offset", json.dumps([GOOD, bad(published="0001-01-01T00:00:00+01:00")]),
     "published"),
    ("year-9999-offset", json.dumps([GOOD, bad(published="9999-12-31T23:59:59-01:00")]),
     "published"),
    ("year-1-utc", json.dumps([GOOD, bad(published="0001-01-01T00:00:00Z")]), "published"),
    ("media-javascript-audio", json.dumps([GOOD, bad(audio=[{
        "id": "1", "url": "/media/javascript:alert(document.domain)//x.mp3"}])]), "audio[0].url"),
    ("media-javascript-image", json.dumps([GOOD, bad(image={
        "url": "/media/javascript:alert(document.domain)//x.jpg"})]), "image.url"),
    ("url-ipv6-unclosed", json.dumps([GOOD, bad(url="http://[::1/story")]), "url"),
    ("width-2**70", json.dumps([GOOD, bad(image={"url": "https://e.org/a.jpg", "width": 2**70})]),
     "image.width"),
]


@pytest.mark.parametrize("name, document, field", MIXED, ids=[m[0] for m in MIXED])
def test_a_bad_record_is_skipped_and_the_good_one_stored(sync_app, upstream, name, document,
                                                        field):
    upstream.serve("/stories.json", document)
    result = sync(sync_app, "newsroom")
    assert result.exit_code == 0, result.output
    assert "newsroom: fetched; 1 added, 0 updated, 0 unchanged, 1 invalid" in result.output
    assert f"newsroom: record 2 (id bad-one): {field}:" in result.output
    exported = export(sync_app)
    assert '"id": "good-one"' in exported and '"id": "bad-one"' not in exported


def test_a_number_python_cannot_read_is_a_named_problem_not_a_crash(sync_app, upstream):
    """5,000 digits: Python's json refuses to make an int of it (ValueError, not a
    JSONDecodeError). Either the record is named invalid, or the document is refused
    as not valid JSON; the source never fails with an internal error."""
    document = json.dumps([GOOD, bad(audio=[{"id": "1", "url": "https://e.org/a.mp3",
                                             "length": 1}])])
    upstream.serve("/stories.json", document.replace('"length": 1', '"length": ' + "9" * 5000))
    result = sync(sync_app, "newsroom")
    if result.exit_code == 0:
        assert "1 added, 0 updated, 0 unchanged, 1 invalid" in result.output
    else:
        assert "newsroom: failed (" in result.output


# A document that is unusable as a whole: the source fails with the reason, nothing stored.
# Infinity is not JSON (RFC 8259), and nesting is bounded before any record is read, so
# a document holding either is refused whole, like any other malformed document.
BROKEN = [
    ("duration-infinity", json.dumps([GOOD, bad(audio=[{
        "id": "1", "url": "https://e.org/a.mp3", "duration": float("inf")}])]),
     "application/json", "Infinity is not a number"),
    ("nested-byline", json.dumps([GOOD, bad(bylines=["X"])]).replace('"X"', "[" * 980 + "]" * 980),
     "application/json", "nested more than"),
    ("not-json", "this is not json", "application/json", "not valid JSON"),
    ("html", "<html><body>Log in</body></html>", "text/html", "text/html"),
    ("not-utf8", b'[{"id": "\xff\xfe"}]', "application/json", "UTF-8"),
    ("nested-100000", "[" * 100_000 + "]" * 100_000, "application/json", "nested"),
    ("nested-objects", '{"a":' * 50_000 + "1" + "}" * 50_000, "application/json", "nested"),
]


@pytest.mark.parametrize("name, body, content_type, reason", BROKEN, ids=[b[0] for b in BROKEN])
def test_an_unusable_document_fails_its_source_and_stores_nothing(sync_app, upstream, name, body,
                                                                  content_type, reason):
    upstream.serve("/stories.json", body, content_type)
    with store_unchanged(sync_app):
        result = sync(sync_app, "newsroom")
    assert result.exit_code == 1
    assert "newsroom: failed (" in result.output and reason in result.output


def test_a_redirect_out_of_http_fails_the_source(sync_app, upstream):
    upstream.redirect("/stories.json", "file:///etc/passwd")
    with store_unchanged(sync_app):
        result = sync(sync_app, "newsroom")
    assert result.exit_code == 1 and "newsroom: failed (" in result.output
    assert "root:" not in result.output


def test_ndjson_with_line_separators_inside_strings_is_read_whole(sync_app, upstream):
    """JSON strings may hold U+2028, U+2029 and U+0085 raw; NDJSON lines end at "\\n" only."""
    lines = [story_record(id=f"sep-{i}", title=f"a{c}b", topics=["world"])
             for i, c in enumerate("\u2028\u2029\u0085")]
    upstream.serve("/stories.json", "".join(json.dumps(r, ensure_ascii=False) + "\n"
                                             for r in lines), "application/x-ndjson")
    result = sync(sync_app, "newsroom")
    assert result.exit_code == 0, result.output
    assert "newsroom: fetched; 3 added, 0 updated, 0 unchanged, 0 invalid" in result.output


HOSTILE_FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">
<channel><title>t</title><link>https://example.org/</link><description>d</description>
<item><title>javascript link</title><link>javascript:alert(1)</link>
  <guid>js-1</guid><pubDate>Tue, 02 Jan 2024 10:00:00 GMT</pubDate></item>
<item><title>hostile media</title><link>https://example.org/2024/01/02/ok/x</link>
  <guid>js-2</guid><pubDate>Tue, 02 Jan 2024 10:00:00 GMT</pubDate>
  <media:content url="javascript:alert(2)" medium="image"/>
  <enclosure url="javascript:alert(3)" length="10" type="audio/mpeg"/>
  <description>&lt;script&gt;alert(4)&lt;/script&gt;teaser</description></item>
<item><title>year one</title><link>https://example.org/2024/01/02/y1/x</link>
  <guid>js-3</guid><pubDate>Mon, 01 Jan 0001 00:00:00 +0100</pubDate></item>
</channel></rss>"""


def test_a_hostile_feed_stores_no_dangerous_url(sync_app, upstream):
    upstream.serve("/feed.xml", HOSTILE_FEED, "application/rss+xml")
    result = sync(sync_app, "feedroom")
    assert result.exit_code == 0, result.output
    assert "feedroom: fetched;" in result.output
    exported = export(sync_app)
    assert "javascript:" not in exported and "<script>" not in exported


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
<!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
<!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;"><!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;">
<!ENTITY x SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>&h;</title><link>https://example.org/</link>
<description>&x;</description>
<item><title>&h;</title><link>https://example.org/2024/01/02/laugh/x</link><guid>l</guid>
<pubDate>Tue, 02 Jan 2024 10:00:00 GMT</pubDate><description>&x;&h;</description></item>
</channel></rss>"""


def test_entities_are_neither_expanded_nor_read_from_files(sync_app, upstream):
    upstream.serve("/feed.xml", BILLION_LAUGHS, "application/rss+xml")
    result = sync(sync_app, "feedroom")
    exported = export(sync_app)
    assert "root:" not in exported and "a" * 10_000 not in exported
    assert result.exit_code in (0, 1)  # refused whole, or read without the entities
