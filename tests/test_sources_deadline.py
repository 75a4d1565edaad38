"""A whole upstream fetch has a deadline, and `sync --loop` stops mid-pull on SIGTERM.

Timeouts bound each read: an upstream that stalls before answering is retried up to
SOURCES_RETRIES times (84 s with the defaults), and one that trickles its body a byte at a
time satisfies every read timeout for ever. The upstreams here do both, for real, on
127.0.0.1.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from requests_cache.backends import SQLiteCache

from sources.config import parse_sources
from sources.fetch import FetchSettings, HTTPRetriever
from sources.model import DeadlinePassed, Interrupted, Outcome, Source
from sources.state import SourceStates
from sources.sync import Syncer
from stories.store import StoryStore, create_engine

from .conftest import ROOT, story_record
from .test_sources_cli import Lines, problems_of

ACCEPT = "application/json"
BODY = json.dumps([story_record(id="1001", topics=["world"])])


def retriever(tmp_path, stop=None, **settings) -> HTTPRetriever:
    settings = {"connect_timeout": 2, "read_timeout": 5, "retries": 2, "backoff_factor": 0,
                **settings}
    return HTTPRetriever(SQLiteCache(db_path=str(tmp_path / "cache.sqlite3")),
                         FetchSettings(**settings), stop=stop)


def source(upstream, path: str, **options) -> Source:
    return Source(name="slow", url=upstream.url(path), kind="records", allow_private=True,
                  **options)


def timed(call):
    started = time.monotonic()
    try:
        call()
    except Exception as exc:
        return exc, time.monotonic() - started
    raise AssertionError("the fetch did not fail")


def test_a_trickling_body_is_cut_at_the_deadline(tmp_path, upstream):
    upstream.serve("/trickle.json", b"", trickle=0.5)
    fetch = retriever(tmp_path, deadline=2)
    error, took = timed(lambda: fetch.retrieve(source(upstream, "/trickle.json"), ACCEPT))
    assert isinstance(error, DeadlinePassed)
    assert str(error) == "no complete answer within 2 s (the fetch deadline)"
    assert 2 <= took < 3


def test_a_stalled_upstream_is_cut_at_the_deadline_across_retries(tmp_path, upstream):
    # Each attempt stays within nothing but its 1.5 s read timeout: 6 attempts, 9 s, without
    # the deadline.
    upstream.serve("/stalled.json", BODY, delay=30)
    fetch = retriever(tmp_path, read_timeout=1.5, retries=5, deadline=2.5)
    error, took = timed(lambda: fetch.retrieve(source(upstream, "/stalled.json"), ACCEPT))
    assert isinstance(error, DeadlinePassed)
    assert 2.5 <= took < 3.5


def test_the_backoff_between_retries_ends_at_the_deadline(tmp_path, upstream):
    upstream.serve("/down.json", BODY, fail_first=100)  # 503 every time
    fetch = retriever(tmp_path, retries=3, backoff_factor=4, deadline=2)  # backoff 8 s, 16 s
    error, took = timed(lambda: fetch.retrieve(source(upstream, "/down.json"), ACCEPT))
    assert isinstance(error, DeadlinePassed)
    assert took < 3
    assert upstream.statuses("/down.json") == [503, 503]  # at once, then no third attempt


def test_a_sources_own_deadline_wins(tmp_path, upstream):
    upstream.serve("/trickle.json", b"", trickle=0.5)
    fetch = retriever(tmp_path, deadline=60)
    error, took = timed(
        lambda: fetch.retrieve(source(upstream, "/trickle.json", deadline=1), ACCEPT))
    assert str(error) == "no complete answer within 1 s (the fetch deadline)"
    assert took < 2


def test_the_deadline_passing_serves_the_stale_copy(sqlite_url, tmp_path, upstream):
    store = StoryStore.from_url(sqlite_url)
    syncer = Syncer(store, SourceStates(store.engine), retriever(tmp_path, deadline=1))
    upstream.serve("/stories.json", BODY)
    assert syncer.sync(source(upstream, "/stories.json")).outcome is Outcome.FETCHED
    upstream.serve("/stories.json", b"", trickle=0.3)
    report = syncer.sync(source(upstream, "/stories.json"))
    assert report.line() == ("slow: served stale (no complete answer within 1 s (the fetch "
                             "deadline)); 0 added, 0 updated, 0 unchanged, 0 invalid")
    store.engine.dispose()


def test_stop_ends_the_fetch_in_flight_at_once(tmp_path, upstream):
    upstream.serve("/trickle.json", b"", trickle=0.5)
    stop = threading.Event()
    fetch = retriever(tmp_path, stop=stop, deadline=60)
    threading.Timer(0.5, stop.set).start()
    error, took = timed(lambda: fetch.retrieve(source(upstream, "/trickle.json"), ACCEPT))
    assert isinstance(error, Interrupted)
    assert took < 1.2


def test_an_interrupted_pull_is_not_recorded(sqlite_url, tmp_path, upstream):
    """Neither a failure nor the stale copy: the state stays as the last finished pull left
    it, so the source is due again on the next run."""
    store = StoryStore.from_url(sqlite_url)
    states = SourceStates(store.engine)
    stop = threading.Event()
    syncer = Syncer(store, states, retriever(tmp_path, stop=stop, deadline=60))
    the_source = source(upstream, "/stories.json", interval=1)
    upstream.serve("/stories.json", BODY)
    assert syncer.sync(the_source).outcome is Outcome.FETCHED
    before = states.get("slow")
    upstream.serve("/stories.json", b"", trickle=0.3)
    time.sleep(1.1)  # due again
    reports = []
    threading.Timer(1.0, stop.set).start()
    started = time.monotonic()
    syncer.run_forever([the_source], stop, reports.append)
    assert time.monotonic() - started < 1.8
    assert reports == []
    assert len(upstream.seen_at("/stories.json")) == 2  # the second pull was under way
    assert states.get("slow") == before
    store.engine.dispose()


def test_a_source_may_set_its_deadline():
    (with_one,) = parse_sources(
        '[[source]]\nname = "a"\nurl = "https://example.org/"\nkind = "feed"\ndeadline = 90\n',
        "sources.toml")
    assert with_one.deadline == 90.0
    assert ('sources.toml: source 1 (name a): deadline: 0 is not a number of seconds above 0'
            in problems_of('[[source]]\nname = "a"\nurl = "https://example.org/"\n'
                           'kind = "feed"\ndeadline = 0\n'))


# -- the processes --------------------------------------------------------------------


def clock_env(sqlite_url, tmp_path, upstream, **settings) -> dict[str, str]:
    path = tmp_path / "sources.toml"
    path.write_text(
        f'[[source]]\nname = "trickler"\nurl = "{upstream.url("/trickle.json")}"\n'
        'kind = "records"\nallow_private = true\n',
        encoding="utf-8",
    )
    return {**os.environ, "DATABASE_URL": sqlite_url, "SOURCES_FILE": str(path),
            "SOURCES_CACHE_PATH": str(tmp_path / "cache.sqlite3"), "REDIS_URL": "",
            "LOG_LEVEL": "WARNING", **settings}


@pytest.mark.slow
def test_the_clock_process_stops_within_seconds_while_an_upstream_trickles(
        sqlite_url, tmp_path, upstream):
    upstream.serve("/trickle.json", b"", trickle=1)
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "sync", "--loop"], cwd=ROOT,
        env=clock_env(sqlite_url, tmp_path, upstream, LOG_LEVEL="INFO"),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    output = Lines(process)
    try:
        deadline = time.monotonic() + 30
        while not upstream.seen_at("/trickle.json"):
            assert time.monotonic() < deadline, output.lines
            time.sleep(0.05)
        time.sleep(2)  # well into the body
        process.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            raise AssertionError("still running 10 s after SIGTERM") from None
        took = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    lines = output.all()
    assert process.returncode == 0, lines
    assert took < 2, f"{took:.2f} s after SIGTERM"
    # The clock's lines are JSON log lines: the start, and no report of the cut-off pull.
    messages = [json.loads(line)["message"] for line in lines]
    assert messages == ["syncing 1 source(s) on their intervals; SIGTERM stops"], lines
    engine = create_engine(sqlite_url)
    assert SourceStates(engine).get("trickler") is None  # pulled again on the next run
    engine.dispose()


@pytest.mark.slow
def test_a_one_shot_sync_names_the_deadline_it_ran_into(sqlite_url, tmp_path, upstream):
    upstream.serve("/trickle.json", b"", trickle=1)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", "sync"], cwd=ROOT,
            env=clock_env(sqlite_url, tmp_path, upstream, SOURCES_FETCH_DEADLINE="2"),
            capture_output=True, text=True, timeout=30,
        )
    except subprocess.TimeoutExpired:
        raise AssertionError("sync still running after 30 s") from None
    assert result.returncode == 1
    assert result.stdout == ("trickler: failed (no complete answer within 2 s (the fetch "
                             "deadline)); 0 added, 0 updated, 0 unchanged, 0 invalid\n")
