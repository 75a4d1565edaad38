"""What every process writes: one JSON object per line, a request id on each line a
request causes, no secret, and a failure that repeats per request said once in a while.

A PaaS log drain parses each line as one event: a traceback spread over lines, or a
line of plain text among JSON ones, arrives as pieces. `configure` sets up the root
logger of a process (the app's, under gunicorn or the CLI); `serving/access_log.py`
gives gunicorn's own error and access logs the same formatter and filters.

Secrets are kept out at the source (nothing logs a header, a token or a URL with its
password) and, as a net for what slips through, replaced by "[redacted]" in every string
of every line: the values of the settings in `SECRET_SETTINGS` (and of sources' tokens,
`add_secrets`), and anything shaped like a bearer token, an Authorization header or a
URL's password. The same net scrubs what goes to Sentry (`init_error_tracking`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit

from .settings import SECRET_SETTINGS

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

REDACTED = "[redacted]"

# Shapes of secrets whose values this process does not know (a client's wrong token, a
# header echoed in an exception): the part matched by the named group is replaced.
SECRET_SHAPES = re.compile(
    r"(?i)(?<![a-z])authorization[\"']?\s*[:=]\s*[\"']?(?:(?:bearer|basic)\s+)?(?P<header>[^\s\"',;}]+)"
    r"|\b(?:bearer|basic)\s+(?P<token>[A-Za-z0-9._~+/=-]{8,})"
    r"|://[^/\s:@]*:(?P<password>[^@\s/]+)@"
    # A member's feed secret, the first segment of every member URL (docs/members.md):
    # paths are logged (the access log, errors), and no secret may be.
    r"|/m/(?P<member>[^/\s?#\"',;]+)"
)

# Request ids: a client's (or the router's) `X-Request-ID` when it is one of these, so
# the id follows a request across services; else a new one.
REQUEST_ID_HEADER = "X-Request-ID"
WELL_FORMED_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}\Z").match
ENVIRON_KEY = "storyfeed.request_id"
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

# A warning or error logged again with the same logger and message template within this
# many seconds is counted, not written; the next one written says how many were left out.
REPEAT_SECONDS = 5.0


# -- secrets ----------------------------------------------------------------------------

_known_secrets: set[str] = set()
_known_pattern: re.Pattern[str] | None = None
_secrets_lock = threading.Lock()


def secrets_of(settings: Mapping[str, Any]) -> set[str]:
    """The secret values among `settings` (parsed, as `load_settings` returns them)."""
    found: set[str] = set()
    for name in SECRET_SETTINGS:
        value = settings.get(name)
        if not value:
            continue
        if isinstance(value, str) and "://" in value:
            try:
                parts = urlsplit(value)
            except ValueError:
                found.add(value)  # not a URL after all: all of it, to be safe
                continue
            found.update(part for part in (parts.password,) if part)
            if name == "SENTRY_DSN" and parts.username:
                found.add(parts.username)
        elif isinstance(value, str):
            found.add(value)
        else:
            found.update(item for item in value if isinstance(item, str) and item)
    return found


def add_secrets(values: Iterable[str | None]) -> None:
    """Values never to be written to a log (nor sent to Sentry) from now on."""
    global _known_pattern
    new = {value for value in values if value} - _known_secrets
    if not new:
        return
    with _secrets_lock:
        _known_secrets.update(new)
        # Longest first: a secret that contains another is replaced whole.
        ordered = sorted(_known_secrets, key=len, reverse=True)
        _known_pattern = re.compile("|".join(re.escape(value) for value in ordered))


def _shape_redacted(match: re.Match[str]) -> str:
    group = next(name for name, value in match.groupdict().items() if value is not None)
    start, end = match.span(group)
    whole, offset = match.group(0), match.start()
    return whole[:start - offset] + REDACTED + whole[end - offset:]


def redact(text: str) -> str:
    """`text` with every known secret, and whatever looks like one, replaced."""
    pattern = _known_pattern
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    # SECRET_SHAPES tried at every position costs 5 us on a user agent; these tests,
    # a tenth of that, let most strings skip it.
    lowered = text.lower()
    if ("://" in text or "auth" in lowered or "bearer" in lowered or "basic" in lowered
            or "/m/" in text):
        return SECRET_SHAPES.sub(_shape_redacted, text)
    return text


def scrub(value: Any) -> Any:
    """`value` (JSON-like: dicts, lists, strings) with secrets redacted, and the values of
    Authorization and Cookie headers (however nested, as Sentry events hold them) dropped."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: REDACTED if isinstance(key, str) and key.lower() in SECRET_KEYS else scrub(item)
                for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(item) for item in value]
    return value


SECRET_KEYS = frozenset({"authorization", "http_authorization", "proxy-authorization", "cookie",
                         "http_cookie", "set-cookie", "token", "password", "secret"})


# -- the formatter and the filter -------------------------------------------------------

# What every LogRecord has: anything else on a record came as `extra` and is a field.
_RECORD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message", "asctime", "taskName",
}


_last_second: list[Any] = [None, ""]  # the second last formatted, and its text


def utc_time(created: float) -> str:
    seconds = int(created)
    last = _last_second
    if last[0] != seconds:  # a busy process logs many lines a second
        last[1] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        last[0] = seconds
    return f"{last[1]}.{int((created - seconds) * 1000):03d}Z"


class JSONFormatter(logging.Formatter):
    """One JSON object per record: time (ISO 8601, UTC), level, logger, message, pid,
    request_id (in a request), exc_info (a traceback, as one string), then the record's
    `extra` fields. Every string in it is redacted."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": utc_time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "pid": record.process,
        }
        rid = getattr(record, "request_id", None) or request_id.get()
        if rid is not None:
            line["request_id"] = redact(rid)
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc_info"] = redact(record.exc_text)
        if record.stack_info:
            line["stack_info"] = redact(self.formatStack(record.stack_info))
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES and key != "request_id":
                line[key] = scrub(value)
        return json.dumps(line, ensure_ascii=False, default=lambda v: redact(str(v)))


class RepeatsFilter(logging.Filter):
    """Lets a warning or error through at most once per `interval` seconds per logger and
    message template; the one let through after others were held back carries
    `suppressed`, their count. A store that is down fails every request: one line every
    few seconds says so, not one per request."""

    MAX_KEYS = 1024  # templates are few; messages formatted before logging are not

    def __init__(self, interval: float | None = None, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.interval = REPEAT_SECONDS if interval is None else interval
        self.clock = clock
        self.seen: dict[tuple[str, Any], list[float]] = {}  # key -> [written at, held back]
        self.lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        template = record.msg if isinstance(record.msg, str) else str(record.msg)
        key = (record.name, template)
        now = self.clock()
        with self.lock:
            entry = self.seen.get(key)
            if entry is not None and now - entry[0] < self.interval:
                entry[1] += 1
                return False
            if entry is not None and entry[1]:
                record.suppressed = int(entry[1])
            if entry is None and len(self.seen) >= self.MAX_KEYS:
                self.seen = {k: v for k, v in self.seen.items() if now - v[0] < self.interval}
                if len(self.seen) >= self.MAX_KEYS:
                    self.seen.clear()
            self.seen[key] = [now, 0]
        return True


def json_handler(stream: Any = None) -> logging.Handler:
    """A handler writing JSON lines (default: to stderr), repeats held back."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JSONFormatter())
    handler.addFilter(RepeatsFilter())
    return handler


def _log_uncaught(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, tb)
        return
    logging.getLogger("storyfeed").critical("uncaught %s", kind.__name__, exc_info=(kind, error, tb))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is not None:
        _log_uncaught(args.exc_type, args.exc_value, args.exc_traceback)


def configure(level: str, secrets: Iterable[str | None] = ()) -> None:
    """The process's root logger writes JSON lines to stderr at `level` (again and again:
    the one handler is replaced, not added to); warnings and uncaught exceptions are log
    lines too."""
    add_secrets(secrets)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_storyfeed", False):
            root.removeHandler(handler)
    handler = json_handler()
    handler._storyfeed = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # Alembic says at INFO what every start and migration does (its plugins, each step).
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


def refuse_start(reason: object) -> NoReturn:
    """Ends a process that cannot start (a setting it cannot use) with one log line that
    says why, in the same form as every other line: not a traceback."""
    if not any(getattr(h, "_storyfeed", False) for h in logging.getLogger().handlers):
        configure("INFO")  # LOG_LEVEL may be the setting at fault
    logging.getLogger("storyfeed").critical("storyfeed cannot start: %s", reason)
    sys.exit(1)


# -- request ids ------------------------------------------------------------------------


class RequestIds:
    """WSGI middleware, outermost: each request's id in the `request_id` context variable
    (read by the formatter), in the environ (read by the access log) and in the answer's
    X-Request-ID header, for every answer, the fast path's included."""

    def __init__(self, wsgi_app: WSGIApplication):
        self.wsgi_app = wsgi_app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        rid = environ.get("HTTP_X_REQUEST_ID")
        if rid is None or not WELL_FORMED_REQUEST_ID(rid):
            # 128 random bits as 32 hex digits, like uuid4().hex without building a UUID
            # (a third of the cost).
            rid = os.urandom(16).hex()
        environ[ENVIRON_KEY] = rid
        token = request_id.set(rid)

        def start_with_id(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            headers.append((REQUEST_ID_HEADER, rid))
            return start_response(status, headers, exc_info)

        try:
            return self.wsgi_app(environ, start_with_id)
        finally:
            # The view has run: what this thread logs next is not this request's (a test
            # client's requests, a gthread worker's next one). The access line reads the
            # id from the environ; the response is not wrapped, so sendfile stays.
            request_id.reset(token)


def end_request() -> None:
    """The request is over (gunicorn has written its access line): lines this thread or
    greenlet logs until the next request are not that request's."""
    request_id.set(None)


# -- error tracking ---------------------------------------------------------------------


def scrub_event(event: Any, hint: Any) -> Any:
    """Sentry's before_send: the event, tagged with the request's id (to find its log
    lines), secrets redacted (URLs, query strings, messages, frames' variables,
    breadcrumbs) and Authorization and Cookie headers dropped."""
    rid = request_id.get()
    if rid is not None and isinstance(event, dict):
        event = {**event, "tags": {**(event.get("tags") or {}), "request_id": rid}}
    return scrub(event)


def init_error_tracking(dsn: str) -> None:
    """Unhandled errors of the app go to Sentry (its Flask integration: requests' errors;
    uncaught exceptions of the process), scrubbed. No personal data: sentry-sdk 3's
    `data_collection` (its successor of send_default_pii=False) leaves out users,
    addresses, cookies and request bodies (ingest bodies are a newsroom's records)."""
    import sentry_sdk
    from sentry_sdk.integrations.atexit import AtexitIntegration
    from sentry_sdk.integrations.dedupe import DedupeIntegration
    from sentry_sdk.integrations.excepthook import ExcepthookIntegration
    from sentry_sdk.integrations.flask import FlaskIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration
    from sentry_sdk.integrations.threading import ThreadingIntegration

    add_secrets(secrets_of({"SENTRY_DSN": dsn}))
    sentry_sdk.init(
        dsn=dsn,
        # These, and no others: the defaults would also patch http.client (trace headers
        # sent to upstream sources) and whatever library they find installed. Log lines
        # become breadcrumbs of an event, not Sentry logs of their own (sentry-sdk 3 sends
        # every INFO line by default: the access log of every request) nor events (a
        # handled error, the store down, is an answer, logged once in a while).
        default_integrations=False,
        auto_enabling_integrations=False,
        integrations=[FlaskIntegration(), LoggingIntegration(level=None, event_level=None),
                      ExcepthookIntegration(), ThreadingIntegration(), DedupeIntegration(),
                      AtexitIntegration()],
        data_collection={"user_info": False, "cookies": {"mode": "off"}, "http_bodies": []},
        before_send=scrub_event,
        before_breadcrumb=lambda crumb, hint: scrub(crumb),
    )
