"""`make bench`: the serving benchmarks, or the ones named.

    python -m bench [--quick] [NAME ...]

With no NAME: warm, scale, feeds, memory, anonymous, audience and members (about 12 minutes; the first run
on a machine also builds memory's stores, about a minute more). Any module of bench/ can be
named, e.g. `python -m bench workers store sources`, and each also runs alone as
`python -m bench.NAME`. docs/benchmarks.md says how to read the tables.
"""

import importlib
import inspect
import sys
import time

from .common import load_average

DEFAULT = ("warm", "scale", "feeds", "memory", "anonymous", "audience", "members")


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    names = [arg for arg in argv if not arg.startswith("-")] or list(DEFAULT)
    started = time.monotonic()
    missed = []
    for name in names:
        print(f"\n== bench.{name}", flush=True)
        run = importlib.import_module(f"bench.{name}").main
        code = run(["--quick"] if quick else []) if inspect.signature(run).parameters else run()
        if code:
            missed.append(name)
    print(f"\nbench: {', '.join(names)} in {time.monotonic() - started:.0f} s; {load_average()}")
    if missed:
        print(f"goals not met in: {', '.join(missed)}")
    return 0  # a report, not a test: the tables say what was met


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
