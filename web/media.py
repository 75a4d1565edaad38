"""Media files (the sample's audio and images) with byte ranges, as podcast apps need."""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, abort, request, send_file

from audience.count import PROBE
from audience.files import audio_facts
from audience.recorder import Recorder
from serving.files import regular_file_in
from serving.members import Members, is_member_file, media_relative
from serving.state import app_state

log = logging.getLogger(__name__)

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
    count_fetch(str(path), filename, response)
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


def count_fetch(path: str, episode: str, response: Response) -> None:
    """Keep this answer for the audience counts (docs/audience.md), if it sent audio bytes
    that can make a download: a GET answered 200 or 206, not the 0-1 probe. Any part of
    storyfeed that serves media calls it with the file's path, the name its downloads are
    counted under (its path under /media/) and the answer.

    The bytes counted are those the answer was made to send (its Content-Range, or the
    whole file for a 200), at the time it is made: with sendfile, what reached the client
    is not known here. The address is the one ProxyFix took from PROXY_HOPS proxies.
    Never raises: a download is served whatever happens to its count.
    """
    recorder = app_state().areas.get(Recorder)
    if recorder is None:
        return
    try:
        # The environ and the answer's header text, read directly: this runs for every
        # media request, and werkzeug's parsed views cost more than the rest of it.
        environ = request.environ
        status = response.status_code
        if environ["REQUEST_METHOD"] != "GET" or status not in (200, 206):
            return
        headers = response.headers
        if not headers.get("Content-Type", "").startswith(("audio/", "video/")):
            return
        if status == 206:  # Content-Range: bytes FIRST-LAST/SIZE, as werkzeug wrote it
            span, _, length = headers.get("Content-Range", "").partition(" ")[2].partition("/")
            start, _, end = span.partition("-")
            first, last, size = int(start), int(end), int(length)
        else:
            size = int(headers.get("Content-Length") or 0)
            first, last = 0, size - 1
        if (first, last) == PROBE or size <= 0:
            return
        recorder.record(address=environ.get("REMOTE_ADDR"), user_agent=environ.get("HTTP_USER_AGENT", ""),
                        episode=episode, method="GET", status=status, first=first, last=last, file_size=size,
                        facts=audio_facts(path, size, headers.get("Last-Modified", "")))
    except Exception:  # noqa: BLE001 (counting never fails a download)
        log.exception("audience: a fetch was not counted")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
