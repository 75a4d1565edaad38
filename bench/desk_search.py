"""`python -m bench.desk_search [N] [DATABASE_URL]`: the desk's story search on N stories
(100,000 by default), on SQLite (a fresh file) and, when TEST_DATABASE_URL or a URL is
given, on PostgreSQL (a fresh schema).

The baseline, measured in the same run on the same rows: the same question asked with
`LIKE '%word%'` over the stored records, what a search without the index (FTS5 /
full-text GIN) would cost. Each query runs 5 times; the median is printed, with the load
average (the machine is shared).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa

from desk.search import Query, StorySearch
from stories import migrate
from stories.schema import stories, story_topics
from stories.store import create_engine

WORDS = ("border river city market school harvest election court storm bridge factory "
         "railway festival museum hospital harbour mountain village island desert").split()
RARE = "defectors"  # in one story of 1,000
TOPICS = [f"topic-{n}" for n in range(20)]


def fill(engine: sa.Engine, count: int, seed: int = 1) -> None:
    """`count` stories with titles and teasers of common words, one in 1,000 with RARE,
    over two years, each in one of 20 topics: straight into the tables (the triggers of
    migration 0008 fill the SQLite search table as the store's writes do)."""
    rng = random.Random(seed)
    start = datetime(2024, 1, 1)
    batch_stories, batch_links = [], []

    def flush() -> None:
        with engine.begin() as conn:
            conn.execute(stories.insert(), batch_stories)
            conn.execute(story_topics.insert(), batch_links)
        batch_stories.clear()
        batch_links.clear()

    for n in range(count):
        published = start + timedelta(minutes=n * 7)
        title = " ".join(rng.choices(WORDS, k=6)) + (f" {RARE}" if n % 1000 == 0 else "")
        topic = TOPICS[n % len(TOPICS)]
        stamp = published.strftime("%Y-%m-%dT%H:%M:%S+00:00")
        record = {"id": f"s{n}", "url": f"https://news.example/{n}", "title": title.capitalize(),
                  "teaser": " ".join(rng.choices(WORDS, k=15)), "published": stamp, "updated": stamp,
                  "topics": [topic]}
        batch_stories.append({"id": f"s{n}", "published": published, "updated": published,
                              "first_seen": published, "written": published,
                              "record": json.dumps(record, sort_keys=True, separators=(",", ":"))})
        batch_links.append({"topic": topic, "story_id": f"s{n}", "published": published, "has_audio": False})
        if len(batch_stories) == 2000:
            flush()
    if batch_stories:
        flush()
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE stories")


QUERIES = {
    "rare word": Query(words=RARE),
    "common word": Query(words="harbour"),
    "two words": Query(words="harbour election"),
    "word in a topic": Query(words="harbour", topic="topic-3"),
    "word in a month": Query(words="harbour", since=datetime(2024, 6, 1), until=datetime(2024, 7, 1)),
    "page 40": Query(words="harbour", page=40),
}


def timed(run, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def baseline(engine: sa.Engine, word: str) -> None:
    """The same first page by LIKE over the records: no index can help it."""
    with engine.connect() as conn:
        conn.execute(sa.select(stories.c.record).where(stories.c.record.like(f"%{word}%"))
                     .order_by(stories.c.published.desc()).limit(26)).all()


def measure(engine: sa.Engine, label: str, count: int) -> None:
    search = StorySearch(engine)
    print(f"{label}: {count} stories; load average {os.getloadavg()[0]:.2f}")
    for name, query in QUERIES.items():
        seconds = timed(lambda q=query: search.find(q))
        found = len(search.find(query).stories)
        line = f"  {name:<16} {seconds * 1000:8.1f} ms  ({found} on the page)"
        if name in ("rare word", "common word"):
            like = timed(lambda w=query.words: baseline(engine, w))
            line += f"  LIKE baseline {like * 1000:8.1f} ms  ratio {like / seconds:6.1f}x"
        print(line)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    postgres = sys.argv[2] if len(sys.argv) > 2 else os.environ.get("TEST_DATABASE_URL")
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite:///{folder}/search.sqlite3")
        migrate.upgrade(engine)
        started = time.perf_counter()
        fill(engine, count)
        print(f"sqlite: filled in {time.perf_counter() - started:.1f} s")
        measure(engine, "sqlite", count)
        engine.dispose()
    if postgres:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(postgres)
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        try:
            engine = create_engine(postgres, connect_args={"options": f"-csearch_path={schema}"})
            migrate.upgrade(engine)
            started = time.perf_counter()
            fill(engine, count)
            print(f"postgresql: filled in {time.perf_counter() - started:.1f} s")
            measure(engine, "postgresql", count)
            engine.dispose()
        finally:
            with admin.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            admin.dispose()


if __name__ == "__main__":
    main()
