"""Member feeds against the baselines: `python -m bench.members [--quick]` (about 3 min).

One gunicorn of the app (the sample topic plus a member story, in a throwaway SQLite
database, the in-process render cache), with MEMBERS members added. Measured:

- a member's warm RSS feed, 200, against raw WSGI replaying the same answer: >= 0.8x;
- the same answered 304 (the member's own ETag);
- a member's first request against a public cold render: each after a write (so both
  render), and a new member's first request with the shared render warm; medians of
  COLD_RUNS on a gunicorn of one worker, goal: member cold <= 1.1x public cold;
- that worker's memory after 100, 5,000 and every 3,000 more members fetched, to 14,000:
  what a process keeps per member is bounded (4,096 secrets remembered, as many
  sightings; the memory account of docs/scaling.md), so the last 9,000 must not make it
  grow (goal: less than GROWTH_KIB more). Its anonymous part is shown too: the rest is
  files mapped.
"""

from __future__ import annotations

import http.client
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

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
    rss_kib,
    sample_environment,
)

TOPIC = "north-korean-defectors"
MEMBERS = 14000
PLATEAU = 5000  # past every bound of what a process keeps per member (4,096)
# Past the bounds, a worker's RSS still moves by a few MB either way as the allocator
# keeps and hands back what answers used (+3.8 MB, then -2.5 MB, in one run): over 9,000
# more members, 4 MiB is what a leak of 0.5 KB a member would pass, and this noise not.
GROWTH_KIB = 4096
# Single requests on a shared machine: 7 gave medians 0.86x and 1.25x apart in two runs.
COLD_RUNS = 15
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
    """Seconds from sending the request to the answer's last byte, as an app sees it.
    With http.client, not urllib (`get`): through urllib a cold answer took 2 to 3 ms
    longer, a new member's (whose sightings are written once the answer is sent) more
    than a public one's, and three runs gave 1.23x to 1.28x where http.client and a raw
    socket, timing the same cases, gave 1.12x and 1.14x."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        started = time.perf_counter()
        connection.request("GET", parts.path, headers={"Accept-Encoding": "identity"})
        response = connection.getresponse()
        response.read()
        elapsed = time.perf_counter() - started
    finally:
        connection.close()
    if response.status != 200:
        raise RuntimeError(f"{url}: {response.status}")
    return elapsed


def cold_renders(env: dict, base: str, secrets: list[str], runs: int) -> dict[str, float]:
    """Medians (ms): a public cold render, a member's cold one (each after a write of its
    own, in turns, one first then the other), and a new member's first request once the
    shared render is warm. On one worker: which worker a request lands on (one that
    rendered, or not) is not what is measured."""
    public, member, first = [], [], []
    for n in range(runs):
        cases = [("public", f"{base}/topics/{TOPIC}/podcast.xml"),
                 ("member", base + member_feed(secrets[2 * n], "podcast.xml"))]
        for name, url in (cases if n % 2 == 0 else cases[::-1]):
            import_story(env, {"id": f"bench-write-{n}-{name}", "url": "https://newsroom.example/w",
                               "title": f"Write {n} {name}", "published": "2026-10-01T10:00:00Z",
                               "topics": [TOPIC]})
            time.sleep(0.3)  # VERSION_MEMO_SECONDS: the worker sees the write
            (public if name == "public" else member).append(timed(url))
        first.append(timed(base + member_feed(secrets[2 * n + 1], "podcast.xml")))
    return {name: statistics.median(values) * 1000
            for name, values in (("public", public), ("member", member), ("first", first))}


def memory(app, secrets: list[str]) -> list[tuple[int, int, int]]:
    """The worker's RSS and, of it, its anonymous memory (the heap; the rest is files
    mapped: libraries, SQLite's shared WAL index), in KiB, after each of 100, PLATEAU,
    and then every 3,000 more fetched."""
    end = len(secrets)
    points = [100, *range(PLATEAU, end, 3000), end] if end > PLATEAU else [100, end]
    done, found = 0, []
    for point in points:
        for secret in secrets[done:point]:
            get(app.base + member_feed(secret))
        done = point
        (pid,) = app.worker_pids()
        found.append((point, rss_kib(pid), rss_kib(pid, "RssAnon")))
    return found


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
        with gunicorn(dict(env, WEB_CONCURRENCY="1")) as app:
            get(app.base + member_feed(secrets[-1]))
            cold = cold_renders(env, app.base, secrets, 3 if quick else COLD_RUNS)
            cold_ratio = cold["member"] / cold["public"]
            print(f"\ncold podcast feed (medians of {3 if quick else COLD_RUNS}, ms): public "
                  f"{cold['public']:.1f}, member {cold['member']:.1f} ({cold_ratio:.2f}x), "
                  f"a new member with the render warm {cold['first']:.1f}")
            print(f"  goal: member cold <= 1.1x public cold: {'met' if cold_ratio <= 1.1 else 'NOT met'}")
            met.append(cold_ratio <= 1.1)
            sizes = memory(app, secrets[2 * COLD_RUNS:])
            print("\nthe worker's RSS (of it anonymous) after members fetched: "
                  + ", ".join(f"{count}: {kib} ({anon}) KiB" for count, kib, anon in sizes))
            since = sizes[1] if len(sizes) > 2 else sizes[0]  # PLATEAU's (--quick: the first)
            grown = sizes[-1][1] - since[1]
            print(f"  goal: past the bounds ({PLATEAU} members), {sizes[-1][0] - since[0]} more "
                  f"members cost less than {GROWTH_KIB} KiB: {grown:+d} KiB, "
                  f"{'met' if grown < GROWTH_KIB else 'NOT met'}")
            met.append(grown < GROWTH_KIB)
    print(f"\n(medians of {rounds} rounds of {seconds} s per server; {load_average()})")
    return 0 if all(met) else 1


if __name__ == "__main__":
    sys.exit(main())
