"""Media files (the sample's audio and images) with byte ranges, as podcast apps need."""

from __future__ import annotations

from flask import Blueprint, Flask, abort, request, send_file

from serving.files import regular_file_in
from serving.state import app_state

bp = Blueprint("media", __name__)

MEDIA_MAX_AGE = 86_400


@bp.get("/media/<path:filename>")
def media(filename: str):
    path = regular_file_in(app_state().settings["MEDIA_DIR"], filename)
    if path is None:
        abort(404, description="There is no such media file.")
    requested = request.environ.get("HTTP_RANGE")
    if requested is not None and (
        "," in requested or requested.partition("=")[0].strip().lower() != "bytes"
    ):
        # Werkzeug answers one bytes range only, and refuses a list or another unit
        # ("items=0-1") with 416. RFC 9110 (14.2) says to ignore a unit the server does
        # not know and allows ignoring a list: the whole file with 200, which every
        # client can use.
        del request.environ["HTTP_RANGE"]
    # Werkzeug answers Range with 206, a bad range with 416, and sets Accept-Ranges,
    # Content-Length, ETag and Last-Modified.
    response = send_file(path, max_age=MEDIA_MAX_AGE, conditional=True)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
