"""The desk's story search stays fast on 100,000 stories, on each backend: the index
(FTS5 / PostgreSQL's GIN) is what answers, not a read of every record.
`python -m bench.desk_search` prints the same queries' times beside a LIKE baseline."""

from __future__ import annotations

import time

import pytest

from bench.desk_search import QUERIES, fill
from desk.search import StorySearch
from stories.store import create_engine

pytestmark = pytest.mark.slow

COUNT = 100_000
# Measured here at load 5-7 on 2 cores: at most 150 ms on SQLite, 100 ms on PostgreSQL.
# A search that reads every record took 1.2 s.
BUDGET_SECONDS = 0.8


def test_every_search_answers_within_its_budget_on_100000_stories(database_url):
    engine = create_engine(database_url)
    try:
        fill(engine, COUNT)
        search = StorySearch(engine)
        for name, query in QUERIES.items():
            search.find(query)  # the first run reads pages into the cache
            started = time.perf_counter()
            results = search.find(query)
            took = time.perf_counter() - started
            assert results.stories, name
            assert took < BUDGET_SECONDS, f"{name}: {took * 1000:.0f} ms"
    finally:
        engine.dispose()
