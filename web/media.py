"""Media files (the sample's audio and images) with byte ranges, as podcast apps need."""

from __future__ import annotations

import os
import stat

from flask import Blueprint, abort, current_app, request, send_file
from werkzeug.utils import safe_join

bp = Blueprint("media", __name__)

MEDIA_MAX_AGE = 86_400


def regular_file_in(directory: str, filename: str) -> str | None:
    """The path of `filename` inside `directory` if it is a regular file reached without
    following any symlink; None otherwise.

    A symlink planted in the media folder (or a folder it holds) must not serve what it
    points to: /etc/passwd, the database, another app's files.
    """
    root = os.path.realpath(directory)
    path = safe_join(root, filename)  # refuses "..", absolute paths and the like
    if path is None or os.path.realpath(path) != path:
        return None
    try:
        mode = os.lstat(path).st_mode
    except (OSError, ValueError):
        return None
    return path if stat.S_ISREG(mode) else None


@bp.get("/media/<path:filename>")
def media(filename: str):
    path = regular_file_in(current_app.config["MEDIA_DIR"], filename)
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
