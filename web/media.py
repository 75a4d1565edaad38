"""Media files (the sample's audio and images) with byte ranges, as podcast apps need."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, abort, request, send_file

from serving.files import regular_file_in
from serving.members import Members, is_member_file, media_relative
from serving.state import app_state

bp = Blueprint("media", __name__)

MEDIA_MAX_AGE = 86_400


@bp.get("/media/<path:filename>")
def media(filename: str):
    path = regular_file_in(app_state().settings["MEDIA_DIR"], filename)
    if path is None:
        abort(404, description="There is no such media file.")
    signed_for = refuse_unsigned_member_file(path)
    response = send_media_file(path)
    response.headers["Access-Control-Allow-Origin"] = "*"
    if signed_for is not None:
        # A CDN keeps it no longer than its signature lasts.
        response.cache_control.max_age = signed_for
    return response


def refuse_unsigned_member_file(path: str) -> int | None:
    """403 for a members' file (MEDIA_DIR/members/) without a valid signature: those
    are a live member's to download, through their own URL (docs/members.md#media).
    For a members' file, the seconds its signature lasts; None for any other file."""
    settings = app_state().settings
    relative = media_relative(settings["MEDIA_DIR"], path)
    if not is_member_file(relative):
        return None
    signer = app_state().area(Members).signer
    if signer is None or not signer.verify(relative, request.args.get("sig")):
        abort(403, description="This file is for members: use your private feed.")
    return signer.max_age


def send_media_file(path: str) -> Response:
    """The file with byte ranges, as podcast apps need."""
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
    return send_file(path, max_age=MEDIA_MAX_AGE, conditional=True)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
