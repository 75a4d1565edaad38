"""The cold-render benchmark's baseline writes exactly the feed we render.

`bench.feeds` times our podcast feed against feedgen alone (and the thinnest use of it)
writing the same document from values read back from ours; if the two ever differ, the
ratio compares different work.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import feeds
from bench.feeds import LINKS, bench_topic, feed_values, feedgen_alone, make_story, story_body, thinnest
from feeds import PROCESS_MEMOS, Paging, render_podcast_feed
from feeds.extensions import ITUNES_NS
from stories.store import StoryPage

from .feeds_support import newest_first, sample_batch


def sample_feed() -> bytes:
    # The sample has every Podcasting 2.0 tag we write: people, soundbites, chapters,
    # transcripts, alternate enclosures with their sources, seasons and episodes.
    batch = sample_batch()
    return render_podcast_feed(batch.topics[0], StoryPage(tuple(newest_first(batch.stories)), None, None),
                               LINKS, Paging(limit=50))


def bench_feed(bodies: bool = False) -> bytes:
    stories = tuple(make_story(i, story_body(i) if bodies else "") for i in range(50, 0, -1))
    return render_podcast_feed(bench_topic(), StoryPage(stories, "next", None), LINKS, Paging(limit=50))


def bench_feed_with_bodies() -> bytes:
    return bench_feed(bodies=True)


@pytest.mark.parametrize("baseline", [feedgen_alone, thinnest])
@pytest.mark.parametrize("render", [sample_feed, bench_feed, bench_feed_with_bodies])
def test_the_baselines_write_our_podcast_feed_byte_for_byte(render, baseline):
    ours = render()
    values = feed_values(ours)
    assert len(values.items) == ours.count(b"<item>") > 0
    assert baseline(values) == ours


def test_feedgen_alone_writes_itunes_tags_with_feedgens_own_methods():
    """What makes it feedgen's own time: no itunes: tag it can write is handed ready-made."""
    itunes = f"{{{ITUNES_NS}}}"
    channel, items, left = set(), set(), set()
    for render in (sample_feed, bench_feed):
        values = feed_values(render())
        channel |= values.channel_itunes.keys()
        items |= set().union(*(item.itunes for item in values.items))
        left |= {tag.tag for tag in values.channel_rest} | {tag.tag for item in values.items for tag in item.rest}
    assert {tag for tag in left if tag.startswith(itunes)} == {itunes + "image", itunes + "explicit"}
    assert {"author", "category", "owner", "type"} <= channel
    assert {"author", "duration", "episodeType", "episode"} <= items


def test_a_first_render_gives_the_bytes_of_a_later_one():
    """The benchmark's first render empties the memos; what they hold only saves time."""
    for render in (sample_feed, bench_feed_with_bodies):
        later = render()
        for memo in PROCESS_MEMOS:
            memo.cache_clear()
        assert render() == later


def test_the_first_render_empties_every_memo_of_the_feeds():
    """A memo left out of PROCESS_MEMOS would make the first render look cheaper than a
    new process's is."""
    memos = {name: obj for module in (importlib.import_module(f"feeds.{info.name}")
                                      for info in pkgutil.iter_modules(feeds.__path__))
             for name, obj in vars(module).items()
             if hasattr(obj, "cache_clear") and obj.__module__ == module.__name__}  # not urlsplit's
    assert "podcast_guid" in memos and "_known_http_url" in memos
    assert [name for name, memo in memos.items() if memo not in PROCESS_MEMOS] == []
