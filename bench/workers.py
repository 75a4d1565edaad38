"""Which gunicorn worker model: `python -m bench.workers [--quick]` (about 3 minutes).

For each model, the app and `bench.baseline_wsgi` run under the repository's
gunicorn.conf.py with the model's worker settings on the command line (they override
the file); wrk loads the sample topic's warm RSS feed on each, every model in every round.
Then, per model, the slow-client probes: 50 idle connections and 10 clients sending a
request one byte a second (then 200 and 40), while a normal feed request is timed every
half second (giving up at 10 s); the worst of those, and whether any worker was
replaced, show what an unbuffered router (or `make run` facing browsers) would see.
"""

from __future__ import annotations

import contextlib
import importlib.util
import socket
import statistics
import sys
import threading
import time
import urllib.parse

from .common import (
    APP,
    RAW,
    Case,
    baselines,
    get,
    gunicorn,
    load_average,
    measure,
    print_table,
    ratio,
    record,
    sample_environment,
)
from .warm import FEED

MODELS = {
    "sync": ("-k", "sync", "--threads", "1"),
    "gthread, 8 threads": ("-k", "gthread", "--threads", "8"),
    "gthread, 32 threads": ("-k", "gthread", "--threads", "32"),
    "gthread, 64 threads": ("-k", "gthread", "--threads", "64"),
    "gevent": ("-k", "gevent", "--threads", "1"),
}
PRESSURES = ((50, 10), (200, 40))  # idle connections, clients trickling a request


def slow_clients(base: str, seconds: float, idle: int, trickling: int) -> list[float]:
    """Seconds taken by a normal feed request, every half second for `seconds`, while
    `idle` connections sit open and `trickling` clients send a request a byte a second."""
    address = urllib.parse.urlsplit(base)
    host, port = address.hostname, address.port
    done = threading.Event()
    idle_sockets = [socket.create_connection((host, port)) for _ in range(idle)]

    def trickle() -> None:
        with socket.create_connection((host, port)) as s:
            for byte in f"GET {FEED} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode():
                if done.wait(1):
                    return
                try:
                    s.send(bytes([byte]))
                except OSError:  # the server gave up on us: fine
                    return

    threads = [threading.Thread(target=trickle, daemon=True) for _ in range(trickling)]
    for thread in threads:
        thread.start()
    taken = []
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            started = time.monotonic()
            try:
                get(base + FEED, timeout=10)
            except OSError:
                pass  # counted as the time it took to fail
            taken.append(time.monotonic() - started)
            time.sleep(0.5)
    finally:
        done.set()
        for s in idle_sockets:
            s.close()
    return taken


def main(argv: list[str] | None = None) -> int:
    quick = "--quick" in (sys.argv[1:] if argv is None else argv)
    rounds, seconds, probe = (2, 2, 5) if quick else (3, 3, 8)
    models = {name: args for name, args in MODELS.items()
              if args[1] != "gevent" or importlib.util.find_spec("gevent")}
    print(f"bench.workers: {', '.join(models)}; {load_average()}", flush=True)
    cases = {name: Case(name, FEED) for name in models}
    probes = {}
    with sample_environment() as env, contextlib.ExitStack() as stack:
        bases = {}
        for name, args in models.items():
            app = stack.enter_context(gunicorn(env, args=args))
            answers = record([cases[name]], [app.base])
            raw = stack.enter_context(baselines(env, answers))[RAW]
            bases[name] = (app, {RAW: raw, APP: [app.base]})
        for _ in range(rounds):
            for name in models:  # every model in every round: the noise weighs on all alike
                measure([cases[name]], bases[name][1], rounds=1, seconds=seconds)
        for name in models:
            app = bases[name][0]
            before = app.worker_pids()
            worst = [max(slow_clients(app.base, probe, idle, trickling)) for idle, trickling in PRESSURES]
            probes[name] = (worst, before != app.worker_pids())
    rows = []
    for name, case in cases.items():
        app_runs, raw_runs = case.runs[APP], case.runs[RAW]
        worst, replaced = probes[name]
        rows.append((
            name,
            f"{statistics.median(r.requests_per_second for r in app_runs):.0f}",
            f"{statistics.median(r.p50_ms for r in app_runs):.2f}",
            f"{statistics.median(r.p99_ms for r in app_runs):.2f}",
            f"{statistics.median(r.requests_per_second for r in raw_runs):.0f}",
            f"{ratio(case, APP, RAW):.2f}x",
            *(f"{seconds:.2f}" for seconds in worst),
            "yes" if replaced else "no",
        ))
    print()
    print_table(("worker model", "feed req/s", "p50 ms", "p99 ms", "raw WSGI req/s",
                 "vs raw WSGI", *(f"worst s, {i} idle + {t} slow" for i, t in PRESSURES),
                 "worker replaced"),
                rows)
    print(f"\n(warm feed {FEED}, medians of {rounds} rounds of {seconds} s; 2 workers each;"
          f" {load_average()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
