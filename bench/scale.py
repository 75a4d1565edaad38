"""Two instances sharing Redis, against the baselines: `python -m bench.scale [--quick]`.

Two gunicorn instances of the app (the repository's gunicorn.conf.py each) share one
PostgreSQL (BENCH_DATABASE_URL or TEST_DATABASE_URL, in a schema of this run's own,
holding the sample topic), one Redis as the render cache (BENCH_REDIS_URL or
TEST_REDIS_URL, under a key prefix of this run's own), REDIS_PREFIX and SITE_URL, as
instances behind one router do. Each baseline runs as two instances too. The load is two
wrk processes at once, one per instance, half the connections each (there is no router);
their req/s are added up. Cases as in `bench.warm`; goal for each: >= 0.8x raw WSGI.

The schema and the Redis keys are dropped at the end, whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import redis
import sqlalchemy as sa

from stories.store import create_engine

from .common import (
    APP,
    baselines,
    bench_env,
    flask_cli,
    gunicorn,
    load_average,
    measure,
    record,
    report,
    rounds_and_seconds,
)
from .memory import redis_prefix
from .warm import cases

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
# Behind a router every instance has the same public URL, so their bodies (and ETags) match.
SITE_URL = "https://feeds.example.org/"
GOAL = 0.8


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


def main(argv: list[str] | None = None) -> int:
    quick = "--quick" in (sys.argv[1:] if argv is None else argv)
    rounds, seconds = rounds_and_seconds(quick)
    database_url = (os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
                    or DEFAULT_DATABASE_URL)
    redis_url = os.environ.get("BENCH_REDIS_URL") or os.environ.get("TEST_REDIS_URL") or DEFAULT_REDIS_URL
    print(f"bench.scale: {load_average()}", flush=True)
    with postgres_schema(database_url) as schema_url, redis_prefix(redis_url) as prefix:
        env = bench_env(DATABASE_URL=schema_url, REDIS_URL=redis_url, REDIS_PREFIX=prefix)
        flask_cli(env, "db", "upgrade")
        flask_cli(env, "stories", "sample")
        with gunicorn(env, site_url=SITE_URL) as a, gunicorn(env, site_url=SITE_URL) as b:
            measured = cases(a.base, SITE_URL)
            answers = record(measured, [a.base, b.base])
            with redis.Redis.from_url(redis_url) as client:
                renders = int(client.get(f"{prefix}stats:renders") or 0)
            if not renders:
                raise RuntimeError("the instances rendered without Redis: no render counted there")
            with baselines(env, answers, instances=2) as servers:
                measure(measured, {**servers, APP: [a.base, b.base]}, rounds=rounds, seconds=seconds)
    for case in measured:
        case.goal = GOAL
    print(f"\ntwo instances, shared Redis render cache ({renders} renders in all while warming"
          " both), PostgreSQL; every server as two instances, two wrk at once")
    met = [report(case) for case in measured]
    print(f"\n(medians of {rounds} rounds of {seconds} s per server; {load_average()})")
    return 0 if all(met) else 1


if __name__ == "__main__":
    sys.exit(main())
