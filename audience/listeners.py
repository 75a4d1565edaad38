"""Listeners without addresses: the client's address, an IPv6 one cut to its /64 (IAB
v2.1: one household's devices share a /64 and rotate addresses within it), hashed with a
key that changes every UTC day. The same listener is the same hash all day, so a day's
downloads are counted per listener; the next day's salt makes yesterday's hashes
unlinkable, and the old salt is deleted (audience/store.py).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

IPV6_NETWORK_BITS = 64


def network_of(address: str) -> str | None:
    """The part of `address` that names a listener: IPv4 whole, IPv6 its /64; None for
    what is no IP address (a Unix socket's peer, a proxy's junk)."""
    try:
        ip = ipaddress.ip_address(address.strip().split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_NETWORK_BITS), strict=False).network_address) + "/64"
    return str(ip)


def listener_hash(address: str, salt: bytes) -> str | None:
    """The keyed hash (HMAC-SHA-256, 32 hex digits) of the address's network."""
    network = network_of(address)
    if network is None:
        return None
    return hmac.new(salt, network.encode("ascii"), hashlib.sha256).hexdigest()[:32]
