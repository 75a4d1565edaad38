"""Moving a topic (`moved_to`): every old URL answers 301 to the same URL under the new
slug, the old podcast feed goes out once more with itunes:new-feed-url, podcast:guid stays,
and the moved topic is no longer advertised."""

from __future__ import annotations

import dataclasses
import io
import itertools
import json

import feedparser
import podcastparser
import pytest
from lxml import etree

from serving.state import app_state
from stories.model import Topic
from stories.moves import MAX_MOVES, MoveProblem, MoveRefused, TopicMoves
from web.export import MANIFEST, export_site

from .conftest import make_app
from .feeds_support import NS, SAMPLE_SLUG

SITE = "http://storyfeed.test/"
OLD = SAMPLE_SLUG
NEW = "defectors"
FORMATS = ("rss.xml", "atom.xml", "feed.json", "podcast.xml")


def topic(store, slug: str) -> Topic:
    found = store.get_topic(slug)
    assert found is not None, slug
    return found


def move(store, old: str, new: str, *, keep: bool = False) -> None:
    """A rename as an editor makes it: the new topic with the old one's settings, the
    stories moved over (`keep`: in both), and `moved_to` on the old topic."""
    before = topic(store, old)

    def topics(story) -> tuple[str, ...]:
        return (*story.topics, new) if keep else tuple(new if t == old else t for t in story.topics)

    store.write(
        stories=[dataclasses.replace(s, topics=topics(s)) for s in store.iter_stories(old)],
        topics=[dataclasses.replace(before, slug=new, title=f"{before.title} (renamed)",
                                    moved_to=""),
                dataclasses.replace(before, moved_to=new)],
    )


def set_moved_to(store, slug: str, moved_to: str) -> None:
    existing = store.get_topic(slug) or Topic.from_slug(slug)
    store.write(topics=[dataclasses.replace(existing, moved_to=moved_to)])


def channel_guid(body: bytes) -> str:
    return etree.fromstring(body).findtext("channel/podcast:guid", namespaces=NS)


@pytest.fixture
def sample(database_url):
    app = make_app(database_url, SITE_URL=SITE)
    result = app.test_cli_runner().invoke(args=["stories", "sample"])
    assert result.exit_code == 0, result.output
    yield app
    app_state(app).store.engine.dispose()


@pytest.fixture
def store(sample):
    return app_state(sample).store


@pytest.fixture
def client(sample):
    return sample.test_client()


# -- the redirects ----------------------------------------------------------------------


def test_every_old_url_answers_301_to_the_same_url_under_the_new_slug(client, store):
    move(store, OLD, NEW)
    # A real cursor: the next page of the new topic's feed, three stories a page.
    first = feedparser.parse(client.get(f"/topics/{NEW}/rss.xml?limit=3").data)
    next_url = next(link.href for link in first.feed.links if link.rel == "next")
    cursor = next_url.split("/pages/")[1].split("/")[0]
    paths = ["/topics/{}", f"/topics/{{}}?cursor={cursor}"]
    paths += [f"/topics/{{}}/{name}" for name in FORMATS]
    paths += [f"/topics/{{}}/pages/{cursor}/{name}" for name in FORMATS]
    paths += ["/topics/{}/rss.xml?limit=3", f"/topics/{{}}/pages/{cursor}/feed.json?limit=3"]
    for path in paths:
        response = client.get(path.format(OLD))
        assert response.status_code == 301, path
        assert response.headers["Location"] == SITE.rstrip("/") + path.format(NEW), path
        # and the new URL answers
        assert client.get(path.format(NEW)).status_code == 200, path
    assert client.head(f"/topics/{OLD}/atom.xml").status_code == 301


def test_the_new_topics_feeds_list_the_stories_and_the_old_ones_do_not_answer(client, store):
    ids = {s.id for s in store.iter_stories(OLD)}
    move(store, OLD, NEW)
    for name in ("rss.xml", "atom.xml", "podcast.xml"):
        parsed = feedparser.parse(client.get(f"/topics/{NEW}/{name}").data)
        assert len(parsed.entries) >= len(ids) > 0, name
    items = client.get(f"/topics/{NEW}/feed.json").get_json()["items"]
    assert len(items) == len(ids)
    assert client.get(f"/topics/{NEW}").status_code == 200


def test_the_301_of_the_old_podcast_feed_is_the_old_feed_with_new_feed_url(client, store):
    move(store, OLD, NEW, keep=True)  # the old feed still has episodes
    response = client.get(f"/topics/{OLD}/podcast.xml")
    assert response.status_code == 301
    assert response.headers["Location"] == f"{SITE}topics/{NEW}/podcast.xml"
    assert response.mimetype == "application/rss+xml"
    body = response.get_data()
    root = etree.fromstring(body)
    assert root.findtext("channel/itunes:new-feed-url", namespaces=NS) == f"{SITE}topics/{NEW}/podcast.xml"
    assert root.find("channel/atom:link[@rel='self']", NS).get("href") == f"{SITE}topics/{OLD}/podcast.xml"
    parsed = podcastparser.parse(f"{SITE}topics/{OLD}/podcast.xml", io.BytesIO(body))
    assert parsed["new_url"] == f"{SITE}topics/{NEW}/podcast.xml"
    assert parsed["episodes"]
    assert not feedparser.parse(body).bozo
    # Other formats: a short HTML body, not a feed.
    other = client.get(f"/topics/{OLD}/rss.xml")
    assert other.status_code == 301 and other.mimetype == "text/html"
    assert len(other.get_data()) < 500


def test_a_paged_old_podcast_url_carries_that_page_and_new_feed_url(client, store):
    move(store, OLD, NEW, keep=True)
    first = etree.fromstring(client.get(f"/topics/{NEW}/podcast.xml?limit=2").data)
    next_url = first.find("channel/atom:link[@rel='next']", NS).get("href")
    cursor = next_url.split("/pages/")[1].split("/")[0]
    response = client.get(f"/topics/{OLD}/pages/{cursor}/podcast.xml")
    assert response.status_code == 301
    assert response.headers["Location"] == f"{SITE}topics/{NEW}/pages/{cursor}/podcast.xml"
    root = etree.fromstring(response.get_data())
    assert root.findtext("channel/itunes:new-feed-url", namespaces=NS) == f"{SITE}topics/{NEW}/podcast.xml"
    assert root.find("channel/atom:link[@rel='self']", NS).get("href") == (
        f"{SITE}topics/{OLD}/pages/{cursor}/podcast.xml")


def test_podcast_guid_is_the_same_before_and_after_the_move(client, store):
    before = channel_guid(client.get(f"/topics/{OLD}/podcast.xml").data)
    # The new topic exists, with a feed (and a cached render) of its own, before the move.
    store.write(topics=[dataclasses.replace(topic(store, OLD), slug=NEW)])
    own = channel_guid(client.get(f"/topics/{NEW}/podcast.xml").data)
    assert own != before
    move(store, OLD, NEW)
    assert channel_guid(client.get(f"/topics/{NEW}/podcast.xml").data) == before
    assert channel_guid(client.get(f"/topics/{OLD}/podcast.xml").data) == before  # the 301 body
    # Renamed again: the first feed's identity goes on.
    move(store, NEW, "defectors-stories")
    assert channel_guid(client.get("/topics/defectors-stories/podcast.xml").data) == before
    assert client.get(f"/topics/{OLD}/podcast.xml").headers["Location"] == (
        f"{SITE}topics/defectors-stories/podcast.xml")


def test_a_move_onto_an_established_show_keeps_that_shows_guid(client, store):
    """Moving topic A onto B, a podcast with stories of its own, must not take B's
    identity away in podcast indexes: A's subscribers are sent to B instead."""
    old_guid = channel_guid(client.get(f"/topics/{OLD}/podcast.xml").data)
    sample = topic(store, OLD)
    established = "established-show"
    store.write(stories=[dataclasses.replace(s, topics=(established,)) for s in store.iter_stories(OLD)][:2],
                topics=[dataclasses.replace(sample, slug=established, title="Established")])
    own_guid = channel_guid(client.get(f"/topics/{established}/podcast.xml").data)
    result = store.write(topics=[dataclasses.replace(topic(store, OLD), moved_to=established)])
    assert result.notices and established in result.notices[0]
    assert channel_guid(client.get(f"/topics/{established}/podcast.xml").data) == own_guid
    # The old feed's last answer (the 301's body) still carries its own identity.
    old_answer = client.get(f"/topics/{OLD}/podcast.xml")
    assert old_answer.status_code == 301 and channel_guid(old_answer.data) == old_guid


def test_a_rename_to_a_topic_made_later_carries_the_guid_on(client, store):
    before = channel_guid(client.get(f"/topics/{OLD}/podcast.xml").data)
    set_moved_to(store, OLD, "made-later")
    move(store, OLD, "made-later")
    assert channel_guid(client.get("/topics/made-later/podcast.xml").data) == before


# -- chains, loops, and moves not finished ---------------------------------------------


def test_a_chain_of_moves_redirects_straight_to_its_end(client, store):
    move(store, OLD, "b")
    move(store, "b", "c")
    for slug in (OLD, "b"):
        response = client.get(f"/topics/{slug}/feed.json")
        assert response.status_code == 301
        assert response.headers["Location"] == f"{SITE}topics/c/feed.json"
    assert client.get("/topics/c/feed.json").status_code == 200


def write_moves_as_an_old_store_did(store, moves: dict[str, str]) -> None:
    """Moves put straight into the rows, as a store written before writes were checked
    for loops and long chains may hold them."""
    import sqlalchemy as sa

    from stories import schema

    for slug, moved_to in moves.items():
        store.write(topics=[Topic.from_slug(slug)])
        record = json.dumps({"moved_to": moved_to, "slug": slug, "title": slug}, sort_keys=True,
                            separators=(",", ":"))
        with store.engine.begin() as conn:
            conn.execute(sa.update(schema.topics).where(schema.topics.c.slug == slug)
                         .values(record=record, version=schema.topics.c.version + 1))


def test_a_write_that_makes_a_loop_is_refused_naming_it(store):
    set_moved_to(store, "a", "b")
    with pytest.raises(MoveRefused, match="loop: b -> a -> b"):
        set_moved_to(store, "b", "a")
    assert store.topic_moves().moves == {"a": "b"}


def test_a_write_that_makes_a_chain_past_the_bound_is_refused(store):
    slugs = [f"t{i}" for i in range(MAX_MOVES + 2)]
    for old, new in itertools.pairwise(slugs[:-1]):
        set_moved_to(store, old, new)
    with pytest.raises(MoveRefused, match=f"more than {MAX_MOVES} times"):
        set_moved_to(store, slugs[-2], slugs[-1])
    # Joining two chains in the middle is refused the same way.
    set_moved_to(store, "x1", "x2")
    set_moved_to(store, "x2", "x3")
    set_moved_to(store, "x3", "x4")
    with pytest.raises(MoveRefused):
        set_moved_to(store, slugs[3], "x1")


def test_the_api_refuses_a_loop_with_422_naming_the_chain(database_url):
    app = make_app(database_url, SITE_URL=SITE, INGEST_TOKENS="alpha-token")
    client = app.test_client()
    auth = {"Authorization": "Bearer alpha-token"}
    assert client.put("/api/topics/a", json={"title": "A", "moved_to": "b"}, headers=auth).status_code == 201
    response = client.put("/api/topics/b", json={"title": "B", "moved_to": "a"}, headers=auth)
    assert response.status_code == 422
    assert "b -> a -> b" in response.get_json()["message"]
    # A story written into a moved topic shows in none of its feeds: the answer says so.
    response = client.put("/api/stories/s1", headers=auth, json={
        "title": "S", "url": "https://example.org/s1", "published": "2026-01-01T00:00:00Z",
        "topics": ["a"]})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert any("moved to 'b'" in w["message"] for w in response.get_json()["warnings"])
    # Moving a topic onto one with stories of its own: the answer says who keeps the guid.
    response = client.put("/api/topics/c", json={"title": "C", "moved_to": "a"}, headers=auth)
    assert any("podcast:guid stays 'a'" in w["message"] for w in response.get_json()["warnings"])
    assert client.put("/api/topics/c", json={"title": "C", "moved_to": ""}, headers=auth).status_code == 200
    # Clearing a move with "" works, as the schema and the docs say.
    response = client.put("/api/topics/a", json={"title": "A", "moved_to": ""}, headers=auth)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert app_state(app).store.topic_moves().moves == {}
    app_state(app).store.engine.dispose()


def test_a_loop_an_old_store_holds_is_a_clear_404_not_a_redirect_loop(client, store):
    write_moves_as_an_old_store_did(store, {"a": "b", "b": "a"})
    for slug in ("a", "b"):
        for path in (f"/topics/{slug}", f"/topics/{slug}/rss.xml", f"/topics/{slug}/podcast.xml"):
            response = client.get(path)
            assert response.status_code == 404, path
            assert "loop" in response.get_data(as_text=True), path


def test_a_chain_an_old_store_holds_past_the_bound_is_a_clear_404(client, store):
    slugs = [f"t{i}" for i in range(MAX_MOVES + 2)]
    write_moves_as_an_old_store_did(store, dict(itertools.pairwise(slugs)))
    store.write(topics=[Topic.from_slug(slugs[-1])])
    response = client.get(f"/topics/{slugs[0]}/rss.xml")
    assert response.status_code == 404
    assert f"more than {MAX_MOVES} times" in response.get_data(as_text=True)
    # Shorter ends of the same chain still redirect.
    assert client.get(f"/topics/{slugs[2]}/rss.xml").headers["Location"] == (
        f"{SITE}topics/{slugs[-1]}/rss.xml")


def test_a_move_to_a_topic_not_made_yet_sends_nobody_away(client, store):
    set_moved_to(store, OLD, "not-yet")
    assert client.get(f"/topics/{OLD}/podcast.xml").status_code == 200
    assert client.get(f"/topics/{OLD}").status_code == 200
    # Once made, the move takes effect.
    store.write(topics=[Topic.from_slug("not-yet")])
    assert client.get(f"/topics/{OLD}").headers["Location"] == f"{SITE}topics/not-yet"


def test_writes_to_the_old_topic_are_not_redirected(database_url):
    app = make_app(database_url, SITE_URL=SITE, INGEST_TOKENS="alpha-token")
    app.test_cli_runner().invoke(args=["stories", "sample"])
    store = app_state(app).store
    client = app.test_client()
    move(store, OLD, NEW)
    record = {"slug": OLD, "title": "Back again"}
    response = client.put(f"/api/topics/{OLD}", json=record,
                          headers={"Authorization": "Bearer alpha-token"})
    assert response.status_code == 200, response.get_data(as_text=True)
    # The move is undone: the old URLs answer again.
    assert client.get(f"/topics/{OLD}/rss.xml").status_code == 200
    app_state(app).store.engine.dispose()


# -- what keeps working, what is advertised --------------------------------------------


def test_oembed_of_a_moved_topics_story_still_works(client, store):
    story = next(s for s in store.iter_stories(OLD) if s.embeddable_audio)
    move(store, OLD, NEW)
    for response in (client.get("/oembed", query_string={"url": f"{SITE}stories/{story.id}"}),
                     client.get(f"/stories/{story.id}/oembed.json")):
        assert response.status_code == 200
        assert response.get_json()["type"] == "rich"
    page = client.get(f"/stories/{story.id}")
    assert page.status_code == 200
    assert f'href="/topics/{NEW}"' in page.get_data(as_text=True)


def test_a_moved_topic_is_not_advertised_on_the_home_page_or_in_opml(client, store):
    home = client.get("/").get_data(as_text=True)
    assert f"/topics/{OLD}" in home
    move(store, OLD, NEW)
    home = client.get("/").get_data(as_text=True)
    assert f"/topics/{OLD}" not in home and f"/topics/{NEW}" in home
    opml = etree.fromstring(client.get("/feeds.opml").data)
    urls = opml.xpath("//outline/@xmlUrl")
    assert urls == [f"{SITE}topics/{NEW}/rss.xml"]


# -- the static export -----------------------------------------------------------------


def test_export_writes_the_old_podcast_feed_and_names_the_redirects(sample, store, tmp_path):
    guid = channel_guid(sample.test_client().get(f"/topics/{OLD}/podcast.xml").data)
    move(store, OLD, NEW)
    target = tmp_path / "export"
    export_site(sample, target)
    manifest = json.loads((target / MANIFEST).read_text())
    old_feed = etree.fromstring((target / f"topics/{OLD}/podcast.xml").read_bytes())
    assert old_feed.findtext("channel/itunes:new-feed-url", namespaces=NS) == (
        f"{SITE}topics/{NEW}/podcast.xml")
    assert channel_guid((target / f"topics/{NEW}/podcast.xml").read_bytes()) == guid
    assert manifest["files"][f"topics/{OLD}/podcast.xml"]["content_type"].startswith(
        "application/rss+xml")
    assert not (target / f"topics/{OLD}/rss.xml").exists()
    redirects = {(r["from"], r["to"]) for r in manifest["redirects"]}
    assert {(f"topics/{OLD}/{name}", f"topics/{NEW}/{name}") for name in FORMATS} <= redirects
    assert (f"topics/{OLD}/", f"topics/{NEW}/") in redirects
    assert all(r["status"] == 301 for r in manifest["redirects"])


# -- the store and the move graph ------------------------------------------------------


def test_the_store_lists_moves_and_bumps_the_topics_a_move_leads_to(store):
    assert store.topic_moves().moves == {}
    set_moved_to(store, "c", "")
    c_version = store.version("c")
    set_moved_to(store, "b", "c")
    assert store.version("c") > c_version  # c's podcast identity may have changed
    c_version = store.version("c")
    set_moved_to(store, "a", "b")
    assert store.version("c") > c_version  # downstream of the chain too
    assert store.topic_moves().moves == {"a": "b", "b": "c"}
    # A title that merely mentions the key is no move.
    store.write(topics=[Topic(slug="d", title='"moved_to":"x"')])
    assert store.topic_moves().moves == {"a": "b", "b": "c"}


def test_the_move_graph_follows_chains_and_refuses_loops():
    moves = TopicMoves({"a": "b", "b": "c", "x": "y", "y": "x", "m": "c"})
    assert moves.chain("a") == ["a", "b", "c"]
    assert moves.destination("a", lambda s: s != "c") == "b"
    assert moves.destination("a", lambda s: True) == "c"
    assert moves.destination("q", lambda s: True) == "q"
    with pytest.raises(MoveProblem, match="loop"):
        moves.chain("x")
    # The old stores' rule (their migration): the longest chain into c is a -> b -> c.
    assert moves.longest_chain_start("c") == "a"
    assert moves.longest_chain_start("b") == "a"
    assert moves.longest_chain_start("a") == "a"
    # Identity is what the store recorded when the moves were written.
    assert moves.origin("c") == "c"
    assert TopicMoves(moves.moves, {"c": "m"}).origin("c") == "m"
    assert moves.downstream("a") == ["b", "c"]
    assert moves.downstream("x") == ["y"]
