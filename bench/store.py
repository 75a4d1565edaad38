"""Store benchmark: the newest 50 of a topic at 1,000 and at 100,000 stories, in SQLite
and in PostgreSQL, and import throughput for 10,000 records.

    python -m bench.store          (PostgreSQL from BENCH_DATABASE_URL or TEST_DATABASE_URL)

Prints ratios measured in this run: the 100k/1k ratio should stay at or below 1.2
because the query is one index range scan whatever the store's size.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa

from stories import migrate
from stories.files import read_records
from stories.model import Story
from stories.store import StoryStore, create_engine

TOPICS = 10
BATCH = 5_000
SIZES = (1_000, 100_000)
REPEAT = 300


def make_stories(start: int, count: int) -> list[Story]:
    base = datetime(2015, 1, 1, tzinfo=UTC)
    out = []
    for i in range(start, start + count):
        when = base + timedelta(minutes=17 * i)
        out.append(Story(
            id=str(100_000_000 + i), url=f"https://news.example.org/{i}", title=f"Story {i}",
            teaser="A teaser of some length, as stories have. " * 3,
            published=when, updated=when, bylines=("A. Writer",), topics=(f"t{i % TOPICS}",),
        ))
    return out


def fill(store: StoryStore, have: int, want: int) -> None:
    for start in range(have, want, BATCH):
        store.write(make_stories(start, min(BATCH, want - start)))


def time_latest(store: StoryStore, cursor: str | None = None) -> float:
    store.latest("t3", limit=50, cursor=cursor)  # warm
    samples = []
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        store.latest("t3", limit=50, cursor=cursor)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def deep_cursor(store: StoryStore, pages: int) -> str | None:
    cursor = None
    for _ in range(pages):
        cursor = store.latest("t3", limit=50, cursor=cursor).next_cursor
    return cursor


def time_import(store: StoryStore, count: int = 10_000) -> float:
    base = datetime(2030, 1, 1, tzinfo=UTC)
    lines = []
    for i in range(count):
        when = (base + timedelta(minutes=i)).isoformat()
        lines.append(json.dumps({
            "id": f"imp-{i}", "url": f"https://news.example.org/imp/{i}", "title": f"Imported {i}",
            "teaser": "Teaser.", "published": when, "topics": [f"t{i % TOPICS}"],
            "audio": [{"id": f"a{i}", "url": f"https://media.example.org/{i}.mp3", "length": 1000, "duration": 60}],
        }))
    text = "\n".join(lines)
    t0 = time.perf_counter()
    batch = read_records(text, "bench.ndjson")
    store.write(batch.stories)
    return time.perf_counter() - t0


def run_backend(name: str, url: str) -> dict:
    engine = create_engine(url)
    migrate.upgrade(engine)
    store = StoryStore(engine)
    results = {}
    have = 0
    for size in SIZES:
        fill(store, have, size)
        have = size
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                conn.execute(sa.text("ANALYZE"))
        results[size] = time_latest(store)
    results["deep"] = time_latest(store, deep_cursor(store, 100))
    results["import"] = time_import(store)
    engine.dispose()
    return results


def main() -> None:
    backends = []
    with tempfile.TemporaryDirectory() as tmp:
        backends.append(("SQLite", f"sqlite:///{Path(tmp) / 'bench.sqlite3'}", None))
        pg = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        if pg:
            admin = create_engine(pg)
            with admin.begin() as conn:
                conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
            sep = "&" if "?" in pg else "?"
            backends.append(("PostgreSQL", f"{pg}{sep}options={quote(f'-csearch_path={schema}')}", admin))
        print(f"{'backend':<11} {'latest50@1k':>12} {'@100k':>10} {'100k/1k':>8} "
              f"{'page100':>9} {'page100/1':>9} {'import 10k':>11}")
        try:
            for name, url, _ in backends:
                r = run_backend(name, url)
                print(f"{name:<11} {r[1_000] * 1e3:>10.3f}ms {r[100_000] * 1e3:>8.3f}ms "
                      f"{r[100_000] / r[1_000]:>8.2f} {r['deep'] * 1e3:>7.3f}ms "
                      f"{r['deep'] / r[100_000]:>9.2f} {10_000 / r['import']:>7.0f} rec/s")
        finally:
            for _, _, admin in backends:
                if admin is not None:
                    with admin.begin() as conn:
                        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    if not any(name == "PostgreSQL" for name, _, _ in backends):
        print("PostgreSQL skipped: set BENCH_DATABASE_URL or TEST_DATABASE_URL")


if __name__ == "__main__":
    main()
