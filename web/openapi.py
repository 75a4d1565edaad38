"""`/openapi.json`: the OpenAPI 3.1 document of the HTTP API.

The document is plain data in `openapi.json` beside this module, so any area can add
its paths to it; `tests/test_openapi.py` checks real responses against it.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from flask import Blueprint, Flask, jsonify

DOCUMENT_PATH = Path(__file__).resolve().with_name("openapi.json")

bp = Blueprint("openapi", __name__)


@functools.cache
def load_document() -> dict:
    return json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))


@bp.get("/openapi.json")
def openapi_document():
    response = jsonify(load_document())
    response.headers["Access-Control-Allow-Origin"] = "*"  # API explorers run in browsers
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
