"""The story store: SQLAlchemy over SQLite (default) or PostgreSQL.

It takes and returns model objects, never HTTP. Every write is one transaction that also
bumps the version of each topic it touched, and announces the change through the
`stories_changed` signal once it is committed.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterable, Iterator, Sequence

import blinker
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from . import schema
from .errors import InvalidInput
from .model import (
    Story,
    Topic,
    story_from_record,
    story_to_record,
    topic_from_record,
    topic_to_record,
)

# Sent after a committed write with `topics=frozenset(slugs)`: what caches and push
# notifications listen to. Writes made by other processes are seen through `version()`.
stories_changed = blinker.Namespace().signal("stories-changed")

CHUNK = 500


# Built once: every cached response asks for a version, and building the statement
# costs more than running it.
_STORIES_VERSION = sa.select(schema.counters.c.value).where(schema.counters.c.key == "stories")
_TOPIC_VERSION = sa.select(schema.topics.c.version).where(
    schema.topics.c.slug == sa.bindparam("slug")
)


class InvalidCursor(InvalidInput):
    """A paging cursor that this store did not make."""


@dataclass(frozen=True)
class StoredStory:
    story: Story
    first_seen: datetime
    written: datetime


@dataclass(frozen=True)
class StoryPage:
    stories: tuple[Story, ...]
    next_cursor: str | None  # older stories
    previous_cursor: str | None  # newer stories


@dataclass(frozen=True)
class WriteResult:
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    topics: frozenset[str] = field(default_factory=frozenset)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.deleted or self.topics)


def database_url(url: str) -> str:
    """PaaS providers hand out `postgres://`; SQLAlchemy wants a dialect and driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def create_engine(url: str, **kwargs) -> Engine:
    url = database_url(url)
    if url.startswith("sqlite"):
        # Several gunicorn workers and the CLI share one file: wait for locks instead
        # of failing, and let readers run beside a writer.
        kwargs.setdefault("connect_args", {}).setdefault("timeout", 30)
        engine = sa.create_engine(url, **kwargs)

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return sa.create_engine(url, **kwargs)


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc).replace(tzinfo=None)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _dumps(record: dict) -> str:
    return json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _load_story(text: str) -> Story:
    return story_from_record(json.loads(text))


def _load_topic(text: str) -> Topic:
    return topic_from_record(json.loads(text))


def encode_cursor(direction: str, published: datetime, story_id: str) -> str:
    # Rows come back naive, in UTC; astimezone would take them for local time.
    if published.tzinfo is None:
        published = published.replace(tzinfo=timezone.utc)
    raw = json.dumps([direction, _naive_utc(published).isoformat(), story_id])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


# A cursor we make is under 300 characters; refusing long ones first keeps decoding cheap
# and JSON nesting far below the recursion limit.
MAX_CURSOR = 1024


def decode_cursor(cursor: str) -> tuple[str, datetime, str]:
    """(direction, naive UTC `published`, story id) of a cursor `encode_cursor` made.

    Anything else is InvalidCursor, so that no stranger's bytes reach a query: an id the
    database cannot store (NUL, lone surrogates) or a value of the wrong type.
    """
    try:
        if len(cursor) > MAX_CURSOR:
            raise ValueError
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        direction, published, story_id = json.loads(raw)
        if (direction not in ("older", "newer") or not isinstance(published, str)
                or not isinstance(story_id, str) or not story_id.isprintable()):
            raise ValueError
        at = datetime.fromisoformat(published)
        if at.tzinfo is not None:
            raise ValueError
        return direction, at, story_id
    except (ValueError, TypeError, binascii.Error, RecursionError) as exc:
        raise InvalidCursor("cursor is not one this service made") from exc


def normalize_cursor(cursor: str) -> str:
    """The one spelling `encode_cursor` makes of what `cursor` says; InvalidCursor if it
    is not a cursor of ours."""
    return encode_cursor(*decode_cursor(cursor))


class StoryStore:
    def __init__(self, engine: Engine):
        self.engine = engine

    @classmethod
    def from_url(cls, url: str, **engine_kwargs) -> "StoryStore":
        return cls(create_engine(url, **engine_kwargs))

    # -- reading ---------------------------------------------------------------

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def get_story(self, story_id: str) -> Story | None:
        stored = self.get_stored(story_id)
        return stored.story if stored else None

    def get_stored(self, story_id: str) -> StoredStory | None:
        s = schema.stories
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(s.c.record, s.c.first_seen, s.c.written).where(s.c.id == story_id)
            ).first()
        if row is None:
            return None
        utc = timezone.utc
        return StoredStory(
            _load_story(row.record), row.first_seen.replace(tzinfo=utc), row.written.replace(tzinfo=utc)
        )

    def get_topic(self, slug: str) -> Topic | None:
        t = schema.topics
        with self.engine.connect() as conn:
            text = conn.execute(sa.select(t.c.record).where(t.c.slug == slug)).scalar()
        return _load_topic(text) if text is not None else None

    def list_topics(self) -> list[Topic]:
        t = schema.topics
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.c.record).order_by(t.c.slug)).scalars().all()
        return sorted((_load_topic(r) for r in rows), key=lambda topic: topic.title.lower())

    def count_stories(self, topic: str | None = None) -> int:
        if topic is None:
            query = sa.select(sa.func.count()).select_from(schema.stories)
        else:
            st = schema.story_topics
            query = sa.select(sa.func.count()).select_from(st).where(st.c.topic == topic)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one()

    def version(self, topic: str | None = None) -> int:
        """A number that changes whenever the topic (or, without one, anything) changes."""
        with self.engine.connect() as conn:
            if topic is None:
                value = conn.execute(_STORIES_VERSION).scalar()
            else:
                value = conn.execute(_TOPIC_VERSION, {"slug": topic}).scalar()
        return value or 0

    def is_story_position(self, topic: str | None, cursor: str | None) -> bool:
        """Whether `cursor` points at a story of `topic` (or of any), as the pages' own
        cursors do; a made-up position between stories is not one.

        Keyset paging answers from any position, but a cache should keep only these pages:
        a key per made-up position would let anyone grow it without end.
        """
        if cursor is None:
            return True
        _direction, at, story_id = decode_cursor(cursor)
        story = self.get_story(story_id)
        return (story is not None and (topic is None or topic in story.topics)
                and _naive_utc(story.published) == at)

    def latest(self, topic: str | None = None, limit: int = 50, cursor: str | None = None,
               keep: Callable[[Story], bool] | None = None) -> StoryPage:
        """Newest first by `published` (then id), `limit` at a time, keyset paged.

        With `keep`, only the stories it accepts count (a podcast's episodes among a
        topic's stories): the page still holds `limit` of them, and its cursors point at
        the first and last one shown, so page 100 still costs a few keyset reads.
        """
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if keep is not None:
            return self._latest_kept(topic, limit, cursor, keep)
        s, st = schema.stories, schema.story_topics
        if topic is None:
            published_col, id_col = s.c.published, s.c.id
            query = sa.select(s.c.record, s.c.published, s.c.id)
        else:
            published_col, id_col = st.c.published, st.c.story_id
            query = (
                sa.select(s.c.record, st.c.published, st.c.story_id)
                .join(s, s.c.id == st.c.story_id)
                .where(st.c.topic == topic)
            )
        direction = "older"
        if cursor:
            direction, at_published, at_id = decode_cursor(cursor)
            key = sa.tuple_(published_col, id_col)
            at = sa.tuple_(sa.literal(at_published, sa.DateTime()), sa.literal(at_id))
            query = query.where(key < at if direction == "older" else key > at)
        if direction == "older":
            query = query.order_by(published_col.desc(), id_col.desc())
        else:
            query = query.order_by(published_col.asc(), id_col.asc())
        with self.engine.connect() as conn:
            rows = conn.execute(query.limit(limit + 1)).all()
        more = len(rows) > limit
        rows = rows[:limit]
        if direction == "newer":
            rows.reverse()
        stories = tuple(_load_story(r[0]) for r in rows)
        if not rows:
            return StoryPage((), None, None)
        first, last = rows[0], rows[-1]
        has_older = more if direction == "older" else True
        has_newer = bool(cursor) if direction == "older" else more
        return StoryPage(
            stories,
            encode_cursor("older", last[1], last[2]) if has_older else None,
            encode_cursor("newer", first[1], first[2]) if has_newer else None,
        )

    def _latest_kept(self, topic: str | None, limit: int, cursor: str | None,
                     keep: Callable[[Story], bool]) -> StoryPage:
        direction = decode_cursor(cursor)[0] if cursor else "older"
        batch = min(max(2 * limit, 20), 1000)
        found: list[Story] = []
        at = cursor
        while len(found) <= limit:
            page = self.latest(topic, limit=batch, cursor=at)
            kept = [s for s in page.stories if keep(s)]
            if direction == "older":
                found.extend(kept)
                at = page.next_cursor
            else:  # walking towards newer stories: each batch is newer than the last
                found[:0] = kept
                at = page.previous_cursor
            if at is None:
                break
        more = len(found) > limit
        stories = found[:limit] if direction == "older" else found[-limit:]
        if not stories:
            return StoryPage((), None, None)
        first, last = stories[0], stories[-1]
        has_older = more if direction == "older" else True
        has_newer = bool(cursor) if direction == "older" else more
        return StoryPage(
            tuple(stories),
            encode_cursor("older", last.published, last.id) if has_older else None,
            encode_cursor("newer", first.published, first.id) if has_newer else None,
        )

    def iter_stories(self, topic: str | None = None, batch: int = 500) -> Iterator[Story]:
        """Every story (of a topic), newest first, read a page at a time."""
        cursor = None
        while True:
            page = self.latest(topic, limit=batch, cursor=cursor)
            yield from page.stories
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    # -- writing ---------------------------------------------------------------

    def write(self, stories: Iterable[Story] = (), topics: Iterable[Topic] = ()) -> WriteResult:
        """Upsert topics and stories in one transaction; all or nothing."""
        by_id: dict[str, Story] = {}
        for story in stories:
            by_id[story.id] = story  # the last of duplicates wins, as in a replay
        described = {t.slug: t for t in topics}
        with self.engine.begin() as conn:
            rewritten_topics = self._write_topics(conn, described)
            added, updated, unchanged, story_topics = self._write_stories(conn, by_id)
            changed_topics = rewritten_topics | story_topics
            self._create_named_topics(conn, {slug for s in by_id.values() for slug in s.topics})
            # Every feed names the topics of its stories by title, whichever topic the feed
            # is about: a topic's record changing changes every topic's feeds.
            self._bump(conn, changed_topics, bool(added or updated or changed_topics),
                       every_topic=bool(rewritten_topics))
        result = WriteResult(
            tuple(added), tuple(updated), tuple(unchanged), (), frozenset(changed_topics)
        )
        if result.changed:
            stories_changed.send(self, topics=result.topics)
        return result

    def delete_story(self, story_id: str) -> WriteResult:
        s, st = schema.stories, schema.story_topics
        with self.engine.begin() as conn:
            slugs = set(conn.execute(sa.select(st.c.topic).where(st.c.story_id == story_id)).scalars())
            conn.execute(st.delete().where(st.c.story_id == story_id))
            deleted = conn.execute(s.delete().where(s.c.id == story_id)).rowcount
            if deleted:
                self._bump(conn, slugs, True)
        if not deleted:
            return WriteResult()
        result = WriteResult(deleted=(story_id,), topics=frozenset(slugs))
        stories_changed.send(self, topics=result.topics)
        return result

    def _write_topics(self, conn: Connection, described: dict[str, Topic]) -> set[str]:
        t = schema.topics
        changed: set[str] = set()
        if not described:
            return changed
        existing = dict(
            conn.execute(sa.select(t.c.slug, t.c.record).where(t.c.slug.in_(described))).all()
        )
        for slug, topic in described.items():
            record = _dumps(topic_to_record(topic))
            if slug not in existing:
                conn.execute(t.insert().values(slug=slug, record=record, described=True, version=0))
            elif existing[slug] != record:
                conn.execute(
                    t.update().where(t.c.slug == slug).values(record=record, described=True)
                )
            else:
                continue
            changed.add(slug)
        return changed

    def _write_stories(self, conn: Connection, by_id: dict[str, Story]):
        s, st = schema.stories, schema.story_topics
        existing: dict[str, str] = {}
        ids = list(by_id)
        for i in range(0, len(ids), CHUNK):
            chunk = ids[i:i + CHUNK]
            existing.update(conn.execute(sa.select(s.c.id, s.c.record).where(s.c.id.in_(chunk))).all())
        now = _now()
        added, updated, unchanged = [], [], []
        inserts, updates, links = [], [], []
        changed_topics: set[str] = set()
        for story_id, story in by_id.items():
            record = _dumps(story_to_record(story))
            old = existing.get(story_id)
            if old == record:
                unchanged.append(story_id)
                continue
            row = {
                "published": _naive_utc(story.published),
                "updated": _naive_utc(story.updated),
                "written": now,
                "record": record,
            }
            if old is None:
                added.append(story_id)
                inserts.append({"id": story_id, "first_seen": now, **row})
            else:
                updated.append(story_id)
                updates.append({"b_id": story_id, **row})
                changed_topics.update(json.loads(old).get("topics", ()))
            changed_topics.update(story.topics)
            links.extend(
                {"topic": slug, "story_id": story_id, "published": row["published"]}
                for slug in story.topics
            )
        if updates:
            for i in range(0, len(updated), CHUNK):
                conn.execute(st.delete().where(st.c.story_id.in_(updated[i:i + CHUNK])))
            conn.execute(
                s.update().where(s.c.id == sa.bindparam("b_id")).values(
                    published=sa.bindparam("published"),
                    updated=sa.bindparam("updated"),
                    written=sa.bindparam("written"),
                    record=sa.bindparam("record"),
                ),
                updates,
            )
        if inserts:
            conn.execute(s.insert(), inserts)
        if links:
            conn.execute(st.insert(), links)
        return added, updated, unchanged, changed_topics

    def _create_named_topics(self, conn: Connection, slugs: set[str]) -> None:
        if not slugs:
            return
        t = schema.topics
        known = set(conn.execute(sa.select(t.c.slug).where(t.c.slug.in_(slugs))).scalars())
        missing = sorted(slugs - known)
        if missing:
            conn.execute(t.insert(), [
                {"slug": slug, "record": _dumps(topic_to_record(Topic.from_slug(slug))),
                 "described": False, "version": 0}
                for slug in missing
            ])

    def _bump(self, conn: Connection, slugs: Sequence[str] | set[str], any_change: bool,
              every_topic: bool = False) -> None:
        """Bump the versions of `slugs` (of every topic with `every_topic`), and with
        `any_change` the store's. A topic's version is that of everything its feeds show."""
        t = schema.topics
        if every_topic:
            conn.execute(t.update().values(version=t.c.version + 1))
        elif slugs:
            conn.execute(
                t.update().where(t.c.slug.in_(sorted(slugs))).values(version=t.c.version + 1)
            )
        if any_change:
            c = schema.counters
            conn.execute(c.update().where(c.c.key == "stories").values(value=c.c.value + 1))
