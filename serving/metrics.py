"""What an operator's Prometheus reads at `/metrics` (web/metrics.py serves it).

Counters and histograms live in prometheus_client. Under gunicorn each worker writes its
own to files in one folder (multiprocess mode: `gunicorn.conf.py` names the folder in
PROMETHEUS_MULTIPROC_DIR before a worker imports this module), and a scrape sums every
worker's; without gunicorn (the flask CLI, tests) they are kept in this process.

Every label value comes from a fixed set: route templates, never paths; known methods and
statuses; media types named here; source names from the sources file. Whatever strangers
send, the number of series stays bounded (tests/test_metrics.py sends 100,000 random URLs).
What changes slowly and lives in the store (the sources' last pulls, written by the clock
process, wherever it runs) is read at scrape time instead of being counted: every
instance shows the same.
"""

from __future__ import annotations

import atexit
import os
import platform
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from flask import request
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    values,
)
from prometheus_client.metrics_core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from werkzeug.http import HTTP_STATUS_CODES

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from .rendered import Rendered
    from .state import AppState

# `*_created` samples exist only outside multiprocess mode: leave them out everywhere, so
# that a scrape of one process and of gunicorn's workers show the same series.
disable_created_metrics()  # type: ignore[no-untyped-call]  # unannotated in prometheus_client

# This module's metrics, apart from prometheus_client's default registry (the process and
# platform collectors, which multiprocess mode cannot sum).
REGISTRY = CollectorRegistry()

# Seconds: a fast-path answer takes microseconds, a cold 500-item podcast feed a second.
DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter(
    "storyfeed_http_requests", "Requests answered, by route template, method and status.",
    ("route", "method", "status"), registry=REGISTRY,
)
REQUEST_SECONDS = Histogram(
    "storyfeed_http_request_duration_seconds",
    "Time from a request's arrival to its answer's status and headers, by route template and method.",
    ("route", "method"), buckets=DURATION_BUCKETS, registry=REGISTRY,
)
RENDER_SECONDS = Histogram(
    "storyfeed_render_duration_seconds",
    "Time to render a body for the render cache (feeds, oEmbed, player), by media type.",
    ("format",), buckets=DURATION_BUCKETS, registry=REGISTRY,
)
RENDER_CACHE_LOOKUPS = Counter(
    "storyfeed_render_cache_lookups", "Render-cache lookups: hit (answered from the cache) or miss.",
    ("result",), registry=REGISTRY,
)
CACHE_HIT = RENDER_CACHE_LOOKUPS.labels("hit")
CACHE_MISS = RENDER_CACHE_LOOKUPS.labels("miss")
STORE_ERRORS = Counter(
    "storyfeed_store_errors", "Errors the database raised to the store, by SQLAlchemy's error class.",
    ("error",), registry=REGISTRY,
)
INGEST_RECORDS = Counter(
    "storyfeed_ingest_records", "Records sent to the ingest API: accepted (written) or refused.",
    ("kind", "result"), registry=REGISTRY,
)
AUDIENCE_FETCHES = Counter(
    "storyfeed_audience_fetches",
    "Audio fetches for the audience counts: recorded (kept in memory), written (in a batch), dropped.",
    ("outcome",), registry=REGISTRY,
)
AUDIENCE_OUTCOMES = {outcome: AUDIENCE_FETCHES.labels(outcome) for outcome in ("recorded", "written", "dropped")}

# -- labels: fixed sets ----------------------------------------------------------------

METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))
STATUSES = frozenset(str(code) for code in HTTP_STATUS_CODES)
UNMATCHED = "unmatched"  # no route template: a 404, a refused Host, a 405
# The fast path answers before Flask routes; its answers are named by their cache-key kind.
FAST_PATH_ROUTES = {"feed": "fast_path:feed", "oembed": "fast_path:oembed"}
FAST_PATH_ANSWER = "storyfeed.fast_path"  # environ key: the fast path's Answer, when it answered
ROUTE = "storyfeed.route"  # environ key: the template of the rule Flask matched (`note_route`)
FORMATS = frozenset((
    "application/rss+xml", "application/atom+xml", "application/feed+json", "application/json",
    "application/json+chapters", "text/xml", "text/html", "text/x-opml",
))
STORE_ERROR_CLASSES = frozenset((
    "OperationalError", "IntegrityError", "ProgrammingError", "DataError", "InternalError",
    "InterfaceError", "NotSupportedError", "DatabaseError",
))


def status_label(status_line: str | None) -> str:
    code = (status_line or "500")[:3]
    return code if code in STATUSES else "other"


def format_label(content_type: str) -> str:
    media_type = content_type.partition(";")[0].strip()
    return media_type if media_type in FORMATS else "other"


# -- requests --------------------------------------------------------------------------


class RequestTally:
    """Requests counted in this process's memory and handed to prometheus_client once a
    second (and before each scrape this process answers), a series at a time.

    Counted straight into prometheus_client, each request took three of its writes (in
    multiprocess mode each a lock, a getpid() and a write to the worker's file): some
    3 µs of the app's 10 µs on a warm fast-path answer. A sum held here costs a dict
    lookup. The price: another worker's scrape sees this one's counts up to
    FLUSH_SECONDS late.
    """

    FLUSH_SECONDS = 1.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (route, method, status) -> [requests, seconds, then a count per duration bucket].
        # Bounded as the labels are.
        self._pending: dict[tuple[str, str, str], list[float]] = {}
        # (route, method, status) -> the counter and histogram children: labels() validates
        # and locks on every call, a dict lookup does not.
        self._series: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        self._flushing = False

    def add(self, key: tuple[str, str, str], seconds: float) -> None:
        # The histogram's own test (`amount <= bound`), its last bucket +Inf.
        bucket = 2 + bisect_left(DURATION_BUCKETS, seconds)
        with self._lock:
            tally = self._pending.get(key)
            if tally is None:
                tally = self._pending[key] = [0.0] * (len(DURATION_BUCKETS) + 3)
            tally[0] += 1
            tally[1] += seconds
            tally[bucket] += 1
            if self._flushing:
                return
            self._flushing = True
        # A thread (under gevent, a greenlet) of the process that counts: started here,
        # not at import, so that gunicorn's master and forked workers each start their own.
        threading.Thread(target=self._flush_every_second, name="storyfeed-metrics", daemon=True).start()
        atexit.register(self.flush)  # a worker's last second, when it stops

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for key, tally in pending.items():
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = (REQUESTS.labels(*key), REQUEST_SECONDS.labels(*key[:2]))
            requests, histogram = series
            requests.inc(tally[0])
            # What Histogram.observe does for one amount, for the sum of many: its sum and
            # one count per bucket (prometheus_client's attributes; the version is pinned
            # and tests/test_metrics.py reads every bucket back).
            histogram._sum.inc(tally[1])
            for bucket, count in zip(histogram._buckets, tally[2:], strict=True):
                if count:
                    bucket.inc(count)

    def _flush_every_second(self) -> None:
        while True:
            time.sleep(self.FLUSH_SECONDS)
            self.flush()

    def _forked(self) -> None:
        """In a child: its parent's counts and flushing thread are not its own."""
        self._lock = threading.Lock()
        self._pending = {}
        self._flushing = False


TALLY = RequestTally()
os.register_at_fork(after_in_child=TALLY._forked)


class RequestMetrics:
    """WSGI middleware, outermost: every answer, the fast path's included, is counted by
    route template, method and status, and timed until its status and headers are given."""

    def __init__(self, wsgi_app: WSGIApplication):
        self.wsgi_app = wsgi_app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        status_line = None

        def start_and_note(status: str, headers: Any, exc_info: Any = None) -> Any:
            nonlocal status_line
            status_line = status
            return start_response(status, headers, exc_info)

        try:
            return self.wsgi_app(environ, start_and_note)
        finally:
            self.observe(environ, status_line, time.perf_counter() - started)

    @staticmethod
    def observe(environ: WSGIEnvironment, status_line: str | None, seconds: float) -> None:
        answer = environ.get(FAST_PATH_ANSWER)
        if answer is not None:
            # A render-cache hit too, left to this series: one write less on the
            # busiest path (docs/operations.md says how to add them up).
            route = FAST_PATH_ROUTES.get(answer.key.partition("|")[0], "fast_path:other")
        else:
            route = environ.get(ROUTE, UNMATCHED)
        method = environ.get("REQUEST_METHOD")
        TALLY.add((route, method if method in METHODS else "other", status_label(status_line)), seconds)


def note_route(_error: BaseException | None = None) -> None:
    """Flask's teardown hook: the matched rule's template, for `RequestMetrics` to read
    once the request is over (Flask takes its request object out of the environ)."""
    rule = request.url_rule
    if rule is not None:
        request.environ[ROUTE] = rule.rule


# -- the render cache ------------------------------------------------------------------


def looked_up(found: Rendered | None) -> None:
    """A render-cache lookup by key, answered from the cache (`found`) or not."""
    (CACHE_MISS if found is None else CACHE_HIT).inc()


def timed(render: Callable[[], Rendered]) -> Callable[[], Rendered]:
    """`render`, observed in the render-time histogram under the media type it made."""

    def timed_render() -> Rendered:
        started = time.perf_counter()
        rendered = render()
        RENDER_SECONDS.labels(format_label(rendered.content_type)).observe(time.perf_counter() - started)
        return rendered

    return timed_render


# -- the store -------------------------------------------------------------------------


def count_store_error(context: sa.engine.ExceptionContext) -> None:
    name = type(context.sqlalchemy_exception or context.original_exception).__name__
    STORE_ERRORS.labels(name if name in STORE_ERROR_CLASSES else "other").inc()


def watch_store(engine: sa.Engine) -> None:
    """Counts every error the database raises through `engine`: statements and
    connection attempts, whoever made them."""
    if not sa.event.contains(engine, "handle_error", count_store_error):
        sa.event.listen(engine, "handle_error", count_store_error)


# -- ingest ----------------------------------------------------------------------------


def ingested(kind: str, accepted: int, refused: int) -> None:
    """Records of `kind` ("story", "topic") an ingest request wrote and refused."""
    if accepted:
        INGEST_RECORDS.labels(kind, "accepted").inc(accepted)
    if refused:
        INGEST_RECORDS.labels(kind, "refused").inc(refused)


# -- audience --------------------------------------------------------------------------


def audience_counted(outcome: str, n: int) -> None:
    """Fetches the audience recorder kept, wrote or dropped (audience/recorder.py)."""
    counter = AUDIENCE_OUTCOMES.get(outcome)
    if counter is not None:
        counter.inc(n)


# -- at scrape time --------------------------------------------------------------------


class StateCollector:
    """What is read, not counted: the build, and each configured source's last pull as
    `sync` recorded it in the store (the clock process may run on another machine)."""

    def __init__(self, build: dict[str, str], sources: Callable[[], Iterable[SourcePull]]):
        self.build = build
        self.sources = sources

    def collect(self) -> Iterator[Metric]:
        yield InfoMetricFamily("storyfeed_build", "The build serving: its revision, Python's version.",
                               value=self.build)
        families = {
            "last_success": GaugeMetricFamily(
                "storyfeed_source_last_success_timestamp_seconds",
                "When the source's last successful pull started (Unix time); absent: never.",
                labels=("source",)),
            "last_attempt": GaugeMetricFamily(
                "storyfeed_source_last_attempt_timestamp_seconds",
                "When the source's last pull, successful or not, started (Unix time).",
                labels=("source",)),
            "failing": GaugeMetricFamily(
                "storyfeed_source_failing", "1 when the source's last pull failed, else 0.",
                labels=("source",)),
            "records": GaugeMetricFamily(
                "storyfeed_source_records", "Stories in the last document stored from the source.",
                labels=("source",)),
        }
        try:
            pulls = list(self.sources())
        except sa.exc.SQLAlchemyError:
            pulls = []  # the store is down: counted in storyfeed_store_errors_total
        for pull in pulls:
            for name, value in pull.values():
                families[name].add_metric((pull.source,), value)
        yield from families.values()


@dataclass(frozen=True)
class SourcePull:
    """A source's last pull, as the store holds it (sources.state.SourceState)."""

    source: str
    last_attempt: datetime | None  # naive UTC, as the store keeps times
    last_success: datetime | None
    failed: bool
    records: int

    def values(self) -> Iterator[tuple[str, float]]:
        if self.last_success is not None:
            yield "last_success", unix_time(self.last_success)
        if self.last_attempt is not None:
            yield "last_attempt", unix_time(self.last_attempt)
            yield "failing", float(self.failed)
        yield "records", float(self.records)


def unix_time(naive_utc: datetime) -> float:
    return naive_utc.replace(tzinfo=UTC).timestamp()


def build_labels(revision: str | None) -> dict[str, str]:
    return {"revision": revision or "unknown", "python": platform.python_version()}


def multiprocess() -> bool:
    """Whether prometheus_client keeps values in files (it decided so when imported, from
    PROMETHEUS_MULTIPROC_DIR); the scrape then reads every worker's files."""
    return values.ValueClass is not values.MutexValue


def exposition(state_collector: StateCollector) -> bytes:
    """The Prometheus text of every metric: all workers' counts, then the state read now."""
    TALLY.flush()  # this process's latest requests too
    registry = CollectorRegistry()
    if multiprocess():
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # unannotated in prometheus_client
    else:
        registry.register(REGISTRY)
    registry.register(state_collector)
    return generate_latest(registry)


def collector_for(state: AppState, sources: Callable[[], Iterable[SourcePull]]) -> StateCollector:
    return StateCollector(build_labels(state.settings["SOURCE_VERSION"]), sources)
