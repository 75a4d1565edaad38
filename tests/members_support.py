"""A site with member content for the members tests: the sample topic, a member story in
it, a members' topic with a story, member media files, and helpers to add members."""

from __future__ import annotations

import shutil
from pathlib import Path

from flask import Flask

from serving.members import Members
from serving.state import app_state
from stories.sample import SAMPLE_MEDIA

from .conftest import make_app, story_record

TOKEN = "members-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SAMPLE = "north-korean-defectors"
BONUS_AUDIO = b"ID3" + bytes(range(256)) * 40  # 10,243 bytes

# A member story in the public sample topic, and a members' topic with a story whose own
# access is public (member only by its topic).
MEMBER_STORY = story_record(
    id="bonus-1", title="Bonus episode for members", topics=[SAMPLE], access="members",
    url="https://newsroom.example/bonus-1", published="2026-11-01T10:00:00Z",
    audio=[{"id": "bonus-1-audio", "url": "/media/members/bonus-1.mp3", "length": len(BONUS_AUDIO),
            "duration": 61, "type": "audio/mpeg"}],
)
MEMBERS_TOPIC = {"slug": "insiders", "title": "Insiders", "access": "members", "author": "Newsroom",
                 "owner_name": "Newsroom", "owner_email": "pod@newsroom.example", "category": "News",
                 "description": "What members hear first.",
                 "image": {"url": "/media/north-korean-defectors/artwork.jpg", "width": 1400, "height": 1400}}
TOPIC_STORY = story_record(
    id="insider-1", title="Insider briefing", topics=["insiders"],
    url="https://newsroom.example/insider-1", published="2026-11-02T10:00:00Z",
    audio=[{"id": "insider-1-audio", "url": "/media/members/insider-1.mp3", "length": len(BONUS_AUDIO),
            "duration": 61, "type": "audio/mpeg"}],
)
# What no public answer may hold.
MEMBER_MARKS = ("Bonus episode for members", "bonus-1", "Insider briefing", "insider-1", "insiders")


def member_media(directory: Path) -> Path:
    media = directory / "media"
    shutil.copytree(SAMPLE_MEDIA, media)
    (media / "members").mkdir()
    for name in ("bonus-1.mp3", "insider-1.mp3"):
        (media / "members" / name).write_bytes(BONUS_AUDIO)
    return media


def member_site(database_url: str, directory: Path, **settings) -> Flask:
    app = make_app(database_url, INGEST_TOKENS=TOKEN, MEDIA_DIR=str(member_media(directory)), **settings)
    fill(app)
    return app


def fill(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["stories", "sample"])
    assert result.exit_code == 0, result.output
    client = app.test_client()
    assert client.put(f"/api/topics/{MEMBERS_TOPIC['slug']}", json=MEMBERS_TOPIC,
                      headers=AUTH).status_code == 201
    for record in (MEMBER_STORY, TOPIC_STORY):
        response = client.put(f"/api/stories/{record['id']}", json=record, headers=AUTH)
        assert response.status_code == 201, response.json


def add_member(app: Flask, name: str = "A listener") -> tuple[int, str]:
    member, secret = app_state(app).area(Members).store.add(name)
    return member.id, secret


def feed_path(secret: str, slug: str = SAMPLE, filename: str = "podcast.xml") -> str:
    return f"/m/{secret}/topics/{slug}/{filename}"
