"""A worker's memory under many topics and a big store: `python -m bench.memory [--quick]`.

Two SQLite stores, each with 1,000 topic records: 100,000 stories, 100 in each topic;
1,000 stories, 50 in each of the first 20 topics. Every feed asked for has 50 items in
both (bench.store's plain stories, so that rendering 1,000 feeds cold stays short). The
first run on a machine builds them (about 30 s) and keeps them in the temporary folder,
keyed by the migrations and LAYOUT, for the next runs.

The app runs as in production with Redis as its render cache (REDIS_URL from
BENCH_REDIS_URL or TEST_REDIS_URL, under a key prefix of this run's own); wrk asks for the
RSS feed of a topic drawn at random (a Lua script), in slices of a few seconds, and after
each slice the VmRSS of every worker is read from /proc/<pid>/status. Each run is
bounded in time (90 s of slices for the 100,000 requests): the table says how many fit.

Goals, each a worker's RSS within 10%:
- 100,000 requests over the 1,000 topics of the big store, against the RSS once every
  topic's feed has been asked for four times (the warm-up, before the slices: rendered
  once, then in most workers' own copy of the cache);
- the big store against the small one, after the same requests over the 20 topics both
  have.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import redis

from stories import migrate
from stories.store import StoryStore

from .common import ROOT, bench_env, get, gunicorn, load_average, print_table, wrk
from .feeds import bench_topic
from .store import make_stories

TOPICS = 1_000
SHARED_TOPICS = 20  # the topics both stores have 50 stories in
LAYOUT = "bench.store stories: 1k in 20 topics, 100k in 1,000; 1,000 topic records"  # cache key
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
SLICE_SECONDS = 5
WARM_UP_ROUNDS = 4  # every topic's feed asked for this many times before the slices
GOAL = 1.10
LUA = """
local seeded = false
request = function()
  if not seeded then
    math.randomseed(os.time() + tonumber(tostring({{}}):match("0x(%x+)") or "0", 16))
    seeded = true
  end
  return wrk.format("GET", "/topics/t" .. math.random(0, {last}) .. "/rss.xml")
end
"""


def topics_of(i: int, stories: int) -> tuple[str, ...]:
    # One topic per story (a story in many topics makes every item carry many categories).
    return (f"t{i % (TOPICS if stories >= 100_000 else SHARED_TOPICS)}",)


def build_store(path: Path, stories: int) -> None:
    store = StoryStore.from_url(f"sqlite:///{path}")
    try:
        migrate.upgrade(store.engine)
        topic = bench_topic()
        store.write(topics=[replace(topic, slug=f"t{n}", title=f"Topic {n}") for n in range(TOPICS)])
        for start in range(0, stories, 10_000):
            batch = make_stories(start, min(10_000, stories - start))
            store.write(replace(story, topics=topics_of(start + n, stories))
                        for n, story in enumerate(batch))
    finally:
        store.engine.dispose()


def cached_store(stories: int) -> str:
    """The URL of a store of `stories`, built once per machine and schema."""
    fingerprint = hashlib.sha256()
    fingerprint.update(LAYOUT.encode())
    for part in sorted((ROOT / "migrations" / "versions").glob("*.py")):
        fingerprint.update(part.read_bytes())
    path = Path(tempfile.gettempdir()) / f"storyfeed-bench-{stories}-{fingerprint.hexdigest()[:12]}.sqlite3"
    if not path.exists():
        started = time.monotonic()
        print(f"  building a store of {stories:,} stories ...", flush=True)
        partial = path.with_suffix(f".{os.getpid()}.partial")
        try:
            build_store(partial, stories)
            partial.rename(path)  # whole or not at all
        finally:
            partial.unlink(missing_ok=True)
        print(f"  built in {time.monotonic() - started:.0f} s: {path}", flush=True)
    return f"sqlite:///{path}"


@contextlib.contextmanager
def redis_prefix(url: str) -> Iterator[str]:
    """A key prefix of this run's own; every key under it is deleted at the end."""
    prefix = f"storyfeed-bench-{uuid.uuid4().hex[:8]}:"
    client = redis.Redis.from_url(url)
    try:
        client.ping()
        yield prefix
    finally:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start:start + 1000])
        client.close()


def load(database_url: str, redis_url: str, requests: int, topics: int,
         seconds: float) -> list[tuple[int, list[int], float]]:
    """(requests so far, each worker's RSS in KiB, req/s of the slice) after the warm-up
    (the feeds of the first `topics` topics once each) and after each slice of wrk asking
    for them at random, until `requests` or `seconds` (of slices) is reached."""
    samples = []
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script, redis_prefix(redis_url) as prefix, \
            gunicorn(bench_env(DATABASE_URL=database_url, REDIS_URL=redis_url,
                               REDIS_PREFIX=prefix)) as server:
        script.write(LUA.format(last=topics - 1))
        script.flush()
        workers = server.worker_pids()
        started = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            # Every topic once (each is rendered and cached), then three times more, so that
            # each worker has most of them in its own copy of the cache (RENDER_CACHE_MB),
            # which otherwise fills during the first slice: that is filling, not growth.
            answers = [status for _ in range(WARM_UP_ROUNDS) for status in pool.map(
                lambda n: get(f"{server.base}/topics/t{n}/rss.xml").status, range(topics))]
        if set(answers) != {200}:
            raise RuntimeError(f"warm-up answers: {sorted(set(answers))}")
        done = len(answers)
        samples.append((done, server.worker_rss_kib(), float("nan")))
        print(f"    warm-up: {topics:,} feeds {WARM_UP_ROUNDS} times in {time.monotonic() - started:.0f} s",
              flush=True)
        end = time.monotonic() + seconds
        while done < requests and time.monotonic() < end:
            result = wrk(server.base + "/topics/t0/rss.xml", seconds=SLICE_SECONDS, script=script.name,
                         timeout=10)
            if result.errors:
                raise RuntimeError(f"wrk saw {result.errors} errors or non-2xx/3xx answers")
            done += result.requests
            if server.worker_pids() != workers:
                raise RuntimeError("a worker was replaced during the run")
            samples.append((done, server.worker_rss_kib(), result.requests_per_second))
    return samples


def mib(kib: int) -> str:
    return f"{kib / 1024:.1f}"


def main(argv: list[str] | None = None) -> int:
    quick = "--quick" in (sys.argv[1:] if argv is None else argv)
    many, same = (20_000, 5_000) if quick else (100_000, 10_000)
    # Bounded in time: at this machine's pace the 100,000 may not all fit; the table says
    # how many did, and the goal is judged only when they did.
    many_seconds, same_seconds = (40, 10) if quick else (90, 15)
    redis_url = os.environ.get("BENCH_REDIS_URL") or os.environ.get("TEST_REDIS_URL") or DEFAULT_REDIS_URL
    print(f"bench.memory: {load_average()}", flush=True)
    small, large = cached_store(1_000), cached_store(100_000)
    runs = {}
    for label, url, requests, topics, seconds in (
        ("1,000 stories", small, same, SHARED_TOPICS, same_seconds),
        ("100,000 stories", large, same, SHARED_TOPICS, same_seconds),
        ("100,000 stories", large, many, TOPICS, many_seconds),
    ):
        print(f"  {label}: {requests:,} requests over {topics:,} topics (at most {seconds} s) ...",
              flush=True)
        runs[label, topics] = load(url, redis_url, requests, topics, seconds)

    print("\nworker RSS (MiB, each worker) while wrk asks for the feeds of random topics:")
    rows = []
    for (label, topics), samples in runs.items():
        first = max(samples[0][1])
        for done, rss, rps in samples:
            rows.append((label, f"{topics:,}", f"{done:,}", " ".join(mib(r) for r in rss),
                         f"{max(rss) / first:.2f}x", "warm-up" if rps != rps else f"{rps:.0f}"))
    print_table(("store", "topics", "requests", "worker RSS MiB", "max vs warm-up",
                 "req/s of slice"), rows)

    flat_runs = runs["100,000 stories", TOPICS]
    growth = max(flat_runs[-1][1]) / max(flat_runs[0][1])
    small_end, large_end = runs["1,000 stories", SHARED_TOPICS][-1], runs["100,000 stories", SHARED_TOPICS][-1]
    vs_small = max(large_end[1]) / max(small_end[1])
    reached = flat_runs[-1][0] >= many
    flat, same_size = reached and growth <= GOAL, vs_small <= GOAL
    verdict = ("met" if flat else "NOT met") if reached else f"not judged: {many:,} requests not reached"
    print(f"\n  {flat_runs[-1][0]:,} requests over {TOPICS:,} topics: {growth:.2f}x the"
          f" RSS after the warm-up (goal <= {GOAL:.2f}x after {many:,}): {verdict}")
    print(f"  100,000 against 1,000 stories ({large_end[0]:,} and {small_end[0]:,} requests over"
          f" {SHARED_TOPICS} topics): {vs_small:.2f}x (goal <= {GOAL:.2f}x):"
          f" {'met' if same_size else 'NOT met'}")
    print(f"  ({load_average()})")
    return 0 if flat and same_size else 1


if __name__ == "__main__":
    sys.exit(main())
