"""Audience counting and its report under attack: hostile User-Agents, forwarded
addresses and ranges never fail a download nor grow what a process keeps beyond its
bound; hostile report parameters are a clear 4xx."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from audience.files import UNKNOWN
from audience.recorder import MAX_AGENT_CHARS, MAX_BUFFERED, Recorder
from serving.state import app_state

from ..conftest import migrated_sqlite
from .conftest import build_app, dispose
from .payloads import AUTH, HOSTILE_TEXT, SAMPLE_AUDIO, SLUG

MP3 = f"/media/{SLUG}/{SAMPLE_AUDIO}.mp3"


@pytest.fixture(scope="module")
def proxied_app(tmp_path_factory):
    app = build_app(migrated_sqlite(tmp_path_factory.mktemp("audience") / "a.sqlite3"), PROXY_HOPS=1,
                    AUDIENCE_FLUSH_SECONDS=3600)
    yield app
    dispose(app)


@pytest.fixture
def proxied(proxied_app):
    app_state(proxied_app).area(Recorder).flush()
    return proxied_app.test_client()


@pytest.mark.parametrize("agent", [*(value for _name, value in HOSTILE_TEXT if "\n" not in value),
                                   "A" * 8000, "\x00\x01", "Podcasts/1\x0bX"])
def test_a_hostile_user_agent_is_served_and_kept_short(proxied, agent):
    response = proxied.get(MP3, headers={"User-Agent": agent})
    assert response.status_code == 200
    recorder = app_state(proxied.application).area(Recorder)
    assert all(len(f.user_agent) <= MAX_AGENT_CHARS for f in recorder._buffer)


@pytest.mark.parametrize("forwarded", ["not-an-address", "", "999.1.1.1", "::1%eth0", "unix:/x",
                                       "1.2.3.4, " * 500, "[2001:db8::1]:443", "2001:db8::1/64"])
def test_a_hostile_forwarded_address_is_served(proxied, forwarded):
    response = proxied.get(MP3, headers={"X-Forwarded-For": forwarded, "User-Agent": "Pocket Casts"})
    assert response.status_code == 200


@pytest.mark.parametrize("byte_range", ["bytes=0-1", "bytes=-1", "bytes=0-", "bytes=99999999-",
                                        "bytes=5-2", "bytes=0-0,1-1", "items=0-1", "bytes=-0"])
def test_a_hostile_range_is_served_and_counted_as_what_was_sent(proxied, byte_range):
    response = proxied.get(MP3, headers={"Range": byte_range, "User-Agent": "Pocket Casts"})
    assert response.status_code in (200, 206, 416)
    recorder = app_state(proxied.application).area(Recorder)
    for fetch in recorder._buffer:
        assert 0 <= fetch.first <= fetch.last < fetch.file_size


def test_the_buffer_is_bounded_while_the_store_is_down(proxied_app):
    recorder = app_state(proxied_app).area(Recorder)
    recorder.flush()
    engine = app_state(proxied_app).store.engine
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE audience_fetches RENAME TO elsewhere"))
    try:
        template = dict(address="192.0.2.1", user_agent="x", episode="e.mp3", method="GET", status=200,
                        first=0, last=1, file_size=10, facts=UNKNOWN)
        for _ in range(MAX_BUFFERED + 10):
            recorder.record(**template)
        recorder.flush()  # refused: kept, within the bound
        assert recorder.buffered() == MAX_BUFFERED and recorder.dropped >= 10
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE elsewhere RENAME TO audience_fetches"))
        recorder._buffer.clear()


@pytest.mark.parametrize("query", [
    "from=2026-02-30", "from=9999-99-99", "to=yesterday", "from=%00", "from=" + "9" * 5000,
    "topic=" + "x" * 5000, "topic=%00", "topic=../../etc", "from=2026-03-02&to=2026-03-01",
])
def test_hostile_report_parameters_are_a_4xx(client, query):
    assert 400 <= client.get(f"/api/audience?{query}", headers=AUTH).status_code < 500


def test_the_report_needs_a_token(client):
    assert client.get("/api/audience").status_code == 401
    assert client.get("/api/audience", headers={"Authorization": "Bearer " + "x" * 5000}).status_code == 401
