"""Listeners without addresses: the client's address, an IPv6 one cut to its /64 (IAB
v2.1: one household's devices share a /64 and rotate addresses within it), hashed with a
key that changes every UTC day. The same listener is the same hash all day, so a day's
downloads are counted per listener; the next day's salt makes yesterday's hashes
unlinkable, and the old salt is deleted (audience/store.py).
"""

from __future__ import annotations

import hashlib
import hmac
import socket

IPV4_MAPPED = bytes(10) + b"\xff\xff"  # ::ffff:0:0/96


def network_of(address: str) -> str | None:
    """The part of `address` that names a listener: IPv4 whole, IPv6 its /64 (an IPv4
    address mapped into IPv6 as IPv4); None for what is no IP address (a Unix socket's
    peer, a proxy's junk). inet_pton, not `ipaddress`: this runs for every media request,
    and it is the C parser the socket layer uses, strict alike."""
    address = address.strip()
    try:
        if ":" not in address:
            return socket.inet_ntop(socket.AF_INET, socket.inet_pton(socket.AF_INET, address))
        packed = socket.inet_pton(socket.AF_INET6, address.split("%", 1)[0])
    except (OSError, ValueError):
        return None
    if packed[:12] == IPV4_MAPPED:
        return socket.inet_ntop(socket.AF_INET, packed[12:])
    return socket.inet_ntop(socket.AF_INET6, packed[:8] + bytes(8)) + "/64"


def listener_hash(address: str, salt: bytes) -> str | None:
    """The keyed hash (HMAC-SHA-256, 32 hex digits) of the address's network."""
    network = network_of(address)
    if network is None:
        return None
    return hmac.new(salt, network.encode("ascii"), hashlib.sha256).hexdigest()[:32]
