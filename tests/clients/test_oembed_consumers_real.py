"""Real oEmbed consumers, at the versions tests/js/package-lock.json and requirements-dev.txt
pin, against storyfeed as a platform runs it: gunicorn from the Procfile, the sample topic,
over HTTPS as SITE_URL names it (a certificate made for the test, trusted by each client
through its own documented variable).

What each library does is what the test checks: discovery from a story page (the
`<link rel="alternate" type="application/json+oembed">` each reads; the `Link:` header
says the same), also from a themed page, whose theme reaches the player; the registry
`/oembed/providers.json` where the library takes a provider list (oembed-extractor,
micawber, PyEmbed, oembedpy); the player's iframe in the answer's html after WordPress's
blockquote; and the statuses a library lets its caller see.

unfurl.js reads discovery only; open-graph-scraper reads no oEmbed at all, but the Open
Graph and twitter:player card of the same page, which Slack-like unfurlers use instead.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from micawber.exceptions import ProviderHTTPException
from micawber.providers import bootstrap_oembed
from oembedpy import consumer as oembedpy_consumer
from oembedpy import discovery as oembedpy_discovery
from oembedpy.provider import ProviderRegistry as OembedpyRegistry
from oembedpy.types import Rich
from pyembed.core import PyEmbed
from pyembed.core.consumer import PyEmbedConsumerError, get_oembed_response
from pyembed.core.discovery import AutoDiscoverer, UrlDiscoverer

from ..conftest import migrated_sqlite
from ..embeds_support import (
    HOSTILE_TITLE,
    SAMPLE_AUDIO,
    SAMPLE_STORY,
    SAMPLE_TITLE,
    embed_parts,
    extra_records,
)
from ..servers import ROOT, Gunicorn, flask_cli, service_env

# One xdist worker runs them all (`make test`: --dist loadgroup), so one gunicorn serves them.
pytestmark = [pytest.mark.clients, pytest.mark.slow, pytest.mark.xdist_group("oembed-consumers")]

JS = ROOT / "tests" / "js"
CONSUMER_JS = JS / "oembed_consumer.mjs"
THUMBNAIL = "media/north-korean-defectors/1169464713.jpg"
NOT_EMBEDDABLE = "700"  # extra_records(): audio the publisher does not let us embed
HOSTILE_STORY = "666"  # extra_records(): a title of markup
THEMES = [None, "dark"]
NPM_PACKAGES = ("unfurl.js", "@extractus/oembed-extractor", "open-graph-scraper")


class Storyfeed:
    def __init__(self, base: str, cert: Path):
        self.base = base  # ends in "/", as SITE_URL
        self.cert = cert

    def story(self, story_id: str = SAMPLE_STORY, theme: str | None = None) -> str:
        return f"{self.base}stories/{story_id}" + (f"?theme={theme}" if theme else "")

    def player(self, theme: str | None = None) -> str:
        return f"{self.base}player/{SAMPLE_STORY}/{SAMPLE_AUDIO}" + (f"?theme={theme}" if theme else "")


def self_signed(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


@pytest.fixture(scope="module")
def storyfeed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("oembed-consumers")
    cert, key = self_signed(folder)
    # Migrated as the Procfile's release step leaves it (conftest: one migration a session).
    env = service_env(DATABASE_URL=migrated_sqlite(folder / "storyfeed.sqlite3"))
    done = flask_cli(env, "stories", "sample")
    assert done.returncode == 0, done.stderr
    extras = "".join(json.dumps(record) + "\n" for record in extra_records())
    done = flask_cli(env, "stories", "import", "-", stdin=extras)
    assert done.returncode == 0, done.stderr
    server = Gunicorn(env)
    server.base = f"https://127.0.0.1:{server.port}"
    server.env["SITE_URL"] = server.base + "/"
    server.env["GUNICORN_CMD_ARGS"] += f" --certfile {cert} --keyfile {key}"
    # Each Python client trusts the test's certificate as its documentation says: urllib
    # (micawber) and httpx (oembedpy) read SSL_CERT_FILE, requests (PyEmbed) its own.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SSL_CERT_FILE", str(cert))
        patch.setenv("REQUESTS_CA_BUNDLE", str(cert))
        with server:
            yield Storyfeed(server.base + "/", cert)


@pytest.fixture(scope="module")
def providers_file(storyfeed, tmp_path_factory):
    """The registry as a consumer keeps it: /oembed/providers.json, saved."""
    path = tmp_path_factory.mktemp("registry") / "providers.json"
    path.write_bytes(requests.get(f"{storyfeed.base}oembed/providers.json", timeout=10).content)
    return path


def node_consumer(storyfeed: Storyfeed, library: str, url: str, *providers: str) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None or not all((JS / "node_modules" / package).is_dir() for package in NPM_PACKAGES):
        pytest.skip("node or the npm consumers missing (make test runs npm ci --prefix tests/js)")
    done = subprocess.run(
        [node, str(CONSUMER_JS), library, url, *providers], cwd=JS, capture_output=True, text=True,
        timeout=60, env={**service_env(), "NODE_EXTRA_CA_CERTS": str(storyfeed.cert)},
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def assert_storyfeeds_player(storyfeed: Storyfeed, html: str, theme: str | None) -> None:
    """The answer's html: WordPress's blockquote linking the story, then our player."""
    blockquote, iframe = embed_parts(html)
    assert blockquote is not None and blockquote.find("a").get("href") == storyfeed.story()
    assert iframe.get("src") == storyfeed.player(theme)
    assert iframe.get("title") == SAMPLE_TITLE


# -- discovery, and what the page says it is -------------------------------------------------


@pytest.mark.parametrize("theme", THEMES)
def test_the_link_header_names_what_the_page_links(storyfeed, theme):
    """Consumers read the `<link>`; a client that reads only headers gets the same URLs."""
    page = requests.get(storyfeed.story(theme=theme), timeout=10)
    links = [link for link in requests.utils.parse_header_links(page.headers["Link"])
             if link["type"].endswith("+oembed")]
    discovered = list(AutoDiscoverer().get_oembed_urls(storyfeed.story(theme=theme), "json"))
    assert [link["url"] for link in links if link["type"] == "application/json+oembed"] == discovered


@pytest.mark.parametrize("theme", THEMES)
def test_unfurl_discovers_the_player(storyfeed, theme):
    answer = node_consumer(storyfeed, "unfurl", storyfeed.story(theme=theme))["result"]
    embed = answer["oEmbed"]
    assert embed["type"] == "rich" and embed["title"] == SAMPLE_TITLE
    assert_storyfeeds_player(storyfeed, embed["html"], theme)
    assert embed["thumbnails"][0]["url"] == storyfeed.base + THUMBNAIL


@pytest.mark.parametrize("theme", THEMES)
def test_oembed_extractor_discovers_the_player(storyfeed, theme):
    answer = node_consumer(storyfeed, "oembed-extractor", storyfeed.story(theme=theme))["result"]
    assert answer["method"] == "auto-discovery" and answer["title"] == SAMPLE_TITLE
    assert_storyfeeds_player(storyfeed, answer["html"], theme)
    assert answer["thumbnail_url"] == storyfeed.base + THUMBNAIL


@pytest.mark.parametrize("theme", THEMES)
def test_oembed_extractor_uses_providers_json(storyfeed, theme):
    """oembed-extractor calls a registry's endpoint as https whatever it says: storyfeed
    behind TLS, as SITE_URL is in production, is what it can use."""
    answer = node_consumer(storyfeed, "oembed-extractor", storyfeed.story(theme=theme),
                           f"{storyfeed.base}oembed/providers.json")["result"]
    assert answer["method"] == "provider-api" and answer["endpoint"] == f"{storyfeed.base}oembed"
    assert_storyfeeds_player(storyfeed, answer["html"], theme)


@pytest.mark.parametrize("theme", THEMES)
def test_open_graph_scraper_reads_the_player_card(storyfeed, theme):
    """No oEmbed: the Open Graph tags and the twitter:player card, whose player is the
    one the page's oEmbed names, theme included."""
    card = node_consumer(storyfeed, "open-graph-scraper", storyfeed.story(theme=theme))["result"]
    assert card["success"] and card["ogTitle"] == SAMPLE_TITLE and card["twitterCard"] == "player"
    assert card["ogUrl"] == storyfeed.story()
    assert card["ogImage"][0]["url"] == storyfeed.base + THUMBNAIL
    assert [player["url"] for player in card["twitterPlayer"]] == [storyfeed.player(theme)]
    assert card["twitterPlayer"][0]["stream"] == card["ogAudio"]


@pytest.mark.parametrize("theme", THEMES)
def test_micawber_uses_providers_json(storyfeed, providers_file, theme):
    """micawber reads no discovery; its registry is a providers.json file."""
    registry = bootstrap_oembed(providers_file=str(providers_file))
    answer = registry.request(storyfeed.story(theme=theme))
    assert answer["type"] == "rich" and answer["title"] == SAMPLE_TITLE
    assert answer["thumbnail_url"] == storyfeed.base + THUMBNAIL
    assert_storyfeeds_player(storyfeed, answer["html"], theme)
    # Its text parser swaps a bare URL on its own line for that html.
    assert answer["html"] in registry.parse_text(f"Listen:\n{storyfeed.story(theme=theme)}\n")


@pytest.mark.parametrize("theme", THEMES)
def test_pyembed_discovers_the_player(storyfeed, theme):
    html = PyEmbed(discoverer=AutoDiscoverer()).embed(storyfeed.story(theme=theme), max_width=500)
    assert_storyfeeds_player(storyfeed, html, theme)


def test_pyembed_uses_providers_json(storyfeed):
    discoverer = UrlDiscoverer(f"{storyfeed.base}oembed/providers.json")
    html = PyEmbed(discoverer=discoverer).embed(storyfeed.story(theme="dark"))
    assert_storyfeeds_player(storyfeed, html, "dark")


@pytest.mark.parametrize("theme", THEMES)
def test_oembedpy_discovers_the_player(storyfeed, theme):
    """oembedpy's own steps (its `Oembed` object fetches oembed.com's list first)."""
    endpoint, params = oembedpy_discovery.find_from_content(storyfeed.story(theme=theme))
    assert endpoint == f"{storyfeed.base}oembed"
    content = oembedpy_consumer.fetch_content(endpoint, params)
    assert isinstance(content, Rich) and content.title == SAMPLE_TITLE
    assert content.thumbnail_url == storyfeed.base + THUMBNAIL
    assert_storyfeeds_player(storyfeed, content.html, theme)


def test_oembedpy_uses_providers_json(storyfeed, providers_file):
    registry = OembedpyRegistry.from_dict(json.loads(providers_file.read_text()))
    endpoint, params = oembedpy_discovery.find_from_registry(storyfeed.story(theme="dark"), registry)
    content = oembedpy_consumer.fetch_content(endpoint, params)
    assert isinstance(content, Rich)
    assert_storyfeeds_player(storyfeed, content.html, "dark")


def test_discovery_from_the_themed_player_page(storyfeed):
    """The player page announces its own answer, theme included, to every consumer that
    reads discovery."""
    page = storyfeed.player("dark")
    answers = {
        "unfurl.js": node_consumer(storyfeed, "unfurl", page)["result"]["oEmbed"]["html"],
        "oembed-extractor": node_consumer(storyfeed, "oembed-extractor", page)["result"]["html"],
        "PyEmbed": PyEmbed(discoverer=AutoDiscoverer()).embed(page),
        "oembedpy": oembedpy_consumer.fetch_content(*oembedpy_discovery.find_from_content(page)).to_dict()["html"],
    }
    for consumer, html in answers.items():
        assert embed_parts(html)[1].get("src") == storyfeed.player("dark"), consumer


def test_a_hostile_title_stays_text(storyfeed):
    """A title made of markup reaches the consumer's html as text: the embed is still the
    blockquote and the iframe alone."""
    page = storyfeed.story(HOSTILE_STORY)
    answer = node_consumer(storyfeed, "oembed-extractor", page)["result"]
    assert answer["title"] == HOSTILE_TITLE
    blockquote, iframe = embed_parts(answer["html"])
    assert blockquote is not None and blockquote.text_content() == HOSTILE_TITLE
    assert iframe.get("title") == HOSTILE_TITLE


# -- errors, as each library tells its caller ----------------------------------------------


@pytest.mark.parametrize("library", ["unfurl", "oembed-extractor", "open-graph-scraper"])
def test_npm_consumers_see_an_unknown_story_as_404(storyfeed, library):
    assert node_consumer(storyfeed, library, storyfeed.story("1"))["status"] == 404


def test_npm_consumers_get_no_embed_of_audio_not_embeddable(storyfeed):
    page = storyfeed.story(NOT_EMBEDDABLE)
    assert node_consumer(storyfeed, "oembed-extractor", page)["status"] == 401
    registry = f"{storyfeed.base}oembed/providers.json"
    assert node_consumer(storyfeed, "oembed-extractor", page, registry)["status"] == 401
    # unfurl.js keeps the page's metadata and drops an oEmbed answer that is an error.
    unfurled = node_consumer(storyfeed, "unfurl", page)["result"]
    assert "html" not in unfurled.get("oEmbed", {})


def test_python_consumers_see_the_error_statuses(storyfeed, providers_file):
    registry = bootstrap_oembed(providers_file=str(providers_file))
    for story_id, status in (("1", 404), (NOT_EMBEDDABLE, 401)):
        with pytest.raises(ProviderHTTPException) as micawber_error:
            registry.request(storyfeed.story(story_id))
        assert micawber_error.value.status == status
        # urllib's error keeps its response open, and gunicorn's graceful stop would wait
        # for that connection (~5 s of the suite).
        micawber_error.value.__cause__.close()
        endpoint, params = oembedpy_discovery.find_from_registry(
            storyfeed.story(story_id), OembedpyRegistry.from_dict(json.loads(providers_file.read_text())))
        with pytest.raises(httpx.HTTPStatusError) as oembedpy_error:
            oembedpy_consumer.fetch_content(endpoint, params)
        assert oembedpy_error.value.response.status_code == status
    # PyEmbed's `embed` says only that no answer came; the call it makes for each
    # discovered URL says the status.
    (discovered,) = AutoDiscoverer().get_oembed_urls(storyfeed.story(NOT_EMBEDDABLE), "json")
    with pytest.raises(PyEmbedConsumerError, match=r"\(status code 401\)"):
        get_oembed_response(discovered)
