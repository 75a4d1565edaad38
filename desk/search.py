"""Finding stories by the words of their titles and teasers, by topic and date, a page
at a time: SQLite's FTS5 table or PostgreSQL's full-text GIN index (migration 0008),
newest first."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from stories.model import Story, story_from_record
from stories.schema import stories, story_topics

from .schema import POSTGRES_SEARCH_DOCUMENT, SQLITE_SEARCH_TABLE

MAX_WORDS = 10
WORD_RE = re.compile(r"[^\W_]+")
# Deeper pages cost the database more than anyone reads: refine the search instead.
MAX_PAGE = 200


@dataclass(frozen=True)
class Query:
    words: str = ""
    topic: str = ""
    since: datetime | None = None  # naive UTC, inclusive
    until: datetime | None = None  # naive UTC, exclusive
    page: int = 1

    def terms(self) -> list[str]:
        """The words searched for: letters and digits only, so that no input is taken for
        the search engines' operators; a few at most."""
        return WORD_RE.findall(self.words.lower())[:MAX_WORDS]


@dataclass(frozen=True)
class Results:
    stories: tuple[Story, ...]
    page: int
    has_more: bool


class StorySearch:
    def __init__(self, engine: Engine, page_size: int = 25):
        self.engine = engine
        self.page_size = page_size

    def find(self, query: Query) -> Results:
        s = stories
        select = sa.select(s.c.record)
        terms = query.terms()
        if terms:
            if self.engine.dialect.name == "sqlite":
                # Each word quoted: a string in FTS5's grammar, never an operator.
                match = " ".join(f'"{t}"' for t in terms)
                search = sa.table(SQLITE_SEARCH_TABLE, sa.column("rowid"))
                select = select.join(search, search.c.rowid == sa.literal_column("stories.rowid")).where(
                    sa.literal_column(SQLITE_SEARCH_TABLE).op("MATCH")(match))
            else:
                # Whole words, as on SQLite. Not prefixes (`word:*`): PostgreSQL cannot
                # estimate how many rows a prefix matches, and on 100,000 stories took the
                # published index and read every record for a rare one (1.2 s, not 3 ms:
                # bench.desk_search).
                tsquery = sa.func.to_tsquery(sa.literal_column("'simple'::regconfig"), " & ".join(terms))
                select = select.where(sa.literal_column(POSTGRES_SEARCH_DOCUMENT).op("@@")(tsquery))
        if query.topic:
            t = story_topics
            select = select.where(s.c.id.in_(sa.select(t.c.story_id).where(t.c.topic == query.topic)))
        if query.since is not None:
            select = select.where(s.c.published >= query.since)
        if query.until is not None:
            select = select.where(s.c.published < query.until)
        page = min(max(1, query.page), MAX_PAGE)
        select = (select.order_by(s.c.published.desc(), s.c.id.desc())
                  .offset((page - 1) * self.page_size).limit(self.page_size + 1))
        with self.engine.connect() as conn:
            records = conn.execute(select).scalars().all()
        found = tuple(_story(record) for record in records[:self.page_size])
        return Results(found, page, len(records) > self.page_size)


def _story(record: str) -> Story:
    return story_from_record(json.loads(record))
