"""The story store: SQLAlchemy over SQLite (default) or PostgreSQL.

It takes and returns model objects, never HTTP. Every write is one transaction that also
bumps the version (and the change time) of each topic it touched, and announces the
change through the `stories_changed` signal once it is committed.

Writes are upserts (`INSERT ... ON CONFLICT`), so writers racing on one new story or one
new topic never meet a unique-key violation: the last to commit wins. Rows are locked in
one order (stories by id, then topics by slug, then the store's counter) so that writers
sharing rows wait for each other instead of deadlocking.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import blinker
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from . import postgres, schema
from .errors import InvalidInput, Unavailable
from .model import (
    MEMBERS,
    Story,
    Topic,
    story_from_record,
    story_to_record,
    topic_from_record,
    topic_to_record,
)
from .moves import TopicMoves
from .postgres import Limits
from .validate import ID_RE, MAX_ID

# Sent after a committed write with `topics=frozenset(slugs)`: what caches and push
# notifications listen to. Writes made by other processes are seen through `version()`.
stories_changed = blinker.Namespace().signal("stories-changed")

_T = TypeVar("_T")

CHUNK = 500
MAX_CURSOR = 400  # characters; the cursors this store makes are about 100


# Built once: every cached response asks for a version, and building the statement
# costs more than running it.
_STORIES_VERSION = sa.select(schema.counters.c.value).where(schema.counters.c.key == "stories")
_TOPIC_VERSION = sa.select(schema.topics.c.version).where(
    schema.topics.c.slug == sa.bindparam("slug")
)


class InvalidCursor(InvalidInput):
    """A paging cursor that this store did not make."""


class StoreUnavailable(Unavailable):
    """The store does not answer now, and nothing it said before can stand in."""


# What the store's engine raises when it cannot answer now, whatever was asked: the
# server down or silent past its deadlines (`stories.postgres`), or no pooled connection
# to spare within the pool timeout.
STORE_UNAVAILABLE: tuple[type[Exception], ...] = (sa.exc.OperationalError, sa.exc.TimeoutError)


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
    # When anything the page shows last changed: its topic (or, for the whole site, the
    # store), which every write and delete of its stories touches. A feed's Last-Modified.
    changed_at: datetime | None = None


@dataclass(frozen=True)
class WriteResult:
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    topics: frozenset[str] = field(default_factory=frozenset)  # whose version moved
    added_topics: tuple[str, ...] = ()  # described topics this write created
    notices: tuple[str, ...] = ()  # what the write did that its writer may not expect

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.deleted or self.topics)


def database_url(url: str) -> str:
    """PaaS providers hand out `postgres://`; SQLAlchemy wants a dialect and driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def create_engine(url: str, limits: Limits | None = None, **kwargs: Any) -> Engine:
    """An engine for `url`; on PostgreSQL every wait bounded by `limits` (the defaults of
    `stories.postgres.Limits` when None)."""
    url = database_url(url)
    if url.startswith("sqlite"):
        # Several gunicorn workers and the CLI share one file: wait for locks instead
        # of failing, and let readers run beside a writer.
        kwargs.setdefault("connect_args", {}).setdefault("timeout", 30)
        engine = sa.create_engine(url, **kwargs)

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    engine = sa.create_engine(url, **kwargs)
    if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
        postgres.bound(engine, limits or Limits())
    return engine


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None else None


def _is_key(value: str) -> bool:
    """Whether `value` could be a story id or topic slug at all; anything else (NUL,
    surrogates, 10 KB of text) is not in the store, and PostgreSQL refuses some of it."""
    return isinstance(value, str) and len(value) <= MAX_ID and ID_RE.fullmatch(value) is not None


def _insert(conn: Connection, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
    """INSERT with the ON CONFLICT clauses of the connection's dialect."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _load_story(text: str) -> Story:
    return story_from_record(json.loads(text))


def _load_topic(text: str) -> Topic:
    return topic_from_record(json.loads(text))


def _public() -> sa.ColumnElement[bool]:
    """Whether the story (of `schema.stories`, in the query's FROM) is for anyone: neither
    it nor any topic it is in is members' only. Every read is public unless asked
    otherwise (`members=True`), so a surface that forgets to ask shows no member item."""
    s, st, t = schema.stories, schema.story_topics, schema.topics
    links, topics = st.alias("access_links"), t.alias("access_topics")
    in_member_topic = sa.exists().where(
        links.c.story_id == s.c.id, topics.c.slug == links.c.topic, topics.c.members == sa.true())
    return sa.and_(s.c.members == sa.false(), ~in_member_topic)


def encode_cursor(direction: str, published: datetime, story_id: str) -> str:
    # Rows come back naive, in UTC; astimezone would take them for local time.
    if published.tzinfo is None:
        published = published.replace(tzinfo=UTC)
    raw = json.dumps([direction, _naive_utc(published).isoformat(), story_id])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, datetime, str]:
    """(direction, naive UTC `published`, story id) of a cursor `encode_cursor` made.

    Anything else is InvalidCursor, so that no stranger's bytes reach a query: an id the
    database cannot store (NUL, lone surrogates) or a value of the wrong type.
    """
    try:
        if len(cursor) > MAX_CURSOR:
            raise ValueError("too long")
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        # A cursor this store made is a flat list: nothing in it can nest.
        if raw.count(b"[") > 1 or b"{" in raw:
            raise ValueError("nested")
        direction, published, story_id = json.loads(raw)
        if not isinstance(published, str):
            raise ValueError("not a cursor")
        at = datetime.fromisoformat(published)
        # Exactly as `encode_cursor` writes it: naive UTC in isoformat, nothing around it.
        if (direction not in ("older", "newer") or not _is_key(story_id) or at.tzinfo is not None
                or at.isoformat() != published):
            raise ValueError("not a cursor")
        return direction, at, story_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidCursor("cursor is not one this service made") from exc


def normalize_cursor(cursor: str) -> str:
    """The one spelling `encode_cursor` makes of what `cursor` says; InvalidCursor if it
    is not a cursor of ours."""
    return encode_cursor(*decode_cursor(cursor))


class StoryStore:
    def __init__(self, engine: Engine):
        self.engine = engine

    @classmethod
    def from_url(cls, url: str, limits: Limits | None = None, **engine_kwargs: Any) -> StoryStore:
        return cls(create_engine(url, limits, **engine_kwargs))

    # -- reading ---------------------------------------------------------------

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def get_story(self, story_id: str, *, members: bool = False) -> Story | None:
        """The story; a member story (`stories.model.MEMBERS`) only with `members`."""
        stored = self.get_stored(story_id, members=members)
        return stored.story if stored else None

    def get_stored(self, story_id: str, *, members: bool = False) -> StoredStory | None:
        if not _is_key(story_id):
            return None
        s = schema.stories
        query = sa.select(s.c.record, s.c.first_seen, s.c.written).where(s.c.id == story_id)
        if not members:
            query = query.where(_public())
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        utc = UTC
        return StoredStory(
            _load_story(row.record), row.first_seen.replace(tzinfo=utc), row.written.replace(tzinfo=utc)
        )

    def get_topic(self, slug: str, *, members: bool = False) -> Topic | None:
        """The topic; a members' only one only with `members`."""
        if not _is_key(slug):
            return None
        t = schema.topics
        query = sa.select(t.c.record).where(t.c.slug == slug)
        if not members:
            query = query.where(t.c.members == sa.false())
        with self.engine.connect() as conn:
            text = conn.execute(query).scalar()
        return _load_topic(text) if text is not None else None

    def topic_titles(self, slugs: Iterable[str]) -> dict[str, str]:
        """The titles of the topics named (those that exist): what a feed page's
        categories show, read for its stories' topics, not for every topic of the site."""
        wanted = sorted({slug for slug in slugs if _is_key(slug)})
        t = schema.topics
        titles: dict[str, str] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(wanted):
                for text in conn.execute(sa.select(t.c.record).where(t.c.slug.in_(chunk))).scalars():
                    topic = _load_topic(text)
                    titles[topic.slug] = topic.title
        return titles

    def list_topics(self, *, members: bool = False) -> list[Topic]:
        t = schema.topics
        query = sa.select(t.c.record).order_by(t.c.slug)
        if not members:
            query = query.where(t.c.members == sa.false())
        with self.engine.connect() as conn:
            rows = conn.execute(query).scalars().all()
        return sorted((_load_topic(r) for r in rows), key=lambda topic: topic.title.lower())

    def topic_moves(self) -> TopicMoves:
        """Every topic that moved (`moved_to`), old slug to new, and the podcast identity
        each renamed topic carries on."""
        t = schema.topics
        # One query for both (the index page and every page's moves read them): the rows
        # that moved (the LIKE, as in `_moves`) and those that carry another's identity.
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.c.record, t.c.slug, t.c.identity).where(
                t.c.record.like('%"moved_to":%') | t.c.identity.is_not(None))).all()
        moves = {}
        for record, _slug, _identity in rows:
            topic = _load_topic(record)
            if topic.moved_to:
                moves[topic.slug] = topic.moved_to
        return TopicMoves(moves, {slug: identity for _record, slug, identity in rows if identity})

    def _identities(self, conn: Connection) -> dict[str, str]:
        t = schema.topics
        return dict(conn.execute(
            sa.select(t.c.slug, t.c.identity).where(t.c.identity.is_not(None))).all())

    def _moves(self, conn: Connection) -> dict[str, str]:
        t = schema.topics
        # Records are written with sort_keys and no spaces, and leave out an empty
        # `moved_to`: the LIKE skips the unmoved topics without parsing them.
        rows = conn.execute(
            sa.select(t.c.record).where(t.c.record.like('%"moved_to":%'))
        ).scalars()
        topics = (_load_topic(text) for text in rows)
        return {topic.slug: topic.moved_to for topic in topics if topic.moved_to}

    def count_stories(self, topic: str | None = None) -> int:
        if topic is None:
            query = sa.select(sa.func.count()).select_from(schema.stories)
        else:
            t = schema.topics
            query = sa.select(t.c.stories).where(t.c.slug == topic)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar() or 0

    def story_counts(self, *, members: bool = False) -> dict[str, int]:
        """Every topic's number of stories; member stories only with `members` (`_public`).

        The number of all of them is kept by every write (one row a topic read, however
        many stories there are); the member stories are counted and taken off: those
        marked (`stories.members`, a scan of that table: 6 ms at 20,000 stories, a tenth
        of what `latest_by_topic` costs the same index page) and those of members' topics
        (story_topics' topic index). A kept count of public stories would have to move in
        every topic that shares a story with a topic whose access changes."""
        t, s, st = schema.topics, schema.stories, schema.story_topics
        if members:
            with self.engine.connect() as conn:
                return {slug: count for slug, count in conn.execute(sa.select(t.c.slug, t.c.stories))}
        access_topics = t.alias("access_topics")
        member_ids = sa.union(
            sa.select(s.c.id).where(s.c.members == sa.true()),
            sa.select(st.c.story_id).join(access_topics, access_topics.c.slug == st.c.topic)
            .where(access_topics.c.members == sa.true()),
        ).subquery()
        links = st.alias("member_links")
        member_counts = (
            sa.select(links.c.topic, sa.func.count().label("n"))
            .where(links.c.story_id.in_(sa.select(member_ids.c.id)))
            .group_by(links.c.topic).subquery()
        )
        query = sa.select(t.c.slug, t.c.stories - sa.func.coalesce(member_counts.c.n, 0)).outerjoin(
            member_counts, member_counts.c.topic == t.c.slug)
        with self.engine.connect() as conn:
            return {slug: count for slug, count in conn.execute(query)}

    def latest_by_topic(self, *, members: bool = False) -> dict[str, Story]:
        """Every topic's newest story (by `published`, then id) in one statement, for the
        index. Member stories only with `members` (`_public`).

        Per topic, a walk down the (topic, published, story_id) index that stops at the
        first story it may show: as many steps as topics, not a rank of every story (a
        window over all of story_topics took 105 ms on SQLite and 34 ms on PostgreSQL at
        20,000 stories; this, about a millisecond)."""
        s, st, t = schema.stories, schema.story_topics, schema.topics
        newest = (sa.select(st.c.story_id).where(st.c.topic == t.c.slug)
                  .order_by(st.c.published.desc(), st.c.story_id.desc()).limit(1))
        if not members:
            newest = newest.join(s, s.c.id == st.c.story_id).where(_public())
        latest = sa.select(t.c.slug.label("topic"), newest.scalar_subquery().label("story_id")).subquery()
        query = sa.select(latest.c.topic, s.c.record).join(s, s.c.id == latest.c.story_id)
        with self.engine.connect() as conn:
            return {topic: _load_story(record) for topic, record in conn.execute(query)}

    def version(self, topic: str | None = None) -> int:
        """A number that changes whenever the topic (or, without one, anything) changes."""
        if topic is not None and not _is_key(topic):
            return 0
        with self.engine.connect() as conn:
            if topic is None:
                value = conn.execute(_STORIES_VERSION).scalar()
            else:
                value = conn.execute(_TOPIC_VERSION, {"slug": topic}).scalar()
        return value or 0

    def is_story_position(self, topic: str | None, cursor: str | None, *,
                          members: bool = False) -> bool:
        """Whether `cursor` points at a story of `topic` (or of any), as the pages' own
        cursors do; a made-up position between stories is not one.

        Keyset paging answers from any position, but a cache should keep only these pages:
        a key per made-up position would let anyone grow it without end.
        """
        if cursor is None:
            return True
        _direction, at, story_id = decode_cursor(cursor)
        story = self.get_story(story_id, members=members)
        return (story is not None and (topic is None or topic in story.topics)
                and _naive_utc(story.published) == at)

    def latest(self, topic: str | None = None, limit: int = 50, cursor: str | None = None,
               episodes: bool = False, *, members: bool = False) -> StoryPage:
        """Newest first by `published` (then id), `limit` at a time, keyset paged.

        Member stories only with `members` (`_public`).

        With `episodes`, only the topic's stories that are podcast episodes
        (`Story.is_episode`) count: the database picks them by its index of them, so a
        page reads `limit` + 1 of them however many stories without audio lie between.
        """
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if episodes and topic is None:
            raise ValueError("episodes are a topic's")
        direction = "older"
        if cursor:
            direction, at_published, at_id = decode_cursor(cursor)
        if topic is not None and not _is_key(topic):
            return StoryPage((), None, None)
        s, st, t, c = schema.stories, schema.story_topics, schema.topics, schema.counters
        # Read in the same statement as the stories, so the time is that of what they show.
        if topic is None:
            changed_at = sa.select(c.c.changed_at).where(c.c.key == "stories").scalar_subquery()
            published_col, id_col = s.c.published, s.c.id
            query = sa.select(s.c.record, s.c.published, s.c.id, changed_at)
        else:
            changed_at = sa.select(t.c.changed_at).where(t.c.slug == topic).scalar_subquery()
            published_col, id_col = st.c.published, st.c.story_id
            query = (
                sa.select(s.c.record, st.c.published, st.c.story_id, changed_at)
                .join(s, s.c.id == st.c.story_id)
                .where(st.c.topic == topic)
            )
            if episodes:
                # An equality, not IS TRUE: the index (topic, has_audio, published,
                # story_id) then hands the rows over in the page's order.
                query = query.where(st.c.has_audio == sa.true())
        if not members:
            query = query.where(_public())
        if cursor:
            key = sa.tuple_(published_col, id_col)
            at = sa.tuple_(sa.literal(at_published, sa.DateTime()), sa.literal(at_id))
            query = query.where(key < at if direction == "older" else key > at)
        if direction == "older":
            query = query.order_by(published_col.desc(), id_col.desc())
        else:
            query = query.order_by(published_col.asc(), id_col.asc())
        with self.engine.connect() as conn:
            rows = list(conn.execute(query.limit(limit + 1)).all())
            if not rows:
                # An empty page still shows its topic as of its last change (a feed's
                # Last-Modified and lastBuildDate), not the epoch.
                return StoryPage((), None, None, _aware(conn.execute(sa.select(changed_at)).scalar()))
        more = len(rows) > limit
        rows = rows[:limit]
        if direction == "newer":
            rows.reverse()
        stories = tuple(_load_story(r[0]) for r in rows)
        first, last = rows[0], rows[-1]
        has_older = more if direction == "older" else True
        has_newer = bool(cursor) if direction == "older" else more
        return StoryPage(
            stories,
            encode_cursor("older", last[1], last[2]) if has_older else None,
            encode_cursor("newer", first[1], first[2]) if has_newer else None,
            _aware(first[3]),
        )

    def iter_stories(self, topic: str | None = None, batch: int = 500, *,
                     members: bool = False) -> Iterator[Story]:
        """Every story (of a topic), newest first, read a page at a time."""
        cursor = None
        while True:
            page = self.latest(topic, limit=batch, cursor=cursor, members=members)
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
        now = _now()
        with self.engine.begin() as conn:
            named = {slug for s in by_id.values() for slug in s.topics}
            # Before the stories land: a topic with none yet is renamed into, not merged into.
            storyless = self._storyless(conn, named | described.keys()
                                        | {t.moved_to for t in described.values() if t.moved_to})
            added, updated, unchanged, linked = self._write_stories(conn, by_id, now)
            touched = set(linked)
            touched |= self._sharing_topics(conn, described)
            moves_after, moved_now, moved = self._moves_after(conn, described)
            touched |= moved
            added_topics, changed_topics = self._write_topics(conn, described, named, touched, now,
                                                              linked)
            graph = (moves_after.moves if moves_after is not None
                     else self._moves(conn) if storyless or by_id else {})
            notices = self._record_identities(conn, graph, moved_now, storyless)
            notices += tuple(
                f"story {story.id!r} is in topic {slug!r}, which moved to {graph[slug]!r}: "
                f"it shows in {slug!r}'s feeds and pages only once the move is undone"
                for story in by_id.values() for slug in story.topics if slug in graph)
            if added or updated or changed_topics:
                self._bump_store(conn, now)
        result = WriteResult(
            tuple(added), tuple(updated), tuple(unchanged), (), frozenset(changed_topics),
            tuple(added_topics), notices,
        )
        if result.changed:
            stories_changed.send(self, topics=result.topics)
        return result

    def delete_story(self, story_id: str) -> WriteResult:
        if not _is_key(story_id):
            return WriteResult()
        s, st = schema.stories, schema.story_topics
        now = _now()
        with self.engine.begin() as conn:
            # The story's row first, as in a write, so both lock rows in the same order.
            record = conn.execute(
                s.delete().where(s.c.id == story_id).returning(s.c.record)
            ).scalar()
            if record is None:
                return WriteResult()
            conn.execute(st.delete().where(st.c.story_id == story_id))
            # Its links are one per topic of its record (the foreign key's cascade has
            # already deleted them, so they are counted from the record).
            slugs = set(json.loads(record).get("topics", ()))
            _, changed = self._write_topics(conn, {}, set(), slugs, now,
                                            Counter({slug: -1 for slug in slugs}))
            self._bump_store(conn, now)
        result = WriteResult(deleted=(story_id,), topics=frozenset(changed))
        stories_changed.send(self, topics=result.topics)
        return result

    def renew_topic(self, slug: str) -> bool:
        """Moves the topic's version (and the store's) without changing anything else:
        every render cached under the old version, in any process or in Redis, is no
        longer served (the desk's "purge"). `changed_at`, the feeds' Last-Modified, stays:
        nothing in them changed. False when there is no such topic."""
        if not _is_key(slug):
            return False
        t, c = schema.topics, schema.counters
        with self.engine.begin() as conn:
            done = conn.execute(t.update().where(t.c.slug == slug)
                                .values(version=t.c.version + 1).returning(t.c.slug)).first()
            if done is None:
                return False
            conn.execute(c.update().where(c.c.key == "stories").values(value=c.c.value + 1))
        stories_changed.send(self, topics=frozenset({slug}))
        return True

    def _write_stories(self, conn: Connection, by_id: dict[str, Story], now: datetime
                       ) -> tuple[list[str], list[str], list[str], Counter[str]]:
        """Insert new stories, update changed ones; returns the ids by outcome and the
        topics whose stories changed (before and after), each with the change in its
        number of stories (0 for one whose stories changed but not their number)."""
        s, st = schema.stories, schema.story_topics
        ids = sorted(by_id)
        existing: dict[str, str] = {}
        for chunk in _chunks(ids):
            existing.update(conn.execute(sa.select(s.c.id, s.c.record).where(s.c.id.in_(chunk))).all())
        rows = {}
        for story_id in ids:
            record = _dumps(story_to_record(by_id[story_id]))
            # Equal to what was stored when read: nothing to write. Should another writer
            # change it meanwhile, that one wrote after this one (which changed nothing).
            if existing.get(story_id) != record:
                story = by_id[story_id]
                rows[story_id] = {
                    "id": story_id,
                    "published": _naive_utc(story.published),
                    "updated": _naive_utc(story.updated),
                    "first_seen": now,
                    "written": now,
                    "record": record,
                    "members": story.access == MEMBERS,
                }
        # Executed with many parameter sets: SQLAlchemy sends them as multi-row
        # statements in this (sorted) order, and RETURNING says what each row did.
        insert = _insert(conn, s)
        # A story stored before, or by a writer that raced this one since it read, is
        # replaced, keeping first_seen; a row equal to this one is left alone (and
        # reported unchanged).
        upsert = insert.on_conflict_do_update(
            index_elements=[s.c.id],
            set_={name: insert.excluded[name]
                  for name in ("published", "updated", "written", "record", "members")},
            where=s.c.record != insert.excluded.record,
        )
        if conn.dialect.name == "postgresql":
            # One statement over every row in id order, so that writers lock story rows
            # in one order. Inserting the new ones first and updating the known ones next
            # did not: two writers whose reads disagreed on which rows exist (a delete in
            # between) each held a row the other wanted next, and PostgreSQL broke the
            # deadlock by failing one. `xmax = 0` in RETURNING tells a row this statement
            # inserted from one it updated (which it locked, writing itself into xmax).
            done = conn.execute(
                upsert.returning(s.c.id, sa.literal_column("xmax = 0").label("inserted")),
                list(rows.values()),
            ).all() if rows else []
            added = sorted(row.id for row in done if row.inserted)
            updated = sorted(row.id for row in done if not row.inserted)
        else:
            # SQLite: one writer at a time (its database lock), so no order to keep; it
            # has no xmax, and DO NOTHING's RETURNING names the rows inserted.
            new = [rows[i] for i in rows if i not in existing]
            added = sorted(conn.execute(
                insert.on_conflict_do_nothing(index_elements=[s.c.id]).returning(s.c.id), new
            ).scalars()) if new else []
            inserted = set(added)
            replace = [rows[i] for i in rows if i not in inserted]
            updated = sorted(conn.execute(upsert.returning(s.c.id), replace).scalars()) if replace else []
        written = set(added) | set(updated)
        unchanged = [i for i in ids if i not in written]
        linked: Counter[str] = Counter()
        for chunk in _chunks(updated):
            linked.subtract(conn.execute(
                st.delete().where(st.c.story_id.in_(chunk)).returning(st.c.topic)
            ).scalars())
        links = list({
            (slug, story_id): {"topic": slug, "story_id": story_id,
                               "published": rows[story_id]["published"],
                               "has_audio": by_id[story_id].is_episode}
            for story_id in added + updated
            for slug in by_id[story_id].topics
        }.values())
        # Each one inserted: a story's row is locked (or, in SQLite, the database) before
        # its links are deleted and written again, so no other writer's link is met here.
        linked.update(link["topic"] for link in links)
        if links:
            insert = _insert(conn, st)
            conn.execute(insert.on_conflict_do_update(
                index_elements=[st.c.topic, st.c.story_id],
                set_={"published": insert.excluded.published,
                      "has_audio": insert.excluded.has_audio},
            ), links)
        return added, updated, unchanged, linked

    def _sharing_topics(self, conn: Connection, described: dict[str, Topic]) -> set[str]:
        """Topics whose feeds show a renamed topic's title: as the category of a story
        in both; or whose stories' access changes with a topic's (a story in a members'
        topic is members' only everywhere). Their feeds change too, so their versions
        must move."""
        t, st = schema.topics, schema.story_topics
        if not described:
            return set()
        stored = dict(conn.execute(
            sa.select(t.c.slug, t.c.record).where(t.c.slug.in_(sorted(described)))
        ).all())
        renamed = [slug for slug, topic in described.items()
                   if slug in stored and (_load_topic(stored[slug]).title, _load_topic(stored[slug]).access)
                   != (topic.title, topic.access)]
        if not renamed:
            return set()
        other = st.alias("other")
        return set(conn.execute(
            sa.select(other.c.topic).distinct()
            .join(st, st.c.story_id == other.c.story_id)
            .where(st.c.topic.in_(renamed))
        ).scalars())

    def _moves_after(self, conn: Connection, described: dict[str, Topic]
                     ) -> tuple[TopicMoves | None, dict[str, str], set[str]]:
        """The moves as this write leaves them (None when it changes none), the moves it
        makes `{old: new}`, and the topics a changed move led to before the write or
        leads to after it (their podcast identity may change, so their versions must move
        too). MoveRefused when a changed move makes a loop or a chain past the bound: its
        feeds would all answer 404."""
        t = schema.topics
        if not described:
            return None, {}, set()
        stored = dict(conn.execute(
            sa.select(t.c.slug, t.c.record).where(t.c.slug.in_(sorted(described)))
        ).all())
        changed = {slug for slug, topic in described.items()
                   if topic.moved_to != (_load_topic(stored[slug]).moved_to if slug in stored else "")}
        if not changed:
            return None, {}, set()
        before = self._moves(conn)
        after = {**before, **{slug: described[slug].moved_to for slug in changed}}
        moves_before = TopicMoves(before)
        moves_after = TopicMoves({old: new for old, new in after.items() if new})
        moves_after.refuse_broken_chains(changed)
        made = {old: described[old].moved_to for old in changed if described[old].moved_to}
        return moves_after, made, {slug for old in changed for moves in (moves_before, moves_after)
                                   for slug in moves.downstream(old)}

    def _storyless(self, conn: Connection, slugs: set[str]) -> set[str]:
        """Those of `slugs` that no story is in."""
        if not slugs:
            return set()
        st = schema.story_topics
        with_stories = set(conn.execute(
            sa.select(st.c.topic).distinct().where(st.c.topic.in_(sorted(slugs)))).scalars())
        return slugs - with_stories

    def _record_identities(self, conn: Connection, graph: Mapping[str, str], moved_now: dict[str, str],
                           storyless: set[str]) -> tuple[str, ...]:
        """Record who carries on whose podcast identity. A topic that had no stories
        before this write and that moves lead into (a move written now, or one written
        before it existed) is a rename: it carries on the identity of the first topic
        moved into it, unless a rename gave it one already. A move written now onto a
        topic with stories is a merge: the target keeps its own, said in the notices."""
        t = schema.topics
        notices = [
            f"topic {old!r} moved onto {new!r}, which has stories of its own: {old!r}'s subscribers "
            f"are sent to {new!r}'s feeds, whose podcast:guid stays {new!r}'s"
            for old, new in sorted(moved_now.items()) if new not in storyless
        ]
        if not storyless:
            return tuple(notices)
        into: dict[str, list[str]] = {}
        for old, new in sorted(graph.items()):
            if new in storyless:
                into.setdefault(new, []).append(old)
        if into:
            identities = self._identities(conn)
            for new, movers in sorted(into.items()):
                if new not in identities:
                    identity = identities.get(movers[0], movers[0])
                    conn.execute(t.update().where(t.c.slug == new).values(identity=identity))
        return tuple(notices)

    def _write_topics(self, conn: Connection, described: dict[str, Topic], named: set[str],
                      touched: set[str], now: datetime, linked: Counter[str]
                      ) -> tuple[list[str], set[str]]:
        """Upsert described topics, create the ones stories name, bump the touched ones.

        One slug at a time in sorted order: rows are locked in the same order by every
        writer. `linked` is each topic's change in its number of stories, added to what
        the row holds when it is locked (never counted here: a count would not see a
        writer that committed while this one waited for the row). Returns the described
        topics created and every topic whose version moved.
        """
        t = schema.topics
        added: list[str] = []
        changed: set[str] = set()
        for slug in sorted(described.keys() | named | touched):
            topic = described.get(slug)
            bump = slug in touched
            if topic is None and slug not in named:  # touched only: its stories changed
                done = conn.execute(
                    t.update().where(t.c.slug == slug)
                    .values(version=t.c.version + 1, changed_at=now,
                            stories=t.c.stories + linked[slug]).returning(t.c.slug)
                ).first()
                if done:
                    changed.add(slug)
                continue
            record = _dumps(topic_to_record(topic or Topic.from_slug(slug)))
            created = conn.execute(
                _insert(conn, t).values(slug=slug, record=record, described=topic is not None,
                                        members=topic is not None and topic.access == MEMBERS,
                                        version=1 if bump or topic else 0, changed_at=now,
                                        stories=linked[slug])
                .on_conflict_do_nothing(index_elements=[t.c.slug]).returning(t.c.slug)
            ).first()
            if created:
                if topic is not None:
                    added.append(slug)
                if bump or topic:
                    changed.add(slug)
                continue
            update = t.update().where(t.c.slug == slug)
            if topic is not None:
                update = update.values(record=record, described=True,
                                       members=topic.access == MEMBERS)
                if not bump:
                    update = update.where((t.c.record != record) | (t.c.described == sa.false()))
            elif not bump:
                continue  # named by a story that did not change, and already there
            done = conn.execute(
                update.values(version=t.c.version + 1, changed_at=now,
                              stories=t.c.stories + linked[slug]).returning(t.c.slug)
            ).first()
            if done:
                changed.add(slug)
        return added, changed

    def _bump_store(self, conn: Connection, now: datetime) -> None:
        c = schema.counters
        insert = _insert(conn, c).values(key="stories", value=1, changed_at=now)
        conn.execute(insert.on_conflict_do_update(
            index_elements=[c.c.key],
            set_={"value": c.c.value + 1, "changed_at": insert.excluded.changed_at},
        ))


def _chunks(items: Sequence[_T]) -> Iterator[Sequence[_T]]:
    for i in range(0, len(items), CHUNK):
        yield items[i:i + CHUNK]
