"""Redis clients, made one way for every part that uses Redis (the render cache, the
change notices, the HTTP cache of `sync`), so that REDIS_TLS_VERIFY applies to all.

Free of Flask: `sources/` makes its clients here too.
"""

from __future__ import annotations

import logging
from typing import Any

import redis

from stories.errors import SettingsError

log = logging.getLogger(__name__)

TLS_VERIFY_HINT = (
    "the Redis server's TLS certificate does not verify; if it is self-signed (Heroku "
    "Redis), set REDIS_TLS_VERIFY=off to accept it (still encrypted, not authenticated)"
)


def redis_client(url: str, *, tls_verify: bool = True, **kwargs: Any) -> redis.Redis:
    """The one way storyfeed makes a Redis client. For a `rediss://` URL with `tls_verify`
    off, a certificate that does not verify is accepted: Heroku Redis serves a
    self-signed one, and sets REDIS_URL itself."""
    if not tls_verify and url.lower().startswith("rediss://"):
        kwargs.update(ssl_cert_reqs="none", ssl_check_hostname=False)
    return redis.Redis.from_url(url, **kwargs)


def described(exc: BaseException) -> str:
    """A Redis failure as logs and messages say it: a certificate that does not verify
    names the setting that accepts it, since nothing else will make it work."""
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return f"{text} ({TLS_VERIFY_HINT})"
    return text


def check_tls(url: str, tls_verify: bool, timeout: float = 2.0) -> None:
    """At start-up, for a `rediss://` URL whose certificate must verify: raise
    SettingsError naming REDIS_TLS_VERIFY when it does not. It never will, so running
    on without the shared cache would only hide it. Redis merely unreachable is left
    to the cache, which steps aside and retries."""
    if not tls_verify or not url.lower().startswith("rediss://"):
        return
    client = redis_client(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        client.ping()
    except redis.RedisError as exc:
        if described(exc) != str(exc):
            raise SettingsError(f"REDIS_URL: {TLS_VERIFY_HINT} ({exc})") from None
        log.warning("redis unavailable at start-up: %s", exc)
    finally:
        client.close()
