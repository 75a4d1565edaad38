"""The version cache keys carry: writes here are seen at once, others' within the TTL."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from serving.rendered import VersionMemo
from stories import schema
from stories.validate import parse_story, parse_topic

from .conftest import story_record


def bump_as_another_process(store) -> None:
    """What a write by another process looks like from here: the counter moves, no signal."""
    c = schema.counters
    with store.engine.begin() as conn:
        conn.execute(c.update().where(c.c.key == "stories").values(value=c.c.value + 1))


def test_version_memo_sees_local_writes_at_once_and_others_after_the_ttl(store):
    memo = VersionMemo(store, ttl=0.2)
    first = memo.version()
    store.write([parse_story(story_record())[0]])  # signalled: forgotten at once
    second = memo.version()
    assert second == store.version() and second != first
    bump_as_another_process(store)
    assert memo.version() == second  # not yet: within the TTL
    time.sleep(0.25)
    assert memo.version() == store.version() == second + 1


class HeldStore:
    """The real store, whose version() waits until the test lets it answer, counting calls."""

    def __init__(self, store):
        self.store = store
        self.asked = 0
        self.topics_asked: list[str | None] = []
        self.answer = threading.Event()

    def version(self, topic=None):
        self.asked += 1
        self.topics_asked.append(topic)
        assert self.answer.wait(5), "the test never let the store answer"
        return self.store.version(topic)


def test_an_aged_version_is_asked_for_by_one_request_while_the_others_keep_it(store):
    held = HeldStore(store)
    memo = VersionMemo(held, ttl=0.05)
    held.answer.set()
    remembered = memo.version()
    bump_as_another_process(store)
    time.sleep(0.1)  # aged
    held.answer.clear()
    with ThreadPoolExecutor(1) as pool:
        asking = pool.submit(memo.version)
        while held.asked < 2:
            time.sleep(0.001)
        # The store is being asked: everyone else gets the remembered version at once.
        assert [memo.version() for _ in range(20)] == [remembered] * 20
        assert held.asked == 2
        held.answer.set()
        assert asking.result() == remembered + 1
    assert memo.version() == remembered + 1 and held.asked == 2


def test_a_version_asked_for_before_a_change_notice_is_not_kept(store):
    held = HeldStore(store)
    memo = VersionMemo(held, ttl=60)
    with ThreadPoolExecutor(1) as pool:
        asking = pool.submit(memo.version)
        while held.asked < 1:
            time.sleep(0.001)
        bump_as_another_process(store)
        memo.forget()  # what a change notice from another process does
        held.answer.set()
        asking.result()
    # Asked before the notice, that answer may predate the change: it was not kept.
    assert memo.version() == store.version() and held.asked == 2


def test_a_topic_is_asked_for_again_only_once_the_store_has_moved(store):
    """Polls of many topics: one query for the store's version per interval, not one per
    topic, until a write (here by another process: no signal, no notice) moves it."""
    topics = [f"topic-{n}" for n in range(20)]
    store.write([parse_story(story_record(id=str(1000 + n), topics=[topic]))[0]
                 for n, topic in enumerate(topics)])
    held = HeldStore(store)
    held.answer.set()
    # The interval is long enough for 20 topics' round trips on a loaded machine (at
    # 50 ms, PostgreSQL's took longer under load, and the store's version aged meanwhile).
    memo = VersionMemo(held, ttl=0.5)
    first = {topic: memo.version(topic) for topic in topics}
    assert held.topics_asked.count(None) == 1 and sorted(held.topics_asked[1:]) == sorted(topics)
    for _ in range(3):
        time.sleep(0.55)
        held.topics_asked.clear()
        assert {topic: memo.version(topic) for topic in topics} == first
        assert held.topics_asked == [None]  # the store's version alone
    # Another process retitles one topic's story: that topic, and only it, moves.
    another = type(store).from_url(str(store.engine.url.render_as_string(hide_password=False)))
    try:
        another.write([parse_story(story_record(id="1003", topics=["topic-3"], title="Retitled"))[0]])
    finally:
        another.engine.dispose()
    time.sleep(0.55)
    held.topics_asked.clear()
    now = {topic: memo.version(topic) for topic in topics}
    assert now == {**first, "topic-3": store.version("topic-3")} and now["topic-3"] != first["topic-3"]
    assert held.topics_asked[0] is None and sorted(held.topics_asked[1:]) == sorted(topics)
    held.topics_asked.clear()
    assert {topic: memo.version(topic) for topic in topics} == now and held.topics_asked == []


def test_every_write_that_moves_a_topic_moves_the_store(store):
    """What the memo relies on to skip asking for topics: no topic's version moves alone."""
    def versions():
        return store.version(), {slug: store.version(slug) for slug in ("world", "science", "arts")}

    writes = [
        lambda: store.write([parse_story(story_record())[0]]),  # added
        lambda: store.write([parse_story(story_record(title="Corrected"))[0]]),  # updated
        lambda: store.write([parse_story(story_record(topics=["science"]))[0]]),  # moved to another topic
        lambda: store.write(topics=[parse_topic({"slug": "science", "title": "Science!"})[0]]),
        lambda: store.write(topics=[parse_topic({"slug": "arts", "title": "Arts"})[0]]),  # new topic
        lambda: store.delete_story("1001"),
    ]
    for write in writes:
        (store_before, topics_before) = versions()
        write()
        (store_after, topics_after) = versions()
        assert topics_after != topics_before and store_after != store_before
