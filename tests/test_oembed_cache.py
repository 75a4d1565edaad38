"""The version cache keys carry: writes here are seen at once, others' within the TTL."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from serving.rendered import VersionMemo
from stories import schema
from stories.validate import parse_story

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
        self.answer = threading.Event()

    def version(self, topic=None):
        self.asked += 1
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
