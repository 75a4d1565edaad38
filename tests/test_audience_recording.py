"""/media/ records audio fetches for the audience counts (web/media.py `count_fetch`,
audience/recorder.py): in memory, written in batches, the address hashed with the day's
salt and never stored, and never at the cost of a download."""

from __future__ import annotations

import datetime as dt
import time

import pytest
import redis
import sqlalchemy as sa

from audience.count import Fetch
from audience.listeners import listener_hash
from audience.recorder import FLUSH_AT, AudioFacts, Recorder
from audience.schema import audience_salts
from audience.store import count_stored, read_fetches, salt_for
from serving.state import app_state

from .audience_support import make_media
from .conftest import make_app

PODCASTS = "Podcasts/1650.20 CFNetwork/1404.0.5 Darwin/22.3.0"
LONG_SIZE = 450_334


@pytest.fixture
def media(tmp_path):
    folder = make_media(tmp_path / "media")
    (folder / "cover.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    return folder


def build(database_url, media, **config):
    config = {"MEDIA_DIR": str(media), "AUDIENCE_FLUSH_SECONDS": 3600, **config}
    app = make_app(database_url, **config)
    return app, app_state(app).area(Recorder)


def get(client, path="/media/long.mp3", address="192.0.2.1", **headers):
    headers.setdefault("User-Agent", PODCASTS)
    return client.get(path, headers=headers, environ_base={"REMOTE_ADDR": address})


def test_fetches_are_kept_in_memory_and_written_in_one_batch(database_url, media):
    app, recorder = build(database_url, media)
    client = app.test_client()
    engine = app_state(app).store.engine
    answers = [
        get(client),  # the whole file
        get(client, Range="bytes=0-99999"),
        get(client, Range="bytes=100000-"),
    ]
    assert [a.status_code for a in answers] == [200, 206, 206]
    assert recorder.buffered() == 3
    assert count_stored(engine) == 0  # no database write per request
    assert recorder.flush() == 3
    stored = list(read_fetches(engine))
    assert [(f.first, f.last, f.file_size) for f in stored] == [
        (0, LONG_SIZE - 1, LONG_SIZE), (0, 99_999, LONG_SIZE), (100_000, LONG_SIZE - 1, LONG_SIZE)]
    assert {(f.episode, f.user_agent, f.byte_rate, f.leading) for f in stored} == {
        ("long.mp3", PODCASTS, 4000, 1028)}


def test_what_can_never_count_is_not_kept(sqlite_url, media):
    app, recorder = build(sqlite_url, media)
    client = app.test_client()
    etag = get(client).headers["ETag"]
    recorder.flush()
    assert client.head("/media/long.mp3").status_code == 200
    assert get(client, Range="bytes=0-1").status_code == 206
    assert get(client, **{"If-None-Match": etag}).status_code == 304
    assert get(client, Range="bytes=999999999-").status_code == 416
    assert get(client, "/media/cover.jpg").status_code == 200
    assert get(client, "/media/missing.mp3").status_code == 404
    assert recorder.buffered() == 0


def test_the_listener_is_the_address_proxy_hops_trusts(sqlite_url, media):
    app, recorder = build(sqlite_url, media, PROXY_HOPS=1)
    client = app.test_client()
    for claimed in ("10.0.0.1", "10.0.0.2"):
        get(client, address="127.0.0.1", **{"X-Forwarded-For": f"{claimed}, 203.0.113.77"})
    recorder.flush()
    engine = app_state(app).store.engine
    salt = salt_for(engine, dt.datetime.now(dt.UTC).date())
    assert {f.listener for f in read_fetches(engine)} == {listener_hash("203.0.113.77", salt)}


def test_no_address_is_stored_in_the_database_or_redis(database_url, redis_url, media):
    addresses = ["198.51.100.23", "2001:db8:77:1::abcd", "2001:db8:77:1::1"]
    app, recorder = build(database_url, media, REDIS_URL=redis_url, REDIS_PREFIX="test-audience:",
                          PROXY_HOPS=1)
    client = app.test_client()
    for address in addresses:
        assert get(client, address="127.0.0.1", **{"X-Forwarded-For": address}).status_code == 200
        # A feed too, so that Redis holds what a run leaves there.
        client.get("/feeds/north-korean-defectors.rss")
    assert recorder.flush() == 3
    forms = {*addresses, "2001:db8:77:1::", "2001:db8:77:1::/64", "2001:0db8:0077:0001"}
    engine = app_state(app).store.engine
    found = []
    with engine.connect() as conn:
        for table in sa.inspect(engine).get_table_names():
            for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                text = " ".join(map(str, row))
                found += [(table, form) for form in forms if form in text]
    assert len(list(read_fetches(engine))) == 3
    server = redis.Redis.from_url(redis_url)
    for key in server.scan_iter(count=1000):
        kind = server.type(key).decode()
        values = {"string": lambda k: [server.get(k)], "list": lambda k: server.lrange(k, 0, -1),
                  "hash": lambda k: [*server.hgetall(k).keys(), *server.hgetall(k).values()],
                  "set": lambda k: list(server.smembers(k)),
                  "zset": lambda k: server.zrange(k, 0, -1)}.get(kind, lambda k: [])(key)
        text = b" ".join([key, *[v or b"" for v in values]]).decode("latin-1")
        found += [(key.decode("latin-1"), form) for form in forms if form in text]
    assert found == []


def test_a_store_that_is_down_still_serves_every_file(sqlite_url, media):
    app, recorder = build(sqlite_url, media)
    client = app.test_client()
    engine = app_state(app).store.engine
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE audience_salts"))
    answer = get(client)
    assert answer.status_code == 200 and len(answer.data) == LONG_SIZE
    assert recorder.buffered() == 0 and recorder.dropped == 1  # no salt: not kept
    assert get(client, Range="bytes=0-9").data == (media / "long.mp3").read_bytes()[:10]


def test_a_batch_the_store_refuses_waits_for_the_next_flush(sqlite_url, media):
    app, recorder = build(sqlite_url, media)
    client = app.test_client()
    engine = app_state(app).store.engine
    get(client)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE audience_fetches RENAME TO elsewhere"))
    assert get(client).status_code == 200
    assert recorder.flush() == 0 and recorder.buffered() == 2
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE elsewhere RENAME TO audience_fetches"))
    assert recorder.flush() == 2 and count_stored(engine) == 2


def test_the_batches_are_written_without_requests(sqlite_url, media):
    """A thread writes every AUDIENCE_FLUSH_SECONDS: a crash loses one interval at most."""
    app, recorder = build(sqlite_url, media, AUDIENCE_FLUSH_SECONDS=0.2)
    get(app.test_client())
    engine = app_state(app).store.engine
    deadline = time.monotonic() + 10
    while count_stored(engine) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert count_stored(engine) == 1 and recorder.buffered() == 0
    recorder.close()


def test_counting_off_keeps_nothing(sqlite_url, media):
    app = make_app(sqlite_url, MEDIA_DIR=str(media), AUDIENCE_COUNTING="off")
    assert get(app.test_client()).status_code == 200
    assert Recorder not in app_state(app).areas


def test_the_salt_changes_each_day_and_the_old_one_is_deleted(sqlite_url):
    app = make_app(sqlite_url)
    engine = app_state(app).store.engine
    days = iter([dt.datetime(2026, 3, 1, 23, 59), dt.datetime(2026, 3, 2, 0, 1)])
    recorder = Recorder(engine, 3600, clock=lambda: next(days))
    kept = []
    for _ in range(2):
        recorder.record(address="192.0.2.9", user_agent=PODCASTS, episode="a.mp3", method="GET", status=200,
                        first=0, last=9, file_size=10, facts=AudioFacts(None, 0))
        kept.append(recorder._buffer[-1])
    first, second = kept
    assert isinstance(first, Fetch) and first.listener != second.listener
    with engine.connect() as conn:
        assert [row.day for row in conn.execute(sa.select(audience_salts))] == [dt.date(2026, 3, 2)]


def test_a_full_batch_is_written_before_its_time(sqlite_url):
    """A busy worker writes at FLUSH_AT fetches: the bound is for a store that is down."""
    app = make_app(sqlite_url)
    engine = app_state(app).store.engine
    recorder = Recorder(engine, 3600)
    for n in range(FLUSH_AT):
        recorder.record(address=f"192.0.2.{n % 250}", user_agent=PODCASTS, episode="a.mp3", method="GET",
                        status=200, first=0, last=9, file_size=10, facts=AudioFacts(None, 0))
    deadline = time.monotonic() + 10
    while count_stored(engine) < FLUSH_AT and time.monotonic() < deadline:
        time.sleep(0.05)
    assert count_stored(engine) == FLUSH_AT
    recorder.close()
