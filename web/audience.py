"""`GET /api/audience`: the audience report (audience/report.py) as JSON, for a bearer
token of INGEST_TOKENS: downloads per day, per episode (its first 7, 30 and 90 days)
and per app, counted again from the stored fetches. The editors' charts read this."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Flask, Response, abort, jsonify, request

from audience.agents import shipped_agents
from audience.report import Report, build_report, episodes_of
from serving.state import AppState, app_state

from .ingest import configured_tokens, token_is_known, unauthorized

bp = Blueprint("audience", __name__, url_prefix="/api")


def report_for(state: AppState, topic: str | None, start: dt.date | None, end: dt.date | None) -> Report:
    """The report of the days start..end (UTC, both included) of every file, or of a topic's."""
    episodes = episodes_of(state.store, topic)
    return build_report(state.store.engine, shipped_agents(), episodes, topic=topic, start=start, end=end)


def parse_day(name: str) -> dt.date | None:
    text = request.args.get(name)
    if text is None or text == "":
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        abort(400, description=f"{name} must be a date, YYYY-MM-DD.")


@bp.get("/audience")
def audience() -> Response:
    tokens = configured_tokens()
    if not tokens:
        abort(403, description="The audience API is off: set INGEST_TOKENS to enable it.")
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return unauthorized("Send Authorization: Bearer <token>.")
    if not token_is_known(token.strip(), tokens):
        return unauthorized("The bearer token is not known.", error="invalid_token")
    start, end = parse_day("from"), parse_day("to")
    if start is not None and end is not None and start > end:
        abort(400, description="from is after to.")
    state = app_state()
    topic = request.args.get("topic") or None
    if topic is not None and state.store.get_topic(topic) is None:
        abort(404, description=f"There is no topic {topic!r}.")
    response = jsonify(report_for(state, topic, start, end).as_dict())
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
