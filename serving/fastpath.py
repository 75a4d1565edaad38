"""Warm and conditional feed and oEmbed answers from the render cache, before Flask.

Podcast apps poll every feed around the clock, mostly for a 304; Flask's dispatch (the
request object, routing, hooks, the response object) cost more than the answer itself.
A view that serves a cacheable answer says so (`remember`): this URL is the render
cache's entry under `key` for as long as the store's version of `topic` stays `version`.
The next request for exactly that URL (scheme, Host, path and query) is answered here,
by the same functions the view answers with (`rendered_answer`, `security_headers`,
`drop_unreadable_dates`). Anything else goes to Flask: another method, a Range, a URL no
view has answered, an entry whose version has moved on or whose body the cache dropped.

Only URLs Flask has answered are known here, so whatever Flask refuses (a Host not
trusted, NUL in the URL, an unknown path, a bad cursor) still reaches Flask and is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, NamedTuple

from flask import Flask, request

from .metrics import FAST_PATH_ANSWER
from .rendered import Rendered, rendered_answer
from .request_guards import drop_unreadable_dates
from .security_headers import security_headers
from .state import app_state

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

STATUS_LINES = {200: "200 OK", 304: "304 NOT MODIFIED"}  # as werkzeug writes them


class Answer(NamedTuple):
    key: str  # of the render cache
    topic: str | None  # whose store version the key holds (None: the whole store's)
    version: int | None  # None equals no store version: such an answer is never reused
    max_age: int


def url_of(environ: WSGIEnvironment) -> tuple[object, ...]:
    """What a view's answer is made from, of the request: its links come from the scheme
    and Host when SITE_URL is unset, and the Host passed TRUSTED_HOSTS."""
    return (environ.get("wsgi.url_scheme"), environ.get("HTTP_HOST"), environ.get("SCRIPT_NAME", ""),
            environ.get("PATH_INFO"), environ.get("QUERY_STRING", ""))


class FastPath:
    """WSGI middleware inside ProxyFix (it needs the scheme and Host the client used)."""

    MAX_URLS = 4096  # a few hundred bytes each; strangers' Host headers must not grow it

    def __init__(self, app: Flask, wsgi_app: WSGIApplication):
        self.app = app
        self.wsgi_app = wsgi_app
        self.answers: dict[tuple[object, ...], Answer] = {}

    def remember(self, environ: WSGIEnvironment, answer: Answer) -> None:
        url = url_of(environ)
        answers = self.answers
        if len(answers) >= self.MAX_URLS and url not in answers:
            answers.pop(next(iter(answers)))  # the oldest (there are MAX_URLS)
        answers[url] = answer

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        answer = None
        if method in ("GET", "HEAD") and "HTTP_RANGE" not in environ:
            answer = self.answers.get(url_of(environ))
        if answer is None or (rendered := self._cached(answer)) is None:
            return self.wsgi_app(environ, start_response)
        environ[FAST_PATH_ANSWER] = answer  # for the request metrics (serving/metrics.py)
        drop_unreadable_dates(environ)
        status, headers, body = rendered_answer(rendered, environ, max_age=answer.max_age)
        headers.extend(security_headers(environ))
        start_response(STATUS_LINES[status], headers)
        return [body] if body is not None and method == "GET" else []

    def _cached(self, answer: Answer) -> Rendered | None:
        state = app_state(self.app)
        try:
            if state.versions.version(answer.topic) != answer.version:
                return None
        except Exception:  # noqa: BLE001 (the store failing: Flask answers it as it answers errors)
            return None
        return state.render_cache.get(answer.key)


def remember(key: str | None, topic: str | None, version: int | None, max_age: int) -> None:
    """Called by a view that has just answered this request with `send_rendered` (CORS on,
    no header of its own): let the fast path answer the same URL while the version holds."""
    fast_path = app_state().fast_path
    if fast_path is not None and key is not None:
        fast_path.remember(request.environ, Answer(key, topic, version, max_age))


def install(app: Flask) -> FastPath:
    """Puts the fast path in front of `app`'s views; the app state keeps it."""
    fast_path = FastPath(app, app.wsgi_app)
    app.wsgi_app = fast_path  # type: ignore[method-assign]  # Flask's documented way to wrap its WSGI app
    return fast_path
