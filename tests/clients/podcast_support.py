"""What the podcast-app and feed-reader tests share: the app under gunicorn as the Procfile
serves it, with the sample topic, its access log read back, topics of a test's own written
to its store, and each client run with a home of its own."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from stories.files import read_records
from stories.model import Story, Topic
from stories.sample import SAMPLE_FILE
from stories.store import StoryStore

from ..conftest import migrated_sqlite
from ..servers import Gunicorn, flask_cli, free_port, service_env

SAMPLE_SLUG = "north-korean-defectors"


class Site:
    """gunicorn serving the app on a free port, SITE_URL its own URL, the sample loaded
    (`flask --app app stories sample`); `store` writes to the same database."""

    def __init__(self, folder: Path):
        self.database_url = migrated_sqlite(folder / "storyfeed.sqlite3")
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        # INFO: gunicorn's JSON access log is where the tests see what each client asked.
        # VERSION_MEMO_SECONDS 0: a write made here is served at once, as with Redis, so a
        # client run right after it sees it.
        self.env = service_env(DATABASE_URL=self.database_url, SITE_URL=self.base + "/",
                               LOG_LEVEL="INFO", VERSION_MEMO_SECONDS="0")
        loaded = flask_cli(self.env, "stories", "sample")
        assert loaded.returncode == 0, loaded.stderr
        self.server = Gunicorn(self.env)
        self.server.port, self.server.base = port, self.base
        self.server.env["PORT"] = str(port)
        self.store = StoryStore.from_url(self.database_url)

    def start(self) -> Site:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()
        self.store.engine.dispose()

    def feed(self, slug: str, name: str = "podcast.xml") -> str:
        return f"{self.base}/topics/{slug}/{name}"

    def requests(self, path: str | None = None, agent: str | None = None,
                 at_least: int = 0) -> list[dict[str, Any]]:
        """gunicorn's access lines so far (of `path`, of a user agent that holds `agent`).

        gunicorn writes a request's line after its answer is sent, so a client may have
        ended before: `at_least` waits (a few seconds at most) for that many lines."""
        deadline = time.monotonic() + 5
        while True:
            lines = [json.loads(line) for line in self.server.log.read_text().splitlines()
                     if line.startswith("{")]
            found = [line for line in lines if line.get("logger") == "gunicorn.access"
                     and (path is None or line["path"] == path)
                     and (agent is None or agent in (line.get("user_agent") or ""))]
            if len(found) >= at_least or time.monotonic() > deadline:
                return found
            time.sleep(0.05)


def sample_batch() -> tuple[Topic, list[Story]]:
    batch = read_records(SAMPLE_FILE.read_text(), str(SAMPLE_FILE))
    assert not batch.problems
    (topic,) = batch.topics
    return topic, batch.stories


def copy_of_sample(store: StoryStore, slug: str) -> list[Story]:
    """The sample topic again as `slug`, with stories of its own (ids prefixed by it)."""
    topic, stories = sample_batch()
    copies = [dataclasses.replace(s, id=f"{slug}-{s.id}", topics=(slug,)) for s in stories]
    store.write(stories=copies, topics=[dataclasses.replace(topic, slug=slug, title=f"{topic.title} ({slug})")])
    return copies


def many_episodes(store: StoryStore, slug: str, count: int, start: int = 0) -> list[Story]:
    """`count` stories of one audio each in topic `slug` (made like the sample's), an hour
    apart, newest last; their audio URLs are distinct and never downloaded."""
    topic, stories = sample_batch()
    model = next(s for s in stories if len(s.audio) == 1)
    made = []
    for n in range(start, start + count):
        at = model.published.replace(year=2010) + timedelta(hours=n)
        audio = dataclasses.replace(model.audio[0], id=f"a{n}", url=f"/media/{slug}/{n}.mp3",
                                    transcripts=(), chapters=None, alternates=(), soundbites=())
        made.append(dataclasses.replace(model, id=f"{slug}-{n}", title=f"Episode {n}", topics=(slug,),
                                        published=at, updated=at, audio=(audio,), episode=None))
    store.write(stories=made, topics=[dataclasses.replace(topic, slug=slug, title=f"Show {slug}")])
    return made


def move(store: StoryStore, old: str, new: str) -> None:
    """A rename as an editor makes it (tests/test_topic_moves.py): the new topic with the
    old one's settings, the stories moved over, and `moved_to` on the old topic."""
    before = store.get_topic(old)
    assert before is not None
    store.write(
        stories=[dataclasses.replace(s, topics=tuple(new if t == old else t for t in s.topics))
                 for s in store.iter_stories(old)],
        topics=[dataclasses.replace(before, slug=new, title=f"{before.title} (renamed)", moved_to=""),
                dataclasses.replace(before, moved_to=new)],
    )


# -- the clients -------------------------------------------------------------------------

def run(command: list[str], env: dict[str, str], timeout: float = 120) -> str:
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{command}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def client_env(home: Path, **extra: str) -> dict[str, str]:
    """An environment whose HOME (and XDG folders) are `home`: no client reads or writes
    the user's own configuration."""
    home.mkdir(parents=True, exist_ok=True)
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8",
           "XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / ".local/share"),
           "XDG_CACHE_HOME": str(home / ".cache"), "TERM": "dumb"}
    env.update(extra)
    return env


class GPodder:
    """`gpo`, gPodder's command line, with its own home, database and download folder."""

    def __init__(self, home: Path):
        self.home = home
        self.downloads = home / "downloads"
        self.env = client_env(home, GPODDER_HOME=str(home / "gPodder"),
                              GPODDER_DOWNLOAD_DIR=str(self.downloads))

    def __call__(self, *args: str) -> str:
        return run(["gpo", *args], self.env)

    def _query(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.home / "gPodder" / "Database") as db:
            return list(db.execute(sql, params))

    def podcasts(self) -> list[str]:
        return [url for (url,) in self._query("SELECT url FROM podcast ORDER BY id")]

    def episodes(self) -> list[dict[str, Any]]:
        """Every episode gPodder keeps, with its state (1: downloaded) and file."""
        rows = self._query("SELECT e.guid, e.title, e.url, e.file_size, e.state, e.download_filename, p.url "
                           "FROM episode e JOIN podcast p ON p.id = e.podcast_id ORDER BY e.published DESC")
        keys = ("guid", "title", "url", "file_size", "state", "download_filename", "podcast")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def files(self) -> dict[str, int]:
        """Downloaded files by name, with their sizes."""
        return {f.name: f.stat().st_size for f in self.downloads.rglob("*") if f.is_file()}


class Newsboat:
    """newsboat with its own urls file, configuration and cache, refreshed with `-x reload`."""

    def __init__(self, home: Path, urls: Sequence[str] = ()):
        self.home = home
        self.env = client_env(home)
        self.config, self.urls, self.cache = home / "config", home / "urls", home / "cache.db"
        # No cache of feeds' HTTP metadata lost between runs; keep every item it read.
        self.config.parent.mkdir(parents=True, exist_ok=True)
        self.config.write_text("max-items 0\nreload-threads 1\nshow-read-feeds yes\n")
        self.urls.write_text("".join(f"{url}\n" for url in urls))

    def __call__(self, *args: str) -> str:
        return run(["newsboat", "-C", str(self.config), "-u", str(self.urls), "-c", str(self.cache), *args],
                   self.env)

    def items(self) -> list[dict[str, Any]]:
        with sqlite3.connect(self.cache) as db:
            rows = list(db.execute("SELECT guid, title, feedurl, enclosure_url FROM rss_item ORDER BY pubDate DESC"))
        return [dict(zip(("guid", "title", "feedurl", "enclosure_url"), row, strict=True)) for row in rows]


def maildir_messages(maildir: Path) -> Iterator[Path]:
    for folder in ("new", "cur"):
        if (maildir / folder).is_dir():
            yield from sorted((maildir / folder).iterdir())


def make_maildir(path: Path) -> Path:
    for folder in ("new", "cur", "tmp"):
        (path / folder).mkdir(parents=True, exist_ok=True)
    return path


def version_of(command: list[str]) -> str:
    if shutil.which(command[0]) is None:
        return "missing"
    done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    return (done.stdout or done.stderr).strip().splitlines()[0] if (done.stdout or done.stderr) else "?"
