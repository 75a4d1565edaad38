"""Rendered bodies (feeds, oEmbed) cached and served the way a CDN would serve them.

A `Rendered` is made once per change of the data: its body, its gzip form and a strong
ETag for each, so a warm request costs a cache lookup and a 304 costs a comparison.
`RenderCache` is the one small interface a shared cache (Redis) replaces; keys carry
the store's version of what they were rendered from, so a write by any process makes
older entries unreachable without telling anyone.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Protocol

from flask import Response, request


@dataclass(frozen=True)
class Rendered:
    body: bytes
    content_type: str
    etag: str  # strong validator of `body`; the gzip form's ETag is derived from it
    gzipped: bytes
    last_modified: datetime | None = None

    @classmethod
    def of(cls, body: bytes, content_type: str, last_modified: datetime | None = None) -> "Rendered":
        # mtime=0 keeps the gzip bytes (and so their ETag) the same on every render.
        return cls(
            body=body,
            content_type=content_type,
            etag=hashlib.sha256(body).hexdigest()[:32],
            gzipped=gzip.compress(body, compresslevel=6, mtime=0),
            last_modified=last_modified,
        )


class RenderCache(Protocol):
    def get(self, key: str) -> Rendered | None: ...

    def set(self, key: str, value: Rendered) -> None: ...

    def get_or_render(self, key: str, render: Callable[[], Rendered]) -> Rendered: ...

    def status(self) -> str: ...


class MemoryRenderCache:
    """Per-process LRU; fine for one process, replaced by Redis when scaled out."""

    def __init__(self, max_entries: int = 512):
        self.max_entries = max_entries
        self._entries: OrderedDict[str, Rendered] = OrderedDict()
        self._lock = threading.Lock()
        self._rendering: dict[str, threading.Lock] = {}

    def get(self, key: str) -> Rendered | None:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def set(self, key: str, value: Rendered) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def get_or_render(self, key: str, render: Callable[[], Rendered]) -> Rendered:
        found = self.get(key)
        if found is not None:
            return found
        # Threads of one process asking for the same cold key wait for one render.
        with self._lock:
            key_lock = self._rendering.setdefault(key, threading.Lock())
        with key_lock:
            found = self.get(key)
            if found is None:
                found = render()
                self.set(key, found)
        with self._lock:
            self._rendering.pop(key, None)
        return found

    def status(self) -> str:
        return "memory"


class VersionMemo:
    """`store.version()` remembered for `ttl` seconds, forgotten at once on a write here.

    A warm request would otherwise spend more on asking the database for the version than
    on everything else. Writes in this process (`stories_changed`) are seen immediately;
    writes by another process within `ttl`, which is small beside the max-age responses
    carry anyway.
    """

    MAX_KEYS = 1024  # topics come from URLs; don't let junk slugs grow the memo

    def __init__(self, store, ttl: float = 1.0):
        from stories.store import stories_changed

        self.store = store
        self.ttl = ttl
        self._memo: dict[str | None, tuple[int, float]] = {}
        stories_changed.connect(self.forget)  # weak: the memo lives as long as its app

    def forget(self, *_sender, **_topics) -> None:
        self._memo = {}

    def version(self, topic: str | None = None) -> int:
        now = time.monotonic()
        found = self._memo.get(topic)
        if found is not None and now - found[1] < self.ttl:
            return found[0]
        value = self.store.version(topic)
        if len(self._memo) >= self.MAX_KEYS:
            self._memo = {}
        self._memo[topic] = (value, now)
        return value


def get_or_render(cache: RenderCache, key: str, render: Callable[[], Rendered]) -> Rendered:
    return cache.get_or_render(key, render)


def send_rendered(rendered: Rendered, *, max_age: int, cors: bool = True) -> Response:
    """A response with a strong ETag per encoding, Last-Modified, gzip when accepted,
    and 304 for a matching If-None-Match or If-Modified-Since."""
    use_gzip = request.accept_encodings["gzip"] > 0
    response = Response(
        rendered.gzipped if use_gzip else rendered.body, content_type=rendered.content_type
    )
    if use_gzip:
        response.headers["Content-Encoding"] = "gzip"
    response.set_etag(rendered.etag + ("-gz" if use_gzip else ""))
    if rendered.last_modified is not None:
        response.last_modified = rendered.last_modified
    response.vary.add("Accept-Encoding")
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    if cors:
        response.headers["Access-Control-Allow-Origin"] = "*"
    return response.make_conditional(request)
