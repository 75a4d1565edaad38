"""oEmbed under load: a warm request against the constant-bytes baseline of the same size.

    python -m bench.oembed

gunicorn (2 workers, the repository's gunicorn.conf.py) on a free port with the sample
topic in a throwaway SQLite database; wrk alternates between the baseline and the oEmbed
URL. Target: oEmbed at >= 0.8x the baseline's requests per second.
"""

from __future__ import annotations

from urllib.parse import urlencode

from .common import compare, fetch, gunicorn, sample_environment

STORY = "1169464713"
AUDIO = "1169825816"
TARGET = 0.8


def main() -> float:
    with sample_environment() as env, gunicorn(env) as base:
        cases = {
            "oembed json (story page)": {"url": f"{base}/stories/{STORY}", "maxwidth": "600"},
            "oembed xml (NPR player)": {"url": f"https://www.npr.org/player/embed/{STORY}/{AUDIO}",
                                        "format": "xml"},
        }
        ratios = []
        for name, params in cases.items():
            url = f"{base}/oembed?{urlencode(params)}"
            size = len(fetch(url, times=8))  # warm in every worker
            print(f"{name}: GET /oembed?{urlencode(params)}")
            ratios.append(compare(name, url, base, size))
        worst = min(ratios)
        print(f"oembed: worst ratio {worst:.2f} (target >= {TARGET})")
        return worst


if __name__ == "__main__":
    main()
