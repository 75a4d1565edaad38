"""Feed benchmark: `python -m bench.feeds` (about two minutes).

All numbers come from one run on this machine and are printed as ratios against
baselines measured in the same run:

1. gunicorn (2 workers) serves a store of 1,000 stories; wrk loads
   - a constant-bytes endpoint of the feed's size in the same app (the baseline,
     registered only with the BENCH_BASELINE setting),
   - the warm 50-item topic RSS feed (target: >= 0.8x the baseline's requests/s),
   - the same feed answered with 304 (target: >= 0.9x);
2. rendering a 50- and a 500-item podcast feed (targets: <= 10 ms, <= 80 ms), and the
   ratio to what feedgen alone costs for the same items;
3. the 50-item topic feed with 100,000 stories in the store against 1,000
   (target: <= 1.2x), rendered cold (no cached body) in process, and warm through
   gunicorn; plus a page deep in the 100,000 against page 1.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests
from feedgen.feed import FeedGenerator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feeds import Paging, render_podcast_feed  # noqa: E402
from serving.links import Links  # noqa: E402
from serving.state import app_state  # noqa: E402
from stories import migrate  # noqa: E402
from stories.files import read_records  # noqa: E402
from stories.model import Audio, Image, Story, Topic, TopicImage  # noqa: E402
from stories.sample import SAMPLE_FILE  # noqa: E402
from stories.store import StoryPage, StoryStore  # noqa: E402

WRK_SECONDS = 5
WRK_CONNECTIONS = 4
TOPIC = "bench"
BASE = datetime(2015, 1, 1, tzinfo=timezone.utc)
LINKS = Links.build("http://127.0.0.1/")


def bench_topic() -> Topic:
    sample = read_records(SAMPLE_FILE.read_text(encoding="utf-8"), SAMPLE_FILE.name).topics[0]
    return replace(sample, slug=TOPIC, title="Benchmark topic",
                   image=TopicImage("/media/north-korean-defectors/artwork.jpg", 1400, 1400))


def make_story(i: int) -> Story:
    """A story shaped like the sample's: picture, teaser, one audio with a transcript."""
    when = BASE + timedelta(minutes=7 * i)
    return Story(
        id=f"{100000000 + i}",
        url=f"https://www.example.org/{when:%Y/%m/%d}/{100000000 + i}/a-story-about-something",
        title=f"Story {i}: what happened, and why it matters to the people it touched",
        published=when, updated=when,
        teaser="As the border reopens, people held in detention fear being sent back, "
               "and families on both sides wait for news.",
        bylines=("Ann Writer", "Bo Reporter"),
        topics=(TOPIC,),
        image=Image(f"/media/bench/{i}.jpg", 800, 450,
                    caption="Surveillance footage of the moment a soldier crosses the line.",
                    credit="Jung Yeon-Je/AFP via Getty Images"),
        audio=(Audio(f"{200000000 + i}", f"/media/bench/{200000000 + i}.mp3", "audio/mpeg",
                     29048 + i, 7 + i % 600, transcript_url=f"https://www.example.org/transcripts/{i}"),),
    )


def build_store(path: Path, count: int) -> str:
    url = f"sqlite:///{path}"
    store = StoryStore.from_url(url)
    migrate.upgrade(store.engine)
    chunk = 10_000
    store.write(topics=[bench_topic()])
    for start in range(0, count, chunk):
        store.write(make_story(i) for i in range(start, min(count, start + chunk)))
    store.engine.dispose()
    return url


# -- gunicorn and wrk ---------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn with 2 workers on a free port, the baseline endpoint switched on."""

    def __init__(self, database_url: str):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        # SITE_URL set as in production (README, "Deployment").
        env = dict(os.environ, DATABASE_URL=database_url, LOG_LEVEL="WARNING", SITE_URL=self.base)
        env.pop("WEBSUB_HUB", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{self.port}",
             "--access-logfile", "/dev/null", "--log-level", "warning",
             "app:create_app({'BENCH_BASELINE': True})"],
            cwd=ROOT, env=env,
        )

    def __enter__(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:  # not listening, or still starting
                time.sleep(0.2)
        self.__exit__()
        raise RuntimeError("gunicorn did not start")

    def __exit__(self, *exc):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def wrk(url: str, headers: dict[str, str] | None = None) -> dict:
    command = ["wrk", "-t2", f"-c{WRK_CONNECTIONS}", f"-d{WRK_SECONDS}s", "--latency"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p50.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {"rps": rps, "p50_ms": float(p50.group(1)) * scale,
            "bad": int(non2xx.group(1)) if non2xx else 0, "errors": errors.group(0) if errors else ""}


def warm(url: str, times: int = 20) -> requests.Response:
    response = None
    with requests.Session() as session:
        for _ in range(times):  # both workers render and cache it
            response = session.get(url, headers={"Accept-Encoding": "identity"})
            response.raise_for_status()
    return response


# -- rendering ------------------------------------------------------------------------

def median_ms(action, repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


def feedgen_only_podcast(topic: Topic, stories) -> bytes:
    """The same items through feedgen's own podcast extension, with nothing of ours:
    what feedgen costs by itself."""
    fg = FeedGenerator()
    fg.load_extension("podcast")
    fg.title(topic.title)
    fg.link(href=LINKS.absolute(f"topics/{topic.slug}/podcast.xml"), rel="self")
    fg.link(href=LINKS.topic(topic.slug), rel="alternate")
    fg.description(topic.description)
    fg.language(topic.language)
    fg.updated(max(s.updated for s in stories))
    fg.podcast.itunes_author(topic.author)
    fg.podcast.itunes_owner(name=topic.owner_name, email=topic.owner_email)
    fg.podcast.itunes_category(topic.category, topic.subcategory)
    fg.podcast.itunes_image(LINKS.media(topic.image.url))
    fg.podcast.itunes_explicit("no")
    fg.podcast.itunes_type(topic.type)
    for story in stories:
        audio = story.audio[0]
        fe = fg.add_entry(order="append")
        fe.title(story.title)
        fe.link(href=story.url)
        fe.guid(story.id, permalink=False)
        fe.published(story.published)
        fe.description(story.teaser)
        fe.content(f"<p>{story.teaser}</p>", type="CDATA")
        fe.enclosure(LINKS.media(audio.url), str(audio.length), audio.type)
        fe.podcast.itunes_duration(audio.duration)
        fe.podcast.itunes_explicit("no")
        fe.podcast.itunes_episode_type("full")
    return fg.rss_str(pretty=True)


def render_times() -> list[tuple]:
    topic = bench_topic()
    rows = []
    for count, target in ((50, 10.0), (500, 80.0)):
        stories = tuple(make_story(i) for i in range(count, 0, -1))
        page = StoryPage(stories, "next", None)
        repeat = 40 if count == 50 else 10
        ours = median_ms(lambda: render_podcast_feed(topic, page, LINKS, Paging(limit=count)), repeat)
        theirs = median_ms(lambda: feedgen_only_podcast(topic, stories), repeat)
        rows.append((f"render podcast, {count} items", f"{ours:.2f} ms",
                     f"feedgen alone {theirs:.2f} ms", f"{ours / theirs:.2f}x feedgen",
                     f"<= {target:.0f} ms", ours <= target))
    return rows


class NoCache:
    """A render cache that never hits, to time what a cold request costs."""

    def get(self, key):
        return None

    def set(self, key, value):
        pass

    def get_or_render(self, key, render):
        return render()

    def status(self):
        return "none"


def cold_latency_ms(database_url: str, path: str, repeat: int = 30) -> float:
    from app import create_app

    app = create_app({"DATABASE_URL": database_url, "SITE_URL": "http://127.0.0.1/",
                      "LOG_LEVEL": "WARNING"})
    replace(app_state(app), render_cache=NoCache()).install(app)
    client = app.test_client()
    client.get(path)  # connections, imports
    result = median_ms(lambda: client.get(path), repeat)
    app_state(app).store.engine.dispose()
    return result


def deep_cursor(database_url: str, depth: int) -> str:
    store = StoryStore.from_url(database_url)
    cursor = None
    for _ in range(depth // 500):
        cursor = store.latest(TOPIC, limit=500, cursor=cursor).next_cursor
    store.engine.dispose()
    return cursor


# -- the run --------------------------------------------------------------------------

def print_table(rows: list[tuple]) -> None:
    header = ("measure", "value", "baseline", "ratio", "target", "met")
    table = [header] + [tuple(str(c) if not isinstance(c, bool) else ("yes" if c else "NO")
                              for c in row) for row in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for n, row in enumerate(table):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)))
        if n == 0:
            print("  ".join("-" * width for width in widths))


def main() -> int:
    if shutil.which("wrk") is None:
        print("bench.feeds needs wrk (apt-get install wrk)", file=sys.stderr)
        return 2
    rows: list[tuple] = []
    with tempfile.TemporaryDirectory(prefix="storyfeed-bench-") as tmp:
        started = time.monotonic()
        print("building stores: 1,000 and 100,000 stories ...", flush=True)
        small = build_store(Path(tmp) / "small.sqlite3", 1_000)
        large = build_store(Path(tmp) / "large.sqlite3", 100_000)
        print(f"  built in {time.monotonic() - started:.0f} s", flush=True)
        feed_path = f"/topics/{TOPIC}/rss.xml"

        print("wrk against gunicorn (2 workers): 1,000 and 100,000 stories ...", flush=True)
        with Server(small) as server, Server(large) as large_server:
            feed_url = server.base + feed_path
            large_feed_url = large_server.base + feed_path
            response = warm(feed_url)
            warm(large_feed_url)
            size, etag = len(response.content), response.headers["ETag"]
            baseline_url = f"{server.base}/_bench/constant/{size}"
            warm(baseline_url)
            runs = {"baseline": [], "feed": [], "304": [], "feed 100k": []}
            for _ in range(2):  # interleaved, so drifts in machine load hit all alike
                runs["baseline"].append(wrk(baseline_url))
                runs["feed"].append(wrk(feed_url))
                runs["304"].append(wrk(feed_url, {"If-None-Match": etag}))
                runs["feed 100k"].append(wrk(large_feed_url))

        best = {name: max(results, key=lambda r: r["rps"]) for name, results in runs.items()}
        base_rps = best["baseline"]["rps"]
        rows.append(("constant bytes (baseline)", f"{base_rps:.0f} req/s", f"{size} bytes", "1.00x", "", ""))
        for name, label, target in (("feed", "warm feed, 200", 0.8), ("304", "warm feed, 304", 0.9)):
            ratio = best[name]["rps"] / base_rps
            rows.append((label, f"{best[name]['rps']:.0f} req/s", f"{base_rps:.0f} req/s",
                         f"{ratio:.2f}x", f">= {target}x", ratio >= target))
        for name, results in runs.items():
            for result in results:
                if result["bad"] or result["errors"]:
                    print(f"  warning: {name}: {result['bad']} bad answers {result['errors']}")

        print("rendering podcast feeds ...", flush=True)
        rows += render_times()

        print("cold requests, 1,000 against 100,000 stories ...", flush=True)
        cold_small = cold_latency_ms(small, feed_path)
        cold_large = cold_latency_ms(large, feed_path)
        ratio = cold_large / cold_small
        rows.append(("cold 50-item feed, 100k stories", f"{cold_large:.2f} ms",
                     f"1k stories {cold_small:.2f} ms", f"{ratio:.2f}x", "<= 1.2x", ratio <= 1.2))
        cursor = deep_cursor(large, 50_000)
        cold_deep = cold_latency_ms(large, f"{feed_path}?cursor={cursor}")
        ratio = cold_deep / cold_large
        rows.append(("cold page at story 50,000 of 100k", f"{cold_deep:.2f} ms",
                     f"page 1 {cold_large:.2f} ms", f"{ratio:.2f}x", "<= 1.2x", ratio <= 1.2))
        small_p50 = min(r["p50_ms"] for r in runs["feed"])
        large_p50 = min(r["p50_ms"] for r in runs["feed 100k"])
        ratio = large_p50 / small_p50
        rows.append(("warm 50-item feed, 100k stories", f"p50 {large_p50:.2f} ms",
                     f"1k stories p50 {small_p50:.2f} ms", f"{ratio:.2f}x", "<= 1.2x", ratio <= 1.2))
        print(f"  done in {time.monotonic() - started:.0f} s\n", flush=True)

    print_table(rows)
    return 0 if all(row[5] is not False for row in rows if row[5] != "") else 1


if __name__ == "__main__":
    sys.exit(main())
