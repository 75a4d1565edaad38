"""The store on every backend: upsert, delete, ordering, cursors, topics, versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stories.store import InvalidCursor, stories_changed
from stories.validate import parse_story

from .conftest import story_record


def make(story_id: str, published: datetime, topics=("world",), **fields):
    record = story_record(
        id=story_id, published=published.isoformat(), topics=list(topics),
        audio=None, image=None, **fields,
    )
    return parse_story(record)[0]


BASE = datetime(2024, 1, 1, tzinfo=UTC)


def test_upsert_adds_updates_and_reports_unchanged(store):
    first = make("a", BASE)
    result = store.write([first])
    assert result.added == ("a",) and result.topics == {"world"}
    assert store.get_story("a") == first

    again = store.write([first])
    assert again.unchanged == ("a",) and not again.changed

    changed = make("a", BASE, title="A new title")
    result = store.write([changed])
    assert result.updated == ("a",)
    assert store.get_story("a").title == "A new title"


def test_first_seen_is_kept_across_updates(store):
    store.write([make("a", BASE)])
    seen = store.get_stored("a").first_seen
    store.write([make("a", BASE, title="Changed")])
    stored = store.get_stored("a")
    assert stored.first_seen == seen
    assert stored.written >= seen


def test_delete_removes_story_and_its_topic_links(store):
    store.write([make("a", BASE), make("b", BASE + timedelta(hours=1))])
    result = store.delete_story("a")
    assert result.deleted == ("a",) and result.topics == {"world"}
    assert store.get_story("a") is None
    assert [s.id for s in store.latest("world").stories] == ["b"]
    assert store.delete_story("a").deleted == ()


def test_named_topics_are_created_with_a_title_from_the_slug(store):
    store.write([make("a", BASE, topics=("north-korean-defectors",))])
    topic = store.get_topic("north-korean-defectors")
    assert topic.title == "North Korean Defectors"


def test_newest_first_with_limit_and_topic_filter(store):
    stories = [make(f"s{i:02d}", BASE + timedelta(days=i), topics=("even",) if i % 2 == 0 else ("odd",))
               for i in range(10)]
    store.write(stories)
    assert [s.id for s in store.latest(limit=3).stories] == ["s09", "s08", "s07"]
    assert [s.id for s in store.latest("even", limit=3).stories] == ["s08", "s06", "s04"]
    assert store.count_stories("odd") == 5
    assert store.count_stories() == 10


def test_same_published_time_is_ordered_by_id(store):
    store.write([make(i, BASE) for i in ("b", "a", "c")])
    assert [s.id for s in store.latest().stories] == ["c", "b", "a"]


@pytest.mark.parametrize("topic", [None, "world"])
def test_cursors_walk_every_story_once_both_ways(store, topic):
    # Ties in `published` across page boundaries are the case keyset paging gets wrong.
    stories = [make(f"s{i:03d}", BASE + timedelta(hours=i // 3)) for i in range(23)]
    store.write(stories)
    expected = [s.id for s in sorted(stories, key=lambda s: (s.published, s.id), reverse=True)]

    seen, pages, cursor = [], [], None
    while True:
        page = store.latest(topic, limit=5, cursor=cursor)
        pages.append(page)
        seen += [s.id for s in page.stories]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == expected
    assert pages[0].previous_cursor is None

    # Walking back with `previous` gives the same pages.
    back = store.latest(topic, limit=5, cursor=pages[2].previous_cursor)
    assert back.stories == pages[1].stories


def test_a_foreign_cursor_is_refused(store):
    with pytest.raises(InvalidCursor):
        store.latest(cursor="not-a-cursor")


def test_versions_change_with_every_write_to_the_topic(store):
    v_world, v_all = store.version("world"), store.version()
    store.write([make("a", BASE)])
    assert store.version("world") > v_world
    assert store.version() > v_all
    v_other = store.version("other")
    store.write([make("b", BASE, topics=("other",))])
    assert store.version("other") > v_other
    before = store.version("world")
    store.write([make("a", BASE)])  # unchanged
    assert store.version("world") == before


def test_moving_a_story_changes_both_topics(store):
    store.write([make("a", BASE, topics=("one",))])
    v_one = store.version("one")
    result = store.write([make("a", BASE, topics=("two",))])
    assert result.topics == {"one", "two"}
    assert store.version("one") > v_one
    assert store.latest("one").stories == ()


def test_writes_announce_the_topics_they_changed(store):
    received = []

    def listener(sender, topics):
        received.append(topics)

    stories_changed.connect(listener)
    try:
        store.write([make("a", BASE)])
        store.write([make("a", BASE)])  # unchanged: no signal
        store.delete_story("a")
    finally:
        stories_changed.disconnect(listener)
    assert received == [{"world"}, {"world"}]


def test_a_failed_write_leaves_the_store_unchanged(store):
    from stories.model import Topic

    store.write([make("a", BASE)])
    version = store.version()
    broken = make("b", BASE)
    object.__setattr__(broken, "published", "not a datetime")  # fails mid-transaction
    with pytest.raises(AttributeError):
        store.write([make("c", BASE), broken], topics=[Topic(slug="new", title="New")])
    assert store.get_story("c") is None
    assert store.get_topic("new") is None
    assert store.count_stories() == 1
    assert store.version() == version


# -- when things changed: what feeds send as Last-Modified ------------------------------------

def test_a_page_carries_when_what_it_shows_last_changed(store):
    store.write([make("old", BASE), make("new", BASE + timedelta(days=1))])
    first = store.latest("world")
    site = store.latest()
    assert first.changed_at is not None and first.changed_at.tzinfo == UTC
    assert first.changed_at == site.changed_at == store.get_stored("new").written

    store.write([make("old", BASE), make("new", BASE + timedelta(days=1))])  # unchanged
    assert store.latest("world").changed_at == first.changed_at

    store.write([make("old", BASE, title="Corrected")])  # an older story, lower on the page
    corrected = store.latest("world")
    assert corrected.changed_at > first.changed_at
    assert store.latest().changed_at == corrected.changed_at

    store.delete_story("new")
    assert store.latest("world").changed_at > corrected.changed_at


def test_a_topic_rename_moves_the_topics_that_show_its_title(store):
    from stories.model import Topic

    store.write([make("a", BASE, topics=("world", "asia")), make("b", BASE, topics=("europe",))])
    versions = {slug: store.version(slug) for slug in ("world", "asia", "europe")}
    changed = {slug: store.latest(slug).changed_at for slug in ("world", "asia", "europe")}
    result = store.write(topics=[Topic(slug="asia", title="Asia and the Pacific")])
    # "world" shows story a with the category "Asia and the Pacific" now.
    assert result.topics == {"asia", "world"}
    for slug in ("world", "asia"):
        assert store.version(slug) > versions[slug]
        assert store.latest(slug).changed_at > changed[slug]
    assert store.version("europe") == versions["europe"]
    assert store.latest("europe").changed_at == changed["europe"]


def test_topic_writes_report_what_they_created(store):
    from stories.model import Topic

    first = store.write(topics=[Topic(slug="desk", title="Desk")])
    assert first.added_topics == ("desk",) and first.topics == {"desk"}
    same = store.write(topics=[Topic(slug="desk", title="Desk")])
    assert same.added_topics == () and not same.changed
    renamed = store.write(topics=[Topic(slug="desk", title="The desk")])
    assert renamed.added_topics == () and renamed.topics == {"desk"}
    # A topic first made because a story named it is described later: not "added".
    store.write([make("a", BASE, topics=("named",))])
    described = store.write(topics=[Topic(slug="named", title="Named")])
    assert described.added_topics == () and described.topics == {"named"}


# -- keys and cursors that cannot be in the store --------------------------------------------

HOSTILE_KEYS = ["a\x00b", "\x00", "\ud800", "a" * 101, "A", "a b", "é", "../x", ""]


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_keys_no_record_can_have_are_simply_not_found(store, key):
    """PostgreSQL refuses NUL in text: such a key must not reach it."""
    store.write([make("a", BASE)])
    assert store.get_story(key) is None and store.get_stored(key) is None
    assert store.get_topic(key) is None
    assert store.delete_story(key) == store.delete_story("missing")
    assert store.latest(key).stories == () and store.version(key) == 0
    assert store.count_stories() == 1


def _cursor(raw: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("cursor", [
    _cursor(b"[" * 50_000 + b"]" * 50_000),
    _cursor(b'["older", "2024-01-01T00:00:00", "a\\u0000b"]'),
    _cursor(b'["older", "2024-01-01T00:00:00", "\\ud800"]'),
    _cursor(b'["older", "2024-01-01T00:00:00\\u0000", "a"]'),
    _cursor(b'["older", "2024-01-01T00:00:00\\ud800", "a"]'),
    _cursor(b'["older", "2024-01-01T00:00:00+05:00", "a"]'),
    _cursor(b'{"older": 1, "b": 2, "c": 3}'),
    _cursor(b'["older", ["2024"], "a"]'),
    _cursor(b'["older", "2024-01-01T00:00:00", "' + b"a" * 500 + b'"]'),
    _cursor(b"\xff\xfe"),
    "a" * 10_000,
    "\x00",
])
def test_hostile_cursors_are_refused_on_every_backend(store, cursor):
    store.write([make("a", BASE)])
    with pytest.raises(InvalidCursor):
        store.latest(cursor=cursor)
    with pytest.raises(InvalidCursor):
        store.latest("world", cursor=cursor)


def test_the_changed_at_migration_fills_existing_rows(database_url):
    """Down to 0002, a topic made then, and up again: every row has a change time."""
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    from stories import migrate, schema
    from stories.store import create_engine

    engine = create_engine(database_url)
    config = Config()
    config.set_main_option("script_location", str(migrate.MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0002_source_state")
        conn.execute(sa.text(
            "INSERT INTO topics (slug, record, described, version) VALUES ('t', '{}', true, 3)"))
    migrate.upgrade(engine)
    with engine.connect() as conn:
        topic_time = conn.execute(sa.select(schema.topics.c.changed_at)).scalar_one()
        store_time = conn.execute(sa.select(schema.counters.c.changed_at)).scalar_one()
    engine.dispose()
    assert topic_time is not None and store_time is not None


def test_each_topics_number_of_stories_follows_every_write(store):
    def write(story_id, topics, title="A story"):
        return store.write([parse_story(story_record(id=story_id, topics=topics, title=title))[0]])

    def counts():
        return {slug: n for slug, n in store.story_counts().items() if n}

    write("1", ["a"])
    write("2", ["a", "b"])
    write("3", ["b", "c"])
    assert counts() == {"a": 2, "b": 2, "c": 1}
    write("2", ["a", "b"])  # unchanged
    write("2", ["a", "b"], title="Changed")  # changed, same topics
    assert counts() == {"a": 2, "b": 2, "c": 1}
    write("3", ["c", "d"])  # moved from b to d
    assert counts() == {"a": 2, "b": 1, "c": 1, "d": 1}
    store.delete_story("2")
    store.delete_story("2")
    assert counts() == {"a": 1, "c": 1, "d": 1}
    store.write([parse_story(story_record(id=str(n), topics=["e"]))[0] for n in range(10, 60)])
    assert store.count_stories("e") == 50 and store.count_stories("nothing") == 0


def test_topic_titles_are_read_for_the_topics_named(store):
    store.write([make("1", BASE, topics=("world", "politics"))])
    assert store.topic_titles(["world", "world", "nothing", "bad\x00slug"]) == {"world": "World"}
    assert store.topic_titles([]) == {}
