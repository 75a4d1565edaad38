"""What the health routes report, and whether the store's schema lets pages be served.

`/livez` needs nothing from here: it answers while the process can. `/readyz` (and
`/healthz`) asks `Health.readiness()`: the store answers, its schema is at the migrations'
head, and Redis answers when it is configured, each within `CHECK_TIMEOUT`.

A store behind the head (the release step never ran) fails on the first table or column
it lacks. `SchemaGuard` knows it without a query per request: it looks once at start,
again when a store error names a missing table, and while behind at most every
`RECHECK_SECONDS`, so that pages answer 503 saying what to run, and recover by themselves
once it has run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Generic, TypeVar

from stories.errors import Unavailable
from stories.migrate import UPGRADE_COMMAND, SchemaState, head, schema_state
from stories.store import StoryStore

log = logging.getLogger(__name__)

T = TypeVar("T")

CHECK_TIMEOUT = 1.0  # seconds each check may take: a platform's probe waits a few at most
RECHECK_SECONDS = 5.0  # how often a store known to be behind is looked at again


class SchemaBehind(Unavailable):
    """The store's schema is behind this code's migrations: nothing can be read yet."""

    def __init__(self, state: SchemaState):
        super().__init__(
            f"The database has not been upgraded for this version of the site yet "
            f"(schema {state.revision or 'empty'}, needs {state.head}): "
            f"its operator runs `{UPGRADE_COMMAND}`. Try again shortly."
        )


class Probe(Generic[T]):
    """A check run in a daemon thread of its own, waited for at most a timeout: a frozen
    database or Redis makes the check report no answer in time, and never holds the
    request (or the process's exit) with it.

    One run at a time: while a run still waits for its answer, callers wait for that one
    instead of starting another, so a frozen store holds one thread and one pooled
    connection, not one per health request.
    """

    def __init__(self, check: Callable[[], T], name: str):
        self._check = check
        self._name = name
        self._running: Future[T] | None = None
        self._lock = threading.Lock()

    def start(self) -> Future[T]:
        with self._lock:
            if self._running is None or self._running.done():
                future: Future[T] = Future()
                future.set_running_or_notify_cancel()
                threading.Thread(target=self._run, args=(future,), daemon=True,
                                 name=f"probe-{self._name}").start()
                self._running = future
            return self._running

    def _run(self, future: Future[T]) -> None:
        try:
            future.set_result(self._check())
        except BaseException as exc:  # noqa: BLE001 (handed to whoever waits for the result)
            future.set_exception(exc)

    def result(self, timeout: float = CHECK_TIMEOUT) -> T:
        """The check's answer; its exception, or TimeoutError after `timeout` seconds."""
        return self.start().result(timeout)


class SchemaGuard:
    """Whether the store's schema is behind the migrations' head, remembered."""

    def __init__(self, store: StoryStore, recheck: float = RECHECK_SECONDS):
        self._probe = Probe(lambda: schema_state(store.engine), "schema")
        self._recheck = recheck
        self._state: SchemaState | None = None  # None until the store has answered once
        self._checked = float("-inf")
        self._checked_after_error = float("-inf")

    def start(self) -> Future[SchemaState]:
        """Look now (or join the look under way); `observe` what it finds."""
        self._checked = time.monotonic()
        return self._probe.start()

    def check(self, timeout: float = CHECK_TIMEOUT) -> SchemaState:
        """Look now; raises what the store raised, or TimeoutError."""
        return self.observe(self.start().result(timeout))

    def check_quietly(self) -> SchemaState | None:
        """Look now; None when the store does not answer (its own errors say so)."""
        try:
            return self.check()
        except Exception:  # noqa: BLE001 (a store that does not answer is not known to be behind)
            return None

    def observe(self, state: SchemaState) -> SchemaState:
        before, self._state = self._state, state
        if state.behind and (before is None or not before.behind or before != state):
            # The one line an operator needs: pages answer 503 until they run it.
            log.warning("storyfeed: %s; until then pages answer 503", state.describe())
        elif not state.behind and before is not None and before.behind:
            log.warning("storyfeed: the store's schema is at %s now: pages are served", state.revision)
        return state

    def behind(self) -> SchemaState | None:
        """The state if the store is known to be behind (looked at again when the last look
        is older than `recheck`), else None. No query while it is at head."""
        if self._state is None or not self._state.behind:
            return None
        if time.monotonic() - self._checked >= self._recheck:
            self.check_quietly()
        return self._state if self._state.behind else None

    def behind_after_error(self) -> SchemaState | None:
        """After a store error that names a missing table or column: look again (at most
        every `recheck` seconds: each request fails alike), and the state if it is behind."""
        now = time.monotonic()
        if now - self._checked_after_error >= self._recheck:
            self._checked_after_error = now
            self.check_quietly()
        return self.behind()


class Health:
    """The readiness checks of one app: its store, schema and (when configured) Redis."""

    def __init__(self, store: StoryStore, redis_ping: Callable[[], Any] | None = None,
                 platform: str | None = None):
        self.schema = SchemaGuard(store)
        self._store = store
        self._store_probe = Probe(store.ping, "store")
        self._redis_probe = Probe(redis_ping, "redis") if redis_ping is not None else None
        self._platform = platform

    def readiness(self, timeout: float = CHECK_TIMEOUT) -> dict[str, Any]:
        """{"status": "ok" | "unavailable", "checks": {name: {"status": ..., ...}}}, each
        check given `timeout` seconds, all of them run at once."""
        deadline = time.monotonic() + timeout
        started: dict[str, Future[Any]] = {"store": self._store_probe.start(),
                                            "schema": self.schema.start()}
        if self._redis_probe is not None:
            started["redis"] = self._redis_probe.start()
        results: dict[str, Any] = {}
        failures: dict[str, str] = {}
        for name, future in started.items():
            try:
                results[name] = future.result(max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                failures[name] = f"no answer within {timeout:g} s"
            except Exception as exc:  # noqa: BLE001 (any failure of a dependency: not ready)
                # The detail (hosts, users) is for the log; the answer is public.
                log.warning("readiness: %s not answering: %s", name, exc)
                failures[name] = "not answering"
        checks = {"store": self._store_check(failures.get("store")),
                  "schema": self._schema_check(results.get("schema"), failures.get("schema"))}
        if self._redis_probe is not None:
            checks["redis"] = _check(failures.get("redis"))
        ready = all(check["status"] == "ok" for check in checks.values())
        return {"status": "ok" if ready else "unavailable", "checks": checks}

    def _store_check(self, failure: str | None) -> dict[str, Any]:
        check = _check(failure, backend=self._store.engine.dialect.name)
        if check["backend"] == "sqlite":
            check["local_file"] = True
            if self._platform is not None:
                check["warning"] = sqlite_on_platform(self._platform)
        return check

    def _schema_check(self, state: SchemaState | None, failure: str | None) -> dict[str, Any]:
        if state is not None:
            self.schema.observe(state)
            if state.behind:
                failure = f"behind the migrations' head: run `{UPGRADE_COMMAND}`"
            return _check(failure, revision=state.revision, head=state.head)
        return _check(failure, revision=None, head=head())


def _check(failure: str | None, **fields: Any) -> dict[str, Any]:
    if failure is None:
        return {"status": "ok", **fields}
    return {"status": "unavailable", **fields, "message": failure}


def sqlite_on_platform(sign: str) -> str:
    return (f"the store is a local SQLite file, and {sign}: a platform's disk is replaced on "
            "each deploy or restart and is not shared between instances; set DATABASE_URL "
            "to a PostgreSQL database")
