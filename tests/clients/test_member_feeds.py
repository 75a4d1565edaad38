"""Real podcast apps and feed readers on member feeds (docs/members.md): gPodder,
podget and newsboat subscribe to a member's feed and download its member episodes;
once the member is revoked they get nothing new and no media. And the whole run's
access log, written as gunicorn writes it, holds no secret."""

from __future__ import annotations

import dataclasses

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
