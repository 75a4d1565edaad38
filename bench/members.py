"""Member feeds against the baselines: `python -m bench.members [--quick]` (about 2 min).

One gunicorn of the app (the sample topic plus a member story, in a throwaway SQLite
database, the in-process render cache), with MEMBERS members added. Measured:

- a member's warm RSS feed, 200, against raw WSGI replaying the same answer: >= 0.8x;
- the same answered 304 (the member's own ETag);
- a member's first request against a public cold render: each after a write (so both
  render), and a new member's first request with the shared render warm; medians of
  COLD_RUNS, goal: member cold <= 1.1x public cold;
- the workers' memory after a hundred members fetched and after all of them did: it
  must not grow with the members (goal: less than 4 MiB more).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from .common import (
    APP,
    Case,
    baselines,
    flask_cli,
    get,
    gunicorn,
    header,
    load_average,
    measure,
    record,
    report,
    rounds_and_seconds,
    sample_environment,
)

TOPIC = "north-korean-defectors"
MEMBERS = 3000
COLD_RUNS = 7
MEMBER_STORY = {
    "id": "bench-bonus", "url": "https://newsroom.example/bench-bonus", "title": "Bonus for members",
    "published": "2026-11-01T10:00:00Z", "topics": [TOPIC], "access": "members",
    "audio": [{"id": "bench-bonus-audio", "url": "/media/members/bonus.mp3", "length": 1000,
               "duration": 60, "type": "audio/mpeg"}],
}


def add_members(env: dict, count: int) -> list[str]:
    """`count` members, added in this process through the app's own store."""
    from app import create_app
    from serving.members import Members
    from serving.state import app_state

    app = create_app({"DATABASE_URL": env["DATABASE_URL"], "LOG_LEVEL": "WARNING"})
    store = app_state(app).area(Members).store
    secrets = [store.add(f"bench member {i}")[1] for i in range(count)]
    app_state(app).store.engine.dispose()
    return secrets


def import_story(env: dict, record: dict) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
        json.dump(record, file)
    flask_cli(env, "stories", "import", file.name)
    Path(file.name).unlink()


def member_feed(secret: str, name: str = "rss.xml") -> str:
    return f"/m/{secret}/topics/{TOPIC}/{name}"


def timed(url: str) -> float:
    started = time.perf_counter()
    answer = get(url)
    elapsed = time.perf_counter() - started
    if answer.status != 200:
        raise RuntimeError(f"{url}: {answer.status}")
    return elapsed


def cold_renders(env: dict, base: str, secrets: list[str], runs: int) -> dict[str, float]:
    """Medians (ms): a public cold render, a member's cold one (both after a write), and a
    new member's first request once the shared render is warm."""
    public, member, first = [], [], []
    for n in range(runs):
        import_story(env, {"id": f"bench-write-{n}a", "url": "https://newsroom.example/w",
                           "title": f"Write {n}a", "published": "2026-10-01T10:00:00Z",
                           "topics": [TOPIC]})
        time.sleep(0.3)  # VERSION_MEMO_SECONDS: every worker sees the write
        public.append(timed(f"{base}/topics/{TOPIC}/podcast.xml"))
        import_story(env, {"id": f"bench-write-{n}b", "url": "https://newsroom.example/w",
                           "title": f"Write {n}b", "published": "2026-10-01T10:00:00Z",
                           "topics": [TOPIC]})
        time.sleep(0.3)
        member.append(timed(base + member_feed(secrets[2 * n], "podcast.xml")))
        first.append(timed(base + member_feed(secrets[2 * n + 1], "podcast.xml")))
    return {name: statistics.median(values) * 1000
            for name, values in (("public", public), ("member", member), ("first", first))}


def memory(app, secrets: list[str]) -> tuple[int, int, int]:
    """Workers' RSS (KiB, summed) after 100 members fetched, after all did, and how many."""
    for secret in secrets[:100]:
        get(app.base + member_feed(secret))
    before = sum(app.worker_rss_kib())
    for secret in secrets[100:]:
        get(app.base + member_feed(secret))
    return before, sum(app.worker_rss_kib()), len(secrets)


def main(argv: list[str] | None = None) -> int:
    quick = "--quick" in (sys.argv[1:] if argv is None else argv)
    rounds, seconds = rounds_and_seconds(quick)
    count = 600 if quick else MEMBERS
    print(f"bench.members: {load_average()}", flush=True)
    with sample_environment() as env:
        import_story(env, MEMBER_STORY)
        secrets = add_members(env, count)
        with gunicorn(env) as app:
            feed = member_feed(secrets[-1])
            first = get(app.base + feed)
            etag = header(first, "ETag")
            measured = [
                Case("warm member feed, 200", feed, goal=0.8),
                Case("warm member feed, 304", feed, {"If-None-Match": etag}),
            ]
            answers = record(measured, [app.base])
            with baselines(env, answers) as servers:
                measure(measured, {**servers, APP: [app.base]}, rounds=rounds, seconds=seconds)
            met = [report(case) for case in measured]
            cold = cold_renders(env, app.base, secrets, 3 if quick else COLD_RUNS)
            cold_ratio = cold["member"] / cold["public"]
            print(f"\ncold podcast feed (medians of {3 if quick else COLD_RUNS}, ms): public "
                  f"{cold['public']:.1f}, member {cold['member']:.1f} ({cold_ratio:.2f}x), "
                  f"a new member with the render warm {cold['first']:.1f}")
            print(f"  goal: member cold <= 1.1x public cold: {'met' if cold_ratio <= 1.1 else 'NOT met'}")
            met.append(cold_ratio <= 1.1)
            before, after, fetched = memory(app, secrets[2 * COLD_RUNS:])
            grown = after - before
            print(f"\nworkers' RSS: {before} KiB after 100 members fetched, {after} KiB after "
                  f"{fetched} ({grown:+d} KiB)")
            print(f"  goal: less than 4096 KiB more: {'met' if grown < 4096 else 'NOT met'}")
            met.append(grown < 4096)
    print(f"\n(medians of {rounds} rounds of {seconds} s per server; {load_average()})")
    return 0 if all(met) else 1


if __name__ == "__main__":
    sys.exit(main())
