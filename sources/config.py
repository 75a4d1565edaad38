"""The sources file (`SOURCES_FILE`): TOML, one `[[source]]` table per upstream.

Every problem is reported at once, each naming the file, the source and the key, e.g.
`sources.toml: source 2 (name defectors): kind: "rss" is not one of records, feed, npr-cds`.
"""

from __future__ import annotations

import math
import re
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from serving.settings import Settings
from stories.validate import ID_RE, MAX_ID, Problem, RecordInvalid, record_location, show

from .fetch import FetchSettings, HTTPRetriever, cache_backend
from .model import KINDS, Source

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
KEYS = (
    "name", "url", "kind", "topics", "interval", "allow_private", "token_env", "remove_missing",
    "deadline",
)
MIN_INTERVAL = 1


# A sources file that cannot be used is a file of records that cannot be: one class, so
# that the CLI, the factory and the tests treat both alike. `problems` lists every reason.
SourcesFileError = RecordInvalid


@dataclass(frozen=True)
class SourcesConfig:
    """What `sync` needs, built by the app factory: the sources (read and checked at
    start-up, so that a broken file stops the release, not a sync later) and how to
    reach them."""

    sources: tuple[Source, ...] | None  # None: SOURCES_FILE is not set
    fetch: FetchSettings
    redis_url: str | None
    redis_prefix: str
    redis_tls_verify: bool
    cache_path: Path

    @classmethod
    def from_settings(cls, settings: Settings, instance_path: str | Path) -> SourcesConfig:
        """Raises SourcesFileError for a sources file that cannot be used."""
        sources_file = settings["SOURCES_FILE"]
        return cls(
            sources=load_sources(sources_file) if sources_file else None,
            fetch=FetchSettings(
                connect_timeout=settings["SOURCES_CONNECT_TIMEOUT"],
                read_timeout=settings["SOURCES_READ_TIMEOUT"],
                retries=settings["SOURCES_RETRIES"],
                max_bytes=settings["SOURCES_MAX_BYTES"],
                deadline=settings["SOURCES_FETCH_DEADLINE"],
            ),
            redis_url=settings["REDIS_URL"],
            redis_prefix=settings["REDIS_PREFIX"],
            redis_tls_verify=settings["REDIS_TLS_VERIFY"],
            cache_path=Path(settings["SOURCES_CACHE_PATH"]
                            or Path(instance_path) / "http-cache.sqlite3"),
        )

    def retriever(self, stop: threading.Event | None = None) -> HTTPRetriever:
        """An HTTP retriever with the shared cache: Redis when REDIS_URL is set, else SQLite.
        Setting `stop` ends the retrieve in flight at once (`sync --loop` on SIGTERM)."""
        return HTTPRetriever(cache_backend(self.redis_url, self.redis_prefix, self.cache_path,
                                           self.redis_tls_verify),
                             self.fetch, stop=stop)


def load_sources(path: str | Path) -> tuple[Source, ...]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourcesFileError([Problem(str(path), "file", f"cannot be read: {exc}")]) from exc
    return parse_sources(text, path.name)


def parse_sources(text: str, filename: str) -> tuple[Source, ...]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SourcesFileError([Problem(filename, "file", f"not valid TOML: {exc}")]) from exc
    problems: list[Problem] = []
    for key in data:
        if key != "source":
            problems.append(Problem(filename, key, "unknown key; sources are [[source]] tables"))
    tables = data.get("source", [])
    if not isinstance(tables, list):
        problems.append(Problem(filename, "source", "must be [[source]] tables"))
        tables = []
    sources: list[Source] = []
    first_use: dict[str, int] = {}
    for index, table in enumerate(tables, 1):
        name = table.get("name") if isinstance(table, dict) else None
        location = record_location(filename, "source", index, name, "name")
        source, found = _parse_source(table, location)
        problems += found
        if isinstance(name, str) and name in first_use:
            problems.append(
                Problem(
                    location, "name", f"{show(name)} is already used by source {first_use[name]}"
                )
            )
        elif isinstance(name, str):
            first_use[name] = index
        if source is not None:
            sources.append(source)
    if problems:
        raise SourcesFileError(problems)
    return tuple(sources)


def _parse_source(table: Any, location: str) -> tuple[Source | None, list[Problem]]:
    problems: list[Problem] = []

    def fail(key: str, reason: str) -> None:
        problems.append(Problem(location, key, reason))

    if not isinstance(table, dict):
        fail("source", "must be a table")
        return None, problems
    for key in table:
        if key not in KEYS:
            fail(key, f"unknown key (known: {', '.join(KEYS)})")

    name = table.get("name")
    if name is None:
        fail("name", "is required")
    elif not isinstance(name, str) or not NAME_RE.fullmatch(name) or len(name) > MAX_ID:
        fail("name", f"{show(name)} must be letters, digits, '.', '_' and '-'")

    url = table.get("url")
    if url is None:
        fail("url", "is required")
    elif not isinstance(url, str) or not _is_http_url(url):
        fail("url", f"{show(url)} is not an absolute http(s) URL")

    kind = table.get("kind")
    if kind is None:
        fail("kind", f"is required (one of {', '.join(KINDS)})")
    elif kind not in KINDS:
        fail("kind", f"{show(kind)} is not one of {', '.join(KINDS)}")

    topics = table.get("topics", [])
    if not isinstance(topics, list):
        fail("topics", f"must be a list of topic slugs, not {show(topics)}")
        topics = []
    for i, slug in enumerate(topics):
        if not isinstance(slug, str) or not ID_RE.fullmatch(slug) or len(slug) > MAX_ID:
            fail(f"topics[{i}]", f"{show(slug)} must be lowercase letters, digits and hyphens")

    interval = table.get("interval", Source.interval)
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < MIN_INTERVAL:
        fail(
            "interval",
            f"{show(interval)} is not a whole number of seconds of at least {MIN_INTERVAL}",
        )

    deadline = table.get("deadline")
    if deadline is not None and (
        isinstance(deadline, bool) or not isinstance(deadline, (int, float))
        or not math.isfinite(deadline) or deadline <= 0
    ):
        fail("deadline", f"{show(deadline)} is not a number of seconds above 0")

    flags = {}
    for key in ("allow_private", "remove_missing"):
        flags[key] = table.get(key, False)
        if not isinstance(flags[key], bool):
            fail(key, f"{show(flags[key])} is not true or false")

    token_env = table.get("token_env", "")
    if not isinstance(token_env, str) or (token_env and not ENV_NAME_RE.fullmatch(token_env)):
        fail("token_env", f"{show(token_env)} is not an environment variable name")
    elif kind == "npr-cds" and not token_env:
        fail("token_env", "is required for npr-cds (the variable holding the CDS bearer token)")

    if problems:
        return None, problems
    return Source(
        name=name,
        url=url,
        kind=kind,
        topics=tuple(dict.fromkeys(topics)),
        interval=interval,
        allow_private=flags["allow_private"],
        token_env=token_env,
        remove_missing=flags["remove_missing"],
        deadline=float(deadline) if deadline is not None else None,
    ), problems


def _is_http_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:  # an unbalanced IPv6 bracket: a problem to report, not a traceback
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and not any(c.isspace() for c in value)
    )
