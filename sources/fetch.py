"""Retrieving upstream documents over http(s) through requests-cache.

How the pieces fit:

- `CachedSession` keeps every response, but marks it stale at once (`STALE_AT_ONCE`),
  so each pull asks upstream again: with a conditional request when the cached copy
  has an ETag or Last-Modified (a 304 then costs no body), and with `stale_if_error`
  the cached copy stands in when upstream fails. Cache-Control from upstream is not
  followed: the source's `interval` says how often to ask.
- Redirects are followed by requests (at most `max_redirects`); requests-cache sees
  every hop, so a 304 or a stale copy works through a redirect too.
- `AddressGuard` sits where connections are made (a urllib3 connection class), so every
  connection, on every redirect hop and every retry, goes only to an address that was
  resolved and checked just before: loopback, private, link-local and other
  non-public addresses are refused unless the source allows them, and a DNS answer
  that changes between the check and the connect cannot slip through.
- urllib3 `Retry` retries connection errors and 5xx with backoff; a response hook reads
  bodies with a size cap (decompressed size, so a small gzip bomb is caught too).
"""

from __future__ import annotations

import contextvars
import ipaddress
import logging
import socket
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from socket import timeout as SocketTimeout
from typing import Any, Mapping

import requests
from requests.adapters import HTTPAdapter
from requests_cache import CachedSession
from requests_cache.backends import BaseCache, RedisCache, SQLiteCache
from requests_cache.cache_keys import create_key
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import allowed_gai_family, create_connection
from urllib3.util.retry import Retry

from .model import Outcome, Retrieved, RetrieveError, Source

USER_AGENT = "storyfeed/1.0 (story sync; +https://github.com/storyfeed)"
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

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "FetchSettings":
        def number(key: str, default, kind=float):
            value = config.get(key)
            if value is None or value == "":
                return default
            try:
                parsed = kind(value)
            except (TypeError, ValueError):
                raise ValueError(f"{key}: {value!r} is not a number") from None
            if parsed < 0:
                raise ValueError(f"{key}: {value!r} is below 0")
            return parsed

        return cls(
            connect_timeout=number("SOURCES_CONNECT_TIMEOUT", cls.connect_timeout),
            read_timeout=number("SOURCES_READ_TIMEOUT", cls.read_timeout),
            retries=number("SOURCES_RETRIES", cls.retries, int),
            max_bytes=number("SOURCES_MAX_BYTES", cls.max_bytes, int),
        )


# -- where connections may go --------------------------------------------------


class AddressRefused(Exception):
    def __init__(self, host: str, address: str):
        self.host = host
        self.address = address
        super().__init__(
            f"{host} resolves to {address}, a loopback, private or otherwise non-public "
            "address (allow_private = true allows it, for local development only)"
        )


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True)
class AddressGuard:
    allow_private: bool = False
    # Hosts (as written in URLs) whose addresses are not checked. No configuration sets
    # it: tests use it to let a 127.0.0.1 server stand in for a public one.
    trusted_hosts: frozenset[str] = frozenset()

    def resolve(self, host: str, port: int) -> list[str]:
        """The addresses to connect to, in resolver order; raises AddressRefused."""
        infos = socket.getaddrinfo(host, port, allowed_gai_family(), socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
        if not self.allow_private and host.rstrip(".") not in self.trusted_hosts:
            # Any non-public answer refuses the host: a resolver that answers a public and
            # a private address would otherwise reach the private one on a retry.
            for address in addresses:
                if not is_public(address):
                    raise AddressRefused(host, address)
        return addresses


class _GuardedConnection:
    guard: AddressGuard

    def _new_conn(self) -> socket.socket:
        try:
            addresses = self.guard.resolve(self._dns_host, self.port)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        error: Exception | None = None
        for address in addresses:
            # Connect to the address just checked, never to a second lookup's answer.
            try:
                return create_connection(
                    (address, self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except SocketTimeout:
                error = ConnectTimeoutError(
                    self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
                )
            except OSError as exc:
                error = NewConnectionError(self, f"Failed to establish a new connection: {exc}")
        raise error or NewConnectionError(self, "no address to connect to")


def _guarded_pool_classes(guard: AddressGuard) -> dict[str, type]:
    http_conn = type(
        "GuardedHTTPConnection", (_GuardedConnection, HTTPConnection), {"guard": guard}
    )
    https_conn = type(
        "GuardedHTTPSConnection", (_GuardedConnection, HTTPSConnection), {"guard": guard}
    )
    return {
        "http": type(
            "GuardedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}
        ),
        "https": type(
            "GuardedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn}
        ),
    }


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


class GuardedAdapter(HTTPAdapter):
    def __init__(self, guard: AddressGuard, **kwargs):
        self._pool_classes = _guarded_pool_classes(guard)
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pool_classes

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


class ResponseTooLarge(Exception):
    pass


def _read_capped(max_bytes: int):
    def hook(response: requests.Response, *args, **kwargs) -> requests.Response:
        if response._content_consumed:  # read already, or a cached response
            return response
        declared = response.headers.get("Content-Length", "")
        too_large = None
        if declared.isdigit() and int(declared) > max_bytes:
            too_large = f"response is {declared} bytes, more than the {max_bytes} allowed"
        else:
            body = bytearray()
            for chunk in response.iter_content(64 * 1024):
                body += chunk
                if len(body) > max_bytes:
                    too_large = f"response is more than the {max_bytes} bytes allowed"
                    break
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


def describe_error(exc: BaseException) -> str:
    """A short, human reason for a failed request (no object reprs, no tracebacks)."""
    if isinstance(exc, (AddressRefused, ResponseTooLarge)):
        return str(exc)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "timed out connecting"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "timed out waiting for the response"
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return "too many redirects"
    if isinstance(
        exc,
        (
            requests.exceptions.InvalidSchema,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidURL,
        ),
    ):
        return f"redirected to a URL that is not http(s): {exc}"
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason = exc.args[0] if exc.args else exc
        reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the cause
        if isinstance(reason, NewConnectionError):
            return f"could not connect: {reason._message}"
        text = str(reason)
        if "timed out" in text.lower():
            return "timed out waiting for the response"
        return f"connection failed: {text}"
    return f"{type(exc).__name__}: {exc}"


# -- the retriever -------------------------------------------------------------


def cache_backend(config: Mapping[str, Any], instance_path: str | Path) -> BaseCache:
    """Redis when REDIS_URL is set, else SQLite in the instance folder."""
    redis_url = config.get("REDIS_URL")
    if redis_url:
        import redis

        # ttl=False: Redis must not evict a stale copy; it is what an outage falls back to.
        return RedisCache(
            namespace=(config.get("REDIS_PREFIX") or "storyfeed:") + "http-cache",
            connection=redis.Redis.from_url(redis_url),
            ttl=False,
        )
    path = config.get("SOURCES_CACHE_PATH") or Path(instance_path) / "http-cache.sqlite3"
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return SQLiteCache(db_path=str(path), busy_timeout=30_000)


class HTTPRetriever:
    """Gets a source's document; every foreign error leaves as RetrieveError."""

    def __init__(
        self,
        backend: BaseCache,
        settings: FetchSettings = FetchSettings(),
        trusted_hosts: frozenset[str] = frozenset(),
    ):
        self.backend = backend
        self.settings = settings
        self.trusted_hosts = trusted_hosts

    @classmethod
    def from_config(cls, config: Mapping[str, Any], instance_path: str | Path) -> "HTTPRetriever":
        return cls(cache_backend(config, instance_path), FetchSettings.from_config(config))

    def close(self) -> None:
        self.backend.close()

    def session(self, source: Source) -> CachedSession:
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
        retry = Retry(
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
        guard = AddressGuard(source.allow_private, self.trusted_hosts)
        adapter = GuardedAdapter(guard, max_retries=retry)
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
        session = self.session(source)
        try:
            response = session.get(
                source.url,
                headers=headers,
                timeout=(self.settings.connect_timeout, self.settings.read_timeout),
                hooks={"response": [_read_capped(self.settings.max_bytes)]},
                stream=True,
            )
        except Exception as exc:
            raise RetrieveError(describe_error(exc)) from exc
        finally:
            session.close()
            _trouble.reset(reset)
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
