"""/openapi.json: a valid OpenAPI 3.1 document that names every route of the JSON API,
and that real responses match (tests/openapi_client.py checks each one)."""

from __future__ import annotations

import copy
import re

import pytest
from openapi_core import OpenAPI
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from serving.state import app_state
from web.openapi import load_document

from .conftest import make_app, story_record
from .openapi_client import DOCUMENTED_PREFIXES, OpenAPIClient

AUTH = {"Authorization": "Bearer tour-token"}
METHODS = {"get", "put", "post", "delete", "patch"}


@pytest.fixture
def api_app(sqlite_url):
    app = make_app(sqlite_url, INGEST_TOKENS="tour-token")
    app.test_client_class = OpenAPIClient
    result = app.test_cli_runner().invoke(args=["stories", "sample"])
    assert result.exit_code == 0, result.output
    yield app
    app_state(app).store.engine.dispose()


def documented_operations() -> set[tuple[str, str]]:
    doc = load_document()
    return {
        (method.upper(), path)
        for path, item in doc["paths"].items()
        for method in item
        if method in METHODS
    }


def flask_to_openapi(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def test_the_document_is_valid_openapi_3_1():
    doc = load_document()
    assert doc["openapi"].startswith("3.1")
    OpenAPI.from_dict(doc)  # validates the document itself
    broken = copy.deepcopy(doc)
    broken["paths"]["/healthz"]["get"]["responses"]["200"] = {"content": {}}  # no description
    with pytest.raises(OpenAPIValidationError):
        OpenAPI.from_dict(broken)


def test_every_api_route_is_documented_and_every_documented_route_exists(api_app):
    routes = set()
    for rule in api_app.url_map.iter_rules():
        if rule.rule.startswith(DOCUMENTED_PREFIXES):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                routes.add((method, flask_to_openapi(rule.rule)))
    assert routes == documented_operations()


def test_the_document_is_served(api_app):
    response = api_app.test_client().get("/openapi.json")
    assert response.status_code == 200
    assert response.json == load_document()


def test_a_tour_of_every_operation_matches_the_document(api_app):
    """Each documented operation, with its success and its error answers; the client
    raises on the first response that differs from the document."""
    client = api_app.test_client()
    OpenAPIClient.checked.clear()
    assert client.get("/livez").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert client.get("/openapi.json").status_code == 200

    page = client.get("/api/topics/north-korean-defectors/stories?limit=2")
    assert page.status_code == 200 and page.json["next_cursor"]
    older = client.get(
        f"/api/topics/north-korean-defectors/stories?limit=2&cursor={page.json['next_cursor']}"
    )
    assert older.status_code == 200 and older.json["previous_cursor"]
    assert client.get("/api/topics/north-korean-defectors/stories?limit=0").status_code == 400
    assert (
        client.get("/api/topics/north-korean-defectors/stories?cursor=nonsense").status_code == 400
    )
    assert client.get("/api/topics/no-such-topic/stories").status_code == 404
    assert client.get("/api/stories/1169464713").status_code == 200
    assert client.get("/api/stories/0").status_code == 404

    assert client.post("/api/stories", json=[story_record()], headers=AUTH).status_code == 200
    assert (
        client.post(
            "/api/stories?partial=1",
            json=[story_record(id="1002"), story_record(id="x y")],
            headers=AUTH,
        ).status_code
        == 200
    )
    assert (
        client.post("/api/stories", json=[story_record(id="x y")], headers=AUTH).status_code == 422
    )
    assert (
        client.post(
            "/api/stories", data="{", content_type="application/json", headers=AUTH
        ).status_code
        == 400
    )
    assert (
        client.post("/api/stories", data="{}", content_type="text/csv", headers=AUTH).status_code
        == 415
    )
    assert client.post("/api/stories", json=story_record()).status_code == 401
    record = story_record(id="2001")
    assert client.put("/api/stories/2001", json=record, headers=AUTH).status_code == 201
    assert client.put("/api/stories/2001", json=record, headers=AUTH).status_code == 200
    assert client.put("/api/stories/2001", json={"title": ""}, headers=AUTH).status_code == 422
    assert client.delete("/api/stories/2001", headers=AUTH).status_code == 204
    assert client.delete("/api/stories/2001", headers=AUTH).status_code == 404
    assert client.put("/api/topics/asia", json={"title": "Asia"}, headers=AUTH).status_code == 201
    assert (
        client.put("/api/topics/world", json={"title": "The World"}, headers=AUTH).status_code
        == 200
    )
    assert client.put("/api/topics/world", json={"explicit": "no"}, headers=AUTH).status_code == 422
    assert client.put("/api/topics/bonus", json={"title": "Bonus", "access": "members"},
                      headers=AUTH).status_code == 201
    added = client.post("/api/members", json={"name": "A listener"}, headers=AUTH)
    assert added.status_code == 201
    member = added.json["member"]["id"]
    assert client.post("/api/members", json={"name": ""}, headers=AUTH).status_code == 400
    assert client.get("/api/members", headers=AUTH).status_code == 200
    assert client.get("/api/members/sharing", headers=AUTH).status_code == 200
    assert client.post(f"/api/members/{member}/rotate", headers=AUTH).status_code == 200
    assert client.post(f"/api/members/{member}/expire", json={"at": "2026-01-01T00:00:00Z"},
                       headers=AUTH).status_code == 200
    assert client.post(f"/api/members/{member}/renew", headers=AUTH).status_code == 200
    assert client.post(f"/api/members/{member}/revoke", headers=AUTH).status_code == 200
    assert client.post("/api/members/999/revoke", headers=AUTH).status_code == 404

    story_page = "http://storyfeed.test/stories/1169464713"
    assert client.get("/oembed", query_string={"url": story_page, "maxwidth": 400}).status_code == 200
    assert client.get("/oembed.json", query_string={"url": story_page}).status_code == 200
    assert client.get("/oembed", query_string={"url": story_page, "format": "xml"}).status_code == 200
    assert client.get("/oembed").status_code == 400
    assert client.get("/oembed", query_string={"url": "https://elsewhere.example/x"}).status_code == 404
    assert client.get("/oembed.yaml", query_string={"url": story_page}).status_code == 501
    snippet = '<iframe src="https://www.npr.org/player/embed/1169464713/1169825816" height="290">'
    assert client.post("/oembed/convert", data=snippet, content_type="text/plain").status_code == 200
    assert client.post("/oembed/convert", data="<p>no player</p>", content_type="text/plain").status_code == 400
    assert client.get("/oembed/providers.json").status_code == 200

    assert client.get("/api/audience", headers=AUTH).status_code == 200
    assert client.get("/api/audience?topic=north-korean-defectors&from=2026-03-01&to=2026-03-02",
                      headers=AUTH).status_code == 200
    assert client.get("/api/audience?from=someday", headers=AUTH).status_code == 400
    assert client.get("/api/audience?topic=no-such-topic", headers=AUTH).status_code == 404
    assert client.get("/api/audience").status_code == 401

    checked_operations = set()
    for method, path, _status in OpenAPIClient.checked:
        for op_method, op_path in documented_operations():
            pattern = "^" + re.sub(r"\{[a-z_]+\}", "[^/]+", op_path) + "$"
            if op_method == method and re.match(pattern, path):
                checked_operations.add((op_method, op_path))
    assert checked_operations == documented_operations()


def test_the_ingest_api_off_matches_the_document(sqlite_url):
    app = make_app(sqlite_url)
    app.test_client_class = OpenAPIClient
    client = app.test_client()
    assert client.post("/api/stories", json=story_record()).status_code == 403
    assert client.delete("/api/stories/1001").status_code == 403
    assert client.get("/api/audience").status_code == 403
    app_state(app).store.engine.dispose()
