"""The version cache keys carry: writes here are seen at once, others' within the TTL."""

from __future__ import annotations

import time

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
