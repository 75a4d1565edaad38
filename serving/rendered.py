"""Rendered bodies (feeds, oEmbed) cached and served the way a CDN would serve them.

A `Rendered` is made once per change of the data: its body, its gzip form and a strong
ETag for each, so a warm request costs a cache lookup and a 304 costs a comparison.
`RenderCache` is the one small interface a shared cache (Redis) replaces; keys carry
the store's version of what they were rendered from, so a write by any process makes
older entries unreachable without telling anyone.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from flask import Response, request
from werkzeug.http import http_date, is_resource_modified, parse_accept_header, quote_etag

from stories.store import STORE_UNAVAILABLE, StoreUnavailable
from stories.validate import MAX_ID

from . import metrics
from .settings import BY_NAME

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

    from stories.store import StoryStore

log = logging.getLogger(__name__)

# The request's environ key saying its answer comes from a store version that could not
# be checked: `rendered_answer` then says the answer is stale.
STALE = "storyfeed.stale"
STALE_WARNING = ("Warning", '110 - "Response is Stale"')


@dataclass(frozen=True)
class Rendered:
    body: bytes
    content_type: str
    etag: str  # strong validator of `body`; the gzip form's ETag is derived from it
    gzipped: bytes
    last_modified: datetime | None = None

    @classmethod
    def of(cls, body: bytes, content_type: str, last_modified: datetime | None = None) -> Rendered:
        # mtime=0 keeps the gzip bytes (and so their ETag) the same on every render.
        return cls(
            body=body,
            content_type=content_type,
            etag=hashlib.sha256(body).hexdigest()[:32],
            gzipped=gzip.compress(body, compresslevel=6, mtime=0),
            last_modified=last_modified,
        )

    @property
    def size(self) -> int:
        """What keeping it costs: both bodies' bytes."""
        return len(self.body) + len(self.gzipped)

    @functools.cached_property
    def validators(self) -> tuple[str, str, str | None]:
        """The ETag headers (identity, gzip) and Last-Modified, formatted once per body."""
        last_modified = http_date(self.last_modified) if self.last_modified else None
        return quote_etag(self.etag), quote_etag(self.etag + "-gz"), last_modified


class RenderCache(Protocol):
    def get(self, key: str) -> Rendered | None: ...

    def set(self, key: str, value: Rendered) -> None: ...

    def get_or_render(self, key: str | None, render: Callable[[], Rendered]) -> Rendered:
        """The entry under `key`, rendered and kept if missing; a key of None means the
        answer must not be kept (see `serving.context.cache_key`): rendered every time."""
        ...

    def status(self) -> str: ...


class SharedVersions(Protocol):
    """The last store version each topic was read at, by any process (Redis): a process
    that never read a topic can still find what others rendered from it in an outage."""

    def remember_version(self, topic: str | None, version: int) -> None: ...

    def recall_version(self, topic: str | None) -> int | None: ...


# The default of RENDER_CACHE_MB, for a cache made without the settings (tests, tools).
DEFAULT_MAX_BYTES: int = BY_NAME["RENDER_CACHE_MB"].default * 1024 * 1024


class _KeyLock:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0


class MemoryRenderCache:
    """Per-process LRU, bounded by the bytes it holds (bodies and their gzip forms) and by
    its number of entries; the whole cache of one process, or the copy a process keeps of
    the Redis entries it uses (`serving.redis_cache`).

    Bytes, not entries: a feed's page can weigh 5 KB or 900 KB, and a cache of N entries
    either held too few of the small ones (polls of 1,000 topics missed most of 128 and
    went to Redis for the body) or could grow to hundreds of megabytes.
    """

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES, max_entries: int = 4096):
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self._entries: OrderedDict[str, Rendered] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        # Cold keys being rendered: each one's lock and how many threads hold or await it.
        # An entry lives only while a thread uses it, whether the render returns or raises
        # (a 404 inside a render): junk URLs, however many, leave nothing behind.
        self._rendering: dict[str, _KeyLock] = {}

    def get(self, key: str) -> Rendered | None:
        # No lock: every warm request comes here, and each OrderedDict call is atomic on
        # its own. An entry evicted between the two calls is still the answer. (try, not
        # contextlib.suppress: the context manager was a sixth of a fast-path 304.)
        value = self._entries.get(key)
        if value is not None:
            try:
                self._entries.move_to_end(key)
            except KeyError:
                pass
        return value

    def set(self, key: str, value: Rendered) -> None:
        if value.size > self.max_bytes:
            return  # it would push out everything else, and itself with them
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.size
            self._entries[key] = value
            self._bytes += value.size
            while self._bytes > self.max_bytes or len(self._entries) > self.max_entries:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.size

    def get_or_render(self, key: str | None, render: Callable[[], Rendered]) -> Rendered:
        render = metrics.timed(render)
        if key is None:
            return render()
        found = self.get(key)
        metrics.looked_up(found)
        if found is not None:
            return found
        # Threads of one process asking for the same cold key wait for one render.
        with self._lock:
            key_lock = self._rendering.get(key)
            if key_lock is None:
                key_lock = self._rendering[key] = _KeyLock()
            key_lock.users += 1
        try:
            with key_lock.lock:
                found = self.get(key)
                if found is None:
                    found = render()
                    self.set(key, found)
        finally:
            with self._lock:
                key_lock.users -= 1
                if not key_lock.users:
                    del self._rendering[key]
        return found

    def status(self) -> str:
        return "memory"


class VersionMemo:
    """`store.version()` remembered for `ttl` seconds, forgotten at once on a write here.

    A warm request would otherwise spend more on asking the database for the version than
    on everything else (on PostgreSQL a network round trip). Writes in this process
    (`stories_changed`) are seen immediately; writes by another process within `ttl`, or
    at once when Redis change notices are on (`serving.redis_cache.RedisChangeNotices`).

    One request of a process asks the store when the remembered version has aged; the
    others meanwhile keep the remembered one. Under gevent (and threads) every request
    that found it aged used to ask at once, each waiting for a pooled connection: a burst
    of identical queries four times a second, and the requests behind them stalled.

    A topic's version is asked for only when the store's own version has moved since it
    was read: every write that moves a topic's version moves the store's in the same
    transaction. With a thousand topics polled, that is one query per interval instead
    of one per request.

    While the store does not answer, the last version read of each topic stands in
    (`lookup` says it is stale): what was rendered from it is still in the render cache
    and served, since stale beats an outage; anything never rendered fails as the store
    does. With `shared` (the Redis render cache), the versions other processes read
    stand in as well; a topic nobody read raises StoreUnavailable.
    """

    MAX_KEYS = 1024  # topics come from URLs; don't let junk slugs grow the memo

    def __init__(self, store: StoryStore, ttl: float = 0.25, shared: SharedVersions | None = None):
        from stories.store import stories_changed

        self.store = store
        self.ttl = ttl
        # topic (None: the store) -> (version, when it was read, the store's version then)
        self._memo: OrderedDict[str | None, tuple[int, float, int | None]] = OrderedDict()
        self._asking: set[str | None] = set()  # topics whose version is being asked for
        self._forgotten = 0  # how many times forget() ran: an answer asked before is stale
        # topic -> the last version the store gave: kept through forget(), for outages
        self._last_read: dict[str | None, int] = {}
        self.shared = shared
        self._store_down = False  # logged once per outage, not once per request
        # Weak: the memo lives as long as its app.
        stories_changed.connect(self.forget, sender=store)

    def forget(self, *_sender: object, **_topics: object) -> None:
        self._forgotten += 1
        self._memo = OrderedDict()

    def version(self, topic: str | None = None) -> int:
        return self.lookup(topic)[0]

    def lookup(self, topic: str | None = None) -> tuple[int, bool]:
        """(version, stale): stale when the store did not answer and the version is the
        last one it gave; StoreUnavailable when it never gave one."""
        try:
            value = self._version(topic)
        except STORE_UNAVAILABLE as exc:
            if not self._store_down:
                self._store_down = True
                log.warning("the store does not answer (%s): serving what was rendered from "
                            "its last known versions, 503 for anything else",
                            getattr(exc, "orig", None) or exc)
            last = self._last_read.get(topic)
            if last is None and self.shared is not None:
                last = self.shared.recall_version(topic)
            if last is None:
                raise StoreUnavailable("the story store is not answering") from exc
            return last, True
        if self._store_down:
            self._store_down = False
            log.warning("the store answers again")
        return value, False

    def _version(self, topic: str | None) -> int:
        now = time.monotonic()
        found = self._memo.get(topic)
        if found is not None and (now - found[1] < self.ttl or topic in self._asking):
            return found[0]
        forgotten = self._forgotten
        store_version = None
        if topic is not None:
            self._version(None)  # the store's own, read before the topic's
            store = self._memo.get(None)
            if store is not None:
                store_version, store_read = store[0], store[1]
                if found is not None and found[2] == store_version and store_read > found[1]:
                    # No write since this topic's version was read: it still holds, as of
                    # when the store's was read.
                    self._keep(topic, (found[0], store_read, store_version), forgotten)
                    return found[0]
        self._asking.add(topic)
        try:
            value = self.store.version(topic)
        finally:
            self._asking.discard(topic)
        # 0 is a topic that does not exist, of which URLs can name any number: only
        # topics that exist are remembered for an outage, so junk slugs cannot push them out.
        if not value:
            self._last_read.pop(topic, None)
        elif self._last_read.get(topic) != value:
            if topic not in self._last_read and len(self._last_read) >= self.MAX_KEYS:
                self._last_read = {}
            self._last_read[topic] = value
            if self.shared is not None:  # once per change, not per read
                self.shared.remember_version(topic, value)
        self._keep(topic, (value, now, value if topic is None else store_version), forgotten)
        return value

    def _keep(self, topic: str | None, entry: tuple[int, float, int | None], forgotten: int) -> None:
        # A write announced while the store was asked may be newer than this answer: keep
        # nothing, so the next request asks again. Nor a slug no topic can have (a URL's
        # path can hold 4 KB): no feed is served from it.
        if forgotten != self._forgotten or (topic is not None and len(topic) > MAX_ID):
            return
        memo = self._memo
        # The longest unread goes, not everything: junk slugs then cost neither the real
        # topics' remembered versions nor memory, however many arrive. Each call below is
        # atomic on its own; under threads the bound is overshot by at most one a thread.
        if len(memo) >= self.MAX_KEYS and topic not in memo:
            try:
                memo.popitem(last=False)
            except KeyError:
                pass
        memo[topic] = entry
        try:
            memo.move_to_end(topic)
        except KeyError:
            pass


def rendered_answer(rendered: Rendered, environ: WSGIEnvironment, *, max_age: int,
                    cors: bool = True) -> tuple[int, list[tuple[str, str]], bytes | None]:
    """(status, headers, body) of `rendered` for the request in `environ`: a strong ETag per
    encoding, Last-Modified, gzip when accepted, and 304 for a matching If-None-Match or
    If-Modified-Since. The headers are the ones sent, so that the Flask view
    (`send_rendered`) and the WSGI fast path (`serving.fastpath`) answer alike.

    Headers are written as plain values rather than through Response's header objects:
    a warm feed or oEmbed answer is mostly this function, and parsing its own headers
    back (as `make_conditional` does) cost more than the cache lookup.
    """
    use_gzip = accepts_gzip(environ.get("HTTP_ACCEPT_ENCODING"))
    identity_etag, gzip_etag, last_modified = rendered.validators
    etag = gzip_etag if use_gzip else identity_etag
    headers = [
        ("ETag", etag),
        ("Vary", "Accept-Encoding"),
        ("Cache-Control", f"public, max-age={max_age}"),
    ]
    if cors:
        headers.append(("Access-Control-Allow-Origin", "*"))
    if environ.get(STALE):
        headers.append(STALE_WARNING)
    if_none_match = environ.get("HTTP_IF_NONE_MATCH")
    if (if_none_match or "HTTP_IF_MODIFIED_SINCE" in environ) and environ["REQUEST_METHOD"] in ("GET", "HEAD"):
        # A poller sends back the exact ETag it got; anything else is parsed properly.
        if if_none_match == etag or not is_resource_modified(
            environ, etag=etag, last_modified=rendered.last_modified
        ):
            # Without Last-Modified: werkzeug drops it from every 304 (an entity header).
            return 304, headers, None
    if last_modified is not None:
        headers.insert(3, ("Last-Modified", last_modified))
    body = rendered.gzipped if use_gzip else rendered.body
    headers.append(("Content-Type", rendered.content_type))
    if use_gzip:
        headers.append(("Content-Encoding", "gzip"))
    headers.append(("Content-Length", str(len(body))))
    return 200, headers, body


def accepts_gzip(accept_encoding: str | None) -> bool:
    if accept_encoding is not None and len(accept_encoding) > MAX_KNOWN_ACCEPT_ENCODING:
        return _accepts_gzip(accept_encoding)  # a header can hold 8 KB: not remembered
    return _known_accepts_gzip(accept_encoding)


def _accepts_gzip(accept_encoding: str | None) -> bool:
    return accept_encoding is not None and parse_accept_header(accept_encoding)["gzip"] > 0


MAX_KNOWN_ACCEPT_ENCODING = 200
_known_accepts_gzip = functools.lru_cache(maxsize=256)(_accepts_gzip)  # clients send a handful of values


T = TypeVar("T")


class PerVersion(Generic[T]):
    """A value made from the store (the topic moves, say), made again when the store's
    version moves, as seen through `versions`. Built by the app factory, like the memo.

    While the store does not answer, the value made last stands, or `unknown()` when
    none was made: what is served then is what was rendered before, and a request must
    not fail on this value first."""

    def __init__(self, versions: VersionMemo, make: Callable[[], T],
                 unknown: Callable[[], T] | None = None):
        self.versions = versions
        self.make = make
        self.unknown = unknown
        self._held: tuple[int, T] | None = None

    def get(self) -> T:
        version, stale = self.versions.lookup()
        held = self._held
        if stale and held is not None:
            return held[1]
        if stale and self.unknown is not None:
            return self.unknown()
        if held is None or held[0] != version:
            held = self._held = (version, self.make())
        return held[1]


def send_rendered(rendered: Rendered, *, max_age: int, cors: bool = True) -> Response:
    """`rendered` as the response to the current request (see `rendered_answer`)."""
    status, headers, body = rendered_answer(rendered, request.environ, max_age=max_age, cors=cors)
    return Response(body, status=status, headers=headers)
