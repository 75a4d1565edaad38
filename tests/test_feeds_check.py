"""`flask --app app feeds check`: the linter against real servers on 127.0.0.1.

A media host of the test's own serves one deliberately broken file per story (wrong
length, wrong type, no ranges, a redirect loop, a long chain, no extension, bad artwork,
a local MP3 whose duration disagrees), and every problem must come out exactly once,
naming its topic, story and field. The sample topic, served by the app itself, must
come out clean.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import pty
import re
import shutil
import subprocess
import sys
import threading
from collections import Counter

import pytest
from PIL import Image
from werkzeug.exceptions import NotFound
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from feeds.check import GuardedFetcher, Severity, plan_topic
from serving.links import Links
from serving.state import app_state
from stories.model import Audio
from stories.validate import parse_story, parse_topic

from .conftest import ROOT, make_app, migrated_sqlite
from .servers import InThread, service_env

SAMPLE = ROOT / "stories" / "sample"
SAMPLE_MEDIA = SAMPLE / "media" / "north-korean-defectors"
MP3 = (SAMPLE_MEDIA / "1169825816.mp3").read_bytes()  # 56 s
OPUS = (SAMPLE_MEDIA / "1169825816.opus").read_bytes()
VTT = (SAMPLE_MEDIA / "1169825816.vtt").read_bytes()
CHAPTERS = b'{"version": "1.2.0", "chapters": [{"startTime": 0, "title": "All of it"}]}'
SITE = "http://storyfeed.test/"


def picture(size: tuple[int, int], mode: str = "RGB", kind: str = "JPEG") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, "white" if mode != "CMYK" else (0, 0, 0, 0)).save(out, kind)
    return out.getvalue()


class MediaHost:
    """Files with the faults named, served as a CDN would (or would not)."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str, bool]] = {}
        self.redirects: dict[str, str] = {}
        self.no_head: set[str] = set()  # answered 405 to HEAD
        self.seen: list[tuple[str, str]] = []
        self.base = ""

    def serve(self, path: str, body: bytes, content_type: str, ranges: bool = True) -> None:
        self.files[path] = (body, content_type, ranges)

    def __call__(self, environ, start_response):
        request = Request(environ)
        self.seen.append((request.method, request.path))
        if request.path in self.redirects:
            return redirect(self.redirects[request.path], 302)(environ, start_response)
        if request.path not in self.files:
            return NotFound()(environ, start_response)
        if request.method == "HEAD" and request.path in self.no_head:
            return Response(status=405, headers={"Allow": "GET"})(environ, start_response)
        body, content_type, ranges = self.files[request.path]
        response = Response(body, content_type=content_type)
        if ranges:  # else the whole file, 200, whatever the Range asked
            response.make_conditional(request, accept_ranges=True, complete_length=len(body))
        return response(environ, start_response)


def story(story_id: str, audio: str, *, topic: str = "broken", length: int = len(MP3),
          duration: int = 56, mime: str = "audio/mpeg", image: str = "", **audio_fields) -> dict:
    record = {
        "id": story_id,
        "url": f"https://news.example.org/{story_id}",
        "title": f"Story {story_id}",
        "teaser": "What it is about.",
        "published": f"2024-01-{10 + len(story_id) % 10:02d}T10:00:00Z",
        "topics": [topic],
        "audio": [{"id": f"{story_id}-a", "url": f"/media/{audio}", "type": mime,
                   "length": length, "duration": duration, **audio_fields}],
    }
    if image:
        record["image"] = {"url": f"/media/{image}", "width": 1400, "height": 1400}
    return record


def topic(slug: str, artwork: str) -> dict:
    return {"slug": slug, "title": slug.title(), "description": f"The {slug} podcast.",
            "owner_email": "owner@example.org", "category": "News",
            "image": {"url": f"/media/{artwork}", "width": 1400, "height": 1400}}


# (severity, story, field) of each fault planted below, and what its line says.
EXPECTED = {
    ("error", "", "image"): "is 300x300 pixels; artwork must be 1400x1400 to 3000x3000",
    ("error", "s-length", "audio[0].length"): f"feed says 29048 bytes, server sends {len(MP3)}",
    ("error", "s-type", "audio[0].type"): "the feed says audio/mpeg, the server sends text/html",
    ("error", "s-norange", "audio[0].url"): "no byte ranges: a Range request got HTTP 200, not 206",
    ("error", "s-loop", "audio[0].url"): "redirect loop: ",
    ("error", "s-noext", "audio[0].url"): "/media/noext has no file extension",
    ("error", "s-transcript", "audio[0].transcripts[0].url"): "the server answers HTTP 404 to GET",
    ("error", "s-nonsquare", "image"): "is 1600x1400 pixels, not square",
    ("error", "s-cmyk", "image"): "is in mode CMYK; artwork must be RGB",
}
EXPECTED_WARNINGS = {
    ("warning", "s-chain", "audio[0].url"): "3 redirects before the file",
    ("warning", "s-duration", "audio[0].duration"): "feed says 600 s, the file lasts 56.2 s",
    ("warning", "s-nohead", "audio[0].url"): "the server answers HTTP 405 to HEAD",
}


@pytest.fixture
def media_dir(tmp_path):
    folder = tmp_path / "media"
    folder.mkdir()
    shutil.copyfile(SAMPLE_MEDIA / "1169825816.mp3", folder / "long.mp3")
    return folder


@pytest.fixture
def media_host():
    host = MediaHost()
    with InThread(host) as server:
        host.base = server.base
        yield host


@pytest.fixture
def broken_app(tmp_path, media_host, media_dir):
    m = media_host
    m.serve("/media/good.mp3", MP3, "audio/mpeg")
    m.serve("/media/good.opus", OPUS, "audio/ogg")
    m.serve("/media/good.vtt", VTT, "text/vtt; charset=utf-8")
    m.serve("/media/good-chapters.json", CHAPTERS, "application/json")
    m.serve("/media/good.jpg", picture((1400, 1400)), "image/jpeg")
    m.serve("/media/tiny.png", picture((300, 300), kind="PNG"), "image/png")
    m.serve("/media/nonsquare.jpg", picture((1600, 1400)), "image/jpeg")
    m.serve("/media/cmyk.jpg", picture((1400, 1400), mode="CMYK"), "image/jpeg")
    for name in ("length", "transcript", "nonsquare", "cmyk", "chain-end", "nohead", "warned"):
        m.serve(f"/media/{name}.mp3", MP3, "audio/mpeg")
    m.serve("/media/type.mp3", MP3, "text/html")
    m.serve("/media/norange.mp3", MP3, "audio/mpeg", ranges=False)
    m.serve("/media/noext", MP3, "audio/mpeg")
    m.no_head.add("/media/nohead.mp3")
    m.serve("/media/long.mp3", (media_dir / "long.mp3").read_bytes(), "audio/mpeg")
    m.redirects["/media/loop.mp3"] = "/media/loop-again.mp3"
    m.redirects["/media/loop-again.mp3"] = "/media/loop.mp3"
    m.redirects["/media/chain.mp3"] = "/media/chain-1.mp3"
    m.redirects["/media/chain-1.mp3"] = "/media/chain-2.mp3"
    m.redirects["/media/chain-2.mp3"] = "/media/chain-end.mp3"
    records = [
        story("s-good", "good.mp3", image="good.jpg",
              alternates=[{"url": "/media/good.opus", "type": "audio/ogg", "length": len(OPUS),
                           "bitrate": 21334, "codecs": "opus"}],
              transcripts=[{"url": "/media/good.vtt", "type": "text/vtt", "captions": True}],
              chapters={"url": "/media/good-chapters.json"}),
        story("s-length", "length.mp3", length=29048),
        story("s-type", "type.mp3"),
        story("s-norange", "norange.mp3"),
        story("s-loop", "loop.mp3"),
        story("s-noext", "noext"),
        story("s-transcript", "transcript.mp3",
              transcripts=[{"url": "/media/missing.vtt", "type": "text/vtt"}]),
        story("s-nonsquare", "nonsquare.mp3", image="nonsquare.jpg"),
        story("s-cmyk", "cmyk.mp3", image="cmyk.jpg"),
        # Only warnings, in a topic of their own.
        story("s-chain", "chain.mp3", topic="warned"),
        story("s-duration", "long.mp3", topic="warned", duration=600),
        story("s-nohead", "nohead.mp3", topic="warned"),
    ]
    app = make_app(migrated_sqlite(tmp_path / "test.sqlite3"), SITE_URL=SITE,
                   MEDIA_BASE_URL=f"{m.base}/media/", MEDIA_DIR=str(media_dir))
    topics = [parse_topic(topic("broken", "tiny.png"))[0], parse_topic(topic("warned", "good.jpg"))[0]]
    app_state(app).store.write(stories=[parse_story(r)[0] for r in records], topics=topics)
    yield app
    app_state(app).store.engine.dispose()


def check(app, *args: str):
    return app.test_cli_runner().invoke(args=["feeds", "check", *args])


def parsed(lines: list[str]) -> list[tuple[tuple[str, str, str], str]]:
    """((severity, story, field), message) of each problem line."""
    found = []
    for line in lines:
        severity, _topic, rest = line.split(": ", 2)
        story = ""
        if rest.startswith("story "):
            story, rest = rest[len("story "):].split(": ", 1)
        field, message = rest.split(": ", 1)
        found.append(((severity, story, field), message))
    return found


def test_each_broken_file_is_reported_once_with_its_story_and_field(broken_app, media_host):
    result = check(broken_app, "--topic", "broken")
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert all(line.startswith(("error: broken: ", "warning: broken: ")) for line in lines), lines
    assert Counter(problem for problem, _ in parsed(lines)) == Counter(EXPECTED.keys())
    for problem, message in parsed(lines):
        assert EXPECTED[problem] in message, (problem, message)
    # The good story's files were all fetched, and found right.
    fetched = {path for _method, path in media_host.seen}
    assert {"/media/good.mp3", "/media/good.opus", "/media/good.vtt", "/media/good-chapters.json",
            "/media/good.jpg"} <= fetched
    # HEAD, then GET; a Range only for audio, read two bytes at a time.
    assert media_host.seen.count(("HEAD", "/media/good.mp3")) == 1
    assert media_host.seen.count(("GET", "/media/good.mp3")) == 1
    assert "1 topic(s), " in result.stderr and "9 error(s), 0 warning(s)" in result.stderr


def test_warnings_alone_exit_0(broken_app):
    result = check(broken_app, "--topic", "warned")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert all(line.startswith("warning: warned: ") for line in lines), lines
    assert Counter(problem for problem, _ in parsed(lines)) == Counter(EXPECTED_WARNINGS.keys())
    for problem, message in parsed(lines):
        assert EXPECTED_WARNINGS[problem] in message, (problem, message)
    chain = next(line for line in lines if "s-chain" in line)
    assert chain.endswith("/media/chain.mp3 -> " + " -> ".join(
        f"{broken_app.config['MEDIA_BASE_URL']}{name}" for name in ("chain-1.mp3", "chain-2.mp3", "chain-end.mp3")))


def test_json_lists_the_same_problems_as_objects(broken_app, media_host):
    as_lines = check(broken_app).stdout.splitlines()
    result = check(broken_app, "--json")
    assert result.exit_code == 1
    problems = json.loads(result.stdout)
    assert {tuple(p) for p in problems} == {("severity", "topic", "story", "field", "message")}
    assert len(problems) == len(EXPECTED) + len(EXPECTED_WARNINGS) == len(as_lines)
    assert {(p["severity"], p["story"], p["field"]) for p in problems} == set(EXPECTED) | set(EXPECTED_WARNINGS)
    assert {p["topic"] for p in problems} == {"broken", "warned"}
    loop = next(p for p in problems if p["story"] == "s-loop")
    base = broken_app.config["MEDIA_BASE_URL"]
    assert loop["message"] == f"redirect loop: {base}loop.mp3 -> {base}loop-again.mp3 -> {base}loop.mp3"
    # One topic's artwork is another's episode artwork: fetched once per run.
    assert media_host.seen.count(("GET", "/media/good.jpg")) == 2  # this run and the one above


def test_no_progress_bar_when_stderr_is_not_a_terminal(broken_app):
    result = check(broken_app, "--topic", "warned")
    assert "checking" not in result.output


def test_the_request_cap_stops_fetching_and_says_so(broken_app, media_host):
    result = check(broken_app, "--topic", "warned", "--max-requests", "3")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == (
        "error: warned: requests: stopped at the cap of 3 requests: 3 file(s) not checked")
    assert len(media_host.seen) == 3


def test_an_unknown_topic_is_a_clear_error(broken_app):
    result = check(broken_app, "--topic", "nope")
    assert result.exit_code == 1
    assert "no topic 'nope'" in result.output


# -- the address guard ---------------------------------------------------------------------


def test_other_local_hosts_are_refused_before_connecting(broken_app, media_host):
    """Only SITE_URL's and MEDIA_BASE_URL's hosts may be private: `localhost` is another
    host than the media base's 127.0.0.1, so a record pointing there is not fetched."""
    port = media_host.base.rsplit(":", 1)[1]
    record = story("s-elsewhere", "x", topic="warned")
    record["audio"][0]["url"] = f"http://localhost:{port}/media/warned.mp3"
    app_state(broken_app).store.write(stories=[parse_story(record)[0]])
    result = check(broken_app, "--topic", "warned")
    line = next(line for line in result.stdout.splitlines() if "s-elsewhere" in line)
    assert re.fullmatch(r"error: warned: story s-elsewhere: audio\[0\]\.url: refused: localhost "
                        r"resolves to (127\.0\.0\.1|::1), a loopback or private address; only the "
                        r"hosts of SITE_URL and MEDIA_BASE_URL may be", line), line
    assert not [seen for seen in media_host.seen if seen[1] == "/media/warned.mp3"]


def test_link_local_addresses_are_refused_even_as_the_site():
    fetcher = GuardedFetcher.for_site(Links.build("http://169.254.169.254/"), connect_timeout=1)
    fetched = fetcher.fetch("HEAD", "http://169.254.169.254/latest/meta-data/a.mp3")
    assert fetched.status is None
    assert fetched.failure == ("refused: 169.254.169.254 resolves to 169.254.169.254, a link-local, "
                               "multicast or cloud metadata address, never fetched")


# -- without the network: guids and tags ---------------------------------------------------


def test_duplicate_guids_are_reported_once():
    links = Links.build(SITE, "https://cdn.example.org/")
    the_topic = parse_topic(topic("dup", "good.jpg"))[0]
    first = parse_story(story("s-one", "one.mp3", topic="dup"))[0]
    again = parse_story(story("s-one", "two.mp3", topic="dup"))[0]  # another story, the same id
    two_parts = parse_story(story("s-two", "three.mp3", topic="dup"))[0]
    same_audio_id = dataclasses.replace(two_parts.audio[0], url="/media/four.mp3")
    two_parts = dataclasses.replace(two_parts, audio=(*two_parts.audio, same_audio_id))
    plan = plan_topic(the_topic, [first, again, two_parts], links)
    found = [(p.severity, p.story, p.field) for p in plan.problems]
    assert found == [(Severity.ERROR, "s-one", "id"), (Severity.ERROR, "s-two", "audio[1].id")]
    assert "their items share the guid urn:uuid:" in plan.problems[0].message
    assert plan.problems[1].message.endswith("is also story s-two audio[0]'s")


def test_missing_tags_name_the_record_field():
    links = Links.build(SITE, "https://cdn.example.org/")
    the_topic = dataclasses.replace(parse_topic(topic("tags", "art.jpg"))[0], language="")
    bare = parse_story({k: v for k, v in story("s-bare", "bare.mp3", topic="tags").items() if k != "teaser"})[0]
    bare = dataclasses.replace(bare, audio=(dataclasses.replace(bare.audio[0], duration=None),))
    unenclosed = parse_story(story("s-nolength", "nolength.mp3", topic="tags"))[0]
    unenclosed = dataclasses.replace(unenclosed, audio=(Audio(id="a", url="/media/nolength.mp3", type="audio/mpeg"),))
    plan = plan_topic(the_topic, [bare, unenclosed], links)
    assert [(p.severity, p.story, p.field, p.message) for p in plan.problems] == [
        (Severity.ERROR, "", "language", "the podcast feed has no <language>"),
        (Severity.WARNING, "s-bare", "teaser", "the podcast item has no <description>"),
        (Severity.WARNING, "s-bare", "audio[0].duration", "the podcast item has no <itunes:duration>"),
        (Severity.WARNING, "s-nolength", "audio[0].length", "missing, so no feed encloses this audio"),
    ]


def test_incomplete_podcast_settings_are_warnings_and_skip_the_artwork():
    links = Links.build(SITE, "https://cdn.example.org/")
    the_topic = dataclasses.replace(parse_topic(topic("plain", "art.jpg"))[0], category="", image=None)
    plan = plan_topic(the_topic, [parse_story(story("s-1", "one.mp3", topic="plain"))[0]], links)
    assert [(p.severity, p.field, p.message) for p in plan.problems] == [
        (Severity.WARNING, "podcast", "no podcast feed: the topic lacks an Apple Podcasts category (category)"),
        (Severity.WARNING, "podcast", "no podcast feed: the topic lacks artwork of at least 1400x1400 pixels (image)"),
    ]
    assert [t.kind.value for t in plan.targets] == ["enclosure"]


# -- the sample, as `make run` serves it ---------------------------------------------------


@pytest.mark.slow  # the CLI as a subprocess
def test_the_sample_served_on_127_0_0_1_has_no_problems_and_a_bar_on_a_terminal(tmp_path):
    database = migrated_sqlite(tmp_path / "sample.sqlite3")
    app = make_app(database)
    assert app.test_cli_runner().invoke(args=["stories", "sample"]).exit_code == 0
    with InThread(app) as server:
        app.config["SITE_URL"] = server.base + "/"
        controller, terminal = pty.openpty()
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "feeds", "check"], cwd=ROOT,
            env=service_env(DATABASE_URL=database, SITE_URL=server.base + "/"),
            stdout=subprocess.PIPE, stderr=terminal, text=True,
        )
        os.close(terminal)
        seen = bytearray()

        def read_terminal() -> None:
            while True:
                try:
                    chunk = os.read(controller, 4096)
                except OSError:  # the process closed its end
                    return
                if not chunk:
                    return
                seen.extend(chunk)

        reader = threading.Thread(target=read_terminal, daemon=True)
        reader.start()
        stdout, _ = process.communicate(timeout=120)
        reader.join(timeout=10)
        os.close(controller)
    on_terminal = seen.decode("utf-8", "replace")
    assert process.returncode == 0, stdout + on_terminal
    assert stdout == ""  # not one problem, not even a warning
    assert "checking" in on_terminal and "100%" in on_terminal
    assert re.search(r"1 topic\(s\), [1-9][0-9]* request\(s\): 0 error\(s\), 0 warning\(s\)", on_terminal)


def test_the_sample_durations_agree_with_its_files(sample_app):
    """Durations are read from the files under MEDIA_DIR: the sample's agree with them,
    and one that does not is told."""
    store = app_state(sample_app).store
    the_topic = store.get_topic("north-korean-defectors")
    stories = list(store.iter_stories("north-korean-defectors"))
    links = Links.build(SITE)
    media = sample_app.config["MEDIA_DIR"]
    assert plan_topic(the_topic, stories, links, media).problems == ()
    wrong = dataclasses.replace(stories[0], audio=(dataclasses.replace(stories[0].audio[0], duration=30),))
    problems = plan_topic(the_topic, [wrong, *stories[1:]], links, media).problems
    assert [(p.story, p.field) for p in problems] == [
        (wrong.id, "audio[0].duration"), (wrong.id, "audio[0].alternates[0].url")]
    assert problems[0].message == "feed says 30 s, the file lasts 56.2 s"



# -- bounded ---------------------------------------------------------------------------------


def own_fetcher(upstream, **settings) -> GuardedFetcher:
    return GuardedFetcher.for_site(Links.build(upstream.url("/")), **settings)


def test_a_slow_server_times_out(upstream):
    upstream.serve("/slow.mp3", b"ID3", "audio/mpeg", delay=2)
    fetched = own_fetcher(upstream, read_timeout=0.3).fetch("HEAD", upstream.url("/slow.mp3"))
    assert (fetched.status, fetched.failure) == (None, "timed out waiting for the response")


def test_bodies_are_read_only_up_to_the_cap(upstream):
    upstream.serve("/big.jpg", b"x" * 500_000, "image/jpeg")
    fetched = own_fetcher(upstream).fetch("GET", upstream.url("/big.jpg"), max_bytes=1000)
    assert (fetched.status, len(fetched.body), fetched.complete) == (200, 1000, False)
    fetched = own_fetcher(upstream).fetch("GET", upstream.url("/big.jpg"))
    assert (fetched.status, fetched.body, fetched.complete) == (200, b"", True)


def test_without_site_url_the_default_local_address_is_not_trusted(tmp_path):
    """Without SITE_URL the feeds' own links read http://127.0.0.1:8000/; whatever listens
    there on the machine running the check is not storyfeed's by anything the operator
    said, so it is refused before connecting, and the command says how to trust it."""
    app = make_app(migrated_sqlite(tmp_path / "d.sqlite3"), SITE_URL=None)
    record = story("s-default", "x", topic="local")
    record["audio"][0]["url"] = "http://127.0.0.1:8000/media/local.mp3"
    app_state(app).store.write(stories=[parse_story(record)[0]])
    result = check(app, "--topic", "local")
    line = next(line for line in result.stdout.splitlines() if "s-default" in line)
    assert "refused: 127.0.0.1 resolves to 127.0.0.1, a loopback or private address" in line, line
    assert "SITE_URL is not set" in result.stderr
