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
  resolved and checked just before (`judge_address`), and a DNS answer that changes
  between the check and the connect cannot slip through. Loopback and private
  addresses are refused unless the source allows them, and then only on the source's
  own host; link-local, multicast and cloud metadata addresses always. IPv6 addresses
  that carry an IPv4 address (mapped, NAT64, 6to4, Teredo, ISATAP...) are judged by it.
- urllib3 `Retry` retries connection errors and 5xx with backoff; a response hook reads
  bodies with a size cap (decompressed size, so a small gzip bomb is caught too).
"""

from __future__ import annotations

import contextvars
import enum
import ipaddress
import logging
import socket
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from socket import timeout as SocketTimeout
from typing import Any, Mapping
from urllib.parse import urlsplit

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


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Reach(enum.Enum):
    PUBLIC = "public"
    PRIVATE = "private"  # loopback, RFC 1918, unique-local...: allow_private allows them
    NEVER = "never"  # link-local, multicast, unspecified, cloud metadata: nothing allows them


# Where clouds answer with instance metadata and credentials, beyond 169.254.169.254
# (link-local, refused as such): AWS over IPv6, GCP over IPv6, Alibaba, Azure's
# WireServer (a public address reachable only from inside Azure).
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "fd00:ec2::254", "fd20:ce::254", "100.100.100.200", "168.63.129.16",
))
# IPv6 prefixes whose last 32 bits are an IPv4 address the packets end up at (beyond
# the ones `ipaddress` decodes itself: ipv4_mapped, sixtofour, teredo).
IPV4_IN_LAST_32_BITS = tuple(ipaddress.ip_network(n) for n in (
    "64:ff9b::/96",  # NAT64, well-known prefix (RFC 6052)
    "::/96",  # IPv4-compatible (RFC 4291, deprecated)
    "::ffff:0:0:0/96",  # IPv4-translated (RFC 2765)
))
# Local-use NAT64 (RFC 8215): where the IPv4 address sits depends on the operator's
# prefix length, and none of it is globally reachable, so all of it is private.
LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")
# ISATAP interface identifiers (RFC 5214): 0000:5efe or 0200:5efe, then the IPv4 address.
ISATAP_IDS = (b"\x00\x00\x5e\xfe", b"\x02\x00\x5e\xfe")


def embedded_ipv4(ip: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries, which is where its packets go."""
    if ip.version == 4 or ip.is_loopback or ip.is_unspecified:  # ::1 and :: are in ::/96
        return []
    found = [ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())]  # teredo: server, client
    if any(ip in network for network in IPV4_IN_LAST_32_BITS) or ip.packed[8:12] in ISATAP_IDS:
        found.append(ipaddress.IPv4Address(ip.packed[12:]))
    return [v4 for v4 in found if v4 is not None]


def _reach_of(ip: IPAddress) -> Reach:
    """How far one address may be reached, by itself (embedded addresses aside)."""
    if (ip in METADATA_ADDRESSES or ip.is_link_local or ip.is_multicast or ip.is_unspecified
            # IPv4's 240/4 and broadcast; IPv6's "reserved" would take in ::1 and NAT64.
            or (ip.version == 4 and ip.is_reserved)):
        return Reach.NEVER
    if not ip.is_global or ip in LOCAL_NAT64 or (ip.version == 6 and ip.is_site_local):
        return Reach.PRIVATE
    return Reach.PUBLIC


@dataclass(frozen=True)
class Judgement:
    address: IPAddress
    reach: Reach
    carried: ipaddress.IPv4Address | None = None  # the embedded address that decided


def judge_address(address: str) -> Judgement:
    """How far `address` (as getaddrinfo gives it) may be reached: the strictest of
    the address itself and every IPv4 address it carries."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # no IPv6 zone
    verdict = Judgement(ip, _reach_of(ip))
    strictness = list(Reach).index
    for v4 in embedded_ipv4(ip):
        reach = _reach_of(v4)
        if strictness(reach) > strictness(verdict.reach) or (
            reach is verdict.reach is not Reach.PUBLIC and verdict.carried is None
        ):  # the message names the IPv4 address that decided
            verdict = Judgement(ip, reach, v4)
    return verdict


def is_public(address: str) -> bool:
    return judge_address(address).reach is Reach.PUBLIC


class AddressRefused(Exception):
    def __init__(self, host: str, judgement: Judgement, private_origin: str = ""):
        self.host = host
        self.address = str(judgement.address)
        what = self.address
        if judgement.carried is not None:
            what += f", which carries the IPv4 address {judgement.carried}"
        if judgement.reach is Reach.NEVER:
            reason = "a link-local, multicast, unspecified or cloud metadata address, never allowed"
        elif private_origin:
            reason = ("a loopback, private or otherwise non-public address (allow_private = "
                      f"true allows those only for the source's own host, {private_origin})")
        else:
            reason = ("a loopback, private or otherwise non-public address (allow_private = "
                      "true allows it, for local development only)")
        super().__init__(f"{host} resolves to {what}, {reason}")


def private_origin_of(url: str) -> tuple[str, int] | None:
    """The host and port of a source URL, as the guard compares them."""
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return None
    if not parts.hostname or port is None:
        return None
    return parts.hostname.rstrip("."), port


@dataclass(frozen=True)
class AddressGuard:
    # The one host and port that may resolve to loopback and private addresses: the
    # source's own, when it says `allow_private = true`. Only its own: a local
    # development server may redirect to itself, but not send the sync to another
    # local service or to what the private network holds; every other hop is judged
    # like any public source's. (A different spelling of the same host - 127.0.0.1 for
    # localhost - is another host here: the guard compares what the URL says.)
    private_origin: tuple[str, int] | None = None
    # Hosts (as written in URLs) whose addresses are not checked. No configuration sets
    # it: tests use it to let a 127.0.0.1 server stand in for a public one.
    trusted_hosts: frozenset[str] = frozenset()
    # More (host, port) pairs allowed what `private_origin` is allowed, and nothing more:
    # the service's own SITE_URL and MEDIA_BASE_URL when `feeds check` fetches its media,
    # so that it works against a server on 127.0.0.1.
    private_origins: frozenset[tuple[str, int]] = frozenset()

    def resolve(self, host: str, port: int) -> list[str]:
        """The addresses to connect to, in resolver order; raises AddressRefused."""
        infos = socket.getaddrinfo(host, port, allowed_gai_family(), socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
        name = host.rstrip(".").lower()
        if name in self.trusted_hosts:
            return addresses
        private_ok = self.private_origin == (name, port) or (name, port) in self.private_origins
        origin = ":".join(map(str, self.private_origin)) if self.private_origin else ""
        # Any refused answer refuses the host: a resolver that answers a public and a
        # private address would otherwise reach the private one on a retry.
        for address in addresses:
            judgement = judge_address(address)
            if judgement.reach is Reach.NEVER or (
                judgement.reach is Reach.PRIVATE and not private_ok
            ):
                raise AddressRefused(host, judgement, origin)
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
        guard = AddressGuard(
            private_origin_of(source.url) if source.allow_private else None, self.trusted_hosts
        )
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
