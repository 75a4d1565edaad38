"""A real HTTP server on 127.0.0.1 standing in for upstream sources in tests.

Tests change what it serves while it runs and read back what it was asked: every
request's path, headers and the status it got, so a 304 or a retry is counted, not
assumed.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus

from werkzeug.datastructures import EnvironHeaders

from .servers import InThread


@dataclass
class Route:
    body: bytes = b""
    content_type: str = "application/json"
    status: int = 200
    validators: bool = True  # send ETag and Last-Modified, answer conditional requests
    location: str = ""  # for redirects
    delay: float = 0.0  # seconds before answering
    trickle: float = 0.0  # > 0: answer 200 at once, then a body byte every this many seconds, for ever
    fail_first: int = 0  # answer this many requests with `fail_status` first
    fail_status: int = 503
    require_header: tuple[str, str] | None = None  # else 401
    last_modified: float = field(default_factory=time.time)

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'


@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]
    status: int


class Upstream:
    def __init__(self):
        self.routes: dict[str, Route] = {}
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._server = InThread(self._answer).start()
        self.port = self._server.port

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def serve(
        self, path: str, body: bytes | str, content_type: str = "application/json", **options
    ) -> Route:
        if isinstance(body, str):
            body = body.encode("utf-8")
        route = Route(body=body, content_type=content_type, **options)
        with self._lock:
            self.routes[path] = route
        return route

    def redirect(self, path: str, location: str, status: int = 301) -> None:
        with self._lock:
            self.routes[path] = Route(status=status, location=location)

    def seen_at(self, path: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.path == path]

    def statuses(self, path: str) -> list[int]:
        return [s.status for s in self.seen_at(path)]

    def close(self) -> None:
        self._server.stop()

    def _answer(self, environ: dict, start_response) -> list[bytes]:
        """The WSGI app: routes are keyed by the request target as sent (with its query)."""
        path = environ["RAW_URI"]
        request_headers = EnvironHeaders(environ)
        with self._lock:
            route = self.routes.get(path)
            if route is not None and route.fail_first > 0:
                route.fail_first -= 1
                failing = True
            else:
                failing = False
        headers = dict(request_headers.items())

        def send(status: int, body: bytes, content_type: str, extra=None) -> list[bytes]:
            with self._lock:
                self.seen.append(Seen(path, headers, status))
            answer = [] if status == 304 else [
                ("Content-Type", content_type), ("Content-Length", str(len(body)))]
            answer += list((extra or {}).items())
            try:
                reason = HTTPStatus(status).phrase
            except ValueError:  # a code of no standard meaning
                reason = "Unknown"
            start_response(f"{status} {reason}", answer)
            return [] if status == 304 else [body]

        if route is None:
            return send(404, b"not found", "text/plain")
        if route.delay:
            time.sleep(route.delay)
        if route.trickle:
            with self._lock:
                self.seen.append(Seen(path, headers, 200))
            start_response("200 OK", [("Content-Type", route.content_type)])
            return _trickle(route.trickle)
        if failing:
            return send(route.fail_status, b"upstream trouble", "text/plain")
        if (
            route.require_header
            and request_headers.get(route.require_header[0]) != route.require_header[1]
        ):
            return send(401, b"who are you?", "text/plain")
        if route.location:
            return send(route.status, b"", "text/plain", {"Location": route.location})
        if route.status != 200:
            return send(route.status, b"upstream error page", "text/html")
        extra = {}
        if route.validators:
            extra = {
                "ETag": route.etag,
                "Last-Modified": formatdate(route.last_modified, usegmt=True),
            }
            if request_headers.get("If-None-Match") == route.etag:
                return send(304, b"", route.content_type, extra)
        return send(200, route.body, route.content_type, extra)


def _trickle(every: float):
    """A body that never ends, one byte at a time: each read of it is quick, so no read
    timeout ever fires. Ends when the client goes (the next write fails)."""
    yield b"["
    while True:
        time.sleep(every)
        yield b" "
