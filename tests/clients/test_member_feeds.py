"""Real podcast apps and feed readers on member feeds (docs/members.md): gPodder,
podget and newsboat subscribe to a member's feed and download its member episodes;
once the member is revoked they get nothing new and no media. And the whole run's
access log, written as gunicorn writes it, holds no secret."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import requests

from stories.members import MemberStore
from stories.validate import parse_story, parse_topic

from ..members_support import BONUS_AUDIO, MEMBER_STORY, MEMBERS_TOPIC, member_media
from .podcast_support import SAMPLE_SLUG, GPodder, Newsboat, Site, client_env, run

pytestmark = [pytest.mark.slow, pytest.mark.clients]


def need(program: str) -> None:
    import shutil

    if shutil.which(program) is None:
        pytest.skip(f"{program} is not installed (.ci/run installs it)")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("members-site")
    served = Site(folder)
    # Members' files, and every revocation made here seen by the server at once.
    served.server.env.update(MEDIA_DIR=str(member_media(folder)), MEMBER_MEMO_SECONDS="0")
    served.store.write(stories=[parse_story(MEMBER_STORY)[0]], topics=[parse_topic(MEMBERS_TOPIC)[0]])
    served.members = MemberStore(served.store.engine)
    served.secrets = []
    served.start()
    yield served
    served.stop()
    log = served.server.log.read_text()
    assert "/m/[redacted]/" in log
    for secret in served.secrets:
        assert secret not in log, "a secret in gunicorn's log"


def member(site: Site) -> tuple[int, str, str]:
    """A new member: id, secret, and the base of their feeds."""
    found, secret = site.members.add("listener")
    site.secrets.append(secret)
    return found.id, secret, f"{site.base}/m/{secret}/topics/{SAMPLE_SLUG}/"


def later_member_story(site: Site, number: int) -> None:
    story = parse_story(dict(MEMBER_STORY, id=f"after-{number}", title=f"After revocation {number}",
                             published=f"2026-11-2{number}T10:00:00Z"))[0]
    site.store.write(stories=[dataclasses.replace(story, audio=story.audio)])


def test_gpodder_downloads_member_episodes_and_nothing_after_revocation(site, tmp_path):
    need("gpo")
    member_id, secret, feeds = member(site)
    gpo = GPodder(tmp_path)
    gpo("subscribe", feeds + "podcast.xml")
    gpo("download")
    files = gpo.files()
    assert files.get("bonus-1.mp3") == len(BONUS_AUDIO), files
    assert len(files) == 8  # the sample's 7 and the member episode
    site.members.revoke(member_id)
    later_member_story(site, 1)
    gpo("update")
    gpo("download")
    assert gpo.files() == files, "nothing new after revocation"
    assert "After revocation 1" not in {e["title"] for e in gpo.episodes()}
    assert requests.get(f"{site.base}/m/{secret}/media/members/bonus-1.mp3", timeout=10).status_code == 410


def test_podget_downloads_member_episodes_and_nothing_after_revocation(site, tmp_path):
    need("podget")
    member_id, _secret, feeds = member(site)
    config, library = tmp_path / "config", tmp_path / "library"
    env = client_env(tmp_path / "home")
    run(["podget", "-d", str(config), "--create-config", "podgetrc"], env)
    (config / "serverlist").write_text(f"{feeds}podcast.xml storyfeed members\n")

    def download() -> dict[str, int]:
        run(["podget", "-d", str(config), "-l", str(library), "-n", "--dir_session",
             str(tmp_path / "session")], env)
        return {f.name: f.stat().st_size for f in (library / "storyfeed").rglob("*") if f.is_file()}

    files = download()
    assert files.get("bonus-1.mp3") == len(BONUS_AUDIO), files
    site.members.revoke(member_id)
    later_member_story(site, 2)
    assert download() == files


def test_newsboat_reads_member_items_and_nothing_after_revocation(site, tmp_path):
    need("newsboat")
    member_id, secret, feeds = member(site)
    newsboat = Newsboat(tmp_path, [feeds + "rss.xml"])
    newsboat("-x", "reload")
    items = newsboat.items()
    member_items = [item for item in items if item["title"] == MEMBER_STORY["title"]]
    assert len(member_items) == 1 and len(items) >= 8
    assert member_items[0]["enclosure_url"].startswith(f"{site.base}/m/{secret}/media/members/")
    site.members.revoke(member_id)
    later_member_story(site, 3)
    newsboat("-x", "reload")
    assert "After revocation 3" not in {item["title"] for item in newsboat.items()}
    assert len(newsboat.items()) == len(items)


def test_feedparser_follows_a_member_items_chapters_and_transcript_and_reads_the_lapsed_podcast_feed(site):
    """feedparser (what many apps and aggregators are built on) reads a member's podcast
    feed: a member item's podcast:chapters and podcast:transcript lead to files the member
    gets; once lapsed, podcast.xml is still a podcast feed naming itself, with the notice."""
    import feedparser

    vtt = b"WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nHello, members.\n"
    members = Path(site.server.env["MEDIA_DIR"]) / "members"
    (members / "chaptered.vtt").write_bytes(vtt)
    # Its own file: a podcast feed gives an enclosure URL to one item only.
    (members / "chaptered.mp3").write_bytes(BONUS_AUDIO)
    story = parse_story(dict(MEMBER_STORY, id="chaptered", title="Chaptered bonus",
                             published="2026-11-05T10:00:00Z", audio=[dict(
                                 MEMBER_STORY["audio"][0], id="chaptered-audio", url="/media/members/chaptered.mp3",
                                 transcripts=[{"url": "/media/members/chaptered.vtt", "type": "text/vtt"}],
                                 chapters={"version": "1.2.0",
                                           "chapters": [{"startTime": 0, "title": "Intro"}]})]))[0]
    site.store.write(stories=[story])
    member_id, secret, feeds = member(site)
    parsed = feedparser.parse(requests.get(feeds + "podcast.xml", timeout=10).content)
    [entry] = [e for e in parsed.entries if e.title == "Chaptered bonus"]
    chapters, transcript = entry["podcast_chapters"]["url"], entry["podcast_transcript"]["url"]
    assert chapters == f"{site.base}/m/{secret}/stories/chaptered/audio/chaptered-audio/chapters.json"
    answer = requests.get(chapters, timeout=10)
    assert answer.status_code == 200 and answer.json()["chapters"] == [{"startTime": 0, "title": "Intro"}]
    assert "private" in answer.headers["Cache-Control"]
    assert requests.get(transcript, timeout=10).content == vtt
    site.members.expire(member_id)
    lapsed = feedparser.parse(requests.get(feeds + "podcast.xml", timeout=10).content)
    assert not lapsed.bozo
    assert [link["href"] for link in lapsed.feed.links if link["rel"] == "self"] == [feeds + "podcast.xml"]
    assert [e.title for e in lapsed.entries] == ["Your membership has lapsed"]
    assert lapsed.feed.get("itunes_block") == 1 and lapsed.feed.get("podcast_block") == "yes"
    assert requests.get(chapters, timeout=10).status_code == 403
