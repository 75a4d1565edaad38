"""Outbound HTTP that goes only where it may: the address guard every request of ours
to a URL from outside (a source, a record's media) passes through.

`AddressGuard` sits where connections are made (a urllib3 connection class), so every
connection, on every redirect hop and every retry, goes only to an address that was
resolved and checked just before (`judge_address`), and a DNS answer that changes
between the check and the connect cannot slip through. Loopback and private addresses
are refused unless the caller allows them, and then only on one origin; link-local,
multicast and cloud metadata addresses always. IPv6 addresses that carry an IPv4
address (mapped, NAT64, 6to4, Teredo, ISATAP...) are judged by it.
"""

from __future__ import annotations

import enum
import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import allowed_gai_family, create_connection

from stories.errors import NotAllowed, StoryfeedError

USER_AGENT = "storyfeed/1.0 (story sync; +https://github.com/storyfeed)"


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


class AddressRefused(NotAllowed):
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
        # str(): for the TCP families asked for, the address is already a string.
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
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


if TYPE_CHECKING:
    _Connection = HTTPConnection
else:  # a mixin: the classes below put HTTP(S)Connection after it
    _Connection = object


class _GuardedConnection(_Connection):
    guard: AddressGuard
    # Told of each connection's socket once connected (the TLS one under https): a caller
    # that must be able to cut a request off (a deadline, a stop) keeps it and shuts it
    # down. The socket, not the connection: http.client lets go of it (sock = None) when
    # the response will close it, while the response reads on.
    on_connect: Callable[[socket.socket], None] | None = None

    def connect(self) -> None:
        super().connect()
        if self.on_connect is not None and self.sock is not None:
            self.on_connect(self.sock)

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
            except TimeoutError:
                error = ConnectTimeoutError(
                    self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
                )
            except OSError as exc:
                error = NewConnectionError(self, f"Failed to establish a new connection: {exc}")
        raise error or NewConnectionError(self, "no address to connect to")


def _guarded_pool_classes(
    guard: AddressGuard, on_connect: Callable[[socket.socket], None] | None
) -> dict[str, type]:
    attributes = {"guard": guard, "on_connect": on_connect and staticmethod(on_connect)}
    http_conn = type("GuardedHTTPConnection", (_GuardedConnection, HTTPConnection), attributes)
    https_conn = type("GuardedHTTPSConnection", (_GuardedConnection, HTTPSConnection), attributes)
    return {
        "http": type(
            "GuardedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}
        ),
        "https": type(
            "GuardedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn}
        ),
    }


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose every connection passes `guard` (and, when given, is
    its socket handed to `on_connect` once connected)."""

    def __init__(
        self,
        guard: AddressGuard,
        on_connect: Callable[[socket.socket], None] | None = None,
        **kwargs: Any,
    ):
        self._pool_classes = _guarded_pool_classes(guard, on_connect)
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pool_classes


def describe_error(exc: BaseException) -> str:
    """A short, human reason for a failed request (no object reprs, no tracebacks)."""
    if isinstance(exc, StoryfeedError):  # ours say it already (AddressRefused, too large...)
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
