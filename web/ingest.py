"""The write API a CMS pushes to: upsert and delete stories, describe topics.

Off (403) until INGEST_TOKENS names at least one bearer token. Statuses, in the order
they are checked: 403 off, 401 no or wrong token, 413 too large (over INGEST_MAX_BYTES,
or more than INGEST_MAX_RECORDS records), 415 not JSON, 400 malformed JSON, 422 invalid
records (problems listed, the first MAX_PROBLEMS of them and how many more; nothing
written unless `?partial=1`, which writes the valid records and lists the rest).
"""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, Flask, Response, abort, jsonify, request, url_for
from werkzeug.exceptions import Unauthorized

from serving import metrics
from serving.context import current_store
from serving.state import app_state
from stories.files import Batch, JSONRefused, TooManyItems, load_json
from stories.model import story_to_record, topic_to_record
from stories.store import WriteResult
from stories.validate import (
    Problem,
    RecordInvalid,
    parse_story,
    parse_topic,
    record_location,
    show,
)

from .errors import render_error

bp = Blueprint("ingest", __name__, url_prefix="/api")

# Problems (and warnings) listed in one answer; a count says how many more there were,
# so a body of a million bad records costs a small answer.
MAX_PROBLEMS = 100
REALM = "storyfeed"


def configured_tokens() -> list[bytes]:
    return [token.encode() for token in app_state().settings["INGEST_TOKENS"]]


def token_is_known(given: str, tokens: list[bytes]) -> bool:
    # Every token is compared, each in constant time, so timing tells nothing about
    # which one (or how much of one) matched.
    found = False
    for token in tokens:
        found |= hmac.compare_digest(given.encode(), token)
    return found


def unauthorized(message: str, error: str | None = None) -> Response:
    response, code = render_error(Unauthorized(message))
    response.status_code = code
    challenge = f'Bearer realm="{REALM}"'
    if error:
        challenge += f', error="{error}"'
    response.headers["WWW-Authenticate"] = challenge
    return response


@bp.before_request
def require_token() -> Response | None:
    tokens = configured_tokens()
    if not tokens:
        abort(403, description="The write API is off: set INGEST_TOKENS to enable it.")
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return unauthorized("Send Authorization: Bearer <token>.")
    if not token_is_known(token.strip(), tokens):
        return unauthorized("The bearer token is not known.", error="invalid_token")
    return None


def read_json_body() -> Any:
    limit: int = app_state().settings["INGEST_MAX_BYTES"]
    if request.content_length is not None and request.content_length > limit:
        abort(
            413,
            description=f"The body is {request.content_length} bytes; at most {limit} are accepted.",
        )
    if request.mimetype != "application/json":
        abort(415, description="Send the records as application/json.")
    # A body sent without Content-Length (chunked) is read up to one byte past the limit:
    # werkzeug stops quietly at its limit, so the extra byte is what shows a longer body.
    request.max_content_length = limit + 1
    data = request.get_data(cache=False)
    if len(data) > limit:
        abort(413, description=f"The body is over {limit} bytes; at most {limit} are accepted.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        abort(400, description="The body is not UTF-8.")
    max_records: int = app_state().settings["INGEST_MAX_RECORDS"]
    try:
        return load_json(text, max_items=max_records)
    except TooManyItems:
        abort(413, description=f"The body holds more than {max_records} records; "
                               f"at most {max_records} are accepted per request.")
    except JSONRefused as exc:
        abort(400, description=f"The body is {exc}")


def partial_allowed() -> bool:
    value = request.args.get("partial", "0")
    if value not in ("0", "1", "true", "false"):
        abort(400, description="partial must be 1 or 0")
    return value in ("1", "true")


def problem_json(problem: Problem) -> dict:
    return {
        "location": problem.location,
        "field": problem.field,
        "reason": problem.reason,
        "message": str(problem),
    }


def listed(name: str, problems: list[Problem] | tuple[Problem, ...]) -> dict:
    """`{name: [the first MAX_PROBLEMS]}`, and `more_<name>: N` when N more were left out."""
    out: dict[str, Any] = {name: [problem_json(p) for p in problems[:MAX_PROBLEMS]]}
    if len(problems) > MAX_PROBLEMS:
        out[f"more_{name}"] = len(problems) - MAX_PROBLEMS
    return out


def notices(result: WriteResult) -> list[Problem]:
    """What the store says a write did that its writer may not expect (a move onto a show
    with stories of its own, a story put in a moved topic), as warnings."""
    return [Problem("", "write", notice) for notice in result.notices]


def unprocessable(problems: list[Problem] | tuple[Problem, ...], what: str) -> Response:
    response = jsonify(
        error="Unprocessable Content",
        message=f"{len(problems)} problem(s) found; {what}.",
        status=422,
        **listed("problems", problems),
    )
    response.status_code = 422
    return response


def refused(kind: str, problems: list[Problem] | tuple[Problem, ...]) -> Response:
    """The one record of a PUT, refused: nothing was written."""
    metrics.ingested(kind, accepted=0, refused=1)
    return unprocessable(problems, "nothing was written")


@bp.post("/stories")
def post_stories():
    """One record or a list; an upsert by id."""
    body = read_json_body()
    partial = partial_allowed()
    items = body if isinstance(body, list) else [body]
    if not items:
        return unprocessable([Problem("", "body", "is an empty list")], "nothing was written")
    batch = Batch()
    for index, raw in enumerate(items, 1):
        ident = raw.get("id") if isinstance(raw, dict) else None
        batch.add_story(raw, record_location("", "record", index, ident))
    if batch.problems and (not partial or not batch.stories):
        metrics.ingested("story", accepted=0, refused=len(items))
        return unprocessable(batch.problems, "nothing was written")
    result = current_store().write(stories=batch.stories)
    metrics.ingested("story", accepted=len(batch.stories), refused=len(items) - len(batch.stories))
    return jsonify(
        added=list(result.added),
        updated=list(result.updated),
        unchanged=list(result.unchanged),
        **listed("problems", batch.problems),
        **listed("warnings", [*batch.warnings, *notices(result)]),
    )


def _id_mismatch(raw: dict, key: str, expected: str) -> list[Problem]:
    given = raw.get(key)
    if given is not None and given != expected:
        return [
            Problem("", key, f"{show(given)} differs from the URL's {show(expected)}")
        ]
    return []


@bp.put("/stories/<story_id>")
def put_story(story_id: str):
    body = read_json_body()
    if not isinstance(body, dict):
        return refused("story", [Problem("", "record", "must be an object")])
    problems = _id_mismatch(body, "id", story_id)
    if problems:
        return refused("story", problems)
    try:
        story, warnings = parse_story({**body, "id": story_id}, f"story {story_id}")
    except RecordInvalid as exc:
        return refused("story", exc.problems)
    result = current_store().write(stories=[story])
    metrics.ingested("story", accepted=1, refused=0)
    outcome = "added" if result.added else "updated" if result.updated else "unchanged"
    response = jsonify(
        result=outcome,
        story=story_to_record(story),
        **listed("warnings", [*warnings, *notices(result)]),
    )
    if result.added:
        response.status_code = 201
        response.headers["Location"] = url_for("api.story", story_id=story.id)
    return response


@bp.delete("/stories/<story_id>")
def delete_story(story_id: str):
    result = current_store().delete_story(story_id)
    if not result.deleted:
        abort(404, description=f"There is no story {story_id!r}.")
    return "", 204


@bp.put("/topics/<slug>")
def put_topic(slug: str):
    body = read_json_body()
    if not isinstance(body, dict):
        return refused("topic", [Problem("", "record", "must be an object")])
    problems = _id_mismatch(body, "slug", slug)
    if problems:
        return refused("topic", problems)
    try:
        topic, warnings = parse_topic({**body, "slug": slug}, f"topic {slug}")
    except RecordInvalid as exc:
        return refused("topic", exc.problems)
    result = current_store().write(topics=[topic])
    metrics.ingested("topic", accepted=1, refused=0)
    outcome = (
        "added" if result.added_topics
        else "updated" if slug in result.topics
        else "unchanged"
    )
    response = jsonify(
        result=outcome,
        topic=topic_to_record(topic),
        **listed("warnings", [*warnings, *notices(result)]),
    )
    if outcome == "added":
        response.status_code = 201
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
