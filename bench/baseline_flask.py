"""Baseline: a bare Flask app whose one view replays the app's recorded answers.

    gunicorn -c gunicorn.conf.py bench.baseline_flask:app     (BENCH_ANSWERS=answers.json)

The same bytes as `bench.baseline_wsgi`, through Flask's routing, request and response
objects and nothing else: what any Flask view costs on top of raw WSGI.
"""

from __future__ import annotations

from flask import Flask, Response, abort, request

from bench.common import load_answers

ANSWERS = load_answers()

app = Flask(__name__)


@app.get("/<path:path>")
def replay(path: str):
    target = request.path
    if request.query_string:
        target += "?" + request.query_string.decode("latin-1")
    by_etag = ANSWERS.get(target)
    if by_etag is None:
        abort(404)
    answer = by_etag.get(request.headers.get("If-None-Match", ""), by_etag[""])
    return Response(answer.body, status=answer.status, headers=list(answer.headers))
