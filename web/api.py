"""Read-only JSON API over the records."""

from __future__ import annotations

from flask import Blueprint, Flask, abort, jsonify, request

from serving.context import current_store
from serving.params import parse_limit
from stories.model import format_datetime, story_to_public_record
from stories.store import InvalidCursor

bp = Blueprint("api", __name__, url_prefix="/api")

@bp.get("/stories/<story_id>")
def story(story_id: str):
    stored = current_store().get_stored(story_id)
    if stored is None:
        abort(404, description=f"There is no story {story_id!r}.")
    return jsonify(
        story=story_to_public_record(stored.story),
        first_seen=format_datetime(stored.first_seen),
        written=format_datetime(stored.written),
    )


@bp.get("/topics/<slug>/stories")
def topic_stories(slug: str):
    store = current_store()
    if store.get_topic(slug) is None:
        abort(404, description=f"There is no topic {slug!r}.")
    limit = parse_limit(request.args.get("limit"))
    try:
        page = store.latest(slug, limit=limit, cursor=request.args.get("cursor"))
    except InvalidCursor as exc:
        abort(400, description=str(exc))
    return jsonify(
        stories=[story_to_public_record(s) for s in page.stories],
        next_cursor=page.next_cursor,
        previous_cursor=page.previous_cursor,
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
