"""Media files (the sample's audio and images) with byte ranges, as podcast apps need."""

from __future__ import annotations

from flask import Blueprint, current_app, send_from_directory

bp = Blueprint("media", __name__)

MEDIA_MAX_AGE = 86_400


@bp.get("/media/<path:filename>")
def media(filename: str):
    # Werkzeug answers Range with 206, a bad range with 416, and sets Accept-Ranges,
    # Content-Length, ETag and Last-Modified; send_from_directory refuses "..".
    response = send_from_directory(
        current_app.config["MEDIA_DIR"], filename, max_age=MEDIA_MAX_AGE, conditional=True
    )
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
