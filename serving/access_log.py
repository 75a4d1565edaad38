"""gunicorn's error and access logs as one JSON object per line (`serving.logs`), so a
PaaS log drain can parse them.

gunicorn's own format strings don't escape quotes in paths or user agents, and its
tracebacks take many lines; the JSON formatter does neither.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from datetime import timedelta
from typing import Any

from gunicorn.glogging import Logger

from stories.errors import SettingsError

from . import logs
from .settings import load_settings

# Statuses whose responses carry no body, whatever Content-Length says.
NO_BODY_STATUSES = (204, 304)


def body_bytes(resp: Any, req: Any) -> int:
    """The body bytes sent.

    gunicorn counts what passes through `write()`; a file sent with sendfile(2) (a full
    200 download of a media file) is not counted and showed as 0. gunicorn's sendfile
    sends the whole Content-Length or raises, so when nothing was counted for a response
    that has a body, Content-Length is what went out (or what was going out when the
    client left: the one case this overstates).
    """
    sent = getattr(resp, "sent", 0) or 0
    length = getattr(resp, "response_length", None)
    if (sent == 0 and length and getattr(resp, "headers_sent", False)
            and req.method != "HEAD" and (resp.status_code or 0) >= 200
            and resp.status_code not in NO_BODY_STATUSES):
        return int(length)
    return sent


class JSONAccessLogger(Logger):  # type: ignore[misc]  # gunicorn ships no types
    """gunicorn's logger (`logger_class` in gunicorn.conf.py): every handler it sets up
    writes JSON lines, and the root logger of its processes too."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        try:  # the master's own lines carry no request data; workers add sources' tokens
            secrets = logs.secrets_of(load_settings())
        except SettingsError:  # gunicorn.conf.py has already stopped on it
            secrets = set()
        logs.configure(cfg.loglevel.upper(), secrets)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(logs.JSONFormatter())
                if log is self.error_log:
                    handler.addFilter(logs.RepeatsFilter())

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> None:
        try:
            if self.access_log_enabled:
                self._access(resp, req, environ, request_time)
        finally:
            logs.end_request()

    def _access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> None:
        # The line is built here and written to the access log's handlers, not passed
        # through `logging`: a LogRecord, its `extra` fields and the formatter's scrub of
        # every field were two thirds of this line's cost on a warm feed's answer. Only
        # what a client sends can hold a secret (a token in a query, a URL's password); the
        # rest is numbers and words we chose. gunicorn's `atoms` is skipped for the same
        # reason: it builds a dict of every header and environ key per request.
        status_text = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else str(resp.status)
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO") or ""
        now = time.time()
        line = {
            "time": logs.utc_time(now),
            "level": "INFO",
            "logger": LOGGER_NAME,
            "message": logs.redact(f"{method} {path} {status_text}"),
            "pid": PID[0],
            "remote": environ.get("REMOTE_ADDR", "-"),
            "method": method,
            "path": logs.redact(path),
            "query": logs.redact(environ.get("QUERY_STRING") or ""),
            "status": int(status_text) if status_text.isdigit() else None,
            "bytes": body_bytes(resp, req),
            "duration_ms": round(request_time.total_seconds() * 1000, 2),
            "user_agent": logs.redact(environ.get("HTTP_USER_AGENT", "-")),
        }
        rid = environ.get(logs.ENVIRON_KEY)
        if rid is not None:  # None for a request gunicorn refused before the app saw it
            line["request_id"] = logs.redact(rid)
        text = json.dumps(line, ensure_ascii=False) + "\n"
        for handler in self.access_log.handlers:
            write_line(handler, text)


LOGGER_NAME = "gunicorn.access"
PID = [os.getpid()]  # a worker's, once forked (`os.register_at_fork`)
os.register_at_fork(after_in_child=lambda: PID.__setitem__(0, os.getpid()))


def write_line(handler: logging.Handler, text: str) -> None:
    """`text` written as `handler.emit` would write a record's, under its lock; a handler
    that writes no stream (none that gunicorn sets up) gets a record."""
    stream = getattr(handler, "stream", None)
    if stream is None:
        handler.handle(logging.makeLogRecord({"name": LOGGER_NAME, "msg": text.rstrip("\n"),
                                              "levelno": logging.INFO, "levelname": "INFO"}))
        return
    with handler.lock or contextlib.nullcontext():
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or file: the request is not at fault
            handler.handleError(logging.makeLogRecord({"msg": text}))
