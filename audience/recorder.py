"""Fetches kept in memory and written in batches: no database write per request.

Each process keeps the fetches it answered in memory and a thread writes them in one
transaction every `flush_seconds` (AUDIENCE_FLUSH_SECONDS), sooner when FLUSH_AT are
waiting, and once more as the process exits: a crash loses at most the fetches of one
interval. Nothing here may fail a
download: a fetch that cannot be recorded (no salt because the store is down, a batch
the store refuses) is logged and dropped, and the buffer is bounded, so a store down
for long costs a bounded amount of memory, not the worker.

The address never reaches the buffer: `record` hashes it with the day's salt (read from
the store once per process and day) before anything is kept.
"""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from .count import Fetch
from .listeners import listener_hash
from .store import salt_for, write_fetches

log = logging.getLogger(__name__)

# Fetches a process holds, at most (the oldest go first: a store down for long costs
# counts, not memory; docs/scaling.md's memory account). A batch is written as soon as
# FLUSH_AT are waiting, so that a busy worker never reaches the bound while the store is up.
MAX_BUFFERED = 10_000
FLUSH_AT = 2_000
MAX_AGENT_CHARS = 500  # audience_fetches.user_agent
MAX_EPISODE_CHARS = 1000  # audience_fetches.episode
SALT_RETRY_SECONDS = 5.0  # after a failed salt read, requests skip the store this long


@dataclass(frozen=True)
class AudioFacts:
    byte_rate: int | None  # audio bytes per second; None: unknown
    leading: int  # bytes before the audio (an ID3v2 tag and its header)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Recorder:
    def __init__(self, engine: sa.Engine, flush_seconds: float,
                 clock: Callable[[], dt.datetime] = utc_now,
                 on_count: Callable[[str, int], None] | None = None) -> None:
        self.engine = engine
        self.flush_seconds = flush_seconds
        self.clock = clock
        # Told how many fetches were "recorded", "written" and "dropped" (the app counts
        # them in /metrics): counting that stops is seen, not silent.
        self.on_count = on_count
        self._buffer: deque[Fetch] = deque(maxlen=MAX_BUFFERED)  # the oldest go first
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._salt: tuple[dt.date, bytes] | None = None
        self._salt_failed_at = float("-inf")
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()  # a batch is due before its time: FLUSH_AT waiting
        self.dropped = 0  # fetches lost to a store that was down

    # -- the request's side: cheap, and never raising ---------------------------

    def record(self, *, address: str | None, user_agent: str, episode: str, method: str, status: int,
               first: int, last: int, file_size: int, facts: AudioFacts) -> bool:
        """Keep one fetch (the address hashed); False when it could not be kept."""
        try:
            at = self.clock()
            salt = self._salt_of(at.date())
            listener = listener_hash(address or "", salt) if salt is not None else None
            if listener is None:
                self._count("dropped", 1)
                return False
            fetch = Fetch(at=at, listener=listener, user_agent=user_agent[:MAX_AGENT_CHARS],
                          episode=episode[:MAX_EPISODE_CHARS], method=method,
                          status=status, first=first, last=last, file_size=file_size,
                          byte_rate=facts.byte_rate, leading=facts.leading)
            with self._lock:
                full = len(self._buffer) == MAX_BUFFERED
                self._buffer.append(fetch)
                waiting = len(self._buffer)
            self._count("recorded", 1)
            if full:
                self._count("dropped", 1)
            self._start()
            if waiting >= FLUSH_AT:
                self._wake.set()
            return True
        except Exception:  # noqa: BLE001 (counting never fails a download)
            log.exception("audience: a fetch was not recorded")
            self._count("dropped", 1)
            return False

    def _salt_of(self, day: dt.date) -> bytes | None:
        if self._salt is not None and self._salt[0] == day:
            return self._salt[1]
        if time.monotonic() - self._salt_failed_at < SALT_RETRY_SECONDS:
            return None
        try:
            salt = salt_for(self.engine, day)
        except Exception:  # noqa: BLE001 (a store that is down: dropped, retried later)
            self._salt_failed_at = time.monotonic()
            log.warning("audience: no salt for %s (store unavailable); fetches dropped for %.0f s",
                        day, SALT_RETRY_SECONDS)
            return None
        self._salt = (day, salt)
        return salt

    def _count(self, outcome: str, n: int) -> None:
        if outcome == "dropped":
            self.dropped += n
        if n and self.on_count is not None:
            try:
                self.on_count(outcome, n)
            except Exception:  # noqa: BLE001 (a metric never costs a count)
                log.exception("audience: a metric was not counted")

    # -- the batches ------------------------------------------------------------

    def buffered(self) -> int:
        return len(self._buffer)

    def flush(self) -> int:
        """Write what is buffered in one transaction; the number written. A batch the store
        refuses goes back to the buffer (bounded) for the next flush."""
        with self._flush_lock:
            with self._lock:
                batch = list(self._buffer)
                self._buffer.clear()
            if not batch:
                return 0
            try:
                write_fetches(self.engine, batch)
            except Exception:  # noqa: BLE001 (the next flush tries again)
                log.warning("audience: %d fetches not written (store unavailable); kept for the next flush",
                            len(batch))
                with self._lock:
                    waiting = len(batch) + len(self._buffer)
                    self._buffer = deque([*batch, *self._buffer], maxlen=MAX_BUFFERED)
                    lost = waiting - len(self._buffer)
                self._count("dropped", lost)
                return 0
            self._count("written", len(batch))
            return len(batch)

    def _start(self) -> None:
        # Started by the first fetch, in the process that serves it: a thread started
        # before gunicorn forks its workers would not run in them. The thread and the
        # exit hook hold the recorder weakly: an app let go of (a test's) takes its
        # recorder along, instead of a flush at exit into a database gone by then.
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    ref = weakref.ref(self)
                    self._thread = threading.Thread(
                        target=_flush_every, args=(ref, self._stop, self._wake, self.flush_seconds),
                        name="audience-flush", daemon=True)
                    self._thread.start()
                    atexit.register(_close_at_exit, ref)

    def close(self) -> None:
        """Stop the thread and write what is left."""
        self._stop.set()
        self._wake.set()
        self.flush()


def _flush_every(ref: weakref.ref[Recorder], stop: threading.Event, wake: threading.Event,
                 seconds: float) -> None:
    while not stop.is_set():
        wake.wait(seconds)
        wake.clear()
        recorder = ref()
        if recorder is None:
            return
        if not stop.is_set():
            recorder.flush()
        del recorder


def _close_at_exit(ref: weakref.ref[Recorder]) -> None:
    recorder = ref()
    if recorder is not None:
        recorder.close()
