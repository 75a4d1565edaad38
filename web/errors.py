"""Errors as clients expect them: JSON under /api, a page elsewhere, never a traceback."""

from __future__ import annotations

from flask import Flask, Response, jsonify, render_template, request
from flask.globals import request_ctx
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import (
    BadHost,
    HTTPException,
    InternalServerError,
    SecurityError,
    ServiceUnavailable,
)

RETRY_AFTER = 30
HOST_REFUSED = "The Host header does not name a host this site answers to."


def wants_json() -> bool:
    # oEmbed consumers (micawber, WordPress) send no Accept header but read JSON errors.
    return (request.path.startswith(("/api/", "/oembed"))
            or request.endpoint == "embeds.story_oembed"
            or request.accept_mimetypes.best == "application/json")


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


def register(app: Flask) -> None:
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

    @app.errorhandler(OperationalError)
    def store_unavailable(error: OperationalError):
        app.logger.error("store unavailable: %s", error.orig or error)
        response = app.make_response(render_error(ServiceUnavailable(
            "The story store is not answering; try again shortly."
        )))
        response.headers["Retry-After"] = str(RETRY_AFTER)
        return response

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        app.logger.exception("unhandled error on %s", request.path)
        return render_error(InternalServerError("Something went wrong on our side."))
