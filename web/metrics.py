"""`/metrics`: the Prometheus text of `serving.metrics`, for whoever holds METRICS_TOKEN.

Unset, the path answers 404 like any unknown one. Set, the scraper sends it as a bearer
token (Prometheus: `authorization: {credentials: ...}`); without it or with another, 401.
The answer is never kept by a cache on the way: each scrape reads the counts of now.
"""

from __future__ import annotations

from collections.abc import Iterator

from flask import Blueprint, Flask, Response, abort, current_app, request
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4
from werkzeug.exceptions import Unauthorized

from serving import metrics
from serving.state import AppState, app_state
from sources.config import SourcesConfig
from sources.model import Outcome
from sources.state import SourceStates

from .errors import render_error
from .ingest import REALM, token_is_known

bp = Blueprint("metrics", __name__)

# Where the app keeps what a scrape reads besides the counts: its build, its sources.
COLLECTOR = "storyfeed.metrics"


def source_pulls(state: AppState) -> Iterator[metrics.SourcePull]:
    """The last pull of each source in the sources file, as `sync` left it in the store.
    Sources only the store remembers (since removed from the file) are left out."""
    sources = state.area(SourcesConfig).sources
    if not sources:
        return
    pulls = SourceStates(state.store.engine).all()
    for source in sources:
        pull = pulls.get(source.name)
        if pull is None:
            yield metrics.SourcePull(source.name, None, None, False, 0)
        else:
            yield metrics.SourcePull(source.name, pull.last_attempt, pull.last_success,
                                     pull.outcome == Outcome.FAILED.value, len(pull.story_ids))


@bp.get("/metrics")
def scrape() -> Response:
    token = app_state().settings["METRICS_TOKEN"]
    if token is None:
        abort(404)
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token_is_known(given.strip(), [token.encode()]):
        refusal = Unauthorized("Send Authorization: Bearer <METRICS_TOKEN>.")
        response = current_app.make_response(render_error(refusal))
        response.headers["WWW-Authenticate"] = f'Bearer realm="{REALM}"'
    else:
        collector: metrics.StateCollector = current_app.extensions[COLLECTOR]
        response = Response(metrics.exposition(collector), content_type=CONTENT_TYPE_PLAIN_0_0_4)
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    state = app_state(app)
    if state.settings["METRICS_TOKEN"] is not None:
        # Only when someone can read them: nothing to pay for otherwise. Outermost: the
        # fast path's answers and every refusal are counted too.
        app.wsgi_app = metrics.RequestMetrics(app.wsgi_app)  # type: ignore[method-assign]  # Flask's documented way to wrap its WSGI app
        app.teardown_request(metrics.note_route)
    metrics.watch_store(state.store.engine)
    app.extensions[COLLECTOR] = metrics.collector_for(state, lambda: source_pulls(state))
    app.register_blueprint(bp)
