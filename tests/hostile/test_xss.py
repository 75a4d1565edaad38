"""Stored XSS: hostile URLs and text in every URL and text field of a story and its topic,
put in through the ingest API (validation must refuse dangerous URLs) and directly into the
store (bypassing validation: the pages, feeds, player and oEmbed must still emit only
http(s) URLs or our own paths, and no live markup).

Each value names its field (`alert('image.url')`), so a failure says which field leaked
into which output.
"""

from __future__ import annotations

import itertools
import json

import lxml.html
import pytest
from lxml import etree

from serving.state import app_state
from stories.model import story_from_record, topic_from_record

from ..conftest import story_record
from .payloads import (
    AUTH,
    HOSTILE_SEGMENTS,
    HOSTILE_TEXT,
    HOSTILE_URLS,
    MEDIA_URLS,
    SITE,
    STORY_MEDIA_FIELDS,
    STORY_TEXT_FIELDS,
    STORY_URL_FIELDS,
    TOPIC_TEXT_FIELDS,
    TOPIC_URL_FIELDS,
    html_problems,
    iframe_problems,
    json_feed_problems,
    oembed_problems,
    set_field,
    xml_feed_problems,
)

SAMPLE_AUDIO_FILE = "/media/north-korean-defectors/1169825816.mp3"
AUDIO_ID = "77"
_numbers = itertools.count(1)


def base_records(n: int) -> tuple[dict, dict]:
    """A complete story and topic (a podcast, so every feed renders), unique per case."""
    slug = f"xss-topic-{n}"
    story = story_record(
        id=f"xss-{n}", topics=[slug], teaser="A teaser.", body_html="<p>Body.</p>",
        image={"url": "/media/north-korean-defectors/1169464713.jpg", "width": 1400,
               "height": 1400, "caption": "A caption.", "credit": "A/Credit", "alt": "Alt."},
        audio=[{"id": AUDIO_ID, "url": SAMPLE_AUDIO_FILE, "type": "audio/mpeg", "length": 29048,
                "duration": 7, "transcript_url": "https://www.npr.org/transcripts/1",
                "embed": f'<iframe src="https://www.npr.org/player/embed/xss-{n}/{AUDIO_ID}">'}],
    )
    topic = {"slug": slug, "title": "XSS topic", "description": "A description.",
             "link": "https://example.org/topic", "author": "An author", "owner_name": "Owner",
             "owner_email": "owner@example.org", "category": "News", "copyright": "(c) Someone",
             "image": {"url": "/media/north-korean-defectors/artwork.jpg", "width": 1400,
                       "height": 1400}}
    return story, topic


def with_urls(story: dict, topic: dict, template: str) -> tuple[dict, dict]:
    for field in STORY_URL_FIELDS:
        set_field(story, field, template.format(field=field))
    story["audio"][0]["embed"] = f'<iframe src="{template.format(field="audio[0].embed")}">'
    for field in TOPIC_URL_FIELDS:
        set_field(topic, field, template.format(field=f"topic.{field}"))
    return story, topic


def with_text(story: dict, topic: dict, template: str) -> tuple[dict, dict]:
    for field in STORY_TEXT_FIELDS:
        set_field(story, field, template.format(field=field))
    for field in TOPIC_TEXT_FIELDS:
        set_field(topic, field, template.format(field=f"topic.{field}"))
    return story, topic


def store_directly(app, story: dict, topic: dict) -> None:
    """Past validation, as a record stored before a rule existed (or a tampered database)."""
    store = app_state(app).store
    story = {**story, "published": "2024-01-02T15:00:00+00:00",
             "updated": "2024-01-02T15:00:00+00:00"}
    store.write(stories=[story_from_record(story)], topics=[topic_from_record(topic)])


# -- judging every output ----------------------------------------------------------------


def outputs(client, story: dict, slug: str) -> dict[str, object]:
    story_id = story["id"]
    story_page = f"{SITE}stories/{story_id}"
    player_page = f"{SITE}player/{story_id}/{AUDIO_ID}"
    paths = {
        "story page": f"/stories/{story_id}",
        "topic page": f"/topics/{slug}",
        "player": f"/player/{story_id}/{AUDIO_ID}",
        "rss": f"/topics/{slug}/rss.xml",
        "atom": f"/topics/{slug}/atom.xml",
        "json feed": f"/topics/{slug}/feed.json",
        "podcast": f"/topics/{slug}/podcast.xml",
        "opml": "/feeds.opml",
    }
    found = {name: client.get(path) for name, path in paths.items()}
    for label, url in (("oembed story", story_page), ("oembed player", player_page)):
        found[label] = client.get("/oembed", query_string={"url": url})
        found[f"{label} xml"] = client.get("/oembed", query_string={"url": url, "format": "xml"})
    found["story oembed.json"] = client.get(f"/stories/{story_id}/oembed.json")
    return found


def problems_in(name: str, response, slug: str) -> list[str]:
    if response.status_code != 200:
        return []  # not rendered (refused, not embeddable, no podcast): nothing to judge
    body = response.get_data()
    found: list[str] = []
    if b"://evil.example" in body:
        found.append("a /media/ path came out on another host")
    if name in ("story page", "topic page"):
        found += html_problems(body.decode())
    elif name == "player":
        found += html_problems(body.decode())
    elif name in ("rss", "atom", "podcast"):
        found += xml_feed_problems(body)
    elif name == "opml":
        root = etree.fromstring(body)
        for outline in root.iter("outline"):
            if slug in outline.get("xmlUrl", ""):
                found += xml_feed_problems(etree.tostring(outline))
    elif name == "json feed":
        found += json_feed_problems(body)
    elif name.endswith(" xml"):
        answer = {e.tag: e.text for e in etree.fromstring(body)}
        found += oembed_problems(answer)
    else:
        found += oembed_problems(json.loads(body))
    return [f"{name}: {p}" for p in found]


def assert_safe_everywhere(client, story: dict, slug: str) -> None:
    problems = []
    for name, response in outputs(client, story, slug).items():
        problems += problems_in(name, response, slug)
    assert not problems, "unsafe output:\n" + "\n".join(problems)


# -- URLs --------------------------------------------------------------------------------

SCRIPTED = ("script", "data:")


@pytest.mark.parametrize("name, template", HOSTILE_URLS, ids=[u[0] for u in HOSTILE_URLS])
def test_hostile_urls_through_the_api_are_refused(sqlite_app, client, name, template):
    n = next(_numbers)
    story, topic = with_urls(*base_records(n), template)
    topic_answer = client.put(f"/api/topics/{topic['slug']}", json=topic, headers=AUTH)
    story_answer = client.put(f"/api/stories/{story['id']}", json=story, headers=AUTH)
    refused = {p["field"] for answer in (topic_answer, story_answer)
               if answer.status_code == 422 for p in answer.get_json()["problems"]}
    for field in STORY_URL_FIELDS + [f"topic.{f}" for f in TOPIC_URL_FIELDS]:
        plain = field.removeprefix("topic.")
        media_ok = plain in STORY_MEDIA_FIELDS or field == "topic.image.url"
        if not media_ok or any(s in template.lower() for s in SCRIPTED):
            assert plain in refused, f"{field} = {template.format(field=field)!r} was accepted"
    assert_safe_everywhere(client, story, topic["slug"])


MEDIA_FIELDS = STORY_MEDIA_FIELDS + ["topic.image.url"]


@pytest.mark.parametrize("name, template", MEDIA_URLS, ids=[u[0] for u in MEDIA_URLS])
@pytest.mark.parametrize("field", MEDIA_FIELDS)
def test_hostile_media_paths_through_the_api_are_refused_or_harmless(sqlite_app, client, field,
                                                                     name, template):
    """One /media/ field at a time (the rest of the record valid): a scripted path is
    refused naming the field; any other either is refused or comes out under MEDIA_BASE_URL."""
    n = next(_numbers)
    story, topic = base_records(n)
    value = template.format(field=field)
    set_field(topic if field.startswith("topic.") else story, field.removeprefix("topic."), value)
    topic_answer = client.put(f"/api/topics/{topic['slug']}", json=topic, headers=AUTH)
    story_answer = client.put(f"/api/stories/{story['id']}", json=story, headers=AUTH)
    answer = topic_answer if field.startswith("topic.") else story_answer
    if any(s in template.lower() for s in SCRIPTED):
        assert answer.status_code == 422, f"{field} = {value!r} was accepted"
    if answer.status_code == 422:
        assert [p["field"] for p in answer.get_json()["problems"]] == [
            field.removeprefix("topic.")]
    assert_safe_everywhere(client, story, topic["slug"])


@pytest.mark.parametrize("name, template", HOSTILE_URLS, ids=[u[0] for u in HOSTILE_URLS])
def test_hostile_urls_already_in_the_store_never_come_out(sqlite_app, client, name, template):
    n = next(_numbers)
    story, topic = with_urls(*base_records(n), template)
    store_directly(sqlite_app, story, topic)
    assert_safe_everywhere(client, story, topic["slug"])


# -- text --------------------------------------------------------------------------------


@pytest.mark.parametrize("name, template", HOSTILE_TEXT, ids=[t[0] for t in HOSTILE_TEXT])
def test_hostile_text_through_the_api_is_shown_as_text(sqlite_app, client, name, template):
    n = next(_numbers)
    story, topic = with_text(*base_records(n), template)
    assert client.put(f"/api/topics/{topic['slug']}", json=topic, headers=AUTH).status_code == 201
    assert client.put(f"/api/stories/{story['id']}", json=story, headers=AUTH).status_code == 201
    assert_safe_everywhere(client, story, topic["slug"])
    # Shown as the text it is, not dropped: the story page's heading holds the title.
    page = lxml.html.fromstring(client.get(f"/stories/{story['id']}").get_data())
    stored = client.get(f"/api/stories/{story['id']}").get_json()["story"]["title"]
    assert page.findtext(".//h1") == stored


@pytest.mark.parametrize("name, template", HOSTILE_TEXT, ids=[t[0] for t in HOSTILE_TEXT])
def test_hostile_text_already_in_the_store_is_shown_as_text(sqlite_app, client, name, template):
    n = next(_numbers)
    story, topic = with_text(*base_records(n), template)
    store_directly(sqlite_app, story, topic)
    assert_safe_everywhere(client, story, topic["slug"])


# -- what error pages reflect ------------------------------------------------------------


@pytest.mark.parametrize("name, segment", HOSTILE_SEGMENTS, ids=[s[0] for s in HOSTILE_SEGMENTS])
@pytest.mark.parametrize("path", ["/stories/{}", "/topics/{}", "/player/{}/1",
                                  "/topics/{}/rss.xml", "/stories/{}/oembed.xml"])
def test_error_answers_reflect_nothing_live(client, path, name, segment):
    response = client.get(path.format(segment))
    assert response.status_code in (400, 404)
    if response.mimetype == "text/html":
        assert html_problems(response.get_data(as_text=True)) == []
    assert b"<script>alert" not in response.get_data()


def test_the_oembed_html_of_a_hostile_title_is_one_iframe_and_its_link(sqlite_app, client):
    n = next(_numbers)
    story, topic = with_text(*base_records(n), "\"><script>alert('{field}')</script>")
    store_directly(sqlite_app, story, topic)
    answer = client.get("/oembed", query_string={"url": f"{SITE}stories/{story['id']}"})
    assert answer.status_code == 200
    assert iframe_problems(answer.get_json()["html"]) == []
