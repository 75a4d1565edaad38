"""What keeps a browser safe from what the service serves: the headers on every response,
pages without inline script, and URLs built from records that are always http(s), even
for a record that never went through validation."""

from __future__ import annotations

import dataclasses
import json
from urllib.parse import quote, urlsplit

import lxml.etree
import lxml.html
import pytest

from serving.state import app_state
from stories.model import Audio, Image, TopicImage
from stories.validate import parse_story

from .conftest import make_app, story_record

# Warm answers come from the WSGI fast path (serving/fastpath.py) or from Flask: alike.
pytestmark = pytest.mark.usefixtures("both_paths")

TOPIC = "north-korean-defectors"
STORY = "1169464713"
AUDIO = "1169825816"

PAGES = ["/", f"/topics/{TOPIC}", f"/stories/{STORY}", "/no/such/page"]
OTHERS = [
    "/rss.xml", f"/topics/{TOPIC}/podcast.xml", "/feed.json", "/feeds.opml",
    f"/oembed?url=http://storyfeed.test/stories/{STORY}", "/oembed/providers.json",
    f"/api/stories/{STORY}", "/openapi.json", "/static/style.css", "/healthz",
    f"/media/{TOPIC}/{AUDIO}.mp3",
]


def policy_of(response) -> dict[str, str]:
    directives = (d.strip() for d in response.headers["Content-Security-Policy"].split(";"))
    return dict(d.partition(" ")[::2] for d in directives if d)


@pytest.mark.parametrize("url", PAGES)
def test_pages_have_a_real_content_security_policy(sample_client, url):
    policy = policy_of(sample_client.get(url))
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["base-uri"] == "'self'"
    assert policy["frame-ancestors"] == "'self'"
    assert not any("unsafe" in value for value in policy.values())


def test_the_player_may_be_framed_anywhere_but_runs_only_our_script(sample_client):
    policy = policy_of(sample_client.get(f"/player/{STORY}/{AUDIO}"))
    assert "frame-ancestors" not in policy
    assert policy["script-src"] == "'self'" and policy["object-src"] == "'none'"


@pytest.mark.parametrize("url", PAGES + OTHERS + [f"/player/{STORY}/{AUDIO}"])
def test_every_response_says_nosniff_and_its_referrer_policy(sample_client, url):
    response = sample_client.get(url)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Strict-Transport-Security" not in response.headers  # plain http


def test_hsts_only_when_the_proxy_says_https(sqlite_url):
    app = make_app(sqlite_url, PROXY_HOPS="1")
    client = app.test_client()
    secure = client.get("/", headers={"X-Forwarded-Proto": "https"})
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Strict-Transport-Security" not in client.get("/").headers
    spoofed = client.get("/", headers={"X-Forwarded-Proto": "javascript"})
    assert "Strict-Transport-Security" not in spoofed.headers


@pytest.mark.parametrize("url", PAGES + [f"/player/{STORY}/{AUDIO}"])
def test_pages_hold_no_inline_script_or_style(sample_client, url):
    """What the policy refuses must not be what the pages need."""
    page = lxml.html.fromstring(sample_client.get(url).data)
    # JSON-LD is a data block, never run, so no policy refuses it (tests/test_story_jsonld.py
    # checks that in Chromium); every script that runs comes from a file.
    assert all(s.get("src") or s.get("type") == "application/ld+json" for s in page.iter("script"))
    assert not list(page.iter("style"))
    for element in page.iter():
        if not isinstance(element.tag, str):
            continue
        assert "style" not in element.attrib, element.tag
        assert not [a for a in element.attrib if a.lower().startswith("on")], element.tag


# -- URLs built from records ----------------------------------------------------------------

MEDIA_SCRIPT = "/media/javascript:alert(document.domain)//x.mp3"
IMAGE_SCRIPT = "/media/javascript:alert(document.domain)//x.jpg"
SCRIPT = "javascript:alert(document.domain)"


def hostile_story(audio_url: str, image_url: str, transcript_url: str = "", url: str | None = None):
    """A story that holds the given URLs, as if it had been written straight to the store
    (no validation): what URL building must still make safe."""
    story, problems = parse_story(story_record(id="1666", topics=[TOPIC], audio=[{
        "id": "1667", "url": "https://media.example.org/x.mp3", "duration": 7}]))
    assert not problems
    audio = dataclasses.replace(story.audio[0], url=audio_url, transcript_url=transcript_url)
    assert isinstance(audio, Audio) and isinstance(story.image, Image)
    return dataclasses.replace(story, audio=(audio,),
                               image=dataclasses.replace(story.image, url=image_url),
                               url=url if url is not None else story.url)


URL_ATTRIBUTES = ("href", "src", "action", "poster", "data-copy")
URL_METAS = ("og:image", "og:audio", "og:url", "twitter:image", "twitter:player")


def html_urls(body: bytes) -> list[str]:
    page = lxml.html.fromstring(body)
    urls = [v for e in page.iter() if isinstance(e.tag, str)
            for a, v in e.attrib.items() if a in URL_ATTRIBUTES]
    urls += [m.get("content") for m in page.iter("meta")
             if (m.get("property") or m.get("name")) in URL_METAS]
    # A player's data (the frame's, and each inline player's on the pages): the URLs its
    # script fetches, shares and shows on lock screens.
    for player in page.xpath("//*[@data-player]"):
        data = json.loads(player.get("data-player"))
        urls += [data.get(key) or "" for key in ("transcriptUrl", "chaptersUrl", "shareUrl")]
        urls += [art.get("src", "") for art in data.get("session", {}).get("artwork", [])]
    # Embed codes are text for editors to copy; they hold the player iframe.
    urls += [v for t in page.iter("textarea") for f in lxml.html.fragments_fromstring(t.text or "")
             if not isinstance(f, str) for a, v in f.attrib.items() if a in URL_ATTRIBUTES]
    return urls


def xml_urls(body: bytes) -> list[str]:
    root = lxml.etree.fromstring(body)
    urls = [v for e in root.iter() for a, v in e.attrib.items()
            if lxml.etree.QName(a).localname in ("url", "href")]
    urls += [e.text or "" for e in root.iter() if isinstance(e.tag, str)
             and lxml.etree.QName(e).localname in ("link", "url", "enclosure")]
    return urls


def assert_web_urls(urls: list[str], where: str) -> None:
    for url in urls:
        scheme = urlsplit(url.strip()).scheme.lower()
        assert scheme in ("", "http", "https", "mailto", "podcast", "overcast", "pktc"), (where, url)
        assert "javascript" not in scheme, (where, url)
        if scheme == "":
            assert url.startswith(("/", "#", "?")) or not url, (where, url)


@pytest.mark.parametrize("audio_url,image_url,transcript_url,source_url", [
    (MEDIA_SCRIPT, IMAGE_SCRIPT, "", None),
    (SCRIPT + "//x.mp3", SCRIPT + "//x.jpg", SCRIPT, SCRIPT),
    ("/media//evil.example/x.mp3", "//evil.example/x.jpg", "/media/javascript:x", "data:text/html,x"),
    (" javascript:alert(1)", "\tjavascript:alert(1)", "java\nscript:alert(1)", None),
    (MEDIA_SCRIPT, IMAGE_SCRIPT, "", "JAVASCRIPT:alert(1)"),
], ids=["media-path", "absolute", "protocol-relative", "disguised", "source-url"])
def test_record_urls_come_out_as_http_or_not_at_all(sample_app, audio_url, image_url,
                                                    transcript_url, source_url):
    store = app_state(sample_app).store
    story = hostile_story(audio_url, image_url, transcript_url, source_url)
    topic = store.get_topic(TOPIC)
    artwork = TopicImage(url=image_url, width=1400, height=1400)
    store.write([story], [dataclasses.replace(topic, image=artwork)])
    client = sample_app.test_client()

    for url in (f"/stories/{story.id}", f"/topics/{TOPIC}", "/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_web_urls(html_urls(response.data), url)
    player = client.get(f"/player/{story.id}/1667")
    assert player.status_code in (200, 404)  # 404: no audio file that could be played
    if player.status_code == 200:
        assert_web_urls(html_urls(player.data), "player")
    # Every URL a feed emits passes feeds.content.http_url after Links.media.
    for url in ("/rss.xml", f"/topics/{TOPIC}/rss.xml", f"/topics/{TOPIC}/atom.xml",
                f"/topics/{TOPIC}/podcast.xml"):
        response = client.get(url)
        if url.endswith("podcast.xml") and response.status_code == 404:
            # Artwork that is no http(s) URL is artwork Apple cannot fetch: the named
            # problem, not a feed without it.
            assert b"artwork at an http(s) URL (image.url)" in response.data
            continue
        assert response.status_code == 200, url
        assert_web_urls(xml_urls(response.data), url)
    for target in (f"http://storyfeed.test/stories/{story.id}",
                   f"http://storyfeed.test/player/{story.id}/1667"):
        response = client.get("/oembed", query_string={"url": target})
        if response.status_code != 200:
            continue
        body = response.get_json()
        assert_web_urls([body.get("thumbnail_url", ""), body["author_url"]], target)
        if "html" in body:
            assert_web_urls(html_urls(body["html"].encode()), target)


def test_a_media_path_stays_under_the_media_base(sample_app):
    from serving.links import Links

    links = Links.build("https://storyfeed.example/", "https://cdn.example.net/m/")
    assert links.media(MEDIA_SCRIPT) == "https://cdn.example.net/m/javascript:alert(document.domain)//x.mp3"
    assert links.media("/media//evil.example/x.mp3") == "https://cdn.example.net/m//evil.example/x.mp3"
    assert links.media("/media/a/b.mp3") == "https://cdn.example.net/m/a/b.mp3"
    assert links.media("https://media.example.org/x.mp3") == "https://media.example.org/x.mp3"
    assert links.media(SCRIPT) == links.external(SCRIPT) == ""
    assert links.absolute("javascript:alert(1)") == "https://storyfeed.example/javascript:alert(1)"
    assert links.absolute("//evil.example/x") == "https://storyfeed.example/evil.example/x"


def test_the_canonical_link_of_any_path_is_ours(sample_client):
    response = sample_client.get("/" + quote("javascript:alert(1)"))
    assert response.status_code == 404
    (canonical,) = lxml.html.fromstring(response.data).xpath("//link[@rel='canonical']/@href")
    assert canonical.startswith("http://storyfeed.test/")


# -- CORS: what any page's script may read, the browser may ask to read -------------------

CORS_URLS = [
    "/rss.xml", "/atom.xml", "/feed.json", f"/topics/{TOPIC}/podcast.xml", f"/topics/{TOPIC}/atom.xml",
    "/feeds.opml", f"/oembed?url=http://storyfeed.test/stories/{STORY}", f"/stories/{STORY}/oembed.json",
    "/oembed/providers.json", f"/media/{TOPIC}/{AUDIO}.mp3", "/openapi.json",
    f"/stories/{STORY}/audio/{AUDIO}/transcript.vtt", f"/stories/{STORY}/audio/{AUDIO}/chapters.json",
]
NOT_CORS_URLS = [f"/topics/{TOPIC}", f"/stories/{STORY}", f"/player/{STORY}/{AUDIO}", "/"]
PREFLIGHT = {"Origin": "https://reader.example", "Access-Control-Request-Method": "GET",
             "Access-Control-Request-Headers": "if-none-match, range"}


@pytest.mark.parametrize("url", CORS_URLS)
def test_a_preflight_for_what_scripts_may_read_is_answered(sample_client, url):
    """A feed polled with If-None-Match, audio read with Range: the browser asks first,
    and without Allow-Methods and Allow-Headers it refuses the read."""
    assert sample_client.get(url).headers["Access-Control-Allow-Origin"] == "*"
    answer = sample_client.open(url, method="OPTIONS", headers=PREFLIGHT)
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in answer.headers["Access-Control-Allow-Methods"]
    allowed = {h.strip().lower() for h in answer.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"if-none-match", "range"} <= allowed


@pytest.mark.parametrize("url", NOT_CORS_URLS)
def test_pages_are_not_opened_to_other_origins_by_a_preflight(sample_client, url):
    answer = sample_client.open(url, method="OPTIONS", headers=PREFLIGHT)
    assert "Access-Control-Allow-Origin" not in answer.headers
