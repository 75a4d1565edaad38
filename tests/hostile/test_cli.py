"""`stories import` with hostile files: each refused file exits 1 with every problem named
(file, record, field, reason), no traceback, and the store exactly as before; an export of
anything the API accepted imports back unchanged."""

from __future__ import annotations

import json

import pytest

from ..conftest import migrated_sqlite, story_record
from .conftest import build_app, dispose
from .payloads import AUTH, export, store_unchanged


def run_import(app, *args: str, stdin: str | None = None):
    result = app.test_cli_runner().invoke(args=["stories", "import", *args], input=stdin)
    # A ClickException ends in SystemExit; anything else is a traceback in a terminal.
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"the CLI raised {type(result.exception).__name__}: {result.exception}")
    assert "Traceback" not in result.output
    return result


def ndjson(*records) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


# (name, file bytes, text every error output must hold). Infinity and 5,000-digit numbers
# are refused while the JSON is read (neither is a number a record can hold), so they
# name the file, not a field.
HOSTILE_FILES = [
    ("not-utf8", b'[{"id": "\xff"}]', "cannot read"),
    ("utf16", json.dumps([story_record()]).encode("utf-16"), "cannot read"),
    ("not-json", b"this is not json", "not valid JSON"),
    ("empty", b"", "not valid JSON"),
    ("json-null", b"null", "must be an object"),
    ("json-number", b"42", "must be an object"),
    ("topics-not-a-list", json.dumps({"topics": 5}).encode(), "topics: must be a list"),
    ("stories-not-a-list", json.dumps({"stories": {"id": "1"}}).encode(),
     "stories: must be a list"),
    ("nested-100000", b"[" * 100_000 + b"]" * 100_000, "nested"),
    ("nested-ndjson-line", (ndjson(story_record(id="ok")) + "[" * 100_000 + "]" * 100_000 +
                            "\n").encode(), "nested"),
    ("year-1-offset", json.dumps([story_record(published="0001-01-01T00:00:00+01:00")]).encode(),
     "record 1 (id 1001): published:"),
    ("year-9999-offset", json.dumps([story_record(published="9999-12-31T23:59:59-01:00")])
     .encode(), "record 1 (id 1001): published:"),
    ("year-1-utc", json.dumps([story_record(published="0001-01-01T00:00:00Z")]).encode(),
     "record 1 (id 1001): published:"),
    ("media-javascript", json.dumps([story_record(
        audio=[{"id": "1", "url": "/media/javascript:alert(document.domain)//x.mp3"}])]).encode(),
     "record 1 (id 1001): audio[0].url:"),
    ("image-media-javascript", json.dumps([story_record(
        image={"url": "/media/javascript:alert(1)//x.jpg"})]).encode(),
     "record 1 (id 1001): image.url:"),
    ("topic-image-media-javascript", json.dumps({"topics": [{"slug": "world", "image": {
        "url": "/media/javascript:alert(1)//a.jpg"}}]}).encode(), "topic 1 (slug world): image.url:"),
    ("length-5000-digits", json.dumps([story_record(audio=[{"id": "1", "url": "https://e.org/a.mp3",
                                                            "length": 1}])])
     .replace('"length": 1', '"length": ' + "9" * 5000).encode(),
     "file: not accepted: a number has 5000 digits"),
    ("duration-infinity", json.dumps([story_record(audio=[{"id": "1", "url": "https://e.org/a.mp3",
                                                           "duration": float("inf")}])]).encode(),
     "file: not valid JSON: Infinity is not a number"),
    ("one-bad-ndjson-line", (ndjson(story_record(id="good")) + '{"id": "bad",\n').encode(),
     "line 2"),
    ("ndjson-bad-topic-line", (ndjson({"topic": {"slug": "BAD"}}) + ndjson(story_record()))
     .encode(), "line 1"),
]


@pytest.mark.parametrize("name, content, expected", HOSTILE_FILES, ids=[f[0] for f in HOSTILE_FILES])
def test_a_hostile_file_is_refused_whole(sqlite_app, tmp_path, name, content, expected):
    path = tmp_path / "stories.json"
    path.write_bytes(content)
    with store_unchanged(sqlite_app):
        result = run_import(sqlite_app, str(path))
    assert result.exit_code == 1
    assert expected in result.output
    assert "nothing was imported" in result.output or "cannot read" in result.output


@pytest.mark.parametrize("name, content, expected", [
    f for f in HOSTILE_FILES if "record 1" in f[2] or "audio[0]" in f[2]
], ids=lambda v: v if isinstance(v, str) and len(v) < 40 else None)
def test_skip_invalid_skips_them_and_says_so(sqlite_app, tmp_path, name, content, expected):
    path = tmp_path / "stories.json"
    path.write_bytes(content)
    with store_unchanged(sqlite_app):
        result = run_import(sqlite_app, "--skip-invalid", str(path))
    assert result.exit_code == 0
    assert expected in result.output and "1 invalid skipped" in result.output


def test_stdin_and_a_directory(sqlite_app, tmp_path):
    with store_unchanged(sqlite_app):
        assert run_import(sqlite_app, "-", stdin="[" * 50_000).exit_code == 1
        directory = run_import(sqlite_app, str(tmp_path))
    assert directory.exit_code == 1 and "cannot read" in directory.output


def test_a_byte_order_mark_is_read_as_sync_reads_it(tmp_path):
    """`sync` decodes records with utf-8-sig; a file saved by an editor that writes a BOM
    must import the same way rather than fail as "not valid JSON"."""
    app = build_app(migrated_sqlite(tmp_path / "bom.sqlite3"))
    try:
        path = tmp_path / "stories.json"
        path.write_bytes(b"\xef\xbb\xbf" + json.dumps([story_record(id="bom")]).encode())
        result = run_import(app, str(path))
        assert result.exit_code == 0, result.output
    finally:
        dispose(app)


# Characters that str.splitlines() treats as line breaks although JSON text may hold them.
LINE_BREAKERS = ["\u2028", "\u2029", "\u0085", "\x1c", "\x1d", "\x1e", "\x0b", "\x0c"]


@pytest.mark.parametrize("char", LINE_BREAKERS, ids=lambda c: f"U+{ord(c):04X}")
def test_what_the_api_accepted_round_trips_through_export_and_import(tmp_path, char):
    source = build_app(migrated_sqlite(tmp_path / "source.sqlite3"))
    target = build_app(migrated_sqlite(tmp_path / "target.sqlite3"))
    try:
        record = story_record(id="breaks", title=f"a{char}b", teaser=f"c{char}d",
                              bylines=[f"e{char}f"], topics=["world"],
                              image={"url": "https://e.org/a.jpg", "caption": f"g{char}h"})
        response = source.test_client().post("/api/stories", json=record, headers=AUTH)
        assert response.status_code == 200
        dumped = export(source)
        result = run_import(target, "-", stdin=dumped)
        assert result.exit_code == 0, result.output
        assert export(target) == dumped
        # --skip-invalid must not quietly lose them either.
        again = run_import(target, "--skip-invalid", "-", stdin=dumped)
        assert "invalid skipped" not in again.output
    finally:
        dispose(source)
        dispose(target)


@pytest.mark.parametrize("content", [b"this is not json", b"\xff not utf-8"])
def test_terminal_escapes_in_a_file_name_are_shown_not_run(sqlite_app, tmp_path, content):
    path = tmp_path / "\x1b]0;owned\x07\x1b[2Jstories.json"
    path.write_bytes(content)
    result = run_import(sqlite_app, str(path))
    assert result.exit_code == 1
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "\\u001b]0;owned\\u0007" in result.output
