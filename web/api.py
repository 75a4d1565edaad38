"""Read-only JSON API over the records."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, request

from stories.model import format_datetime, story_to_public_record
from stories.store import InvalidCursor

from .context import current_store

bp = Blueprint("api", __name__, url_prefix="/api")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def parse_limit(value: str | None, default: int | None = DEFAULT_LIMIT, maximum: int = MAX_LIMIT,
                name: str = "limit") -> int | None:
    """`?limit=` (or another `name`): a whole number from 1 to `maximum`; a 400 that says so."""
    if value is None or value == "":
        return default
    # The length first: int() refuses strings of over 4300 digits with a ValueError.
    if (not (value.isascii() and value.isdigit()) or len(value.lstrip("0")) > len(str(maximum))
            or not 1 <= int(value) <= maximum):
        abort(400, description=f"{name} must be a whole number from 1 to {maximum}")
    return int(value)


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
