"""The health routes, and pages refused with 503 while the store's schema is behind.

- `/livez`: the process answers; no I/O at all, so a slow store never gets a healthy
  process restarted.
- `/readyz` (and `/healthz`, the older name): the store, its schema and Redis answer
  (`serving.health.Health`); 503 with `Retry-After` when one does not.

None of them is cached anywhere: each answer is of the moment it is asked.
"""

from __future__ import annotations

from flask import Blueprint, Flask, jsonify, request

from serving.health import SchemaBehind
from serving.state import app_state

from .errors import RETRY_AFTER

bp = Blueprint("health", __name__)

NO_STORE = {"Cache-Control": "no-store"}

# Endpoints that answer without the store: served while its schema is behind.
WITHOUT_STORE = frozenset({"health.livez", "health.readyz", "static", "media.media",
                           "openapi.openapi_document", "embeds.providers"})


@bp.get("/livez")
def livez():
    return jsonify(status="ok"), 200, NO_STORE


@bp.get("/readyz", endpoint="readyz")
@bp.get("/healthz", endpoint="readyz")
def readyz():
    report = app_state().health.readiness()
    if report["status"] == "ok":
        return jsonify(report), 200, NO_STORE
    return jsonify(report), 503, {**NO_STORE, "Retry-After": str(RETRY_AFTER)}


def refuse_while_schema_behind() -> None:
    """Before any view (and the topic-move redirects) that reads the store."""
    if request.endpoint is None or request.endpoint in WITHOUT_STORE:
        return
    state = app_state().health.schema.behind()
    if state is not None:
        raise SchemaBehind(state)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.before_request(refuse_while_schema_behind)
