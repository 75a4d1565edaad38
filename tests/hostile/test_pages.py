"""The human pages under attack: hostile ids, slugs, cursors and paths, on SQLite and
PostgreSQL. Error pages are pages too: no traceback, and nothing reflected unescaped."""

from __future__ import annotations

import pytest

from .payloads import HOSTILE_CURSORS, HOSTILE_SEGMENTS, SLUG, html_problems, refused_status


@pytest.mark.parametrize("name, segment", HOSTILE_SEGMENTS, ids=[s[0] for s in HOSTILE_SEGMENTS])
@pytest.mark.parametrize("page", ["/stories/{}", "/topics/{}"])
def test_a_hostile_id_or_slug_is_a_404_page(backend_client, page, name, segment):
    response = backend_client.get(page.format(segment))
    assert response.status_code == refused_status(segment)
    assert response.mimetype == "text/html"
    assert html_problems(response.get_data(as_text=True)) == []


@pytest.mark.parametrize("name, value", HOSTILE_CURSORS, ids=[c[0] for c in HOSTILE_CURSORS])
def test_a_hostile_cursor_on_a_topic_page_is_400(backend_client, name, value):
    response = backend_client.get(f"/topics/{SLUG}", query_string={"cursor": value})
    assert response.status_code == 400
    assert html_problems(response.get_data(as_text=True)) == []


@pytest.mark.parametrize("path", [
    "/%2e%2e/app.py", "/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py",
    "/static/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/static/%00", "/static/player.js%00",
    "/stories/", "/topics/", "/topics/" + SLUG + "/", "/stories/1/2", "/.env", "/.git/config",
    "/instance/storyfeed.sqlite3", "/app.py", "/%00",
])
def test_paths_outside_the_site_are_404(client, path):
    assert client.get(path).status_code == refused_status(path)


@pytest.mark.parametrize("path", ["/", f"/topics/{SLUG}", "/stories/1169464713", "/healthz"])
@pytest.mark.parametrize("query", [
    "cursor=", "x=%00", "%00=1", "a=" + "b" * 10_000, "&&&==&", "theme=%3Cscript%3E",
    "limit=abc",
])
def test_unknown_or_empty_query_parameters_are_ignored(client, path, query):
    assert client.get(f"{path}?{query}").status_code == refused_status(query, otherwise=200)


@pytest.mark.parametrize("method", ["post", "put", "delete", "patch"])
@pytest.mark.parametrize("path", ["/", f"/topics/{SLUG}", "/stories/1169464713"])
def test_pages_only_answer_get(client, method, path):
    assert getattr(client, method)(path).status_code == 405


def test_errors_asked_for_as_json_are_json(client):
    response = client.get("/stories/%00", headers={"Accept": "application/json"})
    assert response.status_code == refused_status("/stories/%00") and response.is_json
