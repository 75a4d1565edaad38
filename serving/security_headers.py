"""The headers every response carries so that a browser contains what a page may do.

The Content-Security-Policy allows scripts and styles from this site's own files only (no
inline script: a stored `javascript:` or `<script>` that slipped past validation and
escaping still would not run), pictures and audio from anywhere on the web (records name
NPR's and other CDNs), and framing by this site alone. The embeddable player sets its own
policy: the same without `frame-ancestors`, since any site may frame it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from flask import Flask, Response, current_app, request

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

SCRIPTS_AND_STYLES = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' https: http:",
    "media-src 'self' https: http:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
)
PAGE_POLICY = "; ".join((*SCRIPTS_AND_STYLES, "frame-ancestors 'self'"))
# The player also fetches the transcript and chapters files records name, wherever they are.
FRAMEABLE_POLICY = "; ".join((*SCRIPTS_AND_STYLES, "connect-src 'self' https: http:"))

REFERRER_POLICY = "strict-origin-when-cross-origin"
# Only said over https (behind ProxyFix, when the proxy said https): over plain http the
# header is ignored by browsers and would only mislead.
HSTS = "max-age=31536000"

View = TypeVar("View", bound=Callable[..., object])


def frameable(view: View) -> View:
    """Marks a view whose pages any site may frame (the embeddable player)."""
    view.frameable = True  # type: ignore[attr-defined]
    return view


def _is_frameable() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, "frameable", False)


SECURITY_HEADERS = (
    ("Content-Security-Policy", PAGE_POLICY),
    ("Referrer-Policy", REFERRER_POLICY),
    ("X-Content-Type-Options", "nosniff"),
)
SECURE_SECURITY_HEADERS = (*SECURITY_HEADERS, ("Strict-Transport-Security", HSTS))


def security_headers(environ: WSGIEnvironment) -> tuple[tuple[str, str], ...]:
    """What every response carries unless it set its own (the player sets its policy);
    for Flask's responses and for the WSGI fast path (`serving.fastpath`) alike."""
    secure = environ.get("wsgi.url_scheme") in ("https", "wss")  # as `request.is_secure`
    return SECURE_SECURITY_HEADERS if secure else SECURITY_HEADERS


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    if _is_frameable():
        headers.setdefault("Content-Security-Policy", FRAMEABLE_POLICY)
    for name, value in security_headers(request.environ):
        headers.setdefault(name, value)
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_security_headers)
