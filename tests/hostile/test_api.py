"""The read API under attack: hostile ids, cursors and limits, on SQLite and PostgreSQL,
and what a public answer may say (never an editor's `note`)."""

from __future__ import annotations

import pytest

from ..conftest import story_record
from .payloads import (
    AUTH,
    HOSTILE_CURSORS,
    HOSTILE_SEGMENTS,
    SAMPLE_STORY,
    SLUG,
    cursor,
    refused_status,
)


@pytest.mark.parametrize("name, segment", HOSTILE_SEGMENTS, ids=[s[0] for s in HOSTILE_SEGMENTS])
def test_a_hostile_story_id_is_404(backend_client, name, segment):
    response = backend_client.get(f"/api/stories/{segment}")
    assert response.status_code == refused_status(segment)


@pytest.mark.parametrize("name, segment", HOSTILE_SEGMENTS, ids=[s[0] for s in HOSTILE_SEGMENTS])
def test_a_hostile_topic_slug_is_404(backend_client, name, segment):
    response = backend_client.get(f"/api/topics/{segment}/stories")
    assert response.status_code == refused_status(segment)


@pytest.mark.parametrize("name, value", HOSTILE_CURSORS, ids=[c[0] for c in HOSTILE_CURSORS])
def test_a_cursor_no_page_handed_out_is_400(backend_client, name, value):
    response = backend_client.get(f"/api/topics/{SLUG}/stories", query_string={"cursor": value})
    assert response.status_code == 400
    assert "cursor" in response.get_json()["message"]


# Cursors of the right shape that no page handed out: a page (200) or a 400, never a 5xx.
FORGED_CURSORS = [
    ("with-offset", cursor('["older", "2020-01-01T00:00:00+05:00", "1"]')),
    ("date-only", cursor('["newer", "2020-01-01", "1"]')),
    ("year-1", cursor('["older", "0001-01-01T00:00:00", "1"]')),
    ("year-9999", cursor('["newer", "9999-12-31T23:59:59.999999", "1"]')),
    ("unknown-id", cursor('["older", "2020-01-01T00:00:00", "no-such-story"]')),
]


@pytest.mark.parametrize("name, value", FORGED_CURSORS, ids=[c[0] for c in FORGED_CURSORS])
def test_a_forged_cursor_is_a_page_or_a_400(backend_client, name, value):
    response = backend_client.get(f"/api/topics/{SLUG}/stories", query_string={"cursor": value})
    assert response.status_code in (200, 400)


LIMITS = ["0", "-1", "501", "1e3", "1.5", "abc", "\uff15", "\u0665", " 5", "5 ",
          "9" * 100, "0x10", "+5", ""]


@pytest.mark.parametrize("value", LIMITS[:-1], ids=repr)
def test_a_bad_limit_is_400(client, value):
    response = client.get(f"/api/topics/{SLUG}/stories", query_string={"limit": value})
    assert response.status_code == 400
    assert "limit" in response.get_json()["message"]


def test_repeated_parameters_take_the_first(client):
    response = client.get(f"/api/topics/{SLUG}/stories?limit=2&limit=abc")
    assert response.status_code == 200 and len(response.get_json()["stories"]) == 2


@pytest.mark.parametrize("path", [
    f"/api/stories/{SAMPLE_STORY}",
    f"/api/topics/{SLUG}/stories",
    f"/api/topics/{SLUG}/stories?limit=1",
])
def test_the_editors_note_is_never_published(client, path):
    """The README: `note` is for editors, never published. Every sample story has one."""
    body = client.get(path).get_json()
    stories = [body["story"]] if "story" in body else body["stories"]
    assert stories
    for story in stories:
        assert "note" not in story, f"{path} publishes the note of {story['id']}"


def test_a_note_written_through_the_api_is_not_read_back(sqlite_app, client):
    response = client.put("/api/stories/note-check", json=story_record(id=None, note="secret"),
                          headers=AUTH)
    assert response.status_code == 201
    assert b"secret" not in client.get("/api/stories/note-check").get_data()
    assert b"secret" not in client.get("/api/topics/world/stories").get_data()


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.parametrize("path", [f"/api/topics/{SLUG}/stories"])
def test_other_methods_on_read_routes_are_405(client, method, path):
    assert getattr(client, method)(path, headers=AUTH).status_code == 405
