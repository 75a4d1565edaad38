"""Warm and conditional feed and oEmbed answers from the render cache, before Flask.

Podcast apps poll every feed around the clock, mostly for a 304; Flask's dispatch (the
request object, routing, hooks, the response object) cost more than the answer itself.
A view that serves a cacheable answer says so (`remember`): this URL is the render
cache's entry under `key` for as long as the store's version of `topic` stays `version`.
The next request for that URL is answered here, by the same functions the view answers
with (`rendered_answer`, `security_headers`, `drop_unreadable_dates`). Anything else goes
to Flask: another method, a Range, a URL no view has answered, an entry whose version has
moved on or whose body the cache dropped.

A URL here is what the view's answer is made from (`url_of`): the scheme, Host and path,
and of the query only the parameters the view reads, each as the view reads it (the
first value). `?utm=1`, `?utm=2`, ... are the same URL as none, so that strangers
cannot push the real feeds out by varying what no view reads.

Only URLs Flask has answered are known here, so whatever Flask refuses (a Host not
trusted, NUL in the URL, an unknown path, a bad cursor) still reaches Flask and is refused.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import parse_qsl

import werkzeug.urls  # noqa: F401 (registers the "werkzeug.url_quote" codec error handler)
from flask import Flask, request
from werkzeug.wsgi import ClosingIterator

from stories.members import LIVE

from .members import MEMBER_PREFIX, Members, member_answer, shared_member_path
from .metrics import FAST_PATH_ANSWER
from .rendered import STALE, Rendered, rendered_answer
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


def query_args(environ: WSGIEnvironment) -> dict[str, str] | None:
    """The first value of each query parameter, as `request.args.get` reads it (werkzeug's
    own parse); None for a query Flask refuses (NUL, `serving.request_guards`) or cannot
    decode, which must reach Flask."""
    query = environ.get("QUERY_STRING")
    if not query:
        return {}
    try:
        pairs = parse_qsl(query.encode("latin-1").decode(), keep_blank_values=True,
                          errors="werkzeug.url_quote")
    except (UnicodeError, ValueError):
        return None
    args: dict[str, str] = {}
    for name, value in pairs:
        if "\x00" in name or "\x00" in value:
            return None
        args.setdefault(name, value)
    return args


def url_of(environ: WSGIEnvironment, reads: tuple[str, ...], args: dict[str, str],
           path: str | None = None) -> tuple[object, ...]:
    """What a view's answer is made from, of the request: its links come from the scheme
    and Host when SITE_URL is unset, and the Host passed TRUSTED_HOSTS; of the query,
    the parameters in `reads` (those the view reads), absent ones as None. `path`, when
    given, stands for the request's own."""
    return (environ.get("wsgi.url_scheme"), environ.get("HTTP_HOST"), environ.get("SCRIPT_NAME", ""),
            environ.get("PATH_INFO") if path is None else path, reads, *[args.get(name) for name in reads])


class FastPath:
    """WSGI middleware inside ProxyFix (it needs the scheme and Host the client used).

    Thread-safe: every change of the table is made under a lock; a lookup is one atomic
    dict call (and a move to the end, which may find the URL gone: then it is not moved).
    """

    MAX_URLS = 4096  # a few hundred bytes each (docs/scaling.md, the memory account)
    # URLs kept per answer: http and https, a Host or two. More spellings of one answer
    # (Host headers when SITE_URL is set, `?limit=050`, an oEmbed `url` with junk of its
    # own) are answered by Flask from the render cache, and push no other answer out.
    MAX_SPELLINGS = 8
    # The parameter sets views read (`remember`'s `reads`): a handful, fixed in code.
    MAX_READS = 8
    # A URL longer than this (its Host, path and the values read) is answered by Flask:
    # a Host header alone can hold 8 KB, and 4,096 of them would be 32 MB.
    MAX_URL_CHARS = 512

    def __init__(self, app: Flask, wsgi_app: WSGIApplication):
        self.app = app
        self.wsgi_app = wsgi_app
        # Least recently answered first.
        self.answers: OrderedDict[tuple[object, ...], Answer] = OrderedDict()
        self._spellings: dict[str, int] = {}  # render key -> its URLs in `answers`
        self._reads: tuple[tuple[str, ...], ...] = ()
        self._lock = threading.Lock()

    def remember(self, environ: WSGIEnvironment, answer: Answer, reads: tuple[str, ...]) -> None:
        args = query_args(environ)
        if args is None:
            return
        url = url_of(environ, reads, args)
        if sum(len(part) for part in url if isinstance(part, str)) > self.MAX_URL_CHARS:
            return
        answers, spellings = self.answers, self._spellings
        with self._lock:
            if reads not in self._reads:
                if len(self._reads) >= self.MAX_READS:
                    return
                self._reads = (*self._reads, reads)
            old = answers.get(url)
            if old is None or old.key != answer.key:
                if spellings.get(answer.key, 0) >= self.MAX_SPELLINGS:
                    return
                if old is not None:
                    self._uncount(old.key)
                while len(answers) >= self.MAX_URLS and url not in answers:
                    self._uncount(answers.popitem(last=False)[1].key)
                spellings[answer.key] = spellings.get(answer.key, 0) + 1
            answers[url] = answer
            answers.move_to_end(url)

    def _uncount(self, key: str) -> None:
        left = self._spellings[key] - 1
        if left:
            self._spellings[key] = left
        else:
            del self._spellings[key]

    def find(self, environ: WSGIEnvironment, path: str | None = None) -> Answer | None:
        """The answer remembered for this request's URL (with `path` for its path, when
        given), made the most recently used."""
        args = query_args(environ)
        if args is None:
            return None
        answers = self.answers
        for reads in self._reads:
            url = url_of(environ, reads, args, path)
            answer = answers.get(url)
            if answer is not None:
                try:
                    answers.move_to_end(url)
                except KeyError:  # pushed out meanwhile by another thread: still the answer
                    pass
                return answer
        return None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        if environ.get("PATH_INFO", "").startswith(MEMBER_PREFIX):
            return self._member(environ, start_response)
        answer = None
        if method in ("GET", "HEAD") and "HTTP_RANGE" not in environ:
            answer = self.find(environ)
        if answer is None or (rendered := self._cached(answer, environ)) is None:
            return self.wsgi_app(environ, start_response)
        environ[FAST_PATH_ANSWER] = answer  # for the request metrics (serving/metrics.py)
        drop_unreadable_dates(environ)
        status, headers, body = rendered_answer(rendered, environ, max_age=answer.max_age)
        headers.extend(security_headers(environ))
        start_response(STATUS_LINES[status], headers)
        return [body] if body is not None and method == "GET" else []

    def _member(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """A member's feed (docs/members.md), when this process remembers the secret as
        live (`SecretMemo.peek`: forgotten on every change to members, here or, through
        Redis, anywhere) and the topic's shared render was answered before: the member's
        copy of it. Anything else (a secret not remembered, lapsed or revoked, media, a
        Range) goes to Flask, which looks the secret up."""
        method = environ.get("REQUEST_METHOD")
        _, _, secret, rest = (environ.get("PATH_INFO", "").split("/", 3) + ["", ""])[:4]
        area = app_state(self.app).areas.get(Members)
        if (method not in ("GET", "HEAD") or "HTTP_RANGE" in environ or not rest.startswith("topics/")
                or not isinstance(area, Members)):
            return self.wsgi_app(environ, start_response)
        match = area.secrets.peek(secret)
        if match is None or match.status() != LIVE:
            return self.wsgi_app(environ, start_response)
        # The shared render's URL, without copying the environ (some thirty keys).
        answer = self.find(environ, shared_member_path(environ["PATH_INFO"], secret))
        if answer is None or (rendered := self._cached(answer, environ)) is None:
            return self.wsgi_app(environ, start_response)
        write = area.sightings.seen(match.member.id, secret, environ.get("REMOTE_ADDR"),
                                    environ.get("HTTP_USER_AGENT"))
        environ[FAST_PATH_ANSWER] = answer
        drop_unreadable_dates(environ)
        status, headers, body = member_answer(rendered, match.member.id, secret, environ)
        headers.extend(security_headers(environ))
        start_response(STATUS_LINES[status], headers)
        sent = [body] if body is not None and method == "GET" else []
        return sent if write is None else ClosingIterator(sent, write)

    def _cached(self, answer: Answer, environ: WSGIEnvironment) -> Rendered | None:
        state = app_state(self.app)
        try:
            version, stale = state.versions.lookup(answer.topic)
        except Exception:  # noqa: BLE001 (the store failing: Flask answers it as it answers errors)
            return None
        if version != answer.version:
            return None
        rendered = state.render_cache.get(answer.key)
        if rendered is not None and stale:
            environ[STALE] = True
        return rendered


def remember(key: str | None, topic: str | None, version: int | None, max_age: int,
             reads: tuple[str, ...]) -> None:
    """Called by a view that has just answered this request with `send_rendered` (CORS on,
    no header of its own): let the fast path answer the same URL while the version holds.

    `reads` names every query parameter the view reads (sorted, always the same tuple):
    requests that differ only in others get this answer too.
    """
    fast_path = app_state().fast_path
    if fast_path is not None and key is not None:
        fast_path.remember(request.environ, Answer(key, topic, version, max_age), reads)


def install(app: Flask) -> FastPath:
    """Puts the fast path in front of `app`'s views; the app state keeps it."""
    fast_path = FastPath(app, app.wsgi_app)
    app.wsgi_app = fast_path  # type: ignore[method-assign]  # Flask's documented way to wrap its WSGI app
    return fast_path
