"""Redis over TLS as Heroku provides it: `rediss://`, a self-signed certificate, a password,
and REDIS_URL set by the platform. Against a redis-server of the test's own serving TLS
only. REDIS_TLS_VERIFY=off makes every client storyfeed has (render cache, change
notices, the HTTP cache of `sync`) accept the certificate; left on, start-up stops with a
message naming the setting instead of the service running without its shared cache."""

from __future__ import annotations

import json
import shutil
import time

import pytest
import redis

from serving.state import app_state
from stories.errors import SettingsError
from stories.validate import parse_story

from .conftest import make_app, story_record
from .servers import RedisServer

PASSWORD = "tls-test-password-7f3a"
PREFIX = "tls-test:"
FEED = "/topics/north-korean-defectors/rss.xml"

pytestmark = pytest.mark.slow  # a redis-server of the test's own


@pytest.fixture
def tls_redis(tmp_path):
    if shutil.which("redis-server") is None or shutil.which("openssl") is None:
        pytest.skip("redis-server or openssl is not installed")
    server = RedisServer(tmp_path, tls=True, password=PASSWORD)
    server.start()
    yield server
    server.stop()


def peek(server: RedisServer) -> redis.Redis:
    """The test's own look into the server, accepting its certificate."""
    return redis.Redis.from_url(server.url, ssl_cert_reqs="none")


def test_render_cache_and_change_notices_over_tls_with_verify_off(tls_redis, sqlite_url):
    config = {"REDIS_URL": tls_redis.url, "REDIS_TLS_VERIFY": "off", "REDIS_PREFIX": PREFIX,
              "VERSION_MEMO_SECONDS": "3600"}
    one, other = make_app(sqlite_url, **config), make_app(sqlite_url, **config)
    try:
        assert one.test_cli_runner().invoke(args=["stories", "sample"]).exit_code == 0
        first = one.test_client().get(FEED)
        shared = other.test_client().get(FEED)
        assert first.status_code == shared.status_code == 200
        assert first.headers["ETag"] == shared.headers["ETag"]
        # Rendered once, by the first app; the other had it from Redis, over TLS.
        assert int(peek(tls_redis).get(f"{PREFIX}stats:renders")) == 1
        assert app_state(one).render_cache.status() == "redis"

        # A write in one process is announced, over TLS, to the other (whose own memory
        # of the store's version would hold for an hour).
        app_state(one).store.write([parse_story(story_record(
            id="2024", title="Heard over TLS", topics=["north-korean-defectors"]))[0]])
        deadline = time.monotonic() + 5
        while b"Heard over TLS" not in other.test_client().get(FEED).data:
            assert time.monotonic() < deadline, "the change notice never arrived"
            time.sleep(0.05)
    finally:
        for app in (one, other):
            app_state(app).store.engine.dispose()


def test_sync_caches_upstream_documents_in_redis_over_tls(tls_redis, sqlite_url, tmp_path, upstream):
    upstream.serve("/stories.json", json.dumps([story_record(id="1001", topics=["world"])]))
    sources = tmp_path / "sources.toml"
    sources.write_text(f'[[source]]\nname = "newsroom"\nurl = "{upstream.url("/stories.json")}"\n'
                       'kind = "records"\nallow_private = true\n', encoding="utf-8")
    app = make_app(sqlite_url, SOURCES_FILE=str(sources), SOURCES_RETRIES="0",
                   REDIS_URL=tls_redis.url, REDIS_TLS_VERIFY="off", REDIS_PREFIX=PREFIX)
    try:
        runner = app.test_cli_runner()
        first = runner.invoke(args=["sync"])
        assert first.exit_code == 0 and first.output.startswith("newsroom: fetched; 1 added"), first.output
        again = runner.invoke(args=["sync"])
        assert again.exit_code == 0 and again.output.startswith("newsroom: not modified"), again.output
        assert upstream.statuses("/stories.json") == [200, 304]  # the validators were in Redis
        assert list(peek(tls_redis).scan_iter(f"{PREFIX}http-cache*"))
    finally:
        app_state(app).store.engine.dispose()


def test_a_certificate_that_does_not_verify_stops_start_up_naming_the_setting(tls_redis, sqlite_url):
    with pytest.raises(SettingsError) as refused:
        make_app(sqlite_url, REDIS_URL=tls_redis.url)
    message = str(refused.value)
    assert "REDIS_TLS_VERIFY=off" in message and "certificate" in message
    assert PASSWORD not in message
