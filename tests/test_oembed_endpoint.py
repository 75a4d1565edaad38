"""The oEmbed endpoint, conversion, the registry entry, discovery and framing, over the
Flask test client against a real store holding the sample topic."""

from __future__ import annotations

import gzip
import html as html_lib
import json
import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from lxml import etree

from serving.state import app_state
from stories.validate import parse_story

from .conftest import story_record
from .embeds_support import (
    HOSTILE_TITLE,
    SAMPLE_AUDIO,
    SAMPLE_STORY,
    SAMPLE_TITLE,
    add_extra_stories,
)

# Warm answers come from the WSGI fast path (serving/fastpath.py) or from Flask: alike.
pytestmark = pytest.mark.usefixtures("both_paths")

SITE = "http://storyfeed.test/"
NPR_PLAYER = f"https://www.npr.org/player/embed/{SAMPLE_STORY}/{SAMPLE_AUDIO}"
OWN_PLAYER = f"{SITE}player/{SAMPLE_STORY}/{SAMPLE_AUDIO}"
STORY_PAGE = f"{SITE}stories/{SAMPLE_STORY}"
NPR_STORY = (f"https://www.npr.org/2023/04/06/{SAMPLE_STORY}/"
             "north-korean-defectors-deportation-china-covid-border")


@pytest.fixture
def app(sample_app):
    add_extra_stories(sample_app)
    return sample_app


@pytest.fixture
def client(app):
    return app.test_client()


def oembed(client, url=None, path="/oembed", **params):
    if url is not None:
        params["url"] = url
    return client.get(path, query_string=params)


class Tags(HTMLParser):
    """Start tags and their attributes, in order."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def find(self, tag, **attrs):
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]


def iframe_of(response_json: dict) -> dict:
    """The iframe's attributes; storyfeed's own player comes after WordPress's blockquote,
    a link to the story (embeds.snippets.render_embed_html), and no other does."""
    tags = Tags(response_json["html"]).tags
    if "/player/" in tags[-1][1].get("src", "") and "npr.org" not in tags[-1][1]["src"]:
        assert [t for t, _ in tags] == ["blockquote", "a", "iframe"]
        assert tags[0][1] == {"class": "wp-embedded-content"}
        assert tags[1][1] == {"href": response_json["author_url"]}
    else:
        assert [t for t, _ in tags] == ["iframe"]
    return tags[-1][1]


# -- what a response holds ---------------------------------------------------------------

REQUIRED = {
    "rich": {"type", "version", "html", "width", "height"},
    "link": {"type", "version"},
}
INTEGERS = {"width", "height", "cache_age", "thumbnail_width", "thumbnail_height"}
THUMBNAIL = {"thumbnail_url", "thumbnail_width", "thumbnail_height"}

EMBEDDABLE = [
    # (url, player src the iframe must point at)
    (STORY_PAGE, OWN_PLAYER),
    (STORY_PAGE.replace("http:", "https:"), OWN_PLAYER),
    (OWN_PLAYER, OWN_PLAYER),
    (OWN_PLAYER.replace("http:", "https:"), OWN_PLAYER),
    (NPR_PLAYER, NPR_PLAYER),
    (NPR_PLAYER.replace("https:", "http:"), NPR_PLAYER),
    (f"http://www.npr.org/player/v2/mediaPlayer.html?action=1&t=1&islist=false&id={SAMPLE_STORY}&m={SAMPLE_AUDIO}", NPR_PLAYER),
    (f"http://www.npr.org/v2/?i={SAMPLE_STORY}&m={SAMPLE_AUDIO}&t=audio", NPR_PLAYER),
    (NPR_STORY, NPR_PLAYER),
    (NPR_STORY.replace("https:", "http:"), NPR_PLAYER),
]


@pytest.mark.parametrize("url,player_src", EMBEDDABLE)
def test_embeddable_audio_gets_a_rich_response(client, url, player_src):
    response = oembed(client, url)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert REQUIRED["rich"] <= set(body) and body["type"] == "rich"
    assert body["version"] == "1.0"
    for key in INTEGERS & set(body):
        assert type(body[key]) is int and body[key] > 0, key
    assert body["width"] == 600
    assert body["title"] == SAMPLE_TITLE
    assert body["author_url"] == STORY_PAGE
    assert body["provider_name"] == "storyfeed" and body["provider_url"] == SITE
    assert body["cache_age"] == 3600
    assert set(body) & THUMBNAIL == THUMBNAIL
    assert body["thumbnail_url"] == f"{SITE}media/north-korean-defectors/{SAMPLE_STORY}.jpg"
    frame = iframe_of(body)
    assert frame == {
        "src": player_src, "width": "100%", "height": str(body["height"]), "frameborder": "0",
        "scrolling": "no", "title": SAMPLE_TITLE,
    }
    assert body["height"] == (290 if "npr.org" in player_src else 180)


def test_bylines_are_the_author(client):
    body = oembed(client, f"{SITE}stories/666").get_json()
    assert body["author_name"] == "Ann <b>Writer</b>, Bo & Co"  # text, escaped where it is markup


def test_no_thumbnail_without_image_sizes_and_none_at_all_without_image(client):
    body = oembed(client, "https://www.npr.org/player/embed/900/901").get_json()
    assert body["type"] == "rich" and not set(body) & THUMBNAIL
    assert body["height"] == 240  # the recorded snippet's height for the same player


def test_story_without_audio_is_a_link(client):
    body = oembed(client, f"{SITE}stories/800").get_json()
    assert body["type"] == "link" and REQUIRED["link"] <= set(body)
    assert "html" not in body and body["title"] == "A story"


def test_audio_without_file_on_a_storyfeed_url_falls_back_to_the_recorded_player(client):
    body = oembed(client, f"{SITE}stories/900").get_json()
    assert iframe_of(body)["src"] == "https://www.npr.org/player/embed/900/901"


@pytest.mark.parametrize("maxwidth,maxheight,url,expected", [
    (None, None, STORY_PAGE, ("rich", 600, 180)),
    (1000, None, STORY_PAGE, ("rich", 800, 180)),
    (300, None, STORY_PAGE, ("rich", 300, 180)),
    (None, 100, STORY_PAGE, ("rich", 600, 100)),
    (None, 60, STORY_PAGE, ("rich", 600, 60)),
    (None, 59, STORY_PAGE, ("link", None, None)),
    (None, 250, NPR_PLAYER, ("rich", 600, 250)),
    (None, 200, NPR_PLAYER, ("rich", 600, 200)),
    (None, 199, NPR_PLAYER, ("link", None, None)),
    (1, 1, NPR_PLAYER, ("link", None, None)),
])
def test_maxwidth_and_maxheight_are_respected(client, maxwidth, maxheight, url, expected):
    params = {k: v for k, v in (("maxwidth", maxwidth), ("maxheight", maxheight)) if v}
    body = oembed(client, url, **params).get_json()
    assert (body["type"], body.get("width"), body.get("height")) == expected
    if maxwidth:
        assert body["thumbnail_width"] <= maxwidth
    if maxheight:
        assert body["thumbnail_height"] <= maxheight
    if body["type"] == "rich":
        assert iframe_of(body)["height"] == str(body["height"])


def test_unknown_parameters_are_ignored_and_there_is_no_jsonp(client):
    plain = oembed(client, STORY_PAGE)
    noisy = oembed(client, STORY_PAGE, dnt="1", callback="alert", jsonp="x", foo="bar")
    assert noisy.status_code == 200
    assert noisy.data == plain.data and noisy.data.startswith(b"{")


# -- errors --------------------------------------------------------------------------------

ERRORS = [
    ({}, 400),
    ({"url": ""}, 400),
    ({"url": "stories/1169464713"}, 400),
    ({"url": "javascript:alert(1)"}, 400),
    ({"url": "https://" + "a" * 2100}, 400),
    ({"url": STORY_PAGE, "maxwidth": "wide"}, 400),
    ({"url": STORY_PAGE, "maxheight": "0"}, 400),
    ({"url": STORY_PAGE, "maxheight": "-5"}, 400),
    ({"url": "https://evil.example/player/embed/1/2"}, 404),
    ({"url": "https://www.npr.org.evil.example/player/embed/1169464713/1169825816"}, 404),
    ({"url": "https://www.npr.org/player/embed/123/456"}, 404),  # a player of a story not held
    ({"url": f"https://www.npr.org/player/embed/{SAMPLE_STORY}/999"}, 404),  # wrong audio
    ({"url": f"{SITE}stories/no-such-story"}, 404),
    ({"url": f"{SITE}topics/north-korean-defectors"}, 404),
    ({"url": "https://www.npr.org/sections/news/"}, 404),
    ({"url": f"{SITE}player/700/701"}, 401),
    ({"url": "https://www.npr.org/player/embed/700/701"}, 401),
    ({"url": f"{SITE}stories/700"}, 401),
    ({"url": STORY_PAGE, "format": "yaml"}, 501),
    ({"url": STORY_PAGE, "format": "jsonp"}, 501),
]


@pytest.mark.parametrize("params,status", ERRORS)
def test_errors_have_the_status_the_spec_gives(client, params, status):
    response = client.get("/oembed", query_string=params)
    assert response.status_code == status
    assert response.get_json()["status"] == status and response.get_json()["message"]
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path,params", [
    ("/oembed.yaml", {}),
    ("/oembed.json", {"format": "xml"}),
    ("/oembed.xml", {"format": "json"}),
])
def test_a_format_the_endpoint_does_not_speak_is_501(client, path, params):
    assert oembed(client, STORY_PAGE, path=path, **params).status_code == 501


@pytest.mark.parametrize("url", [
    'https://evil.example/"><script>alert(1)</script>',
    '"><script>alert(1)</script>',
    "javascript:alert('<script>')",
])
@pytest.mark.parametrize("accept", ["application/json", "text/html"])
def test_error_messages_never_echo_the_url(client, url, accept):
    response = client.get("/oembed", query_string={"url": url}, headers={"Accept": accept})
    assert response.status_code in (400, 404)
    assert b"<script" not in response.data and b"evil.example" not in response.data


# -- formats and HTTP ----------------------------------------------------------------------

@pytest.mark.parametrize("path,params", [("/oembed", {"format": "xml"}), ("/oembed.xml", {})])
def test_xml_is_well_formed_with_root_oembed(client, path, params):
    response = oembed(client, STORY_PAGE, path=path, **params)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert b"<!DOCTYPE" not in response.data
    root = etree.fromstring(response.data)
    assert root.tag == "oembed"
    as_json = oembed(client, STORY_PAGE).get_json()
    assert {child.tag: child.text for child in root} == {k: str(v) for k, v in as_json.items()}
    assert [child.tag for child in root] == list(as_json)


def test_json_endpoint_by_path(client):
    assert oembed(client, STORY_PAGE, path="/oembed.json").data == oembed(client, STORY_PAGE).data


def test_responses_are_cacheable_with_etags_and_gzip(client, app):
    first = oembed(client, STORY_PAGE)
    assert first.headers["Cache-Control"] == "public, max-age=3600"
    assert first.headers["Access-Control-Allow-Origin"] == "*"
    assert first.headers["X-Content-Type-Options"] == "nosniff"
    etag = first.headers["ETag"]
    again = client.get("/oembed", query_string={"url": STORY_PAGE}, headers={"If-None-Match": etag})
    assert again.status_code == 304
    zipped = client.get("/oembed", query_string={"url": STORY_PAGE},
                        headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == first.data


def test_a_changed_story_changes_the_response(client, app):
    before = oembed(client, STORY_PAGE).get_json()
    record = story_record(id=SAMPLE_STORY, title="Retitled", audio=[
        {"id": SAMPLE_AUDIO, "url": "/media/north-korean-defectors/1169825816.mp3"}])
    app_state(app).store.write([parse_story(record)[0]])
    after = oembed(client, STORY_PAGE).get_json()
    assert before["title"] == SAMPLE_TITLE and after["title"] == "Retitled"


def test_configured_provider_name_url_and_cache_age(sqlite_url):
    from .conftest import make_app

    app = make_app(sqlite_url, OEMBED_PROVIDER_NAME="Radio Example",
                   OEMBED_PROVIDER_URL="https://radio.example/", OEMBED_CACHE_AGE="60")
    app.test_cli_runner().invoke(args=["stories", "sample"])
    response = app.test_client().get("/oembed", query_string={"url": NPR_PLAYER})
    body = response.get_json()
    assert (body["provider_name"], body["provider_url"], body["cache_age"]) == (
        "Radio Example", "https://radio.example/", 60)
    assert response.headers["Cache-Control"] == "public, max-age=60"
    app_state(app).store.engine.dispose()


# -- escaping --------------------------------------------------------------------------------

def test_a_hostile_title_is_escaped_in_html_xml_and_the_player(client):
    body = oembed(client, f"{SITE}stories/666").get_json()
    assert body["title"] == HOSTILE_TITLE
    assert "<script" not in body["html"]
    assert iframe_of(body)["title"] == HOSTILE_TITLE  # escaped in markup, intact as text
    xml = oembed(client, f"{SITE}stories/666", format="xml").data
    root = etree.fromstring(xml)
    assert b"<script" not in xml
    assert root.findtext("title") == HOSTILE_TITLE
    assert "<script" not in root.findtext("html")
    page = client.get("/player/666/667").get_data(as_text=True)
    assert "<script>alert" not in page and "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
    story_page = client.get("/stories/666").get_data(as_text=True)
    assert "<script>alert" not in story_page


# -- conversion for editors ------------------------------------------------------------------

SEED_SNIPPET = (f'<iframe src="https://www.npr.org/player/embed/{SAMPLE_STORY}/{SAMPLE_AUDIO}" '
                'width="100%" height="290" frameborder="0" scrolling="no" '
                'title="NPR embedded audio player">')


def test_convert_raw_snippet_of_a_stored_story(client):
    response = client.post("/oembed/convert", data=SEED_SNIPPET, content_type="text/plain")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    body = response.get_json()
    assert body["title"] == SAMPLE_TITLE and body["author_url"] == STORY_PAGE
    assert iframe_of(body)["src"] == NPR_PLAYER
    assert body == oembed(client, NPR_PLAYER).get_json()


def test_convert_json_with_sizes_and_a_player_storyfeed_does_not_hold(client):
    response = client.post("/oembed/convert", json={
        "snippet": "<iframe src='//www.npr.org/player/embed/nx-s1-1/nx-s1-2' title='Morning news'>",
        "maxwidth": 500, "maxheight": "250",
    })
    body = response.get_json()
    assert response.status_code == 200
    assert (body["type"], body["width"], body["height"], body["title"]) == ("rich", 500, 250, "Morning news")
    assert iframe_of(body)["src"] == "https://www.npr.org/player/embed/nx-s1-1/nx-s1-2"
    assert "author_url" not in body and not set(body) & THUMBNAIL


@pytest.mark.parametrize("kwargs,status,message", [
    ({"data": '<iframe src="https://evil.example/x">', "content_type": "text/plain"}, 400, "unknown host"),
    ({"data": '<iframe srcdoc="x" src="https://www.npr.org/player/embed/1/2">'}, 400, "srcdoc"),
    ({"json": {"snippet": 42}}, 400, "snippet"),
    ({"data": "{not json", "content_type": "application/json"}, 400, "snippet"),
    ({"json": {"snippet": SEED_SNIPPET, "maxwidth": True}}, 400, "maxwidth"),
    ({"data": '<iframe src="https://www.npr.org/player/embed/700/701">'}, 401, "not allow"),
    ({"data": f"{SITE}player/123/456"}, 404, "no audio"),
    ({"data": "x" * (64 * 1024 + 1), "content_type": "text/plain"}, 413, ""),
])
def test_convert_refusals(client, kwargs, status, message):
    response = client.post("/oembed/convert", **kwargs)
    assert response.status_code == status
    assert message in response.get_json()["message"]
    assert b"evil.example" not in response.data


def test_cli_convert_reads_stdin(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["embeds", "convert", "--maxheight", "220"], input=SEED_SNIPPET)
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["title"] == SAMPLE_TITLE and body["height"] == 220
    refused = runner.invoke(args=["embeds", "convert"], input='<iframe src="javascript:alert(1)">')
    assert refused.exit_code == 1
    assert "javascript: URLs are not players" in refused.output


# -- the registry entry ------------------------------------------------------------------------

def scheme_matches(scheme: str, url: str) -> bool:
    """oembed.com's wildcard rule: `*` matches anything, everything else literally."""
    pattern = ".*".join(re.escape(part) for part in scheme.split("*"))
    return re.fullmatch(pattern, url) is not None


def test_providers_json_lists_every_accepted_url_form(client):
    response = client.get("/oembed/providers.json")
    assert response.status_code == 200 and response.headers["Access-Control-Allow-Origin"] == "*"
    entries = response.get_json()
    assert isinstance(entries, list) and len(entries) == 1
    entry = entries[0]
    assert entry["provider_name"] == "storyfeed" and entry["provider_url"] == SITE
    (endpoint,) = entry["endpoints"]
    assert endpoint["url"] == f"{SITE}oembed"
    assert endpoint["discovery"] is True and endpoint["formats"] == ["json", "xml"]
    schemes = endpoint["schemes"]
    for scheme in schemes:
        assert scheme.startswith(("http://", "https://")) and "*" not in scheme.split("://")[0]
    for url, _ in EMBEDDABLE:
        assert any(scheme_matches(s, url) for s in schemes), url
    http = {s for s in schemes if s.startswith("http:")}
    assert {s.replace("https:", "http:", 1) for s in schemes if s.startswith("https:")} == http


# -- discovery, embed codes and framing ---------------------------------------------------------

def test_story_page_discovery_links_json_first_absolute(client):
    response = client.get(f"/stories/{SAMPLE_STORY}")
    page = response.get_data(as_text=True)
    head = page[:page.index("</head>")]
    tags = Tags(head)
    links = [a for t, a in tags.tags if t == "link" and a.get("rel") == "alternate"
             and "oembed" in a.get("type", "")]
    assert [a["type"] for a in links] == ["application/json+oembed", "text/xml+oembed"]
    assert head.index("json+oembed") < head.index("<link rel=\"stylesheet\"")
    for link in links:
        href = urlsplit(link["href"])
        assert f"{href.scheme}://{href.netloc}/" == SITE
        assert parse_qs(href.query)["url"] == [STORY_PAGE]
        assert link["title"] == SAMPLE_TITLE
        assert client.get(link["href"].removeprefix(SITE[:-1])).status_code == 200
    header = response.headers.getlist("Link")
    assert [h for h in header if "oembed" in h] == [f'<{a["href"]}>; rel="alternate"; type="{a["type"]}"'
                                                    for a in links]
    meta = {a.get("name") or a.get("property"): a["content"] for t, a in tags.tags if t == "meta" and "content" in a}
    assert meta["twitter:card"] == "player"
    assert meta["twitter:player"] == OWN_PLAYER
    assert (meta["twitter:player:width"], meta["twitter:player:height"]) == ("600", "180")
    assert meta["og:audio"].endswith(f"/{SAMPLE_AUDIO}.mp3") and meta["og:title"] == SAMPLE_TITLE


def test_player_page_discovery_and_link_header(client):
    response = client.get(f"/player/{SAMPLE_STORY}/{SAMPLE_AUDIO}")
    tags = Tags(response.get_data(as_text=True))
    links = [a for a in tags.find("link", rel="alternate")]
    assert [a["type"] for a in links] == ["application/json+oembed", "text/xml+oembed"]
    assert parse_qs(urlsplit(links[0]["href"]).query)["url"] == [OWN_PLAYER]
    assert len([h for h in response.headers.getlist("Link") if "oembed" in h]) == 2


def test_pages_without_a_story_have_no_oembed_discovery(client):
    for path in ("/", "/topics/north-korean-defectors"):
        response = client.get(path)
        assert "+oembed" not in response.get_data(as_text=True)
        assert not [h for h in response.headers.getlist("Link") if "oembed" in h]


def test_topic_page_embed_code_is_the_oembed_html(client):
    page = client.get("/topics/north-korean-defectors").get_data(as_text=True)
    codes = re.findall(r'<textarea readonly rows="3" aria-label="Embed code" dir="ltr">(.*?)</textarea>', page, re.S)
    assert len(codes) == 7
    parsed = Tags(page)
    assert len(parsed.find("textarea")) == 7  # the code is text, not live markup
    body = oembed(client, OWN_PLAYER).get_json()
    assert html_lib.unescape(codes[0]) == body["html"]


@pytest.mark.parametrize("path,framing", [
    (f"/player/{SAMPLE_STORY}/{SAMPLE_AUDIO}", None),
    (f"/player/{SAMPLE_STORY}/no-such-audio", None),
    (f"/stories/{SAMPLE_STORY}", "frame-ancestors 'self'"),
    ("/", "frame-ancestors 'self'"),
    ("/topics/north-korean-defectors", "frame-ancestors 'self'"),
    (f"/oembed?url={quote(STORY_PAGE)}", "frame-ancestors 'self'"),
    (f"/api/stories/{SAMPLE_STORY}", "frame-ancestors 'self'"),
    ("/static/player.js", "frame-ancestors 'self'"),
    ("/no/such/page", "frame-ancestors 'self'"),
])
def test_only_the_player_may_be_framed(client, path, framing):
    """The player names no frame-ancestors (any site may frame it); everything else 'self'."""
    directives = [d.strip() for d in client.get(path).headers["Content-Security-Policy"].split(";")]
    assert "script-src 'self'" in directives
    assert [d for d in directives if d.startswith("frame-ancestors")] == ([framing] if framing else [])


# -- the player page --------------------------------------------------------------------------

def test_player_page_has_what_the_issue_lists(client):
    response = client.get(f"/player/{SAMPLE_STORY}/{SAMPLE_AUDIO}")
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    tags = Tags(response.get_data(as_text=True))
    (audio,) = tags.find("audio")
    assert audio["preload"] == "none"
    sources = [s["src"] for s in tags.find("source")]
    assert sources and all(src.startswith(f"{SITE}media/") for src in sources)
    buttons = tags.find("button")
    assert [b["aria-label"] for b in buttons if "aria-label" in b] == [
        "Play", "Previous chapter", "Next chapter", "Playback speed 1x"]
    (seek,) = tags.find("input", type="range")
    assert seek["aria-label"] and "aria-valuetext" in seek
    assert tags.find("img", **{"class": "art"})
    hrefs = [a.get("href") for t, a in tags.tags if t == "a"]
    assert STORY_PAGE in hrefs and f"{SITE}media/north-korean-defectors/{SAMPLE_AUDIO}.mp3" in hrefs
    assert tags.find("html", **{"data-theme": "auto"})
    # The transcript page: storyfeed's own, which follows the cues, for every story that
    # has a transcript file (the record's NPR transcript page stays on the story page).
    transcript = client.get("/player/1022642030/1022642033").get_data(as_text=True)
    assert f'href="{SITE}stories/1022642030/transcript"' in transcript


@pytest.mark.parametrize("theme,expected", [("light", "light"), ("dark", "dark"), ("<x>", "auto")])
def test_player_theme(client, theme, expected):
    page = client.get(f"/player/{SAMPLE_STORY}/{SAMPLE_AUDIO}", query_string={"theme": theme})
    assert Tags(page.get_data(as_text=True)).find("html", **{"data-theme": expected})


def test_player_uses_no_storage_cookies_or_popups(client):
    script = client.get("/static/player.js").get_data(as_text=True)
    for forbidden in ("localStorage", "sessionStorage", "document.cookie", "window.open",
                      "indexedDB"):
        assert forbidden not in script
    # It posts only WordPress's embed messages, to its parent (tests/test_player_features.py).
    assert script.count("postMessage(") == 1 and "window.parent.postMessage(" in script


@pytest.mark.parametrize("path,status", [
    ("/player/no-such/1", 404),
    (f"/player/{SAMPLE_STORY}/999", 404),
    ("/player/700/701", 403),
    ("/player/900/901", 404),  # no audio file: NPR's player is the one to embed
])
def test_player_refuses_what_it_cannot_play(client, path, status):
    assert client.get(path).status_code == status


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_each_story_has_its_oembed_at_a_path_of_its_own(client, fmt):
    by_path = client.get(f"/stories/1169464713/oembed.{fmt}")
    by_query = client.get(
        "/oembed", query_string={"url": "http://storyfeed.test/stories/1169464713", "format": fmt})
    assert by_path.status_code == 200
    assert by_path.data == by_query.data
    assert by_path.headers["ETag"] == by_query.headers["ETag"]
    assert by_path.content_type == by_query.content_type


def test_a_story_oembed_path_answers_like_the_endpoint(client):
    assert client.get("/stories/1169464713/oembed.yaml").status_code == 501
    missing = client.get("/stories/nope/oembed.json")
    assert missing.status_code == 404 and missing.is_json


@pytest.mark.parametrize("path", [f"/stories/{SAMPLE_STORY}", f"/player/{SAMPLE_STORY}/{SAMPLE_AUDIO}"])
def test_discovery_from_a_themed_page_names_the_themed_page(client, path):
    """Consumers that discover the endpoint (unfurl.js, oembed-extractor, PyEmbed) pass on
    the URL discovery names: without the theme, they lost it."""
    response = client.get(path + "?theme=dark")
    links = [a for a in Tags(response.get_data(as_text=True)).find("link", rel="alternate")
             if "oembed" in a["type"]]
    headers = [h for h in response.headers.getlist("Link") if "oembed" in h]
    assert len(links) == 2 and len(headers) == 2
    for href in [a["href"] for a in links] + [h[1:h.index(">")] for h in headers]:
        (page,) = parse_qs(urlsplit(href).query)["url"]
        assert page.endswith(path + "?theme=dark"), href
        answer = client.get(href.removeprefix(SITE[:-1])).get_data(as_text=True)
        assert "theme=dark" in answer
    # A theme we do not have names the page as it is.
    unknown = client.get(path + "?theme=%3Cscript%3E")
    for link in Tags(unknown.get_data(as_text=True)).find("link", rel="alternate"):
        if "oembed" in link["type"]:
            assert "theme" not in parse_qs(urlsplit(link["href"]).query)["url"][0]


def test_the_player_card_of_a_themed_page_keeps_the_theme(client):
    """twitter:player is the player discovery names: unfurlers that read the card instead of
    oEmbed (open-graph-scraper, tests/clients) lost ?theme=dark."""
    def card_player(query: str) -> str:
        page = client.get(f"/stories/{SAMPLE_STORY}{query}").get_data(as_text=True)
        (meta,) = Tags(page).find("meta", name="twitter:player")
        return meta["content"]

    assert card_player("?theme=dark") == f"{SITE}player/{SAMPLE_STORY}/{SAMPLE_AUDIO}?theme=dark"
    assert card_player("") == card_player("?theme=%3Cscript%3E") == f"{SITE}player/{SAMPLE_STORY}/{SAMPLE_AUDIO}"
