"""maxwidth and maxheight are respected for every value from 1 to 2000."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embeds.oembed import MAX_WIDTH, OEmbedSettings, build_oembed_response, fit_within
from embeds.providers import OWN_PLAYER_HEIGHT, UrlMatch, load_providers, registry_for_site
from embeds.snippets import PlayerRef
from serving.links import Links
from serving.state import app_state
from stories import migrate
from stories.store import create_engine
from stories.validate import parse_story

from .conftest import make_app, story_record
from .embeds_support import SAMPLE_AUDIO, SAMPLE_STORY

SITE = "http://storyfeed.test/"
LINKS = Links.build(SITE)
REGISTRY = registry_for_site(load_providers(), SITE)
SETTINGS = OEmbedSettings("storyfeed", SITE, 3600)
STORY = parse_story(story_record())[0]  # image 1200x800
NPR = next(p for p in REGISTRY.providers if p.name == "NPR")
PLAYERS = {
    "own": PlayerRef(UrlMatch(REGISTRY.own, "1001", "2001")),
    "npr": PlayerRef(UrlMatch(NPR, "1001", "2001")),
}
MIN_HEIGHT = {"own": OWN_PLAYER_HEIGHT["min"], "npr": 200}


class _Iframe(HTMLParser):
    def __init__(self, html):
        super().__init__()
        self.attrs = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.attrs.append((tag, dict(attrs)))


def check(body: dict, maxwidth: int | None, maxheight: int | None, min_height: int) -> None:
    for key in ("width", "height", "thumbnail_width", "thumbnail_height", "cache_age"):
        if key in body:
            assert type(body[key]) is int and body[key] >= 1, key
    if maxheight is not None and maxheight < min_height:
        assert body["type"] == "link" and "html" not in body and "width" not in body
    else:
        assert body["type"] == "rich"
        assert body["width"] <= min(maxwidth or MAX_WIDTH, MAX_WIDTH)
        assert body["width"] == min(maxwidth or 600, MAX_WIDTH)
        assert min_height <= body["height"] <= (maxheight or 10_000)
        (tag, attrs) = _Iframe(body["html"]).attrs[-1]  # after WordPress's blockquote, if any
        assert tag == "iframe" and attrs["height"] == str(body["height"]) and attrs["width"] == "100%"
    trio = {"thumbnail_url", "thumbnail_width", "thumbnail_height"} & set(body)
    assert len(trio) in (0, 3)
    if trio:
        assert body["thumbnail_width"] <= (maxwidth or 10_000)
        assert body["thumbnail_height"] <= (maxheight or 10_000)


@pytest.mark.slow
@pytest.mark.parametrize("player", sorted(PLAYERS))
def test_every_maxwidth_and_every_maxheight_from_1_to_2000(player):
    for value in range(1, 2001):
        for maxwidth, maxheight in ((value, None), (None, value), (value, value)):
            body = build_oembed_response(
                title="A story", story=STORY, player=PLAYERS[player], links=LINKS,
                settings=SETTINGS, maxwidth=maxwidth, maxheight=maxheight,
            )
            check(body, maxwidth, maxheight, MIN_HEIGHT[player])


@given(st.integers(1, 5000), st.integers(1, 5000), st.integers(1, 2000) | st.none(),
       st.integers(1, 2000) | st.none())
def test_thumbnails_fit_and_keep_their_shape(width, height, maxwidth, maxheight):
    w, h = fit_within(width, height, maxwidth, maxheight)
    assert 1 <= w <= width and 1 <= h <= height
    assert w <= (maxwidth or width) and h <= (maxheight or height)
    if w > 1 and h > 1:  # rounding of a 1px side aside, the aspect ratio holds
        assert abs(w / h - width / height) <= width / height * (1 / min(w, h) + 1 / max(w, h)) + 1e-9


@pytest.fixture(scope="module")
def sample_client(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('props') / 'test.sqlite3'}"
    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    app = make_app(url)
    assert app.test_cli_runner().invoke(args=["stories", "sample"]).exit_code == 0
    yield app.test_client()
    app_state(app).store.engine.dispose()


URLS = {
    "own": (f"{SITE}stories/{SAMPLE_STORY}", OWN_PLAYER_HEIGHT["min"]),
    "npr": (f"https://www.npr.org/player/embed/{SAMPLE_STORY}/{SAMPLE_AUDIO}", 200),
}


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(sorted(URLS)), maxwidth=st.integers(1, 2000) | st.none(),
       maxheight=st.integers(1, 2000) | st.none(), fmt=st.sampled_from(["json", "xml"]))
def test_the_endpoint_respects_sizes(sample_client, kind, maxwidth, maxheight, fmt):
    url, min_height = URLS[kind]
    params = {"url": url, "format": "json"}
    if maxwidth:
        params["maxwidth"] = str(maxwidth)
    if maxheight:
        params["maxheight"] = str(maxheight)
    response = sample_client.get("/oembed", query_string=params)
    assert response.status_code == 200
    check(response.get_json(), maxwidth, maxheight, min_height)
    if fmt == "xml":
        xml = sample_client.get("/oembed", query_string={**params, "format": "xml"})
        assert xml.status_code == 200 and xml.data.startswith(b"<?xml")
