"""CORS preflight for what any page's script may read: feeds, oEmbed answers, media,
transcript and chapters files, the OpenAPI document.

Their GET answers carry `Access-Control-Allow-Origin: *` where they are made (and in the
fast path). A script that sends a header outside CORS's safelisted few (`If-None-Match`
to poll a feed, `Range` to seek in audio) makes the browser ask first with OPTIONS, and
Flask's automatic OPTIONS answer said nothing of CORS: the browser then refused the read.
Nothing here is read with credentials, so any origin may ask.
"""

from __future__ import annotations

from flask import Flask, Response, request

READABLE_FROM_ANY_ORIGIN = frozenset({
    "feeds.site_rss", "feeds.site_atom", "feeds.site_json",
    "feeds.topic_rss", "feeds.topic_atom", "feeds.topic_json", "feeds.topic_podcast", "feeds.opml",
    "embeds.oembed", "embeds.story_oembed", "embeds.providers",
    "media.media", "transcripts.transcript_file", "transcripts.chapters_file",
    "openapi.openapi_document",
})
# What a reader, a player or an API explorer sends: conditional polls and ranges.
ALLOWED_HEADERS = "Accept, Accept-Language, Cache-Control, If-Match, If-Modified-Since, If-None-Match, If-Range, Range"
PREFLIGHT_MAX_AGE = "86400"


def answer_preflight(response: Response) -> Response:
    if request.method == "OPTIONS" and request.endpoint in READABLE_FROM_ANY_ORIGIN:
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
    return response


def init_app(app: Flask) -> None:
    app.after_request(answer_preflight)
