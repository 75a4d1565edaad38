"""bench.anonymous asks for every anonymous GET the app answers: a route added without a
case in the bench would escape its bound."""

from __future__ import annotations

import random

from werkzeug.exceptions import HTTPException

from bench.anonymous import SITE_URL, requests

from .conftest import make_app


def test_the_bench_asks_for_every_get_route(sqlite_url):
    app = make_app(sqlite_url)
    adapter = app.url_map.bind(SITE_URL.split("/")[2])
    routes = {rule.endpoint for rule in app.url_map.iter_rules()
              if "GET" in (rule.methods or ()) and rule.endpoint != "static"}
    asked = set()
    for _kind, target in requests(random.Random(1), quick=True):
        try:
            asked.add(adapter.match(target.split("?")[0], method="GET")[0])
        except HTTPException:
            pass
    assert routes - asked == set()
