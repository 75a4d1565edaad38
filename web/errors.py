"""Errors as clients expect them: JSON under /api, a page elsewhere, never a traceback.

The one place where storyfeed's errors (`stories.errors`) become HTTP statuses, by kind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Flask, Response, current_app, got_request_exception, jsonify, render_template, request
from flask.globals import request_ctx
from sqlalchemy.exc import OperationalError, ProgrammingError
from werkzeug.exceptions import (
    BadHost,
    HTTPException,
    InternalServerError,
    SecurityError,
    ServiceUnavailable,
    default_exceptions,
)

from serving.health import SchemaBehind
from serving.state import app_state
from stories.errors import (
    InvalidInput,
    NotAllowed,
    NotFound,
    StoryfeedError,
    Unavailable,
    UpstreamError,
)
from stories.migrate import names_missing_schema
from stories.store import STORE_UNAVAILABLE

RETRY_AFTER = 30
HOST_REFUSED = "The Host header does not name a host this site answers to."


# Each kind's status; an error may name another its protocol fixes (`status`).
STATUS_OF_KIND: tuple[tuple[type[StoryfeedError], int], ...] = (
    (InvalidInput, 400),
    (NotFound, 404),
    (NotAllowed, 403),
    (Unavailable, 503),
    (UpstreamError, 502),
)

View = TypeVar("View", bound=Callable[..., object])


def json_errors(view: View) -> View:
    """Marks a view whose errors are answered in JSON wherever it lives (an oEmbed
    answer at a story's own path, for one)."""
    view.json_errors = True  # type: ignore[attr-defined]
    return view


def wants_json() -> bool:
    # oEmbed consumers (micawber, WordPress) send no Accept header but read JSON errors.
    view = current_app.view_functions.get(request.endpoint or "")
    return (request.path.startswith(("/api/", "/oembed"))
            or getattr(view, "json_errors", False)
            or request.accept_mimetypes.best == "application/json")


def status_of(error: StoryfeedError) -> int:
    if error.status:
        return error.status
    return next((code for kind, code in STATUS_OF_KIND if isinstance(error, kind)), 500)


def as_http(error: StoryfeedError) -> HTTPException:
    code = status_of(error)
    http_error = default_exceptions.get(code, InternalServerError)(description=str(error))
    http_error.code = code
    return http_error


def render_error(error: HTTPException):
    if wants_json():
        response = jsonify(error=error.name, message=error.description, status=error.code)
    elif request_ctx.url_adapter is None:
        # The request's Host is not a valid name, or not trusted: no URL can be built for
        # it, so the page (which links to the site) would fail in turn. Plain text then.
        response = Response(f"{error.code} {error.name}: {error.description}\n",
                            content_type="text/plain; charset=utf-8")
    else:
        response = render_template("error.html", error=error)
    return response, error.code


def init_app(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        response, code = render_error(error)
        response = app.make_response((response, code))
        # Keep what the error itself says in headers (Allow, Content-Range, WWW-Authenticate).
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(BadHost)
    @app.errorhandler(SecurityError)
    def host_refused(error: HTTPException):
        # Werkzeug's own words are generic ("could not understand") or repeat the header.
        error.description = HOST_REFUSED
        return http_error(error)

    @app.errorhandler(StoryfeedError)
    def refused(error: StoryfeedError):
        response = http_error(as_http(error))
        if response.status_code == 503:
            response.headers["Retry-After"] = str(RETRY_AFTER)
        return response

    # A server down or silent, and a pool with no connection to spare (every one busy
    # past DB_POOL_TIMEOUT), alike: the store is unavailable. A table or column missing
    # (PostgreSQL says so with a ProgrammingError): the store may be behind the migrations
    # (a deploy whose release step never ran), and then every page says what to run.
    def store_failed(error: Exception):
        if isinstance(error, (OperationalError, ProgrammingError)) and names_missing_schema(error):
            behind = app_state().health.schema.behind_after_error()
            if behind is not None:
                return refused(SchemaBehind(behind))
        if isinstance(error, ProgrammingError):
            return unexpected(error)
        app.logger.error("store unavailable: %s", getattr(error, "orig", None) or error)
        response = app.make_response(render_error(ServiceUnavailable(
            "The story store is not answering; try again shortly."
        )))
        response.headers["Retry-After"] = str(RETRY_AFTER)
        return response

    for kind in (*STORE_UNAVAILABLE, ProgrammingError):
        app.register_error_handler(kind, store_failed)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        app.logger.exception("unhandled error on %s", request.path)
        # Flask signals an unhandled error only when no handler answers it; this one
        # does, so it says so itself, for whoever tracks errors (Sentry's integration).
        got_request_exception.send(app, _async_wrapper=app.ensure_sync, exception=error)
        return render_error(InternalServerError("Something went wrong on our side."))
