"""What a stranger's request is refused or stripped of before any view sees it.

Each guard sits at the root, once for every endpoint, because each failure it prevents
happened deep inside a library (the database driver, werkzeug's date parsing, the JSON
decoder) where no view could answer it well:

- NUL in the path or the query: PostgreSQL refuses it in text (a DataError, a 500); no
  id, slug, cursor or URL of ours holds one. 400. So is a query string that is not UTF-8.
- Conditional date headers that do not parse (a year past 9999 overflows inside
  `email.utils`): ignored, as if not sent. So is an If-Modified-Since later than our
  clock (RFC 9110, 13.1.3: such a date is invalid), which would otherwise make every
  feed and file "not modified" for a client that sends year 9999. An If-Range that cannot match makes the Range
  void too (RFC 9110, 13.1.5): the whole file is sent.
- A forwarded scheme other than http or https (`X-Forwarded-Proto: javascript`): ignored,
  so absolute links are never `javascript://host/`.
- JSON nested deeper than the decoder can follow: a ValueError like any malformed body,
  so `get_json` answers 400 instead of raising RecursionError.
- A body the server cannot read (a chunk size that is not hex, a chunk without its CRLF,
  a bad chunk extension): gunicorn raises its own parse errors from `wsgi.input` in the
  middle of a view, which answered 500 with a traceback, unauthenticated, on any POST.
  The client sent something that is not HTTP: 400.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flask import Flask, abort, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest, ClientDisconnected
from werkzeug.http import parse_date

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

WEB_SCHEMES = ("http", "https")
CONDITIONAL_DATES = ("HTTP_IF_MODIFIED_SINCE", "HTTP_IF_UNMODIFIED_SINCE")


def refuse_nul() -> None:
    try:
        args = request.args
    except UnicodeDecodeError:
        # Raw bytes in the request line that are not UTF-8 (werkzeug decodes the query
        # strictly, in the middle of whichever view reads it first).
        abort(400, description="The query string is not UTF-8; percent-encode it.")
    if "\x00" in request.path or any(
        "\x00" in name or "\x00" in value for name, value in args.items(multi=True)
    ):
        abort(400, description="A URL may not contain NUL characters.")


def _is_date(value: str, *, not_after: datetime | None = None) -> bool:
    try:
        parsed = parse_date(value)
    except (OverflowError, ValueError):
        return False
    return parsed is not None and (not_after is None or parsed <= not_after)


def drop_unreadable_dates(environ: WSGIEnvironment | None = None) -> None:
    """The before_request hook (on Flask's request), and the same for the WSGI fast path."""
    environ = request.environ if environ is None else environ
    for key in CONDITIONAL_DATES:
        # The clock is read only when a date is there: most polls send an ETag alone.
        if key in environ and not _is_date(
                environ[key], not_after=datetime.now(UTC) if key == "HTTP_IF_MODIFIED_SINCE" else None):
            del environ[key]
    if_range = environ.get("HTTP_IF_RANGE")
    if if_range is not None and not if_range.lstrip().startswith(('"', "W/")) and not _is_date(if_range):
        del environ["HTTP_IF_RANGE"]
        environ.pop("HTTP_RANGE", None)


class OnlyWebSchemes:
    """WSGI middleware inside ProxyFix: keeps the forwarded scheme only if it is http(s)."""

    def __init__(self, app: WSGIApplication):
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        scheme = str(environ.get("wsgi.url_scheme", "http")).lower()
        if scheme not in WEB_SCHEMES:
            # What the server itself saw, before ProxyFix applied the header.
            original = environ.get("werkzeug.proxy_fix.orig", {}).get("wsgi.url_scheme", "http")
            scheme = original if original in WEB_SCHEMES else "http"
        environ["wsgi.url_scheme"] = scheme
        return self.app(environ, start_response)


class _ReadableInput:
    """`wsgi.input` whose read failures are the client's: the server's stream raises only
    when what arrived is not a body it can decode, or when the client left."""

    def __init__(self, stream: Any):
        self._stream = stream

    def _guarded(self, method: str, *args: Any) -> Any:
        try:
            return getattr(self._stream, method)(*args)
        except OSError:  # the connection ended early (gunicorn's NoMoreData is one)
            raise ClientDisconnected() from None
        except Exception as exc:  # the server's own parse error: not ours to know by name
            raise BadRequest(f"The request body is not valid HTTP: {exc}") from None

    def read(self, *args: Any) -> bytes:
        return self._guarded("read", *args)  # type: ignore[no-any-return]

    def readline(self, *args: Any) -> bytes:
        return self._guarded("readline", *args)  # type: ignore[no-any-return]

    def readlines(self, *args: Any) -> list[bytes]:
        return self._guarded("readlines", *args)  # type: ignore[no-any-return]

    def __iter__(self) -> _ReadableInput:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line


class ReadableBody:
    """WSGI middleware: a request that announces a body reads it through `_ReadableInput`.
    Requests without one (every feed poll) pass untouched."""

    def __init__(self, app: WSGIApplication):
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if "HTTP_TRANSFER_ENCODING" in environ or environ.get("CONTENT_LENGTH") not in (None, "", "0"):
            environ["wsgi.input"] = _ReadableInput(environ["wsgi.input"])
        return self.app(environ, start_response)


# What a platform's health probe asks for, with whatever Host it has: an instance's own
# address, or a name of the platform's (Railway's healthcheck.railway.app).
HEALTH_PATHS = frozenset({"/livez", "/readyz", "/healthz"})


class ProbesFromAnyHost:
    """WSGI middleware inside ProxyFix, with TRUSTED_HOSTS set: a health probe is answered
    whatever its Host, as if sent to the first trusted host. With TRUSTED_HOSTS refusing
    every other Host with 400, a platform probing the instance's address took a healthy
    instance for a failed one and never sent it traffic. Health answers hold no URL, so
    no Host reaches a link or a cache key."""

    def __init__(self, app: WSGIApplication, trusted_host: str):
        self.app = app
        self.trusted_host = trusted_host

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") in HEALTH_PATHS:
            environ["HTTP_HOST"] = self.trusted_host
        return self.app(environ, start_response)


class BoundedJSONProvider(DefaultJSONProvider):
    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("the JSON is nested too deeply") from None


def init_app(app: Flask) -> None:
    app.json = BoundedJSONProvider(app)
    # Registered first, so they run before any other before_request hook.
    app.before_request_funcs.setdefault(None, [])[:0] = [refuse_nul, drop_unreadable_dates]
