"""Podcast feeds pick their episodes in the database: a topic of thousands of stories
without audio costs a podcast page what a page of episodes costs, on every backend."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from lxml import etree

from serving.state import app_state
from stories import migrate
from stories.model import Audio, Story, Topic, TopicImage, story_to_record
from stories.store import StoryStore, create_engine

from .conftest import make_app
from .feeds_support import NS

BASE = datetime(2020, 1, 1, tzinfo=UTC)
WITHOUT_AUDIO = 3_000
TOPIC = Topic("mixed", "Mixed", description="Few with audio.", owner_email="o@example.org",
              category="News", image=TopicImage("/media/art.png", 3000, 3000))


def episode(number: int, when: datetime) -> Story:
    audio = Audio(f"a{number}", f"https://media.example.org/{number}.mp3", "audio/mpeg", 1000, 60)
    return Story(f"e{number}", f"https://news.example/e{number}", f"Episode {number}", when, when,
                 topics=("mixed",), audio=(audio,))


def stories() -> tuple[list[Story], list[Story]]:
    """(every story, the episodes newest first): two old episodes, one in the middle of
    thousands of stories without audio, and stories whose audio no feed can enclose."""
    episodes = [episode(1, BASE), episode(2, BASE + timedelta(minutes=1)),
                episode(3, BASE + timedelta(minutes=2 + WITHOUT_AUDIO // 2))]
    others = []
    for i in range(WITHOUT_AUDIO):
        when = BASE + timedelta(minutes=2 + i)
        # Every tenth has audio without a length or not downloadable: not an episode.
        audio: tuple[Audio, ...] = ()
        if i % 10 == 0:
            audio = (Audio(f"n{i}", f"https://media.example.org/n{i}.mp3", "audio/mpeg", None, 60),)
        elif i % 10 == 5:
            audio = (Audio(f"n{i}", f"https://media.example.org/n{i}.mp3", "audio/mpeg", 9, 60,
                           downloadable=False),)
        others.append(Story(f"s{i:05d}", f"https://news.example/s{i:05d}", f"Story {i}", when, when,
                            topics=("mixed",), audio=audio))
    return episodes + others, episodes[::-1]


@pytest.fixture
def mixed_app(database_url):
    app = make_app(database_url)
    every, _ = stories()
    app_state(app).store.write(every, [TOPIC])
    yield app
    app_state(app).store.engine.dispose()


class Statements:
    """The statements an engine runs while counted, with their parameters."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self.sent: list[tuple[str, object]] = []

    def __enter__(self) -> Statements:
        sa.event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *_exc: object) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._record)

    def _record(self, _conn, _cursor, statement, parameters, _context, _executemany) -> None:
        self.sent.append((statement, parameters))


def items(body: bytes) -> tuple[list[str], str | None]:
    root = etree.fromstring(body)
    nxt = root.xpath("channel/atom:link[@rel='next']/@href", namespaces=NS)
    return root.xpath("channel/item/link/text()"), (nxt[0] if nxt else None)


def test_a_podcast_page_reads_its_episodes_not_the_topic(mixed_app):
    _, episodes = stories()
    client = mixed_app.test_client()
    engine = app_state(mixed_app).store.engine
    seen, url, requests = [], "/topics/mixed/podcast.xml?limit=1", 0
    with Statements(engine) as counted:
        while url:
            response = client.get(url.removeprefix("http://storyfeed.test"))
            assert response.status_code == 200, response.data[:300]
            page, url = items(response.data)
            seen += page
            requests += 1
    assert seen == [s.url for s in episodes]
    # A few statements a page (the topic, its version, the page), however many stories
    # without audio lie between two episodes: walking the topic took hundreds.
    assert len(counted.sent) <= 5 * requests, [s for s, _ in counted.sent][:10]


def test_the_episode_query_reads_only_the_rows_it_shows(mixed_app):
    store = app_state(mixed_app).store
    engine = store.engine
    with engine.begin() as conn:
        conn.execute(sa.text("ANALYZE"))
    with Statements(engine) as counted:
        page = store.latest("mixed", limit=2, episodes=True)
    assert [s.id for s in page.stories] == ["e3", "e2"]
    (statement, parameters), = [(s, p) for s, p in counted.sent if "has_audio" in s]
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            plan = conn.exec_driver_sql(
                "EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters).scalar_one()
            if isinstance(plan, str):
                plan = json.loads(plan)
            read = rows_read(plan[0]["Plan"], "story_topics")
            assert read <= 3, json.dumps(plan, indent=1)
            # The public read's access check (`stories.store._public`): the links of the
            # stories shown, one each here, not the topic's.
            access = rows_read(plan[0]["Plan"], "story_topics", alias="access_links")
            assert access <= 3, json.dumps(plan, indent=1)
        else:
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            text = " | ".join(row[-1] for row in plan)
            assert "ix_story_topics_topic_has_audio_published_story_id" in text, text
            assert "TEMP B-TREE" not in text, text  # no sort: the index gives the order


def rows_read(node: dict, table: str, alias: str | None = None) -> int:
    """Rows the plan's scans of `table` (under `alias`, or any other alias than the
    store's access check's) produced or threw away, over the whole plan."""
    read = 0
    if ((node.get("Relation Name") == table or node.get("Index Name", "").startswith(f"ix_{table}"))
            and (node.get("Alias") == alias if alias else node.get("Alias") != "access_links")):
        read += node.get("Actual Rows", 0) * node.get("Actual Loops", 1)
        read += node.get("Rows Removed by Filter", 0) + node.get("Rows Removed by Index Recheck", 0)
    return read + sum(rows_read(child, table, alias) for child in node.get("Plans", ()))


def test_an_update_moves_a_story_in_and_out_of_the_episodes(database_url):
    store = StoryStore.from_url(database_url)
    try:
        first = episode(1, BASE)
        store.write([first], [TOPIC])
        assert [s.id for s in store.latest("mixed", episodes=True).stories] == ["e1"]
        silent = Story(first.id, first.url, first.title, first.published, first.updated,
                       topics=first.topics)
        store.write([silent])
        assert store.latest("mixed", episodes=True).stories == ()
        store.write([first])
        assert [s.id for s in store.latest("mixed", episodes=True).stories] == ["e1"]
    finally:
        store.engine.dispose()


def test_the_migration_marks_the_episodes_already_stored(empty_database_url):
    engine = create_engine(empty_database_url)
    try:
        migrate.upgrade(engine, "0003_changed_at")
        every, episodes = stories()
        every = every[:40]
        when = datetime(2026, 1, 1)
        with engine.begin() as conn:
            for story in every:
                conn.execute(sa.text(
                    "INSERT INTO stories (id, published, updated, first_seen, written, record) "
                    "VALUES (:id, :at, :at, :at, :at, :record)"),
                    {"id": story.id, "at": story.published.replace(tzinfo=None),
                     "record": json.dumps(story_to_record(story), sort_keys=True,
                                          separators=(",", ":"))})
                conn.execute(sa.text(
                    "INSERT INTO story_topics (topic, story_id, published) VALUES ('mixed', :id, :at)"),
                    {"id": story.id, "at": story.published.replace(tzinfo=None)})
            conn.execute(sa.text(
                "INSERT INTO topics (slug, record, described, version, changed_at) "
                "VALUES ('mixed', :record, true, 1, :at)"),
                {"record": json.dumps({"slug": "mixed", "title": "Mixed"}), "at": when})
        migrate.upgrade(engine)
        store = StoryStore(engine)
        page = store.latest("mixed", episodes=True)
        assert [s.id for s in page.stories] == [s.id for s in episodes]
        assert store.story_counts() == {"mixed": 40}
    finally:
        engine.dispose()
