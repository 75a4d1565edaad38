"""Retrieving upstream documents over http(s) through requests-cache.

How the pieces fit:

- `CachedSession` keeps every response, but marks it stale at once (`STALE_AT_ONCE`),
  so each pull asks upstream again: with a conditional request when the cached copy
  has an ETag or Last-Modified (a 304 then costs no body), and with `stale_if_error`
  the cached copy stands in when upstream fails. Cache-Control from upstream is not
  followed: the source's `interval` says how often to ask.
- Redirects are followed by requests (at most `max_redirects`); requests-cache sees
  every hop, so a 304 or a stale copy works through a redirect too.
- Every connection passes `serving.outbound.AddressGuard`: loopback and private
  addresses are refused unless the source allows them, and then only on the source's
  own host; link-local, multicast and cloud metadata addresses always.
- urllib3 `Retry` retries connection errors and 5xx with backoff; a response hook reads
  bodies with a size cap (decompressed size, so a small gzip bomb is caught too).
- A `Cutoff` bounds the whole retrieve (every hop, retry, backoff and the body) by a
  deadline, and ends it at once when the sync is told to stop: timeouts bound each read
  only, and an upstream trickling a byte every few seconds would hold a pull for ever.
"""

from __future__ import annotations

import contextvars
import logging
import socket
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Self

import requests
from requests_cache import CachedSession
from requests_cache.backends import BaseCache, RedisCache, SQLiteCache
from requests_cache.cache_keys import create_key
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

from serving.outbound import (
    USER_AGENT,
    AddressGuard,
    AddressRefused,
    GuardedAdapter,
    describe_error,
    private_origin_of,
)
from serving.redis_clients import redis_client
from stories.errors import UpstreamError

from .model import DeadlinePassed, Interrupted, Outcome, Retrieved, RetrieveError, Source

# Stored, but stale from the moment it is stored (requests-cache does not store a
# response whose expiry is exactly 0 unless it has a validator, and a stale copy is what
# `stale_if_error` needs even from an upstream without validators).
STALE_AT_ONCE = timedelta(microseconds=1)
RETRY_STATUSES = (500, 502, 503, 504)


@dataclass(frozen=True)
class FetchSettings:
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    retries: int = 2
    backoff_factor: float = 0.5
    max_bytes: int = 20_000_000
    max_redirects: int = 5
    user_agent: str = USER_AGENT
    deadline: float = 60.0  # the whole retrieve, unless the source says otherwise


# What went wrong during one retrieve, hop by hop (an exception, or the text of an
# error status): requests-cache swallows the error when it serves a stale copy, and the
# report should still say why it did.
_trouble: contextvars.ContextVar[list[BaseException | str] | None] = contextvars.ContextVar(
    "trouble", default=None
)
# requests-cache logs each stale fallback with a traceback; the sync report says it in
# one line instead.
logging.getLogger("requests_cache.session").setLevel(logging.ERROR)


def _note_trouble(what: BaseException | str) -> None:
    found = _trouble.get()
    if found is not None:
        found.append(what)


class TracedAdapter(GuardedAdapter):
    """The guarded adapter, noting each failed hop for the sync report."""

    def send(self, request, *args, **kwargs):
        try:
            response = super().send(request, *args, **kwargs)
        except Exception as exc:
            _note_trouble(exc)
            raise
        if response.status_code >= 400:
            _note_trouble(f"HTTP {response.status_code} {response.reason or ''}".strip())
        return response


class TracedSession(CachedSession):
    """Notes redirect trouble (a loop, a non-http Location), which happens outside the
    adapter and would otherwise leave a stale copy unexplained."""

    def resolve_redirects(self, *args, **kwargs):
        try:
            yield from super().resolve_redirects(*args, **kwargs)
        except Exception as exc:
            _note_trouble(exc)
            raise


class Cutoff:
    """Ends one retrieve when its deadline passes, or as soon as `stop` is set.

    A watcher thread shuts down the socket of every connection the retrieve opened, so
    that a read blocked on it returns at once (a read timeout would not: it bounds each
    read, and a byte every few seconds satisfies it). Retries, backoff and the body's
    reader ask `check()`, which raises from then on, so no new attempt starts. A
    connection still connecting (or in its TLS handshake) is bounded by the connect timeout.
    """

    POLL = 0.1  # seconds between two looks at `stop`

    def __init__(self, seconds: float, stop: threading.Event | None = None):
        self.seconds = seconds
        self.ends = time.monotonic() + seconds
        self.stop = stop if stop is not None else threading.Event()
        self.stopped = False  # cut off because of `stop` (else: the deadline), once cut
        self._cut = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="fetch-cutoff", daemon=True)

    def __enter__(self) -> Cutoff:
        self._watcher.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._watcher.join()

    @property
    def is_cut(self) -> bool:
        return self._cut

    def error(self) -> Exception:
        if self.stopped:
            return Interrupted("stopped before the document arrived")
        return DeadlinePassed(f"no complete answer within {self.seconds:g} s (the fetch deadline)")

    def check(self) -> None:
        """Raises once the retrieve is cut off (or should be by now)."""
        if not self._cut and (self.stop.is_set() or time.monotonic() >= self.ends):
            self._cut_off()
        if self._cut:
            raise self.error()

    def pause(self, seconds: float) -> None:
        """A retry's backoff: over at the deadline, or when `stop` is set."""
        self.stop.wait(min(seconds, max(self.ends - time.monotonic(), 0)))
        self.check()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
        self.check()

    def _watch(self) -> None:
        while not self._done.wait(min(self.POLL, max(self.ends - time.monotonic(), 0))):
            if self.stop.is_set() or time.monotonic() >= self.ends:
                self._cut_off()
                return

    def _cut_off(self) -> None:
        with self._lock:
            if self._cut:
                return
            self.stopped = self.stop.is_set()
            self._cut = True
            sockets = list(self._sockets)
        for sock in sockets:
            try:
                # The plain socket's shutdown, also under TLS: ssl's would tear down its
                # state under the thread that is reading. Not close(): the reader still
                # holds the descriptor, and a closed one may be reused at once. A socket
                # closed already has no descriptor left (fileno -1): nothing to shut.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass  # closed already


class CutoffRetry(Retry):
    """urllib3's Retry, which starts no attempt (nor waits its backoff) past the cutoff."""

    cutoff: Cutoff | None = None

    def new(self, **kw: Any) -> Self:
        retry = super().new(**kw)
        retry.cutoff = self.cutoff
        return retry

    def increment(self, *args: Any, **kwargs: Any) -> Self:
        if self.cutoff is not None:
            self.cutoff.check()
        return super().increment(*args, **kwargs)

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        if self.cutoff is None:
            return super().sleep(response)
        # Retry-After is not followed (respect_retry_after_header=False): backoff only.
        self.cutoff.pause(self.get_backoff_time())


class ResponseTooLarge(UpstreamError):
    pass


def _read_capped(max_bytes: int, cutoff: Cutoff):
    def hook(response: requests.Response, *args, **kwargs) -> requests.Response:
        if response._content_consumed:  # read already, or a cached response
            return response
        declared = response.headers.get("Content-Length", "")
        too_large = None
        if declared.isdigit() and int(declared) > max_bytes:
            too_large = f"response is {declared} bytes, more than the {max_bytes} allowed"
        else:
            body = bytearray()
            try:
                for chunk in response.iter_content(64 * 1024):
                    body += chunk
                    cutoff.check()
                    if len(body) > max_bytes:
                        too_large = f"response is more than the {max_bytes} bytes allowed"
                        break
            except Exception as exc:
                # A body cut off mid-read fails as a broken connection: say why it broke.
                if not cutoff.is_cut:
                    raise
                response.close()
                error = cutoff.error()
                _note_trouble(error)
                raise error from exc
        if too_large:
            response.close()
            error = ResponseTooLarge(too_large)
            _note_trouble(error)
            raise error
        # requests keeps a read body in `_content`; putting the capped read there makes
        # `.content` (which requests-cache stores) the body that was checked.
        response._content = bytes(body)
        return response

    return hook


# -- the retriever -------------------------------------------------------------


def cache_backend(redis_url: str | None, prefix: str, path: str | Path,
                  redis_tls_verify: bool = True) -> BaseCache:
    """Redis when REDIS_URL is set (with REDIS_TLS_VERIFY, as the web process's), else
    SQLite at `path`."""
    if redis_url:
        # ttl=False: Redis must not evict a stale copy; it is what an outage falls back to.
        return RedisCache(
            namespace=prefix + "http-cache",
            connection=redis_client(redis_url, tls_verify=redis_tls_verify),
            ttl=False,
        )
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return SQLiteCache(db_path=str(path), busy_timeout=30_000)


class HTTPRetriever:
    """Gets a source's document; every foreign error leaves as RetrieveError."""

    def __init__(
        self,
        backend: BaseCache,
        settings: FetchSettings = FetchSettings(),
        trusted_hosts: frozenset[str] = frozenset(),
        stop: threading.Event | None = None,
    ):
        self.backend = backend
        self.settings = settings
        self.trusted_hosts = trusted_hosts
        # Set by `sync --loop` on SIGTERM: the retrieve in flight ends at once (Interrupted).
        self.stop = stop

    def close(self) -> None:
        self.backend.close()

    def session(self, source: Source, cutoff: Cutoff) -> CachedSession:
        s = self.settings

        def source_key(request, **kwargs) -> str:
            # Each source its own cache entries: a copy fetched for one source (which may
            # allow private addresses, or send a token) is never served to another.
            return f"{source.name}:{create_key(request, **kwargs)}"

        # Sessions share the backend and set its settings (key_fn included) as they are
        # made: sync pulls one source at a time, so each session's settings hold for its pull.
        session = TracedSession(
            backend=self.backend,
            key_fn=source_key,
            expire_after=STALE_AT_ONCE,
            stale_if_error=True,
            cache_control=False,
            allowable_methods=("GET",),
            autoclose=False,
        )
        # No proxies or .netrc from the environment: credentials must not leak to an
        # upstream, and a proxy would be a way around the address guard.
        session.trust_env = False
        session.max_redirects = s.max_redirects
        session.headers["User-Agent"] = s.user_agent
        retry = CutoffRetry(
            total=s.retries,
            connect=s.retries,
            read=s.retries,
            status=s.retries,
            other=0,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=frozenset({"GET"}),
            backoff_factor=s.backoff_factor,
            raise_on_status=False,
            # A long Retry-After would stall every other source behind this one.
            respect_retry_after_header=False,
        )
        retry.cutoff = cutoff
        guard = AddressGuard(
            private_origin_of(source.url) if source.allow_private else None, self.trusted_hosts
        )
        adapter = TracedAdapter(guard, on_connect=cutoff.watch, max_retries=retry)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def retrieve(self, source: Source, accept: str, token: str = "") -> Retrieved:
        headers = {"Accept": accept}
        if token:
            # requests drops Authorization when a redirect leaves the host.
            headers["Authorization"] = f"Bearer {token}"
        trouble: list[BaseException | str] = []
        reset = _trouble.set(trouble)
        cutoff = Cutoff(source.deadline or self.settings.deadline, self.stop)
        session = self.session(source, cutoff)
        try:
            with cutoff:
                response = session.get(
                    source.url,
                    headers=headers,
                    timeout=(self.settings.connect_timeout, self.settings.read_timeout),
                    hooks={"response": [_read_capped(self.settings.max_bytes, cutoff)]},
                    stream=True,
                )
        except Exception as exc:
            if cutoff.is_cut:  # whatever broke, it broke because the cutoff came
                raise cutoff.error() from exc
            raise RetrieveError(describe_error(exc)) from exc
        finally:
            session.close()
            _trouble.reset(reset)
        if cutoff.stopped and response.from_cache and not response.revalidated:
            # The stale copy standing in for a pull that was stopped: pull again next run.
            raise cutoff.error()
        refused = [t for t in trouble if isinstance(t, AddressRefused)]
        if refused:
            # A refusal is the source's settings speaking, not an outage: no stale copy.
            raise RetrieveError(str(refused[0]))
        if response.status_code not in (200, 203):
            raise RetrieveError(
                f"upstream answered HTTP {response.status_code} {response.reason or ''}".strip()
            )
        if not response.from_cache:
            outcome, detail = Outcome.FETCHED, ""
        elif response.revalidated:
            outcome, detail = Outcome.NOT_MODIFIED, ""
        else:
            # A cached copy that was not revalidated: it is stale from the moment it is
            # stored, so requests-cache only hands it back when the request failed.
            last = trouble[-1] if trouble else "upstream failed"
            detail = last if isinstance(last, str) else describe_error(last)
            outcome = Outcome.SERVED_STALE
        content_type = response.headers.get("Content-Type", "")
        return Retrieved(
            body=response.content,
            content_type=content_type.split(";", 1)[0].strip().lower(),
            url=response.url,
            outcome=outcome,
            headers=dict(response.headers),
            detail=detail,
        )
