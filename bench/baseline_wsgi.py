"""Baseline: a raw WSGI callable replaying the app's recorded answers, byte for byte.

    gunicorn -c gunicorn.conf.py bench.baseline_wsgi:app      (BENCH_ANSWERS=answers.json)

What it costs gunicorn (with its access log) to send the same status, headers and body:
the floor under any Python app's answer. A request sending back the recorded ETag in
If-None-Match gets the recorded 304, as a poller would.
"""

from __future__ import annotations

from http import HTTPStatus

from bench.common import load_answers

NOT_RECORDED = ("404 Not Found", [("Content-Type", "text/plain")], [b"not recorded\n"])

ANSWERS = {
    target: {etag: (f"{a.status} {HTTPStatus(a.status).phrase}", list(a.headers), [a.body])
             for etag, a in by_etag.items()}
    for target, by_etag in load_answers().items()
}


def app(environ, start_response):
    target = environ["PATH_INFO"]
    if environ.get("QUERY_STRING"):
        target += "?" + environ["QUERY_STRING"]
    by_etag = ANSWERS.get(target)
    if by_etag is None:
        status, headers, body = NOT_RECORDED
    else:
        status, headers, body = by_etag.get(environ.get("HTTP_IF_NONE_MATCH", ""), by_etag[""])
    start_response(status, headers)
    return body
