"""Every anonymous GET on 100,000 stories, uncached: `python -m bench.anonymous [--quick]
[sqlite] [postgresql]`.

A store of 100,000 stories in 200 topics (every topic a complete podcast), built on each
backend: SQLite in a temporary file, PostgreSQL in a database of this run's own on the
server of BENCH_DATABASE_URL or TEST_DATABASE_URL (created, and dropped at the end
whatever happens). Half the stories are also in the topic `silent`, where only 5 of
50,000 have audio: the case that once walked the whole topic for one podcast page. A
third of the others have audio a feed encloses; every 500th story has a transcript file
of its own (WebVTT, SubRip or Podcast Index JSON, 100 to 1,500 cues), one of 40,000 cues (a
named problem on its pages) and one of MAX_CUES, the most a page shows.

Every request goes through the app in process (Flask's test client: server time, no
network), with a render cache that keeps nothing and the transcript cue memo emptied
before each, so each answer is made from the store: every feed format and page (default
and other `limit`s, cursors deep in a topic and in the site, older and newer), the podcast
feeds, OPML, the index, topic and story pages, transcript pages and files, chapters,
oEmbed (query, path, XML, providers), the player, the JSON API, and 404s. The per-process
text memos (`feeds.PROCESS_MEMOS`) stay as a running process has them.

Goal: p99 of each kind of request <= 50 ms of server time (wall clock), and the worst
single request is printed. Beside it, the CPU time of the serving thread (the app's own
work, and SQLite's; PostgreSQL's is its server's): on a machine whose other work takes
the cores, wall time grows and CPU time mostly does not.
The store is built with the store's own batch writes (5,000 stories a transaction).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from app import create_app, settle_heap
from feeds.cues import MAX_CUES
from serving.params import DEFAULT_LIMIT, MAX_LIMIT
from serving.rendered import Rendered
from serving.state import EXTENSION, app_state
from stories import migrate
from stories.model import Audio, Chapter, Chapters, Image, Story, Transcript
from stories.store import StoryStore, create_engine, encode_cursor
from web import transcripts

from .common import load_average, print_table
from .feeds import bench_topic

STORIES = 100_000
TOPICS = 200
SILENT = "silent"
SILENT_EPISODES = (2, 20_002, 40_002, 60_002, 80_002)  # even: in `silent`, with audio
TRANSCRIPT_EVERY = 500
HUGE_TRANSCRIPT = 1  # the story whose transcript has 40,000 cues (refused: past MAX_CUES)
LONGEST_TRANSCRIPT = 1_001  # the story whose transcript has MAX_CUES cues, the most a page shows
BATCH = 5_000
GOAL_MS = 50.0
SITE_URL = "http://storyfeed.bench/"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
BASE = datetime(2016, 1, 1, tzinfo=UTC)
FORMATS = ("rss.xml", "atom.xml", "feed.json")


class KeepNothing:
    """A render cache that keeps nothing: every request renders."""

    def get(self, key: str) -> Rendered | None:
        return None

    def set(self, key: str, value: Rendered) -> None:
        pass

    def get_or_render(self, key: str | None, render: Callable[[], Rendered]) -> Rendered:
        return render()

    def status(self) -> str:
        return "none"


# -- the store --------------------------------------------------------------------------

def published(i: int) -> datetime:
    return BASE + timedelta(minutes=5 * i)


def topics_of(i: int) -> tuple[str, ...]:
    own = (f"t{i % TOPICS}",)
    return own + (SILENT,) if i % 2 == 0 else own


def has_audio(i: int) -> bool:
    return i in SILENT_EPISODES or (i % 2 == 1 and i % 3 == 1)


def transcript_of(i: int) -> tuple[str, str, int] | None:
    """(file name, type, cues) of story i's transcript, if it has one."""
    if i == HUGE_TRANSCRIPT:
        return f"{i}.vtt", "text/vtt", 40_000
    if i == LONGEST_TRANSCRIPT:
        return f"{i}.vtt", "text/vtt", MAX_CUES
    if i % TRANSCRIPT_EVERY != HUGE_TRANSCRIPT:
        return None
    cues = 100 + (i * 37) % 1_400
    kind = (i // TRANSCRIPT_EVERY) % 4
    if kind == 2:
        return f"{i}.srt", "application/x-subrip", cues
    if kind == 3:
        return f"{i}.json", "application/json", cues
    return f"{i}.vtt", "text/vtt", cues


def story(i: int) -> Story:
    when = published(i)
    audio: tuple[Audio, ...] = ()
    transcript = transcript_of(i)
    if has_audio(i) or transcript:
        files = (Transcript(f"/media/bench/{transcript[0]}", transcript[1], "en"),) if transcript else ()
        chapters = Chapters(chapters=(Chapter(0, "Opening"), Chapter(30, "The story"))) if i % 7 == 1 else None
        audio = (Audio(f"{200_000_000 + i}", f"/media/bench/{i}.mp3", "audio/mpeg", 30_000 + i,
                       60 + i % 900, transcripts=files, chapters=chapters),)
    return Story(
        id=str(100_000_000 + i), url=f"https://news.example.org/{when:%Y/%m/%d}/{i}",
        title=f"Story {i}: what happened, and why it matters", published=when, updated=when,
        teaser="A teaser of some length, as stories have. " * 3, bylines=("A. Writer",),
        topics=topics_of(i), audio=audio,
        image=Image(f"/media/bench/{i}.jpg", 800, 450) if i % 4 == 0 else None,
    )


def write_transcript(folder: Path, name: str, cues: int) -> None:
    def at(seconds: float, comma: bool = False) -> str:
        whole = int(seconds)
        text = f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}.{int(seconds * 1000) % 1000:03d}"
        return text.replace(".", ",") if comma else text

    words = "and so the people who were there said what they saw, in a sentence or two"
    if name.endswith(".json"):
        segments = [{"speaker": f"Speaker {n % 3}", "startTime": n * 2.5, "endTime": n * 2.5 + 2,
                     "body": f"{words} {n}."} for n in range(cues)]
        (folder / name).write_text(json.dumps({"version": "1.0.0", "segments": segments}))
    elif name.endswith(".srt"):
        (folder / name).write_text("\n".join(
            f"{n + 1}\n{at(n * 2.5, True)} --> {at(n * 2.5 + 2, True)}\n{words} {n}.\n" for n in range(cues)))
    else:
        (folder / name).write_text("WEBVTT\n\n" + "\n".join(
            f"{at(n * 2.5)} --> {at(n * 2.5 + 2)}\n<v Speaker {n % 3}>{words} {n}.\n" for n in range(cues)))


def build(database_url: str, media: Path) -> float:
    """Migrate and fill the store and the media folder; the seconds it took."""
    started = time.monotonic()
    store = StoryStore.from_url(database_url)
    try:
        migrate.upgrade(store.engine)
        topic = bench_topic()
        store.write(topics=[replace(topic, slug=f"t{n}", title=f"Topic {n}") for n in range(TOPICS)]
                    + [replace(topic, slug=SILENT, title="Mostly silent")])
        for start in range(0, STORIES, BATCH):
            store.write([story(i) for i in range(start, min(start + BATCH, STORIES))])
        if store.engine.dialect.name == "postgresql":
            with store.engine.begin() as conn:
                conn.execute(sa.text("ANALYZE"))
    finally:
        store.engine.dispose()
    (media / "bench").mkdir(parents=True)
    for i in range(STORIES):
        found = transcript_of(i)
        if found:
            write_transcript(media / "bench", found[0], found[2])
    return time.monotonic() - started


@contextlib.contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """A database of this run's own on the server of `server_url`, dropped at the end."""
    name = f"bench_anonymous_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


# -- the requests -------------------------------------------------------------------------

def cursor(i: int, direction: str = "older") -> str:
    return encode_cursor(direction, published(i), str(100_000_000 + i))


def requests(rng: random.Random, quick: bool) -> list[tuple[str, str]]:
    """(kind, path and query) of every request of the run."""
    out: list[tuple[str, str]] = []
    sample = 10 if quick else 40
    # Up to the largest page a request may ask for; one past it is a 400.
    limits = ("", "?limit=1", "?limit=10", f"?limit={MAX_LIMIT // 2}", f"?limit={MAX_LIMIT}")
    # The site's feeds: first pages, pages deep in the store, newer-ward pages.
    for name in FORMATS:
        for limit in limits:
            out.append((f"site feed{limit.replace('?', ' ')}", f"/{name}{limit}"))
        for i in rng.sample(range(STORIES), sample // 4):
            out.append(("site feed page", f"/pages/{cursor(i, rng.choice(('older', 'newer')))}/{name}"))
    # Each topic's feeds, pages and podcast.
    for slug in [f"t{n}" for n in rng.sample(range(TOPICS), sample)]:
        n = int(slug[1:])
        member = rng.choice(range(n, STORIES, TOPICS))
        for name in (*FORMATS, "podcast.xml"):
            kind = "podcast" if name == "podcast.xml" else "topic feed"
            limit = rng.choice(limits)
            out.append((f"{kind}{limit.replace('?', ' ')}", f"/topics/{slug}/{name}{limit}"))
            page = cursor(member, rng.choice(("older", "newer")))
            out.append((f"{kind} page", f"/topics/{slug}/pages/{page}/{name}"))
        out.append(("topic page", f"/topics/{slug}"))
        out.append(("topic page", f"/topics/{slug}?cursor={cursor(member)}"))
        api_limit = rng.choice((1, DEFAULT_LIMIT, MAX_LIMIT))
        out.append((f"api topic stories limit={api_limit}", f"/api/topics/{slug}/stories?limit={api_limit}"))
        out.append(("api topic stories", f"/api/topics/{slug}/stories?cursor={cursor(member)}"))
    # The topic of 50,000 stories with 5 episodes among them.
    for limit in limits:
        out.append(("podcast of silent topic", f"/topics/{SILENT}/podcast.xml{limit}"))
    for i in (*SILENT_EPISODES, 10_000, 99_998):
        for direction in ("older", "newer"):
            page = cursor(i, direction)
            out.append(("podcast of silent topic", f"/topics/{SILENT}/pages/{page}/podcast.xml?limit=1"))
    # Stories: pages, oEmbed, players, API; with and without audio or transcripts.
    picked = rng.sample(range(STORIES), sample * 3)
    for i in picked:
        story_id = str(100_000_000 + i)
        page = f"{SITE_URL}stories/{story_id}"
        out.append(("story page", f"/stories/{story_id}"))
        out.append(("api story", f"/api/stories/{story_id}"))
        out.append(("oembed", f"/oembed?url={page}&format={rng.choice(('json', 'xml'))}"))
        out.append(("oembed", f"/oembed.{rng.choice(('json', 'xml'))}?url={page}"))
        out.append(("oembed", f"/stories/{story_id}/oembed.json"))
        if has_audio(i):
            out.append(("player", f"/player/{story_id}/{200_000_000 + i}"))
    # Every story with a transcript: its page, its story page, its file.
    for i in range(STORIES):
        found = transcript_of(i)
        if found is None or (quick and i % (4 * TRANSCRIPT_EVERY) != HUGE_TRANSCRIPT):
            continue
        story_id = str(100_000_000 + i)
        out.append(("transcript page", f"/stories/{story_id}/transcript"))
        out.append(("story page, transcript", f"/stories/{story_id}"))
        extension = found[0].rsplit(".", 1)[1]
        out.append(("transcript file", f"/stories/{story_id}/audio/{200_000_000 + i}/transcript.{extension}"))
        if i % 7 == 1:
            out.append(("chapters", f"/stories/{story_id}/audio/{200_000_000 + i}/chapters.json"))
    out += [("index", "/"), ("opml", "/feeds.opml"), ("oembed", "/oembed/providers.json"),
            ("openapi", "/openapi.json"), ("health", "/healthz"), ("health", "/readyz"),
            ("health", "/livez"), ("metrics, no token", "/metrics"), ("audience, no token", "/api/audience"),
            ("members, no token", "/api/members"), ("members, no token", "/api/members/sharing"),
            # A guessed secret: the 404 of any unknown URL, after one lookup by its hash.
            ("member feed, guessed", "/m/" + "A" * 32 + "/topics/t1/rss.xml"),
            ("member media, guessed", "/m/" + "A" * 32 + "/media/members/1.mp3"),
            ("member transcript, guessed", "/m/" + "A" * 32 + "/stories/100000001/transcript"),
            ("member transcript, guessed", "/m/" + "A" * 32 + "/stories/100000001/audio/200000001/transcript.vtt"),
            ("member chapters, guessed", "/m/" + "A" * 32 + "/stories/100000001/audio/200000001/chapters.json"),
            ("media file", "/media/bench/1.vtt"),
            ("redirect", "/stories/100000001/"), ("404", "/topics/nothing/rss.xml"),
            ("404", "/stories/nothing"), ("404", "/topics/nothing/podcast.xml"),
            ("400", f"/topics/t1/rss.xml?limit={MAX_LIMIT + 1}"),
            ("400", f"/api/topics/t1/stories?limit={MAX_LIMIT * 5}")]
    rng.shuffle(out)
    return out


@dataclasses.dataclass
class Timed:
    kind: str
    target: str
    status: int
    ms: float
    cpu_ms: float  # this thread's CPU: the app's own work (and SQLite's), not PostgreSQL's
    gc_ms: float  # of which Python's garbage collector, which the request's allocations set off


class GCClock:
    """Wall time spent in Python's garbage collector, from gc.callbacks."""

    def __init__(self) -> None:
        self.total = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.total += time.perf_counter() - self._started


def run(database_url: str, media: Path, targets: list[tuple[str, str]]) -> list[Timed]:
    app = create_app({"DATABASE_URL": database_url, "SITE_URL": SITE_URL, "MEDIA_DIR": str(media),
                      "FAST_PATH": "off", "LOG_LEVEL": "ERROR"})
    state = app_state(app)
    app.extensions[EXTENSION] = dataclasses.replace(state, render_cache=KeepNothing())
    client = app.test_client()
    settle_heap()  # as wsgi.py does once a worker has built the app
    collector = GCClock()
    gc.callbacks.append(collector)
    try:
        for _kind, target in targets[:20]:  # connections, templates, imports: a started process
            client.get(target)
        timed = []
        for kind, target in targets:
            transcripts.CUE_MEMO.clear()
            started, cpu, collected = time.perf_counter(), time.thread_time(), collector.total
            response = client.get(target)
            response.close()
            timed.append(Timed(kind, target, response.status_code, (time.perf_counter() - started) * 1000,
                               (time.thread_time() - cpu) * 1000, (collector.total - collected) * 1000))
        return timed
    finally:
        gc.callbacks.remove(collector)
        state.store.engine.dispose()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def report(backend: str, timed: list[Timed]) -> tuple[bool, str]:
    kinds: dict[str, list[Timed]] = {}
    for t in timed:
        kinds.setdefault(t.kind, []).append(t)
    rows = []
    for kind, group in sorted(kinds.items(), key=lambda item: -percentile([t.ms for t in item[1]], 0.99)):
        ms = [t.ms for t in group]
        p99 = percentile(ms, 0.99)
        statuses = ",".join(str(s) for s in sorted({t.status for t in group}))
        cpu = [t.cpu_ms for t in group]
        rows.append((kind, str(len(group)), statuses, f"{statistics.median(ms):.1f}", f"{p99:.1f}",
                     f"{max(ms):.1f}", f"{statistics.median(cpu):.1f}", f"{percentile(cpu, 0.99):.1f}",
                     f"{p99 / GOAL_MS:.2f}x", "met" if p99 <= GOAL_MS else "NOT met"))
    print(f"\n{backend}: {len(timed)} requests, render cache keeping nothing")
    print_table(("kind", "n", "status", "p50 ms", "p99 ms", "max ms", "cpu p50", "cpu p99", "p99/goal",
                 f"p99 <= {GOAL_MS:.0f} ms"), rows)
    everything = [t.ms for t in timed]
    worst = max(timed, key=lambda t: t.ms)
    worst_cpu = max(timed, key=lambda t: t.cpu_ms)
    errors = [t for t in timed if t.status >= 500]
    print(f"  all: p50 {statistics.median(everything):.1f} ms, p99 {percentile(everything, 0.99):.1f} ms; "
          f"worst {worst.ms:.1f} ms ({worst.ms / GOAL_MS:.2f}x goal): {worst.status} GET {worst.target}")
    print(f"  most CPU: {worst_cpu.cpu_ms:.1f} ms ({worst_cpu.ms:.1f} ms wall, {worst_cpu.gc_ms:.1f} ms of it "
          f"Python's garbage collector): GET {worst_cpu.target}")
    print(f"  garbage collector: {sum(t.gc_ms for t in timed):.0f} ms in all, "
          f"at most {max(t.gc_ms for t in timed):.1f} ms in one request")
    if errors:
        print(f"  {len(errors)} answers of 5xx, e.g. GET {errors[0].target}")
    met = all(percentile([t.ms for t in g], 0.99) <= GOAL_MS for g in kinds.values()) and not errors
    # Beside the goal, the same on CPU time: what the request's own work costs, which a
    # neighbour's load on the cores barely changes (the goal's wall time it can multiply).
    cpu_met = all(percentile([t.cpu_ms for t in g], 0.99) <= GOAL_MS for g in kinds.values())
    verdict = (f"{backend}: every kind's p99 <= {GOAL_MS:.0f} ms: {'met' if met else 'NOT met'} "
               f"(on CPU time: {'met' if cpu_met else 'NOT met'}); "
               f"worst {worst.ms:.1f} ms ({worst.cpu_ms:.1f} ms CPU) GET {worst.target}; "
               f"most CPU {worst_cpu.cpu_ms:.1f} ms GET {worst_cpu.target}")
    print(f"  goal {verdict}")
    return met, verdict


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    quick = "--quick" in args
    backends = [a for a in args if not a.startswith("-")] or ["sqlite", "postgresql"]
    server_url = (os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
                  or DEFAULT_DATABASE_URL)
    print(f"bench.anonymous: {load_average()}", flush=True)
    targets = requests(random.Random(21), quick)
    met, verdicts = [], []
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix="storyfeed-bench-anonymous-") as tmp:
            with contextlib.ExitStack() as stack:
                if backend == "postgresql":
                    database_url = stack.enter_context(postgres_database(server_url))
                else:
                    database_url = f"sqlite:///{tmp}/bench.sqlite3"
                media = Path(tmp) / "media"
                seconds = build(database_url, media)
                print(f"  {backend}: {STORIES:,} stories in {TOPICS + 1} topics built in {seconds:.0f} s; "
                      f"{load_average()}", flush=True)
                backend_met, verdict = report(backend, run(database_url, media, targets))
                met.append(backend_met)
                verdicts.append(verdict)
    print(f"\ngoal of issue 21, every anonymous GET's p99 <= {GOAL_MS:.0f} ms of server time, uncached "
          f"({load_average()}):")
    for verdict in verdicts:
        print(f"  {verdict}")
    return 0 if all(met) else 1


if __name__ == "__main__":
    sys.exit(main())
