"""The golden request log replayed through real gunicorn and the app: what /media/ records
is what the log says was fetched, and counted it gives the golden answers.

The requests are sent now, not at the log's times: the recorded fetches are counted with
the log's times put back (line by line, in order: one worker writes them in the order it
answered), which is what the days of the golden answers need."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
import requests

from audience.agents import shipped_agents
from audience.count import count_downloads, fetched_bytes, per_app, per_day, per_episode
from audience.listeners import network_of
from audience.store import count_stored, read_fetches
from stories.store import create_engine

from .audience_support import fetch_of, golden_answers, golden_log, make_media, parse_time
from .servers import Gunicorn, flask_cli, service_env

pytestmark = pytest.mark.slow


@pytest.fixture
def served(sqlite_url, tmp_path):
    media = make_media(tmp_path / "media")
    env = service_env(DATABASE_URL=sqlite_url, MEDIA_DIR=str(media), PROXY_HOPS="1",
                      AUDIENCE_FLUSH_SECONDS="0.2")
    assert flask_cli(env, "db", "upgrade").returncode == 0
    with Gunicorn(env, workers=1) as server:
        yield server


def replay(base: str, row: dict) -> int:
    url = f"{base}/media/{row['file']}"
    headers = {"User-Agent": row["user_agent"], "X-Forwarded-For": row.get("forwarded", row["client"])}
    if row["range"]:
        headers["Range"] = row["range"]
    if row["status"] == 304:
        headers["If-None-Match"] = requests.head(url, timeout=10).headers["ETag"]
    answer = requests.request(row["method"], url, headers=headers, timeout=30)
    if answer.status_code in (200, 206) and row["method"] == "GET":
        assert len(answer.content) == row["last"] - row["first"] + 1
    return answer.status_code


def test_the_golden_log_through_gunicorn_counts_the_golden_answers(served, sqlite_url):
    log = golden_log()
    assert [replay(served.base, row) for row in log] == [row["status"] for row in log]
    kept = [row for row in log if fetched_bytes(fetch_of(row))]
    engine = create_engine(sqlite_url)
    deadline = time.monotonic() + 20
    while count_stored(engine) < len(kept) and time.monotonic() < deadline:
        time.sleep(0.1)  # written by the worker's own thread, every 0.2 s
    stored = list(read_fetches(engine))
    engine.dispose()
    expected = [fetch_of(row) for row in kept]
    assert [(f.episode, f.method, f.status, f.first, f.last, f.file_size, f.byte_rate, f.leading, f.user_agent)
            for f in stored] == [
           (f.episode, f.method, f.status, f.first, f.last, f.file_size, f.byte_rate, f.leading, f.user_agent)
            for f in expected]
    # One listener per address (an IPv6 one's /64) that PROXY_HOPS trusts, and only that.
    for a, row_a in zip(stored, kept, strict=True):
        for b, row_b in zip(stored, kept, strict=True):
            assert (a.listener == b.listener) == (network_of(row_a["client"]) == network_of(row_b["client"]))
    downloads = count_downloads([replace(f, at=parse_time(row["at"])) for f, row in zip(stored, kept, strict=True)],
                                shipped_agents())
    answers = golden_answers()
    assert len(downloads) == answers["downloads"]
    assert {c.day.isoformat(): c.downloads for c in per_day(downloads)} == answers["days"]
    assert {c.episode: c.downloads for c in per_episode(downloads, {})} == answers["episodes"]
    assert {c.app: c.downloads for c in per_app(downloads)} == answers["apps"]
