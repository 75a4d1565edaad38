"""Member-only records and member feeds (docs/members.md): member items on no public
surface, each member's feeds and media through their own secret, lapsed, revoked and
rotated secrets answered as documented, no secret in any cache, log or other answer."""

from __future__ import annotations

import json
import re
import time
from xml.etree import ElementTree

import pytest
import sqlalchemy as sa

from serving.logs import redact
from serving.members import Members
from serving.state import app_state
from stories import schema
from stories.members import SECRET_PLACEHOLDER
from stories.validate import RecordInvalid, parse_story, parse_topic
from web.export import export_site

from .conftest import make_app, story_record
from .members_support import (
    AUTH,
    BONUS_AUDIO,
    MEMBER_MARKS,
    MEMBER_STORY,
    SAMPLE,
    add_member,
    feed_path,
    member_site,
)
from .test_fastpath import flask_runs

TOPIC_FEEDS = ("rss.xml", "atom.xml", "feed.json", "podcast.xml")


@pytest.fixture
def site(database_url, tmp_path):
    app = member_site(database_url, tmp_path)
    yield app
    app_state(app).store.engine.dispose()


@pytest.fixture
def client(site):
    return site.test_client()


def holds_member_item(body: bytes) -> list[str]:
    text = body.decode("utf-8", "replace")
    return [mark for mark in MEMBER_MARKS if mark in text]


# -- records ------------------------------------------------------------------------------

def test_access_is_validated_and_round_trips():
    story, _ = parse_story(MEMBER_STORY)
    assert story.access == "members"
    assert parse_topic({"slug": "x", "access": "members"})[0].access == "members"
    assert parse_story(story_record())[0].access == "public"
    with pytest.raises(RecordInvalid, match="access"):
        parse_story(story_record(access="friends"))
    with pytest.raises(RecordInvalid, match="access"):
        parse_topic({"slug": "x", "access": "Members"})


def test_a_member_storys_own_files_must_be_members_files():
    record = dict(MEMBER_STORY, audio=[{"id": "a", "url": "/media/north-korean-defectors/x.mp3"}])
    with pytest.raises(RecordInvalid, match="/media/members/"):
        parse_story(record)
    # Elsewhere (a host of the newsroom's own) is the newsroom's to guard.
    parse_story(dict(MEMBER_STORY, audio=[{"id": "a", "url": "https://cdn.example/x.mp3"}]))


@pytest.mark.parametrize("where", ["title", "url", "teaser"])
def test_records_holding_the_placeholder_are_refused(where):
    value = f"https://x.example/{SECRET_PLACEHOLDER}" if where == "url" else f"a {SECRET_PLACEHOLDER.upper()}"
    with pytest.raises(RecordInvalid, match="keeps for itself"):
        parse_story(story_record(**{where: value}))
    with pytest.raises(RecordInvalid, match="keeps for itself"):
        parse_topic({"slug": "x", "description": SECRET_PLACEHOLDER})


def test_stories_export_keeps_member_records_for_editors(site):
    result = site.test_cli_runner().invoke(args=["stories", "export"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    records = [line.get("topic", line) for line in lines]
    access = {r.get("id") or r.get("slug"): r.get("access", "public") for r in records}
    assert access["bonus-1"] == "members" and access["insiders"] == "members"
    assert access["insider-1"] == "public"  # its own; members' by its topic


# -- public surfaces ---------------------------------------------------------------------

PUBLIC_URLS = (
    "/", "/rss.xml", "/atom.xml", "/feed.json", "/feeds.opml",
    *(f"/topics/{SAMPLE}/{name}" for name in TOPIC_FEEDS), f"/topics/{SAMPLE}",
    f"/api/topics/{SAMPLE}/stories",
)


def test_no_public_surface_holds_a_member_item(client):
    for url in PUBLIC_URLS:
        response = client.get(url, headers={"Accept-Encoding": "identity"})
        assert response.status_code == 200, url
        assert holds_member_item(response.data) == [], url
        assert b"/media/members/" not in response.data, url
    # The public items are there: the filter is not an empty page.
    assert b"North Korean" in client.get(f"/topics/{SAMPLE}/rss.xml").data


@pytest.mark.parametrize("url", [
    "/stories/bonus-1", "/stories/insider-1", "/api/stories/bonus-1", "/api/stories/insider-1",
    "/topics/insiders", *(f"/topics/insiders/{name}" for name in TOPIC_FEEDS),
    "/api/topics/insiders/stories", "/stories/bonus-1/transcript", "/player/bonus-1/bonus-1-audio",
    "/stories/bonus-1/oembed.json",
])
def test_member_records_are_not_found_publicly(client, url):
    response = client.get(url)
    assert response.status_code == 404, url
    assert holds_member_item(response.data) in ([], ["bonus-1"], ["insider-1"], ["insiders"])  # the URL's own words


@pytest.mark.parametrize("story", ["bonus-1", "insider-1"])
def test_oembed_of_a_member_story_is_not_found(client, story):
    response = client.get("/oembed", query_string={"url": f"http://storyfeed.test/stories/{story}"})
    assert response.status_code == 404


def test_members_files_are_refused_under_media(client):
    for path in ("/media/members/bonus-1.mp3", "/media/./members/bonus-1.mp3",
                 "/media/members//bonus-1.mp3", "/media/x/../members/bonus-1.mp3",
                 "/media/members/bonus-1.mp3?sig=forged"):
        assert client.get(path).status_code in (403, 404), path
    assert client.get("/media/members/bonus-1.mp3").status_code == 403
    assert client.get("/media/north-korean-defectors/artwork.jpg").status_code == 200


def test_the_static_export_holds_no_member_item(site, tmp_path):
    target = tmp_path / "export"
    export_site(site, target)
    for file in target.rglob("*"):
        if file.is_file():
            assert holds_member_item(file.read_bytes()) == [], file
            assert "members" not in file.relative_to(target).parts, file


def test_a_topic_turning_members_only_takes_its_stories_out_of_other_topics_feeds(client):
    shared = story_record(id="shared-1", title="Shared story", topics=[SAMPLE, "later-private"])
    assert client.put("/api/stories/shared-1", json=shared, headers=AUTH).status_code == 201
    assert b"Shared story" in client.get(f"/topics/{SAMPLE}/rss.xml").data
    assert client.put("/api/topics/later-private", json={"title": "Later", "access": "members"},
                      headers=AUTH).status_code in (200, 201)
    assert b"Shared story" not in client.get(f"/topics/{SAMPLE}/rss.xml").data
    assert b"Shared story" not in client.get("/rss.xml").data


# -- member feeds ------------------------------------------------------------------------

def items(body: bytes, filename: str) -> dict[str, str]:
    """guid/id -> the item's whole text, of any of the feed formats."""
    if filename == "feed.json":
        return {item["id"]: json.dumps(item) for item in json.loads(body)["items"]}
    root = ElementTree.fromstring(body)
    found = {}
    for item in root.iter("item"):
        found[item.findtext("guid")] = ElementTree.tostring(item, encoding="unicode")
    for entry in root.iter("{http://www.w3.org/2005/Atom}entry"):
        found[entry.findtext("{http://www.w3.org/2005/Atom}id")] = ElementTree.tostring(entry, encoding="unicode")
    return found


@pytest.mark.parametrize("filename", TOPIC_FEEDS)
def test_a_member_feed_is_the_public_one_plus_member_items(site, client, filename):
    _, secret = add_member(site)
    public = client.get(f"/topics/{SAMPLE}/{filename}", headers={"Accept-Encoding": "identity"})
    member = client.get(feed_path(secret, filename=filename), headers={"Accept-Encoding": "identity"})
    assert member.status_code == 200
    assert member.headers["Cache-Control"] == "private, no-cache"
    assert "public" not in member.headers["Cache-Control"]
    assert member.headers["Content-Type"] == public.headers["Content-Type"]
    public_items, member_items = items(public.data, filename), items(member.data, filename)
    # Public items keep their guids (and their public URLs), member items are added.
    assert set(public_items) < set(member_items)
    for guid in public_items:
        assert secret not in member_items[guid]
    added = [text for guid, text in member_items.items() if guid not in public_items]
    assert added and all("Bonus episode for members" in text for text in added)
    assert all(f"/m/{secret}/media/members/bonus-1.mp3" in text for text in added)
    assert SECRET_PLACEHOLDER.encode() not in member.data
    # The feed's own links lead back to the member's feed, never to the public one.
    if filename.endswith(".xml"):
        self_link = re.search(rb'<atom:link href="([^"]+)" rel="self"', member.data) or re.search(
            rb'<link href="([^"]+)" rel="self"', member.data)
        assert self_link is not None and self_link.group(1).decode().startswith(
            f"http://storyfeed.test/m/{secret}/topics/{SAMPLE}/")


@pytest.mark.parametrize("filename", ["rss.xml", "podcast.xml"])
def test_member_rss_feeds_are_blocked_from_directories(site, client, filename):
    _, secret = add_member(site)
    body = client.get(feed_path(secret, filename=filename)).data
    assert b"<itunes:block>yes</itunes:block>" in body
    assert b"<podcast:block>yes</podcast:block>" in body
    public = client.get(f"/topics/{SAMPLE}/{filename}").data
    assert b"block>" not in public


def test_a_members_topic_has_member_feeds_only(site, client):
    _, secret = add_member(site)
    response = client.get(feed_path(secret, "insiders", "podcast.xml"))
    assert response.status_code == 200
    assert b"Insider briefing" in response.data
    assert f"/m/{secret}/media/members/insider-1.mp3".encode() in response.data


def test_each_member_gets_their_own_secret_their_own_etag_and_one_shared_render(site, client):
    secrets = [add_member(site, f"listener {i}")[1] for i in range(5)]
    answers = [client.get(feed_path(secret)) for secret in secrets]
    for secret, answer in zip(secrets, answers, strict=True):
        assert secret.encode() in answer.data
        assert not any(other.encode() in answer.data for other in secrets if other != secret)
    assert len({answer.headers["ETag"] for answer in answers}) == len(secrets)
    # Each body is the one render with the member's secret in it.
    assert len({answer.data.replace(secret.encode(), b"S") for secret, answer
                in zip(secrets, answers, strict=True)}) == 1
    # 304 for a member's own ETag; another member's ETag is no match.
    etag = answers[0].headers["ETag"]
    assert client.get(feed_path(secrets[0]), headers={"If-None-Match": etag}).status_code == 304
    assert client.get(feed_path(secrets[1]), headers={"If-None-Match": etag}).status_code == 200
    # No render kept anywhere holds a secret: only the placeholder.
    cache = app_state(site).render_cache
    bodies = [rendered.body for rendered in cache._entries.values()]  # noqa: SLF001
    assert any(SECRET_PLACEHOLDER.encode() in body for body in bodies)
    assert not any(secret.encode() in body for body in bodies for secret in secrets)


def test_enclosures_are_the_same_bytes_across_rebuilds(site, client):
    _, secret = add_member(site)
    before = re.findall(rb'<enclosure url="([^"]+/media/members/[^"]+)"', client.get(feed_path(secret)).data)
    # A write moves the topic's version: the feed is rendered again.
    record = story_record(id="later", title="Later story", topics=[SAMPLE])
    assert client.put("/api/stories/later", json=record, headers=AUTH).status_code == 201
    after_body = client.get(feed_path(secret)).data
    assert b"Later story" in after_body  # rendered again
    after = re.findall(rb'<enclosure url="([^"]+/media/members/[^"]+)"', after_body)
    assert before == after and before


def test_lapsed_revoked_rotated_renewed(site, client):
    member_id, secret = add_member(site)
    post = lambda action, **body: client.post(f"/api/members/{member_id}/{action}", json=body or None,  # noqa: E731
                                              headers=AUTH)
    assert post("expire").json["member"]["status"] == "lapsed"
    for filename in TOPIC_FEEDS:
        lapsed = client.get(feed_path(secret, filename=filename))
        assert lapsed.status_code == 200, filename
        assert b"Your membership has lapsed" in lapsed.data
        assert holds_member_item(lapsed.data) == []
        assert len(items(lapsed.data, filename)) == 1
    assert client.get(f"/m/{secret}/media/members/bonus-1.mp3").status_code == 403
    assert post("renew").json["member"]["status"] == "live"
    assert b"Bonus episode" in client.get(feed_path(secret)).data
    new = post("rotate").json["secret"]
    assert new != secret
    assert client.get(feed_path(secret)).status_code == 410
    assert client.get(f"/m/{secret}/media/members/bonus-1.mp3").status_code == 410
    assert client.get(feed_path(new)).status_code == 200
    post("revoke")
    for filename in TOPIC_FEEDS:
        assert client.get(feed_path(new, filename=filename)).status_code == 410
    assert client.get(f"/m/{new}/media/members/bonus-1.mp3").status_code == 410


def test_an_unknown_secret_is_any_404(site, client):
    _, secret = add_member(site)
    guesses = ["A" * 32, secret.upper() if secret.upper() != secret else secret.lower(),
               secret[:-1], secret + "A", "x", "%2e%2e"]
    plain = client.get("/m/nothing/here")
    for guess in guesses:
        response = client.get(feed_path(guess))
        assert response.status_code == 404, guess
        assert response.data == plain.data
        assert response.headers["Content-Type"] == plain.headers["Content-Type"]


def test_member_media(site, client):
    _, secret = add_member(site)
    url = f"/m/{secret}/media/members/bonus-1.mp3"
    whole = client.get(url)
    assert whole.status_code == 200 and whole.data == BONUS_AUDIO
    assert "private" in whole.headers["Cache-Control"]
    part = client.get(url, headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.data == BONUS_AUDIO[:10]
    for tricky in (f"/m/{secret}/media/../media/members/bonus-1.mp3",
                   f"/m/{secret}/media/members/../../app.py", f"/m/{secret}/media/members/nothing.mp3",
                   f"/m/{secret}/media/north-korean-defectors/artwork.jpg"):
        assert client.get(tricky).status_code == 404, tricky


@pytest.fixture
def cdn_site(database_url, tmp_path):
    app = member_site(database_url, tmp_path, MEDIA_BASE_URL="https://cdn.example/media/",
                      MEMBER_MEDIA_KEY="a key of the newsroom's", MEMBER_MEDIA_URL_SECONDS="1")
    yield app
    app_state(app).store.engine.dispose()


def test_with_a_cdn_member_media_redirect_to_short_lived_signed_urls(cdn_site):
    client = cdn_site.test_client()
    _, secret = add_member(cdn_site)
    feed = client.get(feed_path(secret)).data
    # Enclosures stay on the member's URL of this site: the same bytes every time.
    assert f"http://storyfeed.test/m/{secret}/media/members/bonus-1.mp3".encode() in feed
    answer = client.get(f"/m/{secret}/media/members/bonus-1.mp3")
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith("https://cdn.example/media/members/bonus-1.mp3?sig=")
    assert secret not in location
    # The CDN asks the origin's /media/ for it with the signature.
    origin = location.replace("https://cdn.example", "")
    signed = client.get(origin)
    assert signed.status_code == 200 and signed.data == BONUS_AUDIO
    assert signed.cache_control.max_age == 1  # no CDN keeps it past its signature
    assert client.get(origin.replace("bonus-1", "insider-1")).status_code == 403
    assert client.get(origin[:-2] + ("AA" if not origin.endswith("AA") else "BB")).status_code == 403
    time.sleep(2.2)
    assert client.get(origin).status_code == 403  # expired


def test_sharing_is_flagged_by_networks_and_apps_and_only_hashes_are_kept(site, client):
    shared_id, shared = add_member(site, "shares")
    _, careful = add_member(site, "one listener")
    for i in range(6):  # six /24 networks
        # buffered: the answer is read to its end and closed, as a server does, which
        # is when sightings are written.
        client.get(feed_path(shared), environ_base={"REMOTE_ADDR": f"10.0.{i}.7"},
                   headers={"User-Agent": "gPodder/3.11"}, buffered=True)
    for i in range(20):  # one /24, one /64, one app
        client.get(feed_path(careful), environ_base={"REMOTE_ADDR": f"192.0.2.{i}"},
                   headers={"User-Agent": "AntennaPod/3.2"}, buffered=True)
        client.get(feed_path(careful), environ_base={"REMOTE_ADDR": f"2001:db8::{i:x}"},
                   headers={"User-Agent": "AntennaPod/3.4"}, buffered=True)
    flagged = client.get("/api/members/sharing", headers=AUTH).json["shared"]
    assert [(f["member"]["id"], f["networks"]) for f in flagged] == [(shared_id, 6)]
    listed = site.test_cli_runner().invoke(args=["members", "sharing"]).output
    assert "shares" in listed and "one listener" not in listed
    with app_state(site).store.engine.connect() as conn:
        kept = " ".join(str(v) for row in conn.execute(sa.select(schema.member_sightings)) for v in row)
    assert "10.0." not in kept and "192.0.2" not in kept and "2001:db8" not in kept and "gpodder" not in kept
    # Rotating starts over.
    client.post(f"/api/members/{shared_id}/rotate", headers=AUTH)
    assert client.get("/api/members/sharing", headers=AUTH).json["shared"] == []


def test_the_cli(site):
    runner = site.test_cli_runner()
    added = runner.invoke(args=["members", "add", "Pat", "--expires", "2030-01-01"])
    assert added.exit_code == 0, added.output
    secret = re.search(r"secret \(shown once\): (\S+)", added.output).group(1)
    client = site.test_client()
    assert client.get(feed_path(secret)).status_code == 200
    listed = runner.invoke(args=["members", "list"]).output
    assert "Pat" in listed and secret not in listed and "2030-01-01" in listed
    member_id = listed.split()[0]
    assert runner.invoke(args=["members", "expire", member_id]).exit_code == 0
    assert b"lapsed" in client.get(feed_path(secret)).data
    assert runner.invoke(args=["members", "renew", member_id]).exit_code == 0
    rotated = runner.invoke(args=["members", "rotate", member_id]).output
    new = re.search(r"secret \(shown once\): (\S+)", rotated).group(1)
    assert client.get(feed_path(secret)).status_code == 410
    assert runner.invoke(args=["members", "revoke", member_id]).exit_code == 0
    assert client.get(feed_path(new)).status_code == 410
    assert runner.invoke(args=["members", "revoke", "999"]).exit_code != 0


def test_secrets_are_kept_only_as_hashes(site):
    _, secret = add_member(site)
    with app_state(site).store.engine.connect() as conn:
        for table in (schema.members, schema.member_secrets):
            for row in conn.execute(sa.select(table)):
                assert secret not in " ".join(map(str, row))
    assert len(secret) * 6 >= 128


def test_no_secret_in_a_log_line():
    line = redact("GET /m/Ttp3NgxzVExmGbK3y7QWcwHfabt9VjpN/topics/x/podcast.xml 200")
    assert "Ttp3N" not in line and "/m/[redacted]/topics/x/podcast.xml" in line


@pytest.mark.parametrize("fast_path", ["on", "off"])
def test_a_revoked_secret_gets_410_from_every_cache(database_url, tmp_path, fast_path):
    app = member_site(database_url, tmp_path, FAST_PATH=fast_path, MEMBER_MEMO_SECONDS="3600")
    client = app.test_client()
    member_id, secret = add_member(app)
    first = client.get(feed_path(secret))
    with flask_runs(app) as dispatched:
        again = client.get(feed_path(secret))
    assert again.data == first.data and again.headers["ETag"] == first.headers["ETag"]
    # With the fast path on, a live member's warm feed is answered before Flask.
    assert (dispatched == []) == (fast_path == "on")
    assert client.get(feed_path(secret), headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    assert client.post(f"/api/members/{member_id}/revoke", headers=AUTH).status_code == 200
    assert client.get(feed_path(secret)).status_code == 410
    assert client.get(feed_path(secret), headers={"If-None-Match": first.headers["ETag"]}).status_code == 410
    app_state(app).store.engine.dispose()


def test_revocation_reaches_another_instance_at_once_through_redis(database_url, redis_url, tmp_path):
    prefix = f"members-{time.monotonic_ns()}:"
    one = member_site(database_url, tmp_path / "one", REDIS_URL=redis_url, REDIS_PREFIX=prefix,
                      MEMBER_MEMO_SECONDS="3600")
    other = make_app(database_url, REDIS_URL=redis_url, REDIS_PREFIX=prefix, MEMBER_MEMO_SECONDS="3600",
                     INGEST_TOKENS="members-token", MEDIA_DIR=app_state(one).settings["MEDIA_DIR"])
    member_id, secret = add_member(one)
    assert other.test_client().get(feed_path(secret)).status_code == 200  # remembered there
    assert one.test_client().post(f"/api/members/{member_id}/revoke", headers=AUTH).status_code == 200
    deadline = time.monotonic() + 2
    while other.test_client().get(feed_path(secret)).status_code != 410:
        assert time.monotonic() < deadline, "the other instance still serves a revoked secret"
        time.sleep(0.02)
    # Redis holds the shared renders, none with a secret.
    client = app_state(one).render_cache.client
    for key in client.scan_iter(match=f"{prefix}*"):
        if client.type(key) == b"hash":
            values = client.hvals(key)
        elif client.type(key) == b"string":
            values = [client.get(key)]
        else:
            continue
        assert not any(secret.encode() in (value or b"") for value in values)
    for app in (one, other):
        app_state(app).store.engine.dispose()
    assert Members  # the area both share


# Each format's self link, and something only that format has.
LAPSED_SHAPES = {
    "rss.xml": (rb'<atom:link href="([^"]+)" rel="self"', b"<rss"),
    "podcast.xml": (rb'<atom:link href="([^"]+)" rel="self"', b"<itunes:owner>"),
    "atom.xml": (rb'<link href="([^"]+)" rel="self"', b"<feed "),
    "feed.json": (rb'"feed_url": ?"([^"]+)"', b'"https://jsonfeed.org/version/1.1"'),
}


@pytest.mark.parametrize("filename", TOPIC_FEEDS)
def test_a_lapsed_members_feed_is_its_own_format_with_its_own_self_link(site, client, filename):
    member_id, secret = add_member(site)
    live = client.get(feed_path(secret, filename=filename))
    assert client.post(f"/api/members/{member_id}/expire", headers=AUTH).status_code == 200
    lapsed = client.get(feed_path(secret, filename=filename))
    self_link, mark = LAPSED_SHAPES[filename]
    assert lapsed.status_code == 200
    assert lapsed.headers["Content-Type"] == live.headers["Content-Type"]
    assert mark in lapsed.data
    found = re.search(self_link, lapsed.data)
    assert found is not None
    assert found.group(1).decode() == f"http://storyfeed.test{feed_path(secret, filename=filename)}"
    assert [text for text in items(lapsed.data, filename).values()
            if "Your membership has lapsed" in text]
    if filename == "podcast.xml":
        # The same podcast as the live feed to the app (its guid), blocked from directories.
        guid = re.compile(rb"<podcast:guid>([^<]+)</podcast:guid>")
        assert guid.search(lapsed.data).group(1) == guid.search(live.data).group(1)
        assert b"<itunes:block>yes</itunes:block>" in lapsed.data
        assert b"<enclosure" not in lapsed.data


def test_the_index_counts_only_public_stories(site, client):
    page = client.get("/").data.decode()
    store = app_state(site).store
    count = len(store.latest(SAMPLE, limit=1000).stories)  # the public ones
    assert store.latest(SAMPLE, limit=1000).next_cursor is None
    # The sample topic holds one member story (bonus-1): the page counts the others only.
    assert f"{count} stories" in page
    assert store.story_counts()[SAMPLE] == count
    assert store.story_counts(members=True)[SAMPLE] == count + 1
    # A topic that turns members' only takes its stories out of the other topics' counts.
    shared = story_record(id="shared-2", topics=[SAMPLE, "insiders"])
    assert client.put("/api/stories/shared-2", json=shared, headers=AUTH).status_code == 201
    assert store.story_counts()[SAMPLE] == count
    assert store.story_counts(members=True)[SAMPLE] == count + 2
    assert store.story_counts().get("insiders", 0) == 0
    assert store.story_counts(members=True)["insiders"] == 2
