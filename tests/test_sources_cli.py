"""The sources file and `flask --app app sync`, as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from serving.state import app_state
from sources.config import SourcesFileError, parse_sources

from .conftest import ROOT, make_app, story_record

GOOD = """
[[source]]
name = "defectors"
url = "https://example.org/stories.json"
kind = "records"
topics = ["north-korean-defectors"]
interval = 900
allow_private = false
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(SourcesFileError) as caught:
        parse_sources(text, "sources.toml")
    return str(caught.value).splitlines()


def test_a_good_file():
    (source,) = parse_sources(GOOD, "sources.toml")
    assert (source.name, source.kind, source.topics, source.interval) == (
        "defectors",
        "records",
        ("north-korean-defectors",),
        900,
    )
    assert source.allow_private is False and source.remove_missing is False


def test_malformed_toml_is_refused():
    (line,) = problems_of('[[source]]\nname = "x\n')
    assert line.startswith("sources.toml: file: not valid TOML: ")


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            GOOD + 'urll = "x"\n',
            "sources.toml: source 1 (name defectors): urll: unknown key (known: name, url, kind, topics, "
            "interval, allow_private, token_env, remove_missing, deadline)",
        ),
        (
            GOOD.replace('kind = "records"', 'kind = "rss"'),
            'sources.toml: source 1 (name defectors): kind: "rss" is not one of records, feed, npr-cds',
        ),
        (
            GOOD + GOOD.replace("example.org", "example.com"),
            'sources.toml: source 2 (name defectors): name: "defectors" is already used by source 1',
        ),
        (
            GOOD.replace("https://example.org/stories.json", "file:///etc/passwd"),
            'sources.toml: source 1 (name defectors): url: "file:///etc/passwd" is not an absolute http(s) URL',
        ),
        (
            GOOD.replace('kind = "records"', 'kind = "npr-cds"'),
            "sources.toml: source 1 (name defectors): token_env: is required for npr-cds "
            "(the variable holding the CDS bearer token)",
        ),
        (
            GOOD.replace("interval = 900", "interval = 0"),
            "sources.toml: source 1 (name defectors): interval: 0 is not a whole number of seconds of at least 1",
        ),
        (
            GOOD.replace('["north-korean-defectors"]', '["North Korea"]'),
            'sources.toml: source 1 (name defectors): topics[0]: "North Korea" must be lowercase letters, '
            "digits and hyphens",
        ),
        (
            GOOD.replace("allow_private = false", 'allow_private = "yes"'),
            'sources.toml: source 1 (name defectors): allow_private: "yes" is not true or false',
        ),
        (
            '[[sources]]\nname = "x"\n',
            "sources.toml: sources: unknown key; sources are [[source]] tables",
        ),
    ],
)
def test_each_problem_names_the_source_and_the_key(text, expected):
    assert expected in problems_of(text)


def test_every_problem_is_reported_at_once():
    text = (
        GOOD.replace('kind = "records"', 'kind = "rss"')
        + 'colour = "red"\n[[source]]\nkind = "feed"\n'
    )
    lines = problems_of(text)
    assert len(lines) == 4
    assert "sources.toml: source 2: name: is required" in lines
    assert "sources.toml: source 2: url: is required" in lines


def test_the_app_refuses_to_start_with_a_broken_sources_file(sqlite_url, tmp_path):
    path = tmp_path / "sources.toml"
    path.write_text(GOOD.replace('kind = "records"', 'kind = "rss"'), encoding="utf-8")
    with pytest.raises(SourcesFileError, match='kind: "rss" is not one of'):
        make_app(sqlite_url, SOURCES_FILE=str(path))


# -- the command ----------------------------------------------------------------------------


@pytest.fixture
def sync_app(sqlite_url, tmp_path, upstream):
    upstream.serve(
        "/defectors.json",
        json.dumps(
            [
                story_record(
                    id="1169464713", title="North Korean defectors may face deportation", topics=[]
                ),
                story_record(id="1022642030", title="That's 'Comrade' To You!", topics=[]),
            ]
        ),
    )
    upstream.serve("/broken.json", b"", status=500)
    path = tmp_path / "sources.toml"
    path.write_text(
        f"""
[[source]]
name = "defectors"
url = "{upstream.url("/defectors.json")}"
kind = "records"
topics = ["north-korean-defectors"]
allow_private = true

[[source]]
name = "broken"
url = "{upstream.url("/broken.json")}"
kind = "feed"
allow_private = true
""",
        encoding="utf-8",
    )
    app = make_app(
        sqlite_url,
        SOURCES_FILE=str(path),
        SOURCES_CACHE_PATH=str(tmp_path / "cache.sqlite3"),
        SOURCES_RETRIES="0",
        REDIS_URL="",
    )
    yield app
    app_state(app).store.engine.dispose()


def test_sync_prints_a_line_per_source_and_fails_when_one_failed(sync_app):
    result = sync_app.test_cli_runner().invoke(args=["sync"])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "defectors: fetched; 2 added, 0 updated, 0 unchanged, 0 invalid",
        "broken: failed (upstream answered HTTP 500 Internal Server Error); "
        "0 added, 0 updated, 0 unchanged, 0 invalid",
    ]
    page = sync_app.test_client().get("/topics/north-korean-defectors")
    assert page.status_code == 200
    assert "North Korean defectors may face deportation" in page.get_data(as_text=True)


def test_sync_of_one_source_then_again_says_not_modified(sync_app):
    runner = sync_app.test_cli_runner()
    first = runner.invoke(args=["sync", "--source", "defectors"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(args=["sync", "--source", "defectors"])
    assert again.exit_code == 0
    assert again.output == "defectors: not modified; 0 added, 0 updated, 0 unchanged, 0 invalid\n"


def test_sync_names_an_unknown_source(sync_app):
    result = sync_app.test_cli_runner().invoke(args=["sync", "--source", "nope"])
    assert result.exit_code == 1
    assert "no source named nope (known: defectors, broken)" in result.output


def test_sync_without_a_sources_file(app):
    result = app.test_cli_runner().invoke(args=["sync"])
    assert result.exit_code == 1
    assert "SOURCES_FILE is not set" in result.output


def test_the_procfile_runs_the_loop_as_a_clock_process():
    lines = (ROOT / "Procfile").read_text(encoding="utf-8").splitlines()
    assert "clock: flask --app app sync --loop" in lines


@pytest.mark.slow
def test_sync_loop_runs_as_a_process_and_stops_on_sigterm(sqlite_url, tmp_path, upstream):
    """The Procfile's clock process: a real `flask sync --loop`, stopped the way a
    platform stops it."""
    upstream.serve("/defectors.json", json.dumps([story_record(id="1169464713")]))
    path = tmp_path / "sources.toml"
    path.write_text(
        f'[[source]]\nname = "defectors"\nurl = "{upstream.url("/defectors.json")}"\n'
        'kind = "records"\ninterval = 1\nallow_private = true\n',
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "DATABASE_URL": sqlite_url,
        "SOURCES_FILE": str(path),
        "SOURCES_CACHE_PATH": str(tmp_path / "cache.sqlite3"),
        "REDIS_URL": "",
        "LOG_LEVEL": "INFO",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "sync", "--loop"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while len(upstream.seen_at("/defectors.json")) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    # A process of the platform's: its report is log lines, one JSON object each.
    assert out == ""
    lines = [json.loads(line) for line in err.splitlines()]
    messages = [line["message"] for line in lines if line["logger"] == "web.cli.sources"]
    assert messages[0] == "syncing 1 source(s) on their intervals; SIGTERM stops"
    assert messages[1] == "defectors: fetched; 1 added, 0 updated, 0 unchanged, 0 invalid"
    assert messages[2] == "defectors: not modified; 0 added, 0 updated, 0 unchanged, 0 invalid"
    assert lines[-1]["source"] == "defectors" and lines[-1]["outcome"] == "not modified"


class Lines:
    """A process's output read as it comes, in a thread, so a test can wait for a line."""

    def __init__(self, process: subprocess.Popen):
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            assert time.monotonic() < deadline, f"no {text!r} in:\n" + "\n".join(self.lines)
            time.sleep(0.05)

    def all(self) -> list[str]:
        self._reader.join(timeout=10)
        return self.lines


@pytest.mark.slow
def test_the_clock_process_without_a_sources_file_waits_for_sigterm(sqlite_url):
    """A platform restarts a process that exits, and honcho stops the whole Procfile when
    one does: with nothing to sync, the clock process says so once and stays up."""
    env = {**os.environ, "DATABASE_URL": sqlite_url, "REDIS_URL": "", "LOG_LEVEL": "INFO"}
    env.pop("SOURCES_FILE", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "sync", "--loop"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    output = Lines(process)
    try:
        output.wait_for("SOURCES_FILE")
        time.sleep(2)
        assert process.poll() is None, "\n".join(output.all())
        process.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        process.wait(timeout=10)
        took = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    lines = output.all()
    assert process.returncode == 0, lines
    assert took < 3, f"{took:.2f} s after SIGTERM"  # about 0.1 s; a loaded CI machine is slower
    about_it = [line for line in lines if "SOURCES_FILE" in line]
    assert len(about_it) == 1, lines
    assert "nothing to sync, waiting for SIGTERM" in about_it[0]
