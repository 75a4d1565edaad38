"""A member item's transcript page and files (issue 23 follow-up): the links member feeds
give for them lead to the member's own URLs, `/m/<secret>/stories/<id>/...`, served to
live members only, privately, with the secret put in after the shared render; public
items keep their public links, and `/stories/<id>/...` stays a 404 for member items."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from serving.state import app_state
from stories.members import SECRET_PLACEHOLDER
from stories.sample import SAMPLE_MEDIA

from .conftest import story_record
from .members_support import AUTH, BONUS_AUDIO, SAMPLE, add_member, feed_path, member_site

VTT = (SAMPLE_MEDIA / SAMPLE / "1022642033.vtt").read_bytes()
CHAPTERED = story_record(
    id="bonus-2", title="Bonus with chapters", topics=[SAMPLE], access="members",
    url="https://newsroom.example/bonus-2", published="2026-11-03T10:00:00Z",
    audio=[{"id": "bonus-2-audio", "url": "/media/members/bonus-1.mp3", "length": len(BONUS_AUDIO),
            "duration": 61, "type": "audio/mpeg",
            "transcripts": [{"url": "/media/members/bonus-2.vtt", "type": "text/vtt", "language": "en-US"}],
            "chapters": {"version": "1.2.0", "chapters": [
                {"startTime": 0, "title": "Intro"},
                {"startTime": 4, "title": "The picture", "img": "/media/members/bonus-2.jpg"}]}}],
)
FILES = ("transcript", "audio/bonus-2-audio/transcript.vtt", "audio/bonus-2-audio/chapters.json")


@pytest.fixture
def site(database_url, tmp_path):
    app = member_site(database_url, tmp_path)
    media = tmp_path / "media" / "members"
    (media / "bonus-2.vtt").write_bytes(VTT)
    shutil.copy(SAMPLE_MEDIA / SAMPLE / "1022642030.jpg", media / "bonus-2.jpg")
    response = app.test_client().put("/api/stories/bonus-2", json=CHAPTERED, headers=AUTH)
    assert response.status_code == 201, response.json
    yield app
    app_state(app).store.engine.dispose()


@pytest.mark.parametrize("filename", ["podcast.xml", "feed.json"])
def test_member_feeds_link_a_member_items_files_under_the_members_prefix(site, filename):
    client = site.test_client()
    _, secret = add_member(site)
    body = client.get(feed_path(secret, filename=filename)).data.decode()
    chapters = f"http://storyfeed.test/m/{secret}/stories/bonus-2/audio/bonus-2-audio/chapters.json"
    assert chapters in body
    assert "http://storyfeed.test/stories/bonus-2/" not in body
    # Public items' chapters and transcripts stay public.
    public = client.get(f"/topics/{SAMPLE}/{filename}").data.decode()
    public_links = set(re.findall(r"http://storyfeed\.test/stories/[^\"<]+", public))
    assert public_links and public_links <= set(re.findall(r"http://storyfeed\.test/stories/[^\"<]+", body))
    # Every link of a member item's that is ours answers the member.
    ours = {url for url in re.findall(rf"http://storyfeed\.test(/m/{secret}/[^\"<]+)", body)
            if "bonus-2" in url}
    assert any(url.endswith("chapters.json") for url in ours)
    for url in ours:
        assert client.get(url).status_code == 200, url


def test_a_member_items_transcript_page_and_files_are_the_members(site):
    client = site.test_client()
    _, secret = add_member(site)
    _, other = add_member(site, "another")
    for path in FILES:
        assert client.get(f"/stories/bonus-2/{path}").status_code == 404, path
        response = client.get(f"/m/{secret}/stories/bonus-2/{path}")
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "private, no-cache", path
        assert "noindex" in response.headers["X-Robots-Tag"]
        assert SECRET_PLACEHOLDER.encode() not in response.data
        assert other.encode() not in response.data
    assert client.get(f"/m/{secret}/stories/bonus-2/audio/bonus-2-audio/transcript.vtt").data == VTT
    chapters = json.loads(client.get(f"/m/{secret}/stories/bonus-2/audio/bonus-2-audio/chapters.json").data)
    assert chapters["chapters"][1]["img"] == f"http://storyfeed.test/m/{secret}/media/members/bonus-2.jpg"
    page = client.get(f"/m/{secret}/stories/bonus-2/transcript").data.decode()
    assert "South Korean dramas" in page
    # Its links lead to the member's files and audio, never to the public player.
    assert f"/m/{secret}/stories/bonus-2/audio/bonus-2-audio/transcript.vtt" in page
    assert f"/m/{secret}/media/members/bonus-1.mp3#t=" in page
    assert "/player/bonus-2" not in page
    # Each member's copy of the one render; no render kept holds a secret.
    assert client.get(f"/m/{other}/stories/bonus-2/transcript").data.decode() == page.replace(secret, other)
    bodies = [r.body for r in app_state(site).render_cache._entries.values()]  # noqa: SLF001
    assert not any(s.encode() in body for body in bodies for s in (secret, other))


def test_only_live_secrets_get_a_member_items_files(site):
    client = site.test_client()
    member_id, secret = add_member(site)
    post = lambda action: client.post(f"/api/members/{member_id}/{action}", headers=AUTH)  # noqa: E731
    for path in FILES:
        assert client.get(f"/m/{'A' * 32}/stories/bonus-2/{path}").status_code == 404
        assert client.get(f"/m/{secret}/stories/no-such-story/{path}").status_code == 404
    post("expire")
    for path in FILES:
        assert client.get(f"/m/{secret}/stories/bonus-2/{path}").status_code == 403, path
    post("renew")
    post("revoke")
    for path in FILES:
        assert client.get(f"/m/{secret}/stories/bonus-2/{path}").status_code == 410, path
