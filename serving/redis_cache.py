"""The render cache in Redis, shared by every worker of every instance.

Entries are keyed by what they were rendered from, including the store's version, so
a write anywhere makes stale entries unreachable; they expire by TTL. A cold hot key is
rendered once: the first worker takes a short lock and the others wait for its result
(bounded; after the wait they render themselves). When Redis is unreachable the cache
steps aside, requests are rendered directly, the outage is logged once per interval,
and Redis is tried again after a short pause, so the service recovers by itself.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

import redis
from redis.typing import EncodableT, FieldT

from . import metrics
from .redis_clients import described, redis_client
from .rendered import DEFAULT_MAX_BYTES, MemoryRenderCache, Rendered

log = logging.getLogger(__name__)

class RedisRenderCache:
    def __init__(
        self,
        client: redis.Redis,
        prefix: str = "storyfeed:",
        ttl: int = 3600,
        lock_ttl: float = 10.0,
        wait: float = 3.0,
        retry_after: float = 1.0,
        log_interval: float = 60.0,
        local_bytes: int = DEFAULT_MAX_BYTES,
    ):
        self.client = client
        self.prefix = prefix
        self.ttl = ttl
        self.lock_ttl = lock_ttl
        self.wait = wait
        self.retry_after = retry_after
        self.log_interval = log_interval
        self._down_until = 0.0
        self._last_logged = 0.0
        self._guard = threading.Lock()
        # Keys name what a body was rendered from (the store's version included), so the
        # body under a key never changes: a copy kept in the process is never stale, and
        # a warm request (a 304 above all) costs no Redis round trip.
        self.local = MemoryRenderCache(max_bytes=local_bytes)

    @classmethod
    def from_url(cls, url: str, tls_verify: bool = True, **kwargs: Any) -> RedisRenderCache:
        # Short timeouts: a slow or vanished Redis must cost a request milliseconds, not seconds.
        client = redis_client(
            url, tls_verify=tls_verify, socket_timeout=0.25, socket_connect_timeout=0.25,
            health_check_interval=30,
        )
        return cls(client, **kwargs)

    @property
    def renders_key(self) -> str:
        return f"{self.prefix}stats:renders"

    @property
    def versions_key(self) -> str:
        return f"{self.prefix}versions"

    # -- availability -----------------------------------------------------------------

    def _available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _failed(self, exc: Exception) -> None:
        now = time.monotonic()
        with self._guard:
            self._down_until = now + self.retry_after
            if now - self._last_logged >= self.log_interval:
                self._last_logged = now
                log.warning("redis unavailable, rendering without the shared cache: %s", described(exc))

    # -- the cache ----------------------------------------------------------------------

    def get(self, key: str) -> Rendered | None:
        found = self.local.get(key)
        if found is not None or not self._available():
            return found
        try:
            # Bytes: the client is made without decode_responses.
            fields = cast("dict[bytes, bytes]", self.client.hgetall(self.prefix + "render:" + key))
        except redis.RedisError as exc:
            self._failed(exc)
            return None
        if not fields:
            return None
        last_modified = fields.get(b"last_modified", b"").decode()
        found = Rendered(
            body=fields[b"body"],
            content_type=fields[b"content_type"].decode(),
            etag=fields[b"etag"].decode(),
            gzipped=fields[b"gzipped"],
            last_modified=datetime.fromisoformat(last_modified) if last_modified else None,
        )
        self.local.set(key, found)
        return found

    def set(self, key: str, value: Rendered) -> None:
        self.local.set(key, value)
        if not self._available():
            return
        name = self.prefix + "render:" + key
        mapping: dict[FieldT, EncodableT] = {
            "body": value.body,
            "gzipped": value.gzipped,
            "content_type": value.content_type,
            "etag": value.etag,
            "last_modified": value.last_modified.isoformat() if value.last_modified else "",
        }
        try:
            with self.client.pipeline() as pipe:
                pipe.hset(name, mapping=mapping)
                pipe.expire(name, self.ttl)
                pipe.execute()
        except redis.RedisError as exc:
            self._failed(exc)

    def _render(self, key: str, render: Callable[[], Rendered]) -> Rendered:
        value = render()
        self.set(key, value)
        if self._available():
            try:
                self.client.incr(self.renders_key)
            except redis.RedisError as exc:
                self._failed(exc)
        return value

    def get_or_render(self, key: str | None, render: Callable[[], Rendered]) -> Rendered:
        render = metrics.timed(render)
        if key is None:
            return render()
        found = self.get(key)
        metrics.looked_up(found)
        if found is not None:
            return found
        if not self._available():
            found = render()
            self.local.set(key, found)
            return found
        lock = self.prefix + "lock:" + key
        token = uuid.uuid4().hex
        try:
            mine = self.client.set(lock, token, nx=True, px=int(self.lock_ttl * 1000))
        except redis.RedisError as exc:
            self._failed(exc)
            found = render()
            self.local.set(key, found)
            return found
        if mine:
            try:
                # Another worker may have finished rendering between our miss and our lock.
                found = self.get(key)
                return found if found is not None else self._render(key, render)
            finally:
                self._release(lock, token)
        deadline = time.monotonic() + self.wait
        while time.monotonic() < deadline and self._available():
            time.sleep(0.01)
            found = self.get(key)
            if found is not None:
                return found
        return self._render(key, render)

    def _release(self, lock: str, token: str) -> None:
        # Delete only our own lock: it may have expired and been taken by another worker.
        try:
            self.client.eval(
                "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end",
                1, lock, token,
            )
        except redis.RedisError as exc:
            self._failed(exc)

    # -- the last version read of each topic, for outages of the store (`VersionMemo`) --

    def remember_version(self, topic: str | None, version: int) -> None:
        if not self._available():
            return
        try:
            self.client.hset(self.versions_key, _version_field(topic), version)
        except redis.RedisError as exc:
            self._failed(exc)

    def recall_version(self, topic: str | None) -> int | None:
        if not self._available():
            return None
        try:
            value = self.client.hget(self.versions_key, _version_field(topic))
        except redis.RedisError as exc:
            self._failed(exc)
            return None
        return int(value) if value is not None else None

    def status(self) -> str:
        try:
            self.client.ping()
        except redis.RedisError:
            return "redis unreachable"
        return "redis"


def _version_field(topic: str | None) -> str:
    return "/" if topic is None else topic  # "/" is no topic's slug: the whole store's


class RedisChangeNotices:
    """Every process hears of every write at once, through Redis pub/sub.

    A write publishes a notice (on the `stories_changed` signal of this process's store);
    each serving process keeps one daemon thread subscribed, which makes its remembered
    store versions (`VersionMemo`) forget on each notice. If Redis is away the thread
    retries, and after it reconnects it forgets once more: notices may have been missed.
    """

    def __init__(self, url: str, channel: str, reconnect_delay: float = 1.0, tls_verify: bool = True):
        self.channel = channel
        self.reconnect_delay = reconnect_delay
        self.client = redis_client(url, tls_verify=tls_verify, socket_connect_timeout=0.25,
                                   socket_timeout=0.25)
        # The subscription waits for notices indefinitely; health checks find a dead link.
        self._listen_client = redis_client(
            url, tls_verify=tls_verify, socket_connect_timeout=0.25, socket_timeout=None,
            health_check_interval=10,
        )
        self._listeners: list[Callable[[], None]] = []
        self._thread: threading.Thread | None = None
        self._guard = threading.Lock()
        self._subscribed = threading.Event()

    def publish(self, _sender: object = None, topics: frozenset[str] = frozenset(), **_kw: object) -> None:
        try:
            self.client.publish(self.channel, ",".join(sorted(topics)))
        except redis.RedisError as exc:
            log.warning("could not publish a change notice: %s", described(exc))

    def subscribe(self, on_notice: Callable[[], None]) -> None:
        """Call `on_notice` on every notice, from a thread started on first use.

        Waits (briefly) until Redis confirms the subscription, so that no write made after
        this returns can go unheard.
        """
        with self._guard:
            self._listeners.append(on_notice)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._listen, name="change-notices", daemon=True)
                self._thread.start()
        self._subscribed.wait(timeout=1.0)

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()

    def _listen(self) -> None:
        while True:
            try:
                pubsub = self._listen_client.pubsub()  # type: ignore[no-untyped-call]  # unannotated in redis-py
                pubsub.subscribe(self.channel)
                while True:
                    message = pubsub.get_message(timeout=1.0)
                    kind = message.get("type") if message else None
                    if kind == "subscribe":
                        self._subscribed.set()
                    if kind in ("subscribe", "message"):
                        # On subscribing too: notices may have been missed meanwhile.
                        self._notify()
            except (redis.RedisError, OSError) as exc:
                log.debug("change notices interrupted: %s", described(exc))
                time.sleep(self.reconnect_delay)
