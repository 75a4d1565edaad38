"""Media throughput with audience counting on against off: `python -m bench.audience [--quick]`
(about 40 s).

Two gunicorns of the app on the same sample database (the repository's gunicorn.conf.py),
one with AUDIENCE_COUNTING=on (its default: each audio fetch hashed and kept in memory,
written in batches every AUDIENCE_FLUSH_SECONDS) and one with it off; wrk loads each in
turn, round after round, with a podcast app's User-Agent. Cases and goal (issue 24):

- the sample's MP3, whole (200), counting on >= 0.9x off;
- its first 64 KiB (206, as players fetch), counting on >= 0.9x off.

Every request is counted (wrk is one listener at one address): the batches the
flush thread writes, some thousands of rows every 10 s, are part of what is measured.

Beside req/s, each server's CPU time per request: its workers' user and system time
(/proc/<pid>/stat) over the requests wrk completed. On a machine shared with other
work, req/s swings with the neighbours' load from one second to the next; the CPU a
request costs does much less, and its ratio (off / on) is the throughput ratio the
two would have on cores of their own.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

from audience.store import count_stored
from stories.store import create_engine

from .common import (
    Server,
    gunicorn,
    load_average,
    print_table,
    rounds_and_seconds,
    sample_environment,
    warm,
    wrk,
)

MP3 = "/media/north-korean-defectors/1169825816.mp3"
AGENT = "Podcasts/1650.20 CFNetwork/1404.0.5 Darwin/22.3.0"
ON, OFF = "counting on", "counting off"
GOAL = 0.9
FLUSH_SECONDS = 10  # AUDIENCE_FLUSH_SECONDS's default
CASES = (
    ("whole file, 200", {}),
    ("first 64 KiB, 206", {"Range": "bytes=0-65535"}),
)


def cpu_seconds(server: Server) -> float:
    """User and system time of the server's workers so far."""
    ticks = 0
    for pid in server.worker_pids():
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> int:
    quick = "--quick" in (sys.argv[1:] if argv is None else argv)
    rounds, seconds = rounds_and_seconds(quick)
    print(f"bench.audience: {load_average()}", flush=True)
    runs: dict[tuple[str, str], list[float]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}  # µs of CPU per request
    sent = 0
    with sample_environment() as env, \
            gunicorn(dict(env, AUDIENCE_COUNTING="on")) as on, \
            gunicorn(dict(env, AUDIENCE_COUNTING="off")) as off:
        servers = {ON: on, OFF: off}
        for running in servers.values():
            warm(running.base + MP3, {"User-Agent": AGENT})
        for n in range(rounds):
            for name, headers in CASES:
                for server, running in servers.items():
                    used = cpu_seconds(running)
                    result = wrk(running.base + MP3, seconds=seconds, headers={"User-Agent": AGENT, **headers})
                    cpu.setdefault((name, server), []).append(
                        (cpu_seconds(running) - used) * 1e6 / max(result.requests, 1))
                    if result.errors:
                        print(f"  warning: {server}, {name}: {result.errors} errors or non-2xx/3xx")
                    runs.setdefault((name, server), []).append(result.requests_per_second)
                    sent += result.requests if server == ON else 0
            print(f"  round {n + 1}/{rounds}, {load_average()}", flush=True)
        time.sleep(FLUSH_SECONDS + 1)  # the last batch
        engine = create_engine(env["DATABASE_URL"])
        stored = count_stored(engine)
        engine.dispose()
    print(f"  fetches recorded by the counting server: {stored} of the {sent} requests wrk "
          "completed (and the warm-up's)")
    met = True
    rows = []
    for name, _headers in CASES:
        ratios = [a / b for a, b in zip(runs[(name, ON)], runs[(name, OFF)], strict=True)]
        ratio = statistics.median(ratios)
        met &= ratio >= GOAL
        cpu_on, cpu_off = statistics.median(cpu[(name, ON)]), statistics.median(cpu[(name, OFF)])
        rows.append((name, f"{statistics.median(runs[(name, ON)]):.0f}",
                     f"{statistics.median(runs[(name, OFF)]):.0f}", f"{ratio:.2f}x",
                     "met" if ratio >= GOAL else "NOT met",
                     f"{cpu_on:.0f}", f"{cpu_off:.0f}", f"{cpu_off / cpu_on:.2f}x"))
    print()
    print_table(("case", f"{ON} req/s", f"{OFF} req/s", "on / off", f"goal >= {GOAL}x",
                 "CPU us/req on", "CPU us/req off", "CPU off / on"), rows)
    print(f"\n(medians of {rounds} rounds of {seconds} s per server; {load_average()})")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
