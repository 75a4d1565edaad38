"""Real oEmbed consumers against the service running on 127.0.0.1 over real HTTP."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
import requests
from micawber import Provider, ProviderRegistry
from micawber.exceptions import ProviderHTTPException
from pyembed.core import PyEmbed
from pyembed.core.consumer import get_first_oembed_response
from pyembed.core.discovery import AutoDiscoverer, UrlDiscoverer

from .embeds_support import SAMPLE_AUDIO, SAMPLE_STORY, SAMPLE_TITLE, embed_parts, serve_sample

NPR_PLAYER = f"https://www.npr.org/player/embed/{SAMPLE_STORY}/{SAMPLE_AUDIO}"


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    with serve_sample(tmp_path_factory.mktemp("consumers") / "test.sqlite3", True) as base:
        yield base


class StartTags(HTMLParser):
    def __init__(self, html: str):
        super().__init__()
        self.found: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


def iframe_attrs(html: str) -> dict:
    """The iframe's attributes (storyfeed's own player follows WordPress's blockquote)."""
    return dict(embed_parts(html)[1].attrib)


def micawber_registry(base: str) -> ProviderRegistry:
    registry = ProviderRegistry()
    provider = Provider(f"{base}oembed")
    registry.register(r"https?://(www\.)?npr\.org/\S+", provider)
    registry.register(re.escape(base) + r"(stories|player)/\S+", provider)
    return registry


def test_micawber_embeds_an_npr_player_url(base_url):
    registry = micawber_registry(base_url)
    data = registry.request(NPR_PLAYER, maxwidth=640)
    assert data["type"] == "rich" and data["title"] == SAMPLE_TITLE
    assert data["width"] == 640
    assert iframe_attrs(data["html"])["src"] == NPR_PLAYER
    # micawber's text parser swaps a bare URL on its own line for the provider's html.
    text = registry.parse_text(f"Listen:\n{NPR_PLAYER}\n")
    assert data["html"] in text


def test_micawber_embeds_a_story_page_with_storyfeeds_player(base_url):
    data = micawber_registry(base_url).request(f"{base_url}stories/{SAMPLE_STORY}")
    assert iframe_attrs(data["html"])["src"] == f"{base_url}player/{SAMPLE_STORY}/{SAMPLE_AUDIO}"
    assert data["author_url"] == f"{base_url}stories/{SAMPLE_STORY}"


def test_micawber_sees_the_error_statuses(base_url):
    registry = micawber_registry(base_url)
    with pytest.raises(ProviderHTTPException) as not_embeddable:
        registry.request("https://www.npr.org/player/embed/700/701")
    assert not_embeddable.value.status == 401
    with pytest.raises(ProviderHTTPException) as unknown:
        registry.request("https://www.npr.org/player/embed/1/2")
    assert unknown.value.status == 404


def test_pyembed_discovers_the_endpoint_from_a_story_page(base_url):
    page = f"{base_url}stories/{SAMPLE_STORY}"
    html = PyEmbed(discoverer=AutoDiscoverer()).embed(page, max_width=500, max_height=250)
    attrs = iframe_attrs(html)
    assert attrs["src"] == f"{base_url}player/{SAMPLE_STORY}/{SAMPLE_AUDIO}"
    assert attrs["title"] == SAMPLE_TITLE and attrs["height"] == "180"


# PyEmbed reads XML with BeautifulSoup's HTML parser, and bs4 says so.
@pytest.mark.filterwarnings("ignore:It looks like you're using an HTML parser")
def test_pyembed_reads_the_xml_response_too(base_url):
    page = f"{base_url}stories/{SAMPLE_STORY}"
    urls = list(AutoDiscoverer().get_oembed_urls(page, "xml"))
    assert len(urls) == 1 and "format=xml" in urls[0]
    response = get_first_oembed_response(urls, max_width=300)
    assert response.type == "rich" and response.title == SAMPLE_TITLE
    assert int(response.width) == 300


def test_pyembed_uses_providers_json_as_a_registry(base_url):
    discoverer = UrlDiscoverer(f"{base_url}oembed/providers.json")
    legacy = f"http://www.npr.org/v2/?i={SAMPLE_STORY}&m={SAMPLE_AUDIO}&t=audio"
    html = PyEmbed(discoverer=discoverer).embed(legacy)
    assert iframe_attrs(html)["src"] == NPR_PLAYER


def test_a_browser_may_read_the_endpoint_cross_origin(base_url):
    response = requests.get(f"{base_url}oembed", params={"url": NPR_PLAYER},
                            headers={"Origin": "https://blog.example"}, timeout=10)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Type"] == "application/json"
