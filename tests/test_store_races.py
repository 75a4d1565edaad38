"""Writers racing on one new story, one new topic, or one topic's stories, on every
backend: each writer has its own engine (as gunicorn workers and the CLI do), or they
come in as parallel requests to a real server. No writer may fail, and the store must
end consistent: the story's topic links match its record, every topic it ever named has
a new version."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests
import sqlalchemy as sa
from werkzeug.serving import make_server

from serving.state import app_state
from stories.model import Topic
from stories.store import StoryStore
from stories.validate import parse_story, parse_topic

from .conftest import make_app, story_record

WRITERS = 8
BASE = datetime(2024, 1, 1, tzinfo=UTC)


def race(database_url, work):
    """Run `work(store, i)` in WRITERS threads, each with its own store, started together;
    every outcome or exception, in writer order."""
    stores = [StoryStore.from_url(database_url) for _ in range(WRITERS)]
    for store in stores:
        store.ping()  # connect before the start, so the writes themselves collide
    start = threading.Barrier(WRITERS)

    def run(i):
        start.wait()
        try:
            return work(stores[i], i)
        except Exception as exc:  # the failure itself is what the test reports
            return exc

    try:
        with ThreadPoolExecutor(WRITERS) as pool:
            return list(pool.map(run, range(WRITERS)))
    finally:
        for store in stores:
            store.engine.dispose()


def assert_counts_are_the_links(store):
    """Each topic's kept number of stories is what its links say, after any race."""
    with store.engine.connect() as conn:
        linked = dict(conn.execute(sa.text("SELECT topic, count(*) FROM story_topics GROUP BY topic")).all())
    assert {slug: n for slug, n in store.story_counts().items() if n or slug in linked} == linked


def story(i, story_id="race", topics=None):
    record = story_record(id=story_id, title=f"Version {i}", topics=topics or [f"t{i}"])
    return parse_story(record)[0]


def test_parallel_writers_of_one_new_story(database_url):
    outcomes = race(database_url, lambda store, i: store.write([story(i)]))
    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert errors == []
    assert sum(len(o.added) for o in outcomes) == 1
    assert sum(len(o.updated) for o in outcomes) == WRITERS - 1

    store = StoryStore.from_url(database_url)
    try:
        stored = store.get_story("race")
        i = int(stored.title.split()[-1])
        assert stored == story(i)
        # The links are the winner's alone: no topic of a loser still lists the story.
        for j in range(WRITERS):
            ids = [s.id for s in store.latest(f"t{j}").stories]
            assert ids == (["race"] if j == i else [])
            assert store.version(f"t{j}") >= 1
        assert store.count_stories() == 1
        assert_counts_are_the_links(store)
        # And the next write is the last one, which stands.
        assert store.write([story(99)]).updated == ("race",)
        assert store.get_story("race") == story(99)
    finally:
        store.engine.dispose()


def test_parallel_writers_of_stories_naming_one_new_topic(database_url):
    def work(store, i):
        published = (BASE + timedelta(hours=i)).isoformat()
        record = story_record(id=f"s{i}", title=f"Story {i}", topics=["fresh"], published=published)
        return store.write([parse_story(record)[0]])

    outcomes = race(database_url, work)
    assert [o for o in outcomes if isinstance(o, Exception)] == []
    assert sorted(o.added[0] for o in outcomes) == [f"s{i}" for i in range(WRITERS)]
    store = StoryStore.from_url(database_url)
    try:
        assert store.get_topic("fresh") == Topic.from_slug("fresh")
        assert store.count_stories("fresh") == WRITERS
        assert store.version("fresh") == WRITERS  # each write moved it once
    finally:
        store.engine.dispose()


def test_parallel_writers_of_one_new_topic_description(database_url):
    def work(store, i):
        topic = parse_topic({"slug": "desk", "title": f"Desk {i}"})[0]
        # Half of them also write a story naming it, so topic rows are taken both ways.
        stories = [story(i, story_id=f"d{i}", topics=["desk"])] if i % 2 else []
        return store.write(stories, topics=[topic])

    outcomes = race(database_url, work)
    assert [o for o in outcomes if isinstance(o, Exception)] == []
    assert sum(len(o.added_topics) for o in outcomes) == 1
    store = StoryStore.from_url(database_url)
    try:
        assert store.get_topic("desk").title in {f"Desk {i}" for i in range(WRITERS)}
        assert store.count_stories("desk") == WRITERS // 2
    finally:
        store.engine.dispose()


def test_parallel_writers_and_deleters_of_overlapping_stories(database_url):
    """Writers of several stories in different orders, and deleters, sharing rows: the
    order in which rows are taken must be the same for all, or PostgreSQL deadlocks."""
    ids = [f"o{n}" for n in range(6)]

    def work(store, i):
        if i % 4 == 3:
            return store.delete_story(ids[i % len(ids)])
        order = ids[i % 3:] + ids[:i % 3]
        return store.write(
            [story(i, story_id=sid, topics=["shared", f"t{n}"]) for n, sid in enumerate(order)],
            topics=[Topic(slug="shared", title=f"Shared {i}")],
        )

    for _ in range(3):
        outcomes = race(database_url, work)
        assert [o for o in outcomes if isinstance(o, Exception)] == []
    store = StoryStore.from_url(database_url)
    try:
        stored = [s.id for s in store.latest("shared").stories]
        for sid in stored:
            assert set(store.get_story(sid).topics) >= {"shared"}
        for n in range(6):
            linked = [s.id for s in store.latest(f"t{n}").stories]
            for sid in linked:
                assert f"t{n}" in store.get_story(sid).topics
        assert_counts_are_the_links(store)
    finally:
        store.engine.dispose()


@pytest.fixture
def served(database_url):
    """The app behind a real threaded HTTP server on 127.0.0.1."""
    app = make_app(database_url, INGEST_TOKENS="race-token")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()
    app_state(app).store.engine.dispose()


def parallel(requests_to_send):
    start = threading.Barrier(len(requests_to_send))

    def send(args):
        method, url, body = args
        start.wait()
        return requests.request(method, url, json=body, timeout=60,
                                headers={"Authorization": "Bearer race-token"})

    with ThreadPoolExecutor(len(requests_to_send)) as pool:
        return list(pool.map(send, requests_to_send))


def test_parallel_puts_of_one_new_story_over_http(served):
    bodies = [story_record(id=None, title=f"Version {i}", topics=[f"t{i}"]) for i in range(WRITERS)]
    answers = parallel([("PUT", f"{served}/api/stories/race", body) for body in bodies])
    assert sorted(a.status_code for a in answers) == [200] * (WRITERS - 1) + [201]
    assert sorted(a.json()["result"] for a in answers) == ["added"] + ["updated"] * (WRITERS - 1)
    stored = requests.get(f"{served}/api/stories/race", timeout=10).json()["story"]
    assert stored["title"] in {f"Version {i}" for i in range(WRITERS)}
    winner = stored["topics"]
    for i in range(WRITERS):
        listed = requests.get(f"{served}/api/topics/t{i}/stories", timeout=10).json()["stories"]
        assert [s["id"] for s in listed] == (["race"] if [f"t{i}"] == winner else [])


def test_parallel_puts_of_stories_naming_one_new_topic_and_of_the_topic_over_http(served):
    sends = [("PUT", f"{served}/api/stories/n{i}",
              story_record(id=None, title=f"Story {i}", topics=["newdesk"])) for i in range(WRITERS)]
    sends += [("PUT", f"{served}/api/topics/newdesk", {"title": f"New desk {i}"}) for i in range(4)]
    answers = parallel(sends)
    assert [a.status_code for a in answers if a.status_code >= 300] == []
    # The topic may first be made by a story naming it; each title differs, so every PUT
    # of the topic adds or replaces it.
    topic_results = [a.json()["result"] for a in answers[WRITERS:]]
    assert topic_results.count("added") <= 1 and set(topic_results) <= {"added", "updated"}
    title = requests.get(f"{served}/topics/newdesk", timeout=10).text
    assert any(f"New desk {i}" in title for i in range(4))
    listed = requests.get(f"{served}/api/topics/newdesk/stories", timeout=10).json()["stories"]
    assert sorted(s["id"] for s in listed) == [f"n{i}" for i in range(WRITERS)]


def test_a_writer_waiting_on_a_known_story_holds_no_new_one(postgres_databases):
    """Story rows are taken in id order: a writer of [o0 (stored), o1 (new)] that waits
    for o0 must not already hold o1, or a writer that saw them the other way round
    (a delete between their reads) deadlocks with it. Two statements (insert the new,
    then update the stored) took o1 first; this sees that by inserting o1 beside it."""
    url, name = postgres_databases.create()
    store = StoryStore.from_url(url)
    try:
        store.write([story(0, story_id="o0")])
        with ThreadPoolExecutor(1) as pool, store.engine.connect() as holder:
            holder.begin()
            holder.execute(sa.text("SELECT id FROM stories WHERE id = 'o0' FOR UPDATE"))
            holder_pid = holder.execute(sa.text("SELECT pg_backend_pid()")).scalar()
            writing = pool.submit(store.write, [story(1, story_id="o0"), story(1, story_id="o1")])
            try:
                assert _blocks_someone(store, holder_pid), "the writer never waited for o0"
                held = _insert_would_wait(store, "o1")
            finally:
                holder.rollback()  # let the writer finish, whatever was found
            result = writing.result(timeout=30)
        assert not held, "the writer took o1 before it had o0"
        assert result.added == ("o1",) and result.updated == ("o0",)
    finally:
        store.engine.dispose()
        postgres_databases.drop(name)


def _blocks_someone(store, pid, seconds=10.0):
    """Whether another session comes to wait for a lock `pid` holds, within `seconds`."""
    deadline = time.monotonic() + seconds
    with store.engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(sa.text("SELECT count(*) FROM pg_stat_activity "
                                           "WHERE :pid = ANY(pg_blocking_pids(pid))"), {"pid": pid}).scalar()
            # pg_stat_activity is read once per transaction: without ending it, a writer
            # whose session began after the first look would never be seen waiting.
            conn.rollback()
            if waiting:
                return True
            time.sleep(0.02)
    return False


def _insert_would_wait(store, story_id):
    """Whether inserting `story_id` waits for another transaction (one that inserted it
    and has not committed): PostgreSQL gives up after lock_timeout."""
    with store.engine.connect() as conn:
        conn.begin()
        conn.execute(sa.text("SET LOCAL lock_timeout = '500ms'"))
        try:
            conn.execute(sa.text(
                "INSERT INTO stories (id, published, updated, first_seen, written, record) "
                "VALUES (:id, now(), now(), now(), now(), '{}') ON CONFLICT DO NOTHING"), {"id": story_id})
        except sa.exc.OperationalError:
            return True
        finally:
            conn.rollback()
    return False
