"""The command line as a real subprocess, on every backend."""

from __future__ import annotations

import json
import subprocess

import pytest

from stories.store import StoryStore

from .conftest import migrated_sqlite, story_record
from .servers import flask_cli, service_env

pytestmark = pytest.mark.slow  # a new process, importing the app, per command


def flask(database_url: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return flask_cli(service_env(DATABASE_URL=database_url), *args, stdin=stdin)


def test_db_upgrade_creates_the_schema(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    done = flask(url, "db", "upgrade")
    assert done.returncode == 0, done.stderr
    assert StoryStore.from_url(url).count_stories() == 0


def test_import_export_round_trip(database_url, tmp_path):
    source = tmp_path / "stories.json"
    source.write_text(json.dumps({
        "topics": [{"slug": "world", "title": "World", "category": "News"}],
        "stories": [story_record(), story_record(id="1002", title="Second", topics=["world", "asia"])],
    }))
    done = flask(database_url, "stories", "import", str(source))
    assert done.returncode == 0, done.stderr
    assert "2 added" in done.stdout

    exported = flask(database_url, "stories", "export")
    assert exported.returncode == 0, exported.stderr
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    assert {line["topic"]["slug"] for line in lines if "topic" in line} == {"world", "asia"}
    assert sorted(line["id"] for line in lines if "id" in line) == ["1001", "1002"]

    # Reading the export back changes nothing.
    again = flask(database_url, "stories", "import", "-", stdin=exported.stdout)
    assert again.returncode == 0, again.stderr
    assert "0 added, 0 updated, 2 unchanged" in again.stdout
    assert flask(database_url, "stories", "export").stdout == exported.stdout

    only_asia = flask(database_url, "stories", "export", "--topic", "asia").stdout.splitlines()
    assert [json.loads(line).get("id") for line in only_asia] == [None, "1002"]


def test_an_invalid_file_writes_nothing_and_names_every_bad_record(database_url, tmp_path):
    source = tmp_path / "stories.json"
    source.write_text(json.dumps([
        story_record(id="1"),
        story_record(id="2"),
        story_record(id="761156048", published="2019-08-28 10:00"),
        story_record(id="4", url="javascript:alert(1)"),
    ]))
    done = flask(database_url, "stories", "import", str(source))
    assert done.returncode != 0
    assert 'stories.json: record 3 (id 761156048): published: "2019-08-28 10:00" has no time zone' in done.stderr
    assert 'stories.json: record 4 (id 4): url: "javascript:alert(1)" is not an absolute http(s) URL' in done.stderr
    assert "nothing was imported" in done.stderr
    assert "Traceback" not in done.stderr
    assert StoryStore.from_url(database_url).count_stories() == 0

    skipped = flask(database_url, "stories", "import", "--skip-invalid", str(source))
    assert skipped.returncode == 0, skipped.stderr
    assert "2 added" in skipped.stdout and "2 invalid skipped" in skipped.stdout
    assert "record 3 (id 761156048)" in skipped.stderr
    assert StoryStore.from_url(database_url).count_stories() == 2


def test_list_and_sample(database_url):
    assert flask(database_url, "stories", "sample", "--if-empty").returncode == 0
    second = flask(database_url, "stories", "sample", "--if-empty")
    assert "not loaded" in second.stdout
    listed = flask(database_url, "stories", "list", "--topic", "north-korean-defectors").stdout.splitlines()
    assert len(listed) == 7
    assert listed[0].split()[1] == "1169464713" and listed[-1].split()[1] == "511745886"


def test_unreadable_paths_fail_cleanly(sqlite_url, tmp_path):
    done = flask(sqlite_url, "stories", "import", str(tmp_path / "missing.json"))
    assert done.returncode != 0 and "cannot read" in done.stderr and "Traceback" not in done.stderr


def test_an_export_holding_line_separators_imports_into_another_store(database_url, tmp_path):
    """str.splitlines() splits on U+2028, U+2029 and U+0085: an export of such text used
    to fail to import, and --skip-invalid dropped those stories without a word."""
    source = tmp_path / "stories.json"
    source.write_text(json.dumps([
        story_record(id="1001", title="a\u2028b"),
        story_record(id="1002", title="c\u2029d", teaser="e\x85f"),
        story_record(id="1003", title="plain", note="g\u2028h"),
    ], ensure_ascii=False), encoding="utf-8")
    assert flask(database_url, "stories", "import", str(source)).returncode == 0
    exported = flask(database_url, "stories", "export").stdout

    target = migrated_sqlite(tmp_path / "target.sqlite3")
    for flags in ((), ("--skip-invalid",)):
        done = flask(target, "stories", "import", *flags, "-", stdin=exported)
        assert done.returncode == 0, done.stderr
        assert "error:" not in done.stderr and "invalid skipped" not in done.stdout
        assert flask(target, "stories", "export").stdout == exported
    # Readers that split lines as str.splitlines() does see one record a line too.
    assert exported.count("\n") == len(exported.splitlines()) == 4  # a topic, 3 stories


def test_hostile_files_fail_cleanly_and_change_nothing(database_url, tmp_path):
    assert flask(database_url, "stories", "sample").returncode == 0
    before = flask(database_url, "stories", "export").stdout
    files = {
        "year-one.json": json.dumps([story_record(published="0001-01-01T00:00:00+05:00")]),
        "infinity.json": '[{"id": "1", "duration": Infinity}]',
        "deep.json": "[" * 100_000 + "]" * 100_000,
        "digits.ndjson": '{"id": "1", "title": ' + "9" * 5000 + "}\n",
        "xss.json": json.dumps([story_record(image={"url": "/media/javascript:alert(1)//x.jpg"})]),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    done = flask(database_url, "stories", "import", *(str(tmp_path / name) for name in files))
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    for name in files:
        assert f"error: {name}" in done.stderr
    assert flask(database_url, "stories", "export").stdout == before
