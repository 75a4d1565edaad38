"""Warm answers against the baselines: `python -m bench.warm [--quick]` (about 90 s).

One gunicorn of the app (the repository's gunicorn.conf.py, the sample topic in a
throwaway SQLite database, the in-process render cache), one of `bench.baseline_wsgi`
and one of `bench.baseline_flask` replaying the app's own answers; wrk loads each in
turn, round after round. Cases and goals (storyfeed's req/s against raw WSGI's):

- the sample topic's RSS feed, warm, 200: >= 0.9x;
- the same answered 304 (If-None-Match with its ETag): >= 0.95x;
- an oEmbed answer for a story, warm: >= 0.9x.
"""

from __future__ import annotations

import sys
from urllib.parse import urlencode

from .common import (
    APP,
    Case,
    baselines,
    gunicorn,
    header,
    load_average,
    measure,
    record,
    report,
    rounds_and_seconds,
    sample_environment,
    warm,
)

TOPIC = "north-korean-defectors"
STORY = "1169464713"
FEED = f"/topics/{TOPIC}/rss.xml"


def cases(base: str, site_url: str) -> list[Case]:
    """The three warm cases; the 304's ETag is the feed's, as `base` answers it. The
    oEmbed case asks about a story page under `site_url`, the public URL."""
    etag = header(warm(base + FEED), "ETag")
    oembed = "/oembed?" + urlencode({"url": f"{site_url.rstrip('/')}/stories/{STORY}",
                                     "maxwidth": "600"})
    return [
        Case("warm feed, 200", FEED, goal=0.9),
        Case("warm feed, 304", FEED, {"If-None-Match": etag}, goal=0.95),
        Case("warm oEmbed", oembed, goal=0.9),
    ]


def main(argv: list[str] | None = None) -> int:
    quick = "--quick" in (sys.argv[1:] if argv is None else argv)
    rounds, seconds = rounds_and_seconds(quick)
    print(f"bench.warm: {load_average()}", flush=True)
    with sample_environment() as env, gunicorn(env) as app:
        measured = cases(app.base, app.base + "/")
        answers = record(measured, [app.base])
        with baselines(env, answers) as servers:
            measure(measured, {**servers, APP: [app.base]}, rounds=rounds, seconds=seconds)
    met = [report(case) for case in measured]
    print(f"\n(medians of {rounds} rounds of {seconds} s per server; {load_average()})")
    return 0 if all(met) else 1


if __name__ == "__main__":
    sys.exit(main())
