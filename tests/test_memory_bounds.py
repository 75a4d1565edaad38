"""What a process keeps is bounded, whatever strangers send: junk URLs leave memory where
it was (the render locks), the fast path's URL table keeps the real feeds and its bound
under threads, and the per-process memos stay within the account of docs/scaling.md."""

from __future__ import annotations

import gc
import hashlib
import importlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from serving.rendered import MemoryRenderCache, VersionMemo
from serving.state import app_state

from .conftest import ROOT, make_app

STORY = "1169464713"


@pytest.fixture
def sample_app(sqlite_url):
    app = make_app(sqlite_url)
    assert app.test_cli_runner().invoke(args=["stories", "sample"]).exit_code == 0
    yield app
    app_state(app).store.engine.dispose()


def junk_urls(n: int, start: int = 0) -> list[str]:
    """Feeds of topics, oEmbed answers and players that do not exist, each URL its own."""
    urls = []
    for i in range(start, start + n):
        urls += [
            f"/topics/junk-{i}/rss.xml",
            f"/topics/junk-{i}/podcast.xml",
            f"/oembed?url=http://storyfeed.test/stories/junk{i}",
            f"/stories/junk{i}/oembed.json",
            f"/player/junk{i}/a{i}",
            f"/player/{STORY}/junk{i}",
        ]
    return urls


# Set in the process `alone` starts for a test.
ALONE = "STORYFEED_MEMORY_ALONE"


def alone(test_name: str) -> bool:
    """Whether this is the process to measure `test_name` in; if not, runs it in a Python
    process of its own and checks it passed there. tracemalloc counts every thread's
    allocations: in a full run of the suite the threads other tests leave in a process
    (servers, their log readers, apps' batch writers) added 0.3 to 0.5 MB to the account's
    fills, and pushed the junk test 0.7 KB over its line."""
    if os.environ.get(ALONE):
        return True
    test = f"{Path(__file__).relative_to(ROOT)}::{test_name}"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:cacheprovider", test],
        cwd=ROOT, env={**os.environ, ALONE: "1"}, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    return False


def traced_bytes() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def test_junk_urls_leave_no_render_lock_and_no_memory_behind(sample_app, monkeypatch):
    if not alone("test_junk_urls_leave_no_render_lock_and_no_memory_behind"):
        return
    # The remembered versions of topics keep the last 1,024 slugs asked for: fewer here,
    # so that a short warm-up fills them as a long run of junk would.
    monkeypatch.setattr(VersionMemo, "MAX_KEYS", 100)
    client = sample_app.test_client()
    cache = app_state(sample_app).render_cache
    assert isinstance(cache, MemoryRenderCache)

    def junk(groups: int, start: int) -> None:
        for url in junk_urls(groups, start):
            assert client.get(url).status_code == 404, url

    junk(150, 0)  # whatever a process makes once, and the bounded tables filled
    tracemalloc.start()
    try:
        junk(150, 150)  # what replaces objects made before tracing counts as new: not measured
        before = traced_bytes()
        junk(300, 300)
        grown = traced_bytes() - before
    finally:
        tracemalloc.stop()
    # 1,800 junk requests, 1,200 of them 404s inside a render: the leak kept a lock for
    # each (about 250 bytes).
    assert cache._rendering == {}
    assert grown < 100_000, f"{grown} bytes kept after 1,800 junk requests"


def test_threads_waiting_on_a_render_that_fails_leave_no_lock():
    cache = MemoryRenderCache()
    started = threading.Event()

    def failing_render():
        started.set()
        time.sleep(0.05)  # the others queue up behind this render's lock
        raise LookupError("no such topic")

    def ask(_: int) -> str:
        try:
            cache.get_or_render("feed|junk", failing_render)
        except LookupError as exc:
            return str(exc)
        return "rendered"

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, range(8)))
    assert started.is_set() and answers == ["no such topic"] * 8
    assert cache._rendering == {}


# -- the memory account of docs/scaling.md ---------------------------------------------

ACCOUNT = Path(__file__).parents[1] / "docs" / "scaling.md"
EMOJI = "\U0001F600"  # printable, and it makes a whole str take 4 bytes a character


OTHER_THREADS_MB = 0.25


def documented_worst_mb() -> dict[str, float]:
    """Each cache of the account's table (by the dotted name it is given) -> its worst
    case in MB."""
    worst = {}
    for line in ACCOUNT.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        names = re.findall(r"`([a-z_.]+\.[A-Za-z_]+)`", cells[0]) if len(cells) == 5 else []
        number = re.match(r"([\d.]+) MB$", cells[2]) if names else None
        if number:
            worst[names[-1]] = float(number.group(1))
    return worst


def unique(i: int) -> str:
    return f"{EMOJI}{i:05d}"


def worst_fills(sample_app) -> dict[str, Callable[[], object]]:
    """A fill of each cache to its bound with the largest entries it keeps."""
    from audience.agents import shipped_agents
    from audience.recorder import MAX_AGENT_CHARS, MAX_BUFFERED, AudioFacts, Recorder, utc_now
    from embeds.config import EmbedSettings, _registry_for_site
    from feeds import content, podcast
    from serving import context, rendered
    from serving.fastpath import Answer, FastPath
    from serving.links import Links
    from serving.members import SecretMemo, Sightings
    from stories.members import MAX_NAME, Member, SecretMatch
    from stories.validate import KNOWN_CLEAN_BODIES, MAX_ID
    from web.transcripts import MEMO_BYTES, MEMO_CUES, CueMemo

    chars = content.MEMO_TEXT_CHARS
    links = Links.build("https://storyfeed.example.org/")

    def memo(function, make):
        def fill() -> None:
            function.cache_clear()
            for i in range(function.cache_info().maxsize):
                function(*make(i))
        return fill

    def fast_path() -> FastPath:
        table = FastPath(sample_app, sample_app.wsgi_app)
        reads = ("format", "maxheight", "maxwidth", "theme", "url")
        for i in range(table.MAX_URLS):
            environ = {"wsgi.url_scheme": "https", "HTTP_HOST": f"h{i:05d}.example", "PATH_INFO": "/oembed",
                       # Raw UTF-8 in the request line, as WSGI hands it on (latin-1).
                       "QUERY_STRING": "url=" + (EMOJI * (table.MAX_URL_CHARS - 40)).encode().decode("latin-1")}
            key = (f"oembed|json|7|storyfeed|{i // table.MAX_SPELLINGS:0100d}||None|None|auto|None|"
                   "https://storyfeed.example.org/|https://storyfeed.example.org/media/")
            table.remember(environ, Answer(key, None, 7, 300), reads)
        assert len(table.answers) == table.MAX_URLS
        return table

    def versions() -> VersionMemo:
        class Store:
            def version(self, topic=None) -> int:
                return 12345

        memo = VersionMemo(Store(), ttl=3600)  # type: ignore[arg-type]
        for i in range(memo.MAX_KEYS + 10):
            memo.version(f"{i:0{MAX_ID}d}")
        return memo

    def clean_bodies() -> None:
        KNOWN_CLEAN_BODIES.cache_clear()
        for i in range(KNOWN_CLEAN_BODIES.maxsize):
            KNOWN_CLEAN_BODIES.add(hashlib.sha256(str(i).encode()).digest())

    def cue_memo() -> CueMemo:
        # Files to the memo's bound of bytes and cues, each cue with a speaker of its own, its
        # text ASCII but for one 4-byte character, which makes Python keep every character
        # of it in 4 bytes: the most a file's bytes can make in memory.
        memo = CueMemo(MEMO_CUES, MEMO_BYTES)
        files = 5
        per_file = MEMO_CUES // files
        folder = Path(tempfile.mkdtemp(prefix="storyfeed-cue-memo-"))
        try:
            for n in range(files):
                timings = "00:00:01.000 --> 00:00:02.000\n"
                cue_bytes = (MEMO_BYTES // files - 10) // per_file  # "WEBVTT\n\n" and a margin
                room = cue_bytes - len(timings) - len("<v >\n\n") - 2 * len(unique(0).encode())
                text = "WEBVTT\n\n" + "".join(f"{timings}<v {unique(i)}>{unique(i)}{'a' * room}\n\n"
                                               for i in range(n * per_file, (n + 1) * per_file))
                path = folder / f"{n}.vtt"
                path.write_text(text, encoding="utf-8")
                assert path.stat().st_size <= MEMO_BYTES // files
                memo.cues(str(path), "text/vtt", 0, path.stat().st_size)
        finally:
            shutil.rmtree(folder)
        assert memo.sizes() == (files, MEMO_CUES, memo.sizes()[2])
        return memo

    def audience_fetches() -> Recorder:
        # Fetches as hostile clients make them: User-Agents of 8 KB in bytes up to 0xFF (what
        # WSGI hands on), each cut to the table's 500; a file name of the table's 1,000.
        recorder = Recorder(app_state(sample_app).store.engine, 3600)
        recorder._salt = (utc_now().date(), b"salt")
        recorder._thread = threading.current_thread()  # no flush thread: the fill stays
        for i in range(MAX_BUFFERED + 10):
            recorder.record(address=f"2001:db8:{i % 65536:x}::1", user_agent=f"{i:06d}" + "\xff" * 8_000,
                            episode=f"{i:06d}" + "e" * 2_000, method="GET", status=206,
                            first=i * 1000, last=i * 1000 + 2 ** 40, file_size=2 ** 41,
                            facts=AudioFacts(4000 + i, 1000 + i))
        assert recorder.buffered() == MAX_BUFFERED
        return recorder

    def agents_named() -> None:
        agents = shipped_agents()
        agents.classify.cache_clear()
        for i in range(agents.classify.cache_info().maxsize):
            agents.classify(f"{i:06d}" + "\xff" * (MAX_AGENT_CHARS - 6))

    class Members:
        """Stands in for the member store: each secret a member with the longest name."""

        def lookup(self, secret: str) -> SecretMatch:
            now = datetime.now(UTC)
            return SecretMatch(Member(int(secret[:6]), secret[:6] + EMOJI * (MAX_NAME - 6), now, now), False)

        def record_sightings(self, member_id: int, seen: object) -> None:
            raise AssertionError("a fill writes nothing")

    def member_secrets() -> SecretMemo:
        memo = SecretMemo(Members(), ttl=3600)  # type: ignore[arg-type]
        for i in range(memo.MAX_KEYS + 10):
            memo.lookup(f"{i:06d}" + "s" * 26)  # a secret's length (32 characters)
        return memo

    def member_sightings() -> Sightings:
        # Every poll a new client: the longest IPv6 address, an 8 KB User-Agent in bytes
        # up to 0xFF (what WSGI hands on).
        sightings = Sightings(Members(), interval=3600)  # type: ignore[arg-type]
        for i in range(sightings.MAX_KEYS + 10):
            assert sightings.seen(i, f"{i:06d}" + "s" * 26, f"2001:db8:{i:x}:ffff:ffff:ffff:ffff:ffff",
                                  f"{i:06d}" + "\xff" * 8_000) is not None
        return sightings

    providers = EmbedSettings.from_settings(app_state(sample_app).settings).providers
    long_site = "https://h{:04d}" + "x" * 8_000 + ".example/"  # a Host header of 8 KB
    return {
        "feeds.content._known_xml_text": memo(content._known_xml_text,
                                              lambda i: (unique(i) + "\x01" + EMOJI * (chars - 7),)),
        "feeds.content._known_html_text": memo(content._known_html_text,
                                               lambda i: (unique(i) + "&" * (chars - 6),)),
        "feeds.content._known_html_attribute": memo(content._known_html_attribute,
                                                    lambda i: (unique(i) + '"' * (chars - 6),)),
        "feeds.content._known_http_url": memo(content._known_http_url,
                                              lambda i: ("https://e.example/" + unique(i) + EMOJI * (chars - 24),)),
        "feeds.content._known_media_url": memo(content._known_media_url,
                                               lambda i: (links, "/media/" + unique(i) + EMOJI * (chars - 13))),
        "feeds.content._guid": memo(content._guid, lambda i: (f"audio:{i:0{MAX_ID}d}/{'a' * MAX_ID}",)),
        "feeds.podcast.podcast_guid": memo(
            podcast.podcast_guid, lambda i: (f"https://storyfeed.example.org/topics/{i:0{MAX_ID}d}/podcast.xml",)),
        "stories.validate.KNOWN_CLEAN_BODIES": clean_bodies,
        "serving.fastpath.FastPath": fast_path,
        "web.transcripts.CueMemo": cue_memo,
        "serving.rendered.VersionMemo": versions,
        "serving.rendered._known_accepts_gzip": memo(
            rendered._known_accepts_gzip,
            lambda i: (f"gzip;q=0.{i:03d}, " + EMOJI * (rendered.MAX_KNOWN_ACCEPT_ENCODING - 15),)),
        "serving.context._links": memo(context._links, lambda i: (long_site.format(i), None)),
        "embeds.config._registry_for_site": memo(_registry_for_site,
                                                 lambda i: (providers, long_site.format(i))),
        "audience.recorder.Recorder": audience_fetches,
        "audience.agents.Agents": agents_named,
        "serving.members.SecretMemo": member_secrets,
        "serving.members.Sightings": member_sightings,
    }


def test_every_cache_filled_with_its_worst_entries_stays_within_the_memory_account(sample_app):
    """Measured in a Python process of its own, as the account's table was (`alone`)."""
    if alone("test_every_cache_filled_with_its_worst_entries_stays_within_the_memory_account"):
        fill_every_cache_and_compare(sample_app)


def fill_every_cache_and_compare(sample_app) -> None:
    from feeds import PROCESS_MEMOS

    documented = documented_worst_mb()
    fills = worst_fills(sample_app)
    # Every memo the feeds keep is in the account.
    accounted = [getattr(importlib.import_module(name.rsplit(".", 1)[0]), name.rsplit(".", 1)[1])
                 for name in documented]
    assert [memo for memo in PROCESS_MEMOS if not any(memo is cache for cache in accounted)] == []
    assert set(fills) <= set(documented)
    measured = {}
    kept = []
    try:
        for name, fill in fills.items():
            # tracemalloc counts every thread's allocations: in a full run, other tests'
            # threads (an app's checks, a server's) add to a fill's now and then, never
            # take from it. Each fill starts from empty: the least of three is the cache's.
            runs = []
            for _ in range(3):
                gc.collect()
                tracemalloc.start()
                try:
                    kept.append(fill())  # what a fill returns is the cache itself: kept while measured
                    gc.collect()
                    runs.append(tracemalloc.get_traced_memory()[0] / 1e6)
                finally:
                    tracemalloc.stop()
                kept.pop()
            measured[name] = min(runs)
    finally:
        for memo in PROCESS_MEMOS:
            memo.cache_clear()
    # The table gives each cache measured alone; inside a full run of the suite other
    # threads of the same process (servers, readers of their output) allocate now and
    # then, seen up to 0.15 MB in a fill even at the least of three.
    over = {name: (round(mb, 2), documented[name]) for name, mb in measured.items()
            if mb > documented[name] + OTHER_THREADS_MB}
    assert over == {}, "measured MB beyond the account (measured, documented)"
    assert sum(measured.values()) <= sum(documented[name] for name in fills) + OTHER_THREADS_MB * len(fills)


# -- members: what a process keeps does not grow with those who poll ---------------------


@pytest.mark.slow
def test_members_polling_leave_no_memory_per_member(sqlite_url, tmp_path):
    """Each of 6,500 members polls their feed once, each from an address and app of its own:
    what a worker keeps is the same after 6,500 as after 4,500 (past every per-member
    bound, 4,096), whatever the members' number. Traced from the first poll, so that a
    remembered entry pushed out is counted out as well.

    Counted in blocks, not bytes: a bounded table that drops its oldest entry as it adds
    one keeps its number of blocks, but its hash table grows and is compacted in turns
    (two such tables swung by some 380 KB between the two points); anything kept per
    member would add a block or more each, 2,000 here."""
    if not alone("test_members_polling_leave_no_memory_per_member"):
        return
    from .members_support import add_member, feed_path, member_site

    app = member_site(sqlite_url, tmp_path)
    client = app.test_client()
    secrets = [add_member(app, f"listener {i}")[1] for i in range(6_500)]

    def poll(i: int) -> None:
        answer = client.get(feed_path(secrets[i], filename="rss.xml"),
                            environ_base={"REMOTE_ADDR": f"10.{i // 256 % 256}.{i % 256}.7"},
                            headers={"User-Agent": f"App{i}/1.0"})
        assert answer.status_code == 200
        answer.close()  # the sightings are written once the answer is sent

    def kept() -> tuple[int, int]:
        """(blocks, bytes) allocated since tracing started and still alive."""
        gc.collect()
        stats = tracemalloc.take_snapshot().statistics("filename")
        return sum(stat.count for stat in stats), sum(stat.size for stat in stats)

    try:
        poll(0)  # the shared render, before measuring
        tracemalloc.start()
        for i in range(1, 4_500):
            poll(i)
        blocks_4500, bytes_4500 = kept()
        for i in range(4_500, 6_500):
            poll(i)
        blocks_6500, bytes_6500 = kept()
    finally:
        tracemalloc.stop()
        app_state(app).store.engine.dispose()
    assert blocks_6500 - blocks_4500 < 100, (
        f"{blocks_6500 - blocks_4500} blocks more after 2,000 more members polled ({blocks_4500} at 4,500)")
    assert bytes_6500 - bytes_4500 < 1_000_000, f"{bytes_6500 - bytes_4500} bytes more"
