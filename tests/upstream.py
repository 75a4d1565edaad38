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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    body: bytes = b""
    content_type: str = "application/json"
    status: int = 200
    validators: bool = True  # send ETag and Last-Modified, answer conditional requests
    location: str = ""  # for redirects
    delay: float = 0.0  # seconds before answering
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
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                upstream._answer(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

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
        self.server.shutdown()
        self.server.server_close()

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            route = self.routes.get(handler.path)
            if route is not None and route.fail_first > 0:
                route.fail_first -= 1
                failing = True
            else:
                failing = False
        headers = {k: v for k, v in handler.headers.items()}
        if route is None:
            self._send(handler, headers, 404, b"not found", "text/plain")
            return
        if route.delay:
            time.sleep(route.delay)
        if failing:
            self._send(handler, headers, route.fail_status, b"upstream trouble", "text/plain")
            return
        if (
            route.require_header
            and handler.headers.get(route.require_header[0]) != route.require_header[1]
        ):
            self._send(handler, headers, 401, b"who are you?", "text/plain")
            return
        if route.location:
            self._send(
                handler, headers, route.status, b"", "text/plain", {"Location": route.location}
            )
            return
        if route.status != 200:
            self._send(handler, headers, route.status, b"upstream error page", "text/html")
            return
        extra = {}
        if route.validators:
            extra = {
                "ETag": route.etag,
                "Last-Modified": formatdate(route.last_modified, usegmt=True),
            }
            if handler.headers.get("If-None-Match") == route.etag:
                self._send(handler, headers, 304, b"", route.content_type, extra)
                return
        self._send(handler, headers, 200, route.body, route.content_type, extra)

    def _send(self, handler, headers, status, body, content_type, extra=None) -> None:
        with self._lock:
            self.seen.append(Seen(handler.path, headers, status))
        handler.send_response(status)
        if status != 304:
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        if status != 304:
            try:
                handler.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)
