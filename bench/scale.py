"""Scale-out benchmark: two instances sharing one PostgreSQL and one Redis.

    python -m bench.scale      (about 3.5 minutes)

PostgreSQL from BENCH_DATABASE_URL or TEST_DATABASE_URL, in a schema of this run's own,
holding 100,000 stories (bench.store's ten topics) and the bundled sample topic; Redis
from BENCH_REDIS_URL or TEST_REDIS_URL, under a key prefix of this run's own. Two
gunicorn instances (2 workers each, the repository's gunicorn.conf.py) share the
database, Redis, REDIS_PREFIX and SITE_URL, as instances behind one router do.

There is no router: the load generator is two wrk processes running at once, each with
half the connections. For "one instance" both aim at instance A; for "two instances" one
aims at A and one at B; req/s are added up. Cases, each interleaved with the others in
every round, and reported as medians:

- the constant-bytes baseline (`/_bench/constant/<size>`) of each feed's size,
- a warm 50-item RSS feed of topic t3 (10,000 of the 100,000 stories) and the sample
  topic's podcast feed (target: >= 0.8x the baseline's req/s),
- the same feeds answered 304 (If-None-Match with their ETag).

Ratios against the baseline are medians of each round's ratio (a neighbour's load that
comes and goes weighs on both alike). The schema and the Redis keys are dropped at the
end, whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field, replace
from typing import Iterator
from urllib.parse import quote

import redis
import sqlalchemy as sa

from stories import migrate
from stories.files import read_records
from stories.sample import SAMPLE_FILE
from stories.store import StoryStore, create_engine

from .common import BASELINE_PATH, WrkResult, fetch, gunicorn, wrk_together
from .store import fill

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
STORIES = 100_000
TOPIC = "t3"  # one of bench.store's ten topics
SAMPLE_TOPIC = "north-korean-defectors"
# Behind a router every instance has the same public URL, so their bodies (and ETags) match.
SITE_URL = "https://feeds.example.org/"
WORKERS = 2
ROUNDS = 4
SECONDS = 4
CONNECTIONS = 4  # per wrk process; two processes always run, so 8 in all
TARGET = 0.8


# -- the shared services --------------------------------------------------------------

@contextlib.contextmanager
def postgres_schema(url: str) -> Iterator[str]:
    """A schema of this run's own; yields a URL whose connections use it."""
    schema = f"bench_scale_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url)
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        try:
            sep = "&" if "?" in url else "?"
            yield f"{url}{sep}options={quote(f'-csearch_path={schema}')}"
        finally:
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


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
        if keys:
            client.delete(*keys)
        client.close()


def fill_store(database_url: str) -> None:
    """The sample topic, a topic record for t3, and 100,000 stories."""
    engine = create_engine(database_url)
    try:
        migrate.upgrade(engine)
        store = StoryStore(engine)
        sample = read_records(SAMPLE_FILE.read_text(encoding="utf-8"), SAMPLE_FILE.name)
        bench_topic = replace(sample.topics[0], slug=TOPIC, title="Benchmark topic t3")
        store.write(stories=sample.stories, topics=[*sample.topics, bench_topic])
        fill(store, 0, STORIES)
        with engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))
    finally:
        engine.dispose()


# -- measuring ------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    name: str
    path: str
    size: int  # bytes of the 200 body; the baseline of a feed has the same size
    headers: dict[str, str] = field(default_factory=dict)
    baseline: str | None = None  # the name of the case it is compared to
    target: float | None = None


def identity_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, str]:
    """Status, body and ETag, without gzip (wrk doesn't ask for it either)."""
    request = urllib.request.Request(url, headers={"Accept-Encoding": "identity", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), response.headers.get("ETag", "")
    except urllib.error.HTTPError as exc:  # urllib raises on 304 too
        return exc.code, exc.read(), exc.headers.get("ETag", "")


def feed_cases(label: str, path: str, bases: list[str]) -> list[Case]:
    """A warm feed, its 304 and its baseline; checks that every instance serves the same
    body and ETag, and that the ETag gets a 304 from each."""
    answers = set()
    for base in bases:
        fetch(base + path, times=2 * WORKERS)  # warm: every worker has read the version
        status, body, etag = identity_get(base + path)
        if status != 200 or not etag:
            raise RuntimeError(f"{base}{path}: {status}, ETag {etag!r}")
        answers.add((body, etag))
    if len(answers) != 1:
        raise RuntimeError(f"{path}: the instances answer different bodies or ETags")
    ((body, etag),) = answers
    for base in bases:
        status, _, _ = identity_get(base + path, {"If-None-Match": etag})
        if status != 304:
            raise RuntimeError(f"{base}{path} with If-None-Match {etag}: {status}, not 304")
    baseline = f"baseline, {len(body):,} bytes"
    for base in bases:
        fetch(base + BASELINE_PATH.format(size=len(body)), times=2 * WORKERS)
    return [
        Case(baseline, BASELINE_PATH.format(size=len(body)), len(body)),
        Case(f"{label}, warm 200", path, len(body), baseline=baseline, target=TARGET),
        Case(f"{label}, 304", path, 0, {"If-None-Match": etag}, baseline=baseline),
    ]


def load(case: Case, bases: list[str]) -> tuple[float, int]:
    """Two wrk at once, spread over `bases`; total req/s and errors."""
    targets = [bases[i % len(bases)] + case.path for i in range(2)]
    results: list[WrkResult] = wrk_together(targets, seconds=SECONDS, connections=CONNECTIONS,
                                            headers=case.headers)
    return sum(r.requests_per_second for r in results), sum(r.errors for r in results)


# -- the run --------------------------------------------------------------------------

def print_table(header: tuple, rows: list[tuple]) -> None:
    table = [header] + rows
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for n, row in enumerate(table):
        print("  ".join(cell.rjust(w) if i else cell.ljust(w)
                        for i, (cell, w) in enumerate(zip(row, widths))))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def measure(database_url: str, redis_url: str, prefix: str) -> bool:
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url, REDIS_PREFIX=prefix,
               BENCH_BASELINE="1", LOG_LEVEL="warning")
    env.pop("WEBSUB_HUB", None)
    with gunicorn(env, WORKERS, SITE_URL) as a, gunicorn(env, WORKERS, SITE_URL) as b:
        print(f"instances: A {a}, B {b} ({WORKERS} workers each)", flush=True)
        cases = (feed_cases(f"{TOPIC} rss", f"/topics/{TOPIC}/rss.xml", [a, b])
                 + feed_cases("podcast", f"/topics/{SAMPLE_TOPIC}/podcast.xml", [a, b]))
        with redis.Redis.from_url(redis_url) as client:
            renders = client.get(f"{prefix}stats:renders")
        if not renders:
            raise RuntimeError("the instances rendered without Redis: no render counted there")
        print(f"  warm: {int(renders)} renders in all for both feeds on both instances (Redis)",
              flush=True)
        setups = {"one": [a], "two": [a, b]}
        runs: dict[tuple[str, str], list[float]] = {(s, c.name): [] for s in setups for c in cases}
        errors = 0
        for n in range(ROUNDS):
            started = time.monotonic()
            for case in cases:  # interleaved: each round loads every case once, both ways
                for setup, bases in setups.items():
                    rps, bad = load(case, bases)
                    runs[setup, case.name].append(rps)
                    errors += bad
            print(f"  round {n + 1}/{ROUNDS} in {time.monotonic() - started:.0f} s", flush=True)

    def vs_baseline(setup: str, case: Case) -> float:
        return statistics.median(m / b for m, b in zip(runs[setup, case.name],
                                                        runs[setup, case.baseline]))

    rows, met = [], True
    for case in cases:
        one = statistics.median(runs["one", case.name])
        two = statistics.median(runs["two", case.name])
        scale = statistics.median(t / o for t, o in zip(runs["two", case.name], runs["one", case.name]))
        ratios = ("1.00x", "1.00x")
        target = verdict = ""
        if case.baseline:
            r1, r2 = vs_baseline("one", case), vs_baseline("two", case)
            ratios = (f"{r1:.2f}x", f"{r2:.2f}x")
            if case.target is not None:
                ok = min(r1, r2) >= case.target
                met &= ok
                target, verdict = f">= {case.target}x", "yes" if ok else "NO"
        rows.append((case.name, f"{one:.0f}", f"{two:.0f}", f"{scale:.2f}x", *ratios, target, verdict))
    print()
    print_table(("case", "A req/s", "A+B req/s", "A+B / A", "/ baseline (A)",
                 "/ baseline (A+B)", "target", "met"), rows)
    print(f"\n{STORIES:,} stories + the sample topic in PostgreSQL, shared render cache in Redis;"
          f" medians of {ROUNDS} rounds of {SECONDS} s, 2 wrk x {CONNECTIONS} connections.")
    print(f"This machine has {os.cpu_count()} cores shared with other work, and every process"
          " (both instances, wrk, PostgreSQL, Redis) runs on them: A+B cannot double A here;"
          " on a PaaS each instance has its own CPUs.")
    print("req/s of each round, A | A+B (to judge the noise):")
    for case in cases:
        print(f"  {case.name:<24} " + " | ".join(
            " ".join(f"{rps:.0f}" for rps in runs[setup, case.name]) for setup in setups))
    if errors:
        print(f"warning: wrk saw {errors} errors or non-2xx/3xx answers")
    return met and not errors


def main() -> int:
    database_url = (os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
                    or DEFAULT_DATABASE_URL)
    redis_url = os.environ.get("BENCH_REDIS_URL") or os.environ.get("TEST_REDIS_URL") or DEFAULT_REDIS_URL
    started = time.monotonic()
    with postgres_schema(database_url) as schema_url, redis_prefix(redis_url) as prefix:
        print(f"filling PostgreSQL with {STORIES:,} stories and the sample topic ...", flush=True)
        fill_store(schema_url)
        print(f"  filled in {time.monotonic() - started:.0f} s", flush=True)
        met = measure(schema_url, redis_url, prefix)
    print(f"bench.scale: done in {time.monotonic() - started:.0f} s")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
