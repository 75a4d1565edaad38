"""A worker's memory under many topics and a big store: `python -m bench.memory [--quick]`.

Two SQLite stores of 1,000 topics whose feeds all have 50 items: one of 1,000 stories
(each in 50 topics), one of 100,000 (100 per topic). The first run on a machine builds
them (about a minute) and keeps them in the temporary folder, keyed by the migrations,
for the next runs.

The app runs as in production with Redis as its render cache (REDIS_URL from
BENCH_REDIS_URL or TEST_REDIS_URL, under a key prefix of this run's own): wrk asks for
the RSS feed of a topic drawn at random among the 1,000, in slices of a few seconds,
and after each slice the VmRSS of every worker is read from /proc/<pid>/status.

Goals: a worker's RSS after 100,000 requests within 10% of its RSS after the first
slice (every topic seen); and with 100,000 stories within 10% of 1,000, after the same
number of requests.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import redis

from stories import migrate
from stories.store import StoryStore

from .common import ROOT, bench_env, gunicorn, load_average, print_table, wrk
from .feeds import bench_topic, make_story

TOPICS = 1_000
ITEMS = 50  # stories in every topic's feed
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
SLICE_SECONDS = 5
GOAL = 1.10
LUA = f"""
local seeded = false
request = function()
  if not seeded then
    math.randomseed(os.time() + tonumber(tostring({{}}):match("0x(%x+)") or "0", 16))
    seeded = true
  end
  return wrk.format("GET", "/topics/t" .. math.random(0, {TOPICS - 1}) .. "/rss.xml")
end
"""


def topics_of(i: int, stories: int) -> tuple[str, ...]:
    if stories >= TOPICS * ITEMS:
        return (f"t{i % TOPICS}",)
    # Fewer stories than feed items in all: each story in several topics, so that every
    # topic still has ITEMS of them.
    return tuple(f"t{(i + k) % TOPICS}" for k in range(ITEMS))


def build_store(path: Path, stories: int) -> None:
    store = StoryStore.from_url(f"sqlite:///{path}")
    try:
        migrate.upgrade(store.engine)
        topic = bench_topic()
        store.write(topics=[replace(topic, slug=f"t{n}", title=f"Topic {n}") for n in range(TOPICS)])
        for start in range(0, stories, 10_000):
            store.write(replace(make_story(i), topics=topics_of(i, stories))
                        for i in range(start, min(stories, start + 10_000)))
    finally:
        store.engine.dispose()


def cached_store(stories: int) -> str:
    """The URL of a store of `stories`, built once per machine and schema."""
    fingerprint = hashlib.sha256()
    for part in sorted((ROOT / "migrations" / "versions").glob("*.py")) + [Path(__file__),
                                                                           ROOT / "bench" / "feeds.py"]:
        fingerprint.update(part.read_bytes())
    path = Path(tempfile.gettempdir()) / f"storyfeed-bench-{stories}-{fingerprint.hexdigest()[:12]}.sqlite3"
    if not path.exists():
        started = time.monotonic()
        print(f"  building a store of {stories:,} stories in {TOPICS:,} topics ...", flush=True)
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


def load(database_url: str, redis_url: str, requests: int, script: str) -> list[tuple[int, list[int], float]]:
    """(requests so far, each worker's RSS in KiB, req/s of the slice) after each slice."""
    samples = []
    with redis_prefix(redis_url) as prefix, \
            gunicorn(bench_env(DATABASE_URL=database_url, REDIS_URL=redis_url,
                               REDIS_PREFIX=prefix)) as server:
        workers = server.worker_pids()
        done = 0
        while done < requests:
            result = wrk(server.base + "/topics/t0/rss.xml", seconds=SLICE_SECONDS, script=script)
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
    requests_large, requests_small = (20_000, 10_000) if quick else (100_000, 25_000)
    redis_url = os.environ.get("BENCH_REDIS_URL") or os.environ.get("TEST_REDIS_URL") or DEFAULT_REDIS_URL
    print(f"bench.memory: {load_average()}", flush=True)
    small, large = cached_store(1_000), cached_store(100_000)
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(LUA)
        script.flush()
        print(f"  1,000 stories: {requests_small:,} requests ...", flush=True)
        at_small = load(small, redis_url, requests_small, script.name)
        print(f"  100,000 stories: {requests_large:,} requests ...", flush=True)
        at_large = load(large, redis_url, requests_large, script.name)

    print(f"\nworker RSS (MiB, each worker) while wrk asks for feeds of {TOPICS:,} topics at random:")
    rows = []
    for label, samples in (("1,000 stories", at_small), ("100,000 stories", at_large)):
        first = max(samples[0][1])
        for done, rss, rps in samples:
            rows.append((label, f"{done:,}", " ".join(mib(r) for r in rss),
                         f"{max(rss) / first:.2f}x", f"{rps:.0f}"))
    print_table(("store", "requests", "worker RSS MiB", "max vs first slice", "req/s of slice"), rows)

    growth = max(at_large[-1][1]) / max(at_large[0][1])
    comparable = next(s for s in at_large if s[0] >= at_small[-1][0])
    vs_small = max(comparable[1]) / max(at_small[-1][1])
    flat = growth <= GOAL
    same = vs_small <= GOAL
    print(f"\n  after {at_large[-1][0]:,} requests: {growth:.2f}x the first slice's RSS"
          f" (goal <= {GOAL:.2f}x): {'met' if flat else 'NOT met'}")
    print(f"  100,000 against 1,000 stories, after {comparable[0]:,} and {at_small[-1][0]:,}"
          f" requests: {vs_small:.2f}x (goal <= {GOAL:.2f}x): {'met' if same else 'NOT met'}")
    print(f"  ({load_average()})")
    return 0 if flat and same else 1


if __name__ == "__main__":
    sys.exit(main())
