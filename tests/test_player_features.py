"""The player's features (issue 12, part 4): chapters, transcript, captions, share, sources,
Media Session, WordPress's embed messages, theme and start time through oEmbed, keyboard,
axe-core, and the size budget.

The first half runs on the Flask test client; the second drives Debian's Chromium through
Playwright against the sample served over real HTTP, with host pages on a second origin.
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import contextlib
import gzip
import html
import json
import os
import re
import shutil
import subprocess

import lxml.html
import pytest
import requests

from embeds.player import audio_sources
from serving.links import Links
from serving.state import app_state
from stories.model import Alternate, Audio

from .browser_support import ARTIFACTS, CHROMIUM
from .conftest import ROOT
from .embeds_support import HOSTILE_TITLE, SAMPLE_AUDIO, SAMPLE_STORY, add_extra_stories, embed_parts, embed_src

SITE = "http://storyfeed.test/"
PLAYER_PATH = f"/player/{SAMPLE_STORY}/{SAMPLE_AUDIO}"
OWN_PLAYER = f"{SITE}player/{SAMPLE_STORY}/{SAMPLE_AUDIO}"
STORY_PAGE = f"{SITE}stories/{SAMPLE_STORY}"
NPR_STORY = (f"https://www.npr.org/2023/04/06/{SAMPLE_STORY}/"
             "north-korean-defectors-deportation-china-covid-border")
MEDIA = f"{SITE}media/north-korean-defectors/"
DURATION = 56  # the sample audio's record
CHAPTERS = [(0.0, "Headline"), (11.403, "In brief"), (21.304, "The picture"), (50.738, "Credit")]
CUES = [  # the sample's WebVTT: (start, text)
    (0.0, "A storyfeed sample, read by a synthetic voice."),
    (4.021, "North Korean defectors may face deportation by China as COVID border controls ease."),
    (11.403, "As China reopens its border with North Korea after the pandemic,"),
    (15.886, "defectors held in Chinese detention fear being sent back."),
    (21.304, "Surveillance footage of the moment a North Korean soldier defects,"),
    (25.736, "shown at a press briefing by the United Nations Command at the Defense Ministry "
             "in Seoul on Nov. 22, 2017."),
    (35.861, "A North Korean soldier crossed the border into the South in breach of a 1953 "
             "armistice agreement,"),
    (43.359, "as he pursued a defector who was shot last week, the United Nations Command said."),
    (50.738, "Photo: Jung Yeon-Je/AFP via Getty Images."),
]
BUDGET = 40 * 1024  # gzipped bytes: the player's own HTML, CSS and JS together


@pytest.fixture
def client(sample_app):
    add_extra_stories(sample_app)
    return sample_app.test_client()


def player_document(client, path=PLAYER_PATH):
    response = client.get(path)
    assert response.status_code == 200
    return lxml.html.fromstring(response.data)


def player_data(client, path=PLAYER_PATH) -> dict:
    (root,) = player_document(client, path).xpath('//*[@id="player"]')
    return json.loads(root.get("data-player"))


def oembed_src(client, url: str, **params) -> str:
    body = client.get("/oembed", query_string={"url": url, **params}).get_json()
    return embed_src(body["html"])


# -- the page: sources, captions, data for the script --------------------------------------


def test_sources_opus_first_then_the_mp3_enclosure(client):
    doc = player_document(client)
    (audio,) = doc.xpath("//audio")
    assert audio.get("src") is None  # <source> children choose, best first
    sources = [(s.get("src"), s.get("type")) for s in audio.xpath(".//source")]  # (libxml2 nests them)
    assert sources == [(f"{MEDIA}{SAMPLE_AUDIO}.opus", 'audio/ogg; codecs="opus"'),
                       (f"{MEDIA}{SAMPLE_AUDIO}.mp3", "audio/mpeg")]


def test_source_order_rule_codec_then_size_then_the_enclosure():
    links = Links.build("http://storyfeed.test/")
    audio = Audio(
        id="1", url="/media/a.mp3", type="audio/mpeg", length=900_000,
        alternates=(
            Alternate(url="/media/a-big.m4a", type="audio/mp4", length=800_000, bitrate=64000,
                      codecs="mp4a.40.2"),
            Alternate(url="/media/a-small.m4a", type="audio/mp4", length=400_000, bitrate=32000,
                      codecs="mp4a.40.5"),
            Alternate(url="/media/a.flac", type="audio/flac", length=9_000_000, bitrate=900000,
                      codecs="flac"),
            Alternate(url="/media/a.weird", type="audio/x-weird", length=10, bitrate=1, codecs="x"),
            Alternate(url="/media/a.opus", type="audio/ogg", length=300_000, bitrate=20000,
                      codecs="opus"),
            Alternate(url="/media/a-same.mp3", type="audio/mpeg", length=900_000, bitrate=32000,
                      codecs="mp3"),
            Alternate(url="javascript:alert(1)", type="audio/ogg", length=1, bitrate=1, codecs="opus"),
            Alternate(url="/media/a.mp3", type="audio/mpeg", length=1, bitrate=1, codecs="mp3"),
        ),
    )
    names = [s.src.rsplit("/", 1)[1] for s in audio_sources(audio, links)]
    # Opus, AAC (smaller first), MP3 (the enclosure wins the tie), FLAC, the unknown codec;
    # no javascript: URL, no URL twice.
    assert names == ["a.opus", "a-small.m4a", "a-big.m4a", "a.mp3", "a-same.mp3", "a.flac", "a.weird"]


def test_captions_track_is_the_same_origin_vtt(client):
    (track,) = player_document(client).xpath("//audio//track")
    assert track.get("kind") == "captions"
    assert track.get("src") == f"{MEDIA}{SAMPLE_AUDIO}.vtt"
    assert track.get("srclang") == "en-US" and track.get("label")
    vtt = client.get(f"/media/north-korean-defectors/{SAMPLE_AUDIO}.vtt")
    assert vtt.status_code == 200 and vtt.data.startswith(b"WEBVTT")


def test_script_data_names_chapters_transcript_share_and_session(client):
    data = player_data(client)
    assert [(c["startTime"], c["title"]) for c in data["chapters"]] == CHAPTERS
    assert data["transcriptUrl"] == f"{MEDIA}{SAMPLE_AUDIO}.vtt"
    assert data["shareUrl"] == OWN_PLAYER
    assert data["embedCode"] == client.get("/oembed", query_string={"url": OWN_PLAYER}).get_json()["html"]
    assert data["session"]["title"].startswith("North Korean defectors")
    assert data["session"]["artwork"] == [
        {"src": f"{MEDIA}{SAMPLE_STORY}.jpg", "sizes": "800x450"}]
    assert data["duration"] == DURATION


def test_hostile_title_stays_data_in_the_data_attribute(client):
    raw = client.get("/player/666/667").get_data(as_text=True)
    value = re.search(r"data-player='([^']*)'", raw)
    assert value and not re.search("[<>]", value.group(1))  # |tojson escapes <, >, & and '
    assert player_data(client, "/player/666/667")["session"]["title"] == HOSTILE_TITLE


def test_player_policy_lets_any_site_frame_it_and_allows_no_inline_script(client):
    policy = dict(d.strip().split(" ", 1) for d in
                  client.get(PLAYER_PATH).headers["Content-Security-Policy"].split(";"))
    assert "frame-ancestors" not in policy  # `*` would refuse opaque and file: ancestors
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["connect-src"] == "'self' https: http:"  # transcripts and chapters files


def test_links_are_marked_for_a_new_tab(client):
    links = player_document(client).xpath("//a[@href]")
    assert [a.text_content() for a in links] == [
        "North Korean defectors may face deportation by China as COVID border controls ease",
        "Download", "Transcript page", "Story"]
    assert all(a.get("target") == "_blank" and a.get("rel") == "noopener" for a in links)


def test_player_budget_under_40_kb_gzipped(client):
    sizes = {}
    for path in (PLAYER_PATH, "/static/player.css", "/static/player.js"):
        response = client.get(path)
        assert response.status_code == 200
        sizes[path] = len(gzip.compress(response.data, compresslevel=9))
    total = sum(sizes.values())
    print(f"player budget: {total} bytes gzipped of {BUDGET} ({sizes})")
    assert total < BUDGET, sizes


# -- oEmbed: theme and start time reach the iframe -------------------------------------------


@pytest.mark.parametrize("url,params,expected", [
    (f"{STORY_PAGE}?theme=dark", {}, f"{OWN_PLAYER}?theme=dark"),
    (f"{OWN_PLAYER}?theme=light", {}, f"{OWN_PLAYER}?theme=light"),
    (f"{OWN_PLAYER}#t=30", {}, f"{OWN_PLAYER}#t=30"),
    (f"{STORY_PAGE}?theme=dark#t=1:30", {}, f"{OWN_PLAYER}?theme=dark"),  # 90 s > 56 s: dropped
    (f"{STORY_PAGE}#t=0:45", {}, f"{OWN_PLAYER}#t=45"),
    (STORY_PAGE, {"theme": "dark"}, f"{OWN_PLAYER}?theme=dark"),
    (f"{STORY_PAGE}?theme=light#t=12", {"theme": "dark"}, f"{OWN_PLAYER}?theme=dark#t=12"),
    (f"{STORY_PAGE}?theme=<b>", {"theme": "neon"}, OWN_PLAYER),
    (f"{OWN_PLAYER}#t=0", {}, OWN_PLAYER),
    (f"{OWN_PLAYER}#t=abc", {}, OWN_PLAYER),
    (f"{STORY_PAGE}/?theme=dark", {}, f"{OWN_PLAYER}?theme=dark"),  # a trailing slash too
    # NPR's player takes no options of ours.
    (f"{NPR_STORY}?theme=dark#t=30", {"theme": "dark"},
     f"https://www.npr.org/player/embed/{SAMPLE_STORY}/{SAMPLE_AUDIO}"),
])
def test_theme_and_start_pass_through_oembed(client, url, params, expected):
    response = client.get("/oembed", query_string={"url": url, **params})
    assert response.status_code == 200
    assert embed_src(response.get_json()["html"]) == expected


def test_pasted_snippet_keeps_theme_and_start(client):
    snippet = f'<iframe src="{OWN_PLAYER}?theme=dark#t=20" height="180"></iframe>'
    body = client.post("/oembed/convert", json={"snippet": snippet}).get_json()
    assert embed_src(body["html"]) == f"{OWN_PLAYER}?theme=dark#t=20"
    late = snippet.replace("#t=20", "#t=999")
    body = client.post("/oembed/convert", json={"snippet": late}).get_json()
    assert embed_src(body["html"]) == f"{OWN_PLAYER}?theme=dark"


def test_options_keep_the_oembed_cache_bounded(sample_app):
    cache = app_state(sample_app).render_cache
    client = sample_app.test_client()
    assert client.get("/oembed", query_string={"url": STORY_PAGE}).status_code == 200
    warm = len(cache._entries)
    for i in range(200):  # starts past the end, junk themes, junk fragments: nothing new kept
        url = [f"{STORY_PAGE}#t={DURATION + 1 + i}", f"{STORY_PAGE}?theme=x{i}",
               f"{STORY_PAGE}#t=-{i}", f"{OWN_PLAYER}#t={10**6 + i}"][i % 4]
        response = client.get("/oembed", query_string={"url": url, "theme": f"t{i}"})
        assert response.status_code == 200
    assert len(cache._entries) - warm <= 1  # the player URL's own entry
    before = len(cache._entries)
    for _ in range(3):  # a real start and a real theme: one entry each, however often asked
        client.get("/oembed", query_string={"url": f"{STORY_PAGE}#t=30"})
        client.get("/oembed", query_string={"url": STORY_PAGE, "theme": "dark"})
    assert len(cache._entries) - before == 2


def test_story_url_with_a_trailing_slash_redirects_to_the_canonical_one(client):
    response = client.get(f"/stories/{SAMPLE_STORY}/")
    assert response.status_code in (301, 308)
    assert response.headers["Location"] == STORY_PAGE
    assert client.get(response.headers["Location"]).status_code == 200


# -- in Chromium -----------------------------------------------------------------------------

AXE_DIR = ROOT / "tests" / "js"
AXE = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"



def in_chromium(test):
    """A browser test: run by CI (TEST_REQUIRE), skipped where there is no Chromium."""
    test = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Chromium is not installed")(test)
    return pytest.mark.browser(test)


@pytest.fixture(scope="module")
def storyfeed(tmp_path_factory):
    from .embeds_support import serve_sample

    with serve_sample(tmp_path_factory.mktemp("features") / "test.sqlite3") as base:
        yield base



def other_origin(pages):
    from .test_player_browser import other_origin as serve_pages

    return serve_pages(pages)


def open_player(browser, storyfeed, query="", fragment="", **context):
    ctx = browser.new_context(**{"viewport": {"width": 600, "height": 180}, **context})
    page = ctx.new_page()
    page.goto(f"{storyfeed}player/{SAMPLE_STORY}/{SAMPLE_AUDIO}{query}{fragment}")
    page.wait_for_selector(".controls:not([hidden])")
    return page


def settled_position(frame, expected: float, within: float = 0.3) -> float:
    """`position` once it has reached `expected`: a seek lands on the slider when the
    element reports it, a moment after the action on a loaded machine."""
    with contextlib.suppress(Exception):
        frame.wait_for_function(
            f"Math.abs(parseFloat(document.querySelector('.seek').value) - {expected}) <= {within}",
            timeout=5_000)
    return position(frame)


def position(frame) -> float:
    """Where the player is: its slider, which also holds the start chosen before the first
    play (preload="none" gives the element no position to seek yet)."""
    return frame.evaluate("parseFloat(document.querySelector('.seek').value)")


def wait_position(frame, low, high):
    frame.wait_for_function(
        "([low, high]) => { const t = document.querySelector('audio').currentTime;"
        " return t >= low && t < high }", arg=[low, high], timeout=15_000)


def current_text(frame, list_selector) -> str:
    return frame.evaluate(
        f"() => {{ const b = document.querySelector('{list_selector} [aria-current=true] .text');"
        " return b ? b.textContent : '' }")


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


@in_chromium
@pytest.mark.parametrize("how", ["buttons", "keys"])
def test_chapters_markers_list_title_and_navigation(storyfeed, browser, how):
    page = open_player(browser, storyfeed, viewport={"width": 600, "height": 320})
    try:
        # A marker on the timeline at every chapter after the first, where it starts.
        lefts = page.evaluate("[...document.querySelectorAll('.marks span')].map(s => s.style.left)")
        assert [float(x.rstrip("%")) for x in lefts] == pytest.approx(
            [100 * s / DURATION for s, _ in CHAPTERS[1:]], abs=0.01)
        assert page.locator(".chapter").inner_text() == "Headline"
        page.click("button[aria-controls=chapters-panel]")
        items = page.locator(".chapter-list button")
        assert [items.nth(i).locator(".text").inner_text() for i in range(4)] == [t for _, t in CHAPTERS]
        assert [items.nth(i).locator(".at").inner_text() for i in range(4)] == ["0:00", "0:11", "0:21", "0:50"]
        assert current_text(page, ".chapter-list") == "Headline"

        def forward():
            if how == "buttons":
                page.click("button.next-chapter")
            else:
                page.keyboard.press("n")

        def back():
            if how == "buttons":
                page.click("button.prev-chapter")
            else:
                page.keyboard.press("p")

        if how == "keys":
            page.focus("button.play")
        forward()
        assert position(page) == pytest.approx(11.403, abs=0.01)
        assert page.locator(".chapter").inner_text() == "In brief"
        assert current_text(page, ".chapter-list") == "In brief"
        assert "In brief" in page.locator(".seek").get_attribute("aria-valuetext")
        assert page.locator(".announce").inner_text() == "Chapter 2 of 4: In brief"
        forward()
        assert position(page) == pytest.approx(21.304, abs=0.01)
        back()  # at the chapter's start: the one before
        assert position(page) == pytest.approx(11.403, abs=0.01)
        page.evaluate("document.querySelector('.seek').value = 30;"
                      "document.querySelector('.seek').dispatchEvent(new Event('input'))")
        assert page.locator(".chapter").inner_text() == "The picture"
        back()  # 8.7 s into a chapter: its own start
        assert position(page) == pytest.approx(21.304, abs=0.01)
        forward()
        forward()  # past the last chapter: stays at its start
        assert position(page) == pytest.approx(50.738, abs=0.01)
        assert page.locator(".chapter").inner_text() == "Credit"
        # A chapter of the list, clicked, plays from its start.
        items.nth(1).click()
        wait_position(page, 11.4, 14)
        assert not page.evaluate("document.querySelector('audio').paused")
        if how == "buttons":
            shot(page, "player-chapters.png")
    finally:
        page.context.close()


@in_chromium
def test_transcript_follows_playback_click_to_seek_and_search(storyfeed, browser):
    page = open_player(browser, storyfeed, viewport={"width": 600, "height": 300})
    try:
        page.click("button[aria-controls=transcript-panel]")
        page.wait_for_selector(".cues button")
        cues = page.locator(".cues li")
        assert cues.count() == len(CUES)
        assert page.locator(".cues .text").all_inner_texts() == [t for _, t in CUES]
        assert current_text(page, ".cues") == CUES[0][1]

        page.click("button.play")  # the current cue follows playback
        page.wait_for_function(
            "() => (document.querySelector('.cues [aria-current=true] .text') || {}).textContent"
            f" === {json.dumps(CUES[1][1])}", timeout=15_000)
        assert position(page) >= CUES[1][0]

        cue = page.locator(".cues button").nth(8)  # click a cue: playback goes there
        cue.click()
        wait_position(page, CUES[8][0], CUES[8][0] + 3)
        page.wait_for_function(
            f"() => document.querySelector('.cues [aria-current=true] .text').textContent === {json.dumps(CUES[8][1])}")
        # The panel scrolled to keep the current cue in view.
        assert page.evaluate(
            "() => { const list = document.querySelector('.cues');"
            " const b = list.querySelector('[aria-current=true]');"
            " return b.offsetTop >= list.scrollTop &&"
            " b.offsetTop + b.offsetHeight <= list.scrollTop + list.clientHeight }")
        page.evaluate("document.querySelector('audio').pause()")

        page.fill(".find", "BORDER")  # search: matching cues only, marked, counted
        visible = page.locator(".cues li:not([hidden]) .text")
        matching = [t for _, t in CUES if "border" in t.lower()]
        assert visible.all_inner_texts() == matching and len(matching) == 3
        assert page.locator(".cues li:not([hidden]) mark").all_inner_texts() == ["border"] * 3
        assert page.locator(".found").inner_text() == "3 matches"
        page.keyboard.press("Enter")  # to the first match; Enter there seeks
        assert page.evaluate("document.activeElement.querySelector('.text').textContent") == matching[0]
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        wait_position(page, CUES[2][0], CUES[2][0] + 3)
        page.fill(".find", "no such words")
        assert page.locator(".found").inner_text() == "No match"
        assert visible.count() == 0
        page.focus(".find")
        page.keyboard.press("Escape")  # clears the search
        assert page.input_value(".find") == "" and visible.count() == len(CUES)
        page.set_viewport_size({"width": 600, "height": 420})
        shot(page, "player-transcript.png")
    finally:
        page.context.close()


@in_chromium
def test_captions_track_loads_its_cues(storyfeed, browser):
    page = open_player(browser, storyfeed)
    try:
        page.evaluate("document.querySelector('track').track.mode = 'hidden'")
        page.wait_for_function("() => { const t = document.querySelector('track');"
                               " return t.readyState === 2 && t.track.cues.length > 0 }")
        cues = page.evaluate("[...document.querySelector('track').track.cues].map(c => [c.startTime, c.text])")
        assert [(round(s, 3), t) for s, t in cues] == [(round(s, 3), t) for s, t in CUES]
        assert page.evaluate("document.querySelector('track').track.kind") == "captions"
    finally:
        page.context.close()


RECORD_SESSION = """
window.__actions = {};
if (navigator.mediaSession) {
  const session = navigator.mediaSession, set = session.setActionHandler.bind(session);
  session.setActionHandler = (name, handler) => { window.__actions[name] = handler; set(name, handler); };
}
"""


@in_chromium
def test_media_session_metadata_and_actions(storyfeed, browser):
    ctx = browser.new_context(viewport={"width": 600, "height": 180})
    ctx.add_init_script(RECORD_SESSION)
    page = ctx.new_page()
    try:
        page.goto(f"{storyfeed}player/{SAMPLE_STORY}/{SAMPLE_AUDIO}")
        page.wait_for_selector(".controls:not([hidden])")
        meta = page.evaluate("() => { const m = navigator.mediaSession.metadata;"
                             " return {title: m.title, album: m.album, artwork: m.artwork.map(a => a.src)} }")
        assert meta["title"].startswith("North Korean defectors") and meta["album"] == "storyfeed"
        assert meta["artwork"] == [f"{storyfeed}media/north-korean-defectors/{SAMPLE_STORY}.jpg"]
        actions = page.evaluate("Object.keys(window.__actions).filter(k => window.__actions[k]).sort()")
        assert actions == sorted(["play", "pause", "seekbackward", "seekforward", "seekto",
                                  "previoustrack", "nexttrack"])
        page.evaluate("window.__actions.play({action: 'play'})")
        page.wait_for_function("() => !document.querySelector('audio').paused")
        page.evaluate("window.__actions.nexttrack({action: 'nexttrack'})")
        assert settled_position(page, 11.403) == pytest.approx(11.403, abs=0.3)
        page.evaluate("window.__actions.seekto({action: 'seekto', seekTime: 30})")
        assert settled_position(page, 30) == pytest.approx(30, abs=0.3)
        page.evaluate("window.__actions.seekforward({action: 'seekforward'})")
        assert settled_position(page, 40) == pytest.approx(40, abs=0.3)
        page.evaluate("window.__actions.seekbackward({action: 'seekbackward', seekOffset: 5})")
        assert settled_position(page, 35) == pytest.approx(35, abs=0.3)
        page.evaluate("window.__actions.previoustrack({action: 'previoustrack'})")
        assert settled_position(page, 21.304) == pytest.approx(21.304, abs=0.3)
        page.evaluate("window.__actions.pause({action: 'pause'})")
        page.wait_for_function("() => document.querySelector('audio').paused")
        # The best source the browser can play: the Opus alternate.
        assert page.evaluate("document.querySelector('audio').currentSrc").endswith(".opus")
    finally:
        ctx.close()


# Runs in the capture phase on the document, so before the player's own listener on the
# element: the moment the element has its metadata (readyState 1) but the player has not
# yet been told, as when a listener's seek lands between the two.
SEEK_ON_METADATA = """
document.addEventListener("loadedmetadata", () => {
  window.__actions.seekto({action: "seekto", seekTime: 30});
}, {capture: true, once: true});
"""


@in_chromium
def test_a_seek_as_the_metadata_arrives_is_not_undone_by_the_start_time(storyfeed, browser):
    # The start time of #t=5 waits for the metadata; a seek made once the element could
    # take it (the media session's, a chapter) is where the listener asked to be, and the
    # start time must not then pull it back (a browser test saw 11.4 s where 30 was asked).
    ctx = browser.new_context(viewport={"width": 600, "height": 180})
    ctx.add_init_script(RECORD_SESSION + SEEK_ON_METADATA)
    page = ctx.new_page()
    try:
        page.goto(f"{storyfeed}player/{SAMPLE_STORY}/{SAMPLE_AUDIO}#t=5")
        page.wait_for_selector(".controls:not([hidden])")
        assert position(page) == pytest.approx(5)
        page.evaluate("window.__actions.play({action: 'play'})")
        page.wait_for_function("() => !document.querySelector('audio').paused")
        page.wait_for_function("() => document.querySelector('audio').readyState >= 1")
        assert settled_position(page, 30) == pytest.approx(30, abs=0.3)
        page.wait_for_timeout(300)  # the player's own listener has run by now
        assert page.evaluate("document.querySelector('audio').currentTime") == pytest.approx(30, abs=0.5)
    finally:
        ctx.close()


@in_chromium
def test_share_copies_a_link_at_the_current_time_and_the_embed_code(storyfeed, browser):
    origin = storyfeed.rstrip("/")
    page = open_player(browser, storyfeed, viewport={"width": 600, "height": 320})
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin)
    try:
        page.click("button.next-chapter")
        page.click("button.next-chapter")  # 21.304 s
        page.click("button[aria-controls=share-panel]")
        link = f"{storyfeed}player/{SAMPLE_STORY}/{SAMPLE_AUDIO}#t=21"
        assert page.input_value(".share-link") == link
        page.click("button[data-field=share-link]")
        page.wait_for_function("() => document.querySelector('.announce').textContent === 'Link copied'")
        assert page.evaluate("navigator.clipboard.readText()") == link
        page.click("button[data-field=share-embed]")
        page.wait_for_function("() => document.querySelector('.announce').textContent === 'Embed code copied'")
        oembed = requests.get(f"{storyfeed}oembed", params={"url": f"{storyfeed}player/{SAMPLE_STORY}/{SAMPLE_AUDIO}"},
                              timeout=10).json()
        assert page.evaluate("navigator.clipboard.readText()") == oembed["html"]
    finally:
        page.context.close()


@in_chromium
def test_links_open_a_new_tab_outside_wordpress(storyfeed, browser):
    page = open_player(browser, storyfeed)
    try:
        with page.expect_popup() as popup:
            page.click(".links a:text('Story')")
        popup.value.wait_for_load_state()
        assert popup.value.url == f"{storyfeed}stories/{SAMPLE_STORY}"
        assert page.url.startswith(f"{storyfeed}player/")  # the player stays
    finally:
        page.context.close()


# A receiver for WordPress's embed messages, written from wp-embed.js's behaviour: a message
# counts only with an alphanumeric secret, from the very frame whose data-secret it is;
# "height" sets the frame's height (200 to 1000 px); "link" sends the top page to the URL
# if it is on the frame's host and the frame has the focus.
WP_RECEIVER = """
window.__messages = [];
window.addEventListener("message", function (event) {
  var data = event.data;
  if (!data || !(data.secret || data.message || data.value)) return;
  if (/[^a-zA-Z0-9]/.test(data.secret)) return;
  window.__messages.push(data);
  var frames = document.querySelectorAll('iframe[data-secret="' + data.secret + '"]');
  for (var i = 0; i < frames.length; i++) {
    var frame = frames[i];
    if (event.source !== frame.contentWindow) continue;
    frame.removeAttribute("style");
    if (data.message === "height") {
      var height = parseInt(data.value, 10);
      frame.height = height > 1000 ? 1000 : (~~height < 200 ? 200 : height);
    }
    if (data.message === "link") {
      var from = document.createElement("a"), to = document.createElement("a");
      from.href = frame.getAttribute("src");
      to.href = data.value;
      if (to.host === from.host && document.activeElement === frame) {
        window.top.location.href = data.value;
      }
    }
  }
}, false);
"""
SECRET = "Zq3xW9pL0a"


def as_wordpress_filters_it(oembed_html: str, secret: str = SECRET) -> str:
    """wp_filter_oembed_result for an untrusted provider: sandbox, the secret in the src's
    fragment and in data-secret."""
    frame = embed_parts(oembed_html)[1]
    frame.set("sandbox", "allow-scripts")
    frame.set("security", "restricted")
    frame.set("src", frame.get("src") + "#?secret=" + secret)
    frame.set("data-secret", secret)
    frame.set("class", "wp-embedded-content")
    return lxml.html.tostring(frame, encoding="unicode")


def wordpress_post(storyfeed, url=None, **params) -> tuple[str, str]:
    url = url or f"{storyfeed}stories/{SAMPLE_STORY}"
    body = requests.get(f"{storyfeed}oembed", params={"url": url, **params}, timeout=10).json()
    frame = as_wordpress_filters_it(body["html"])
    post = (f"<!doctype html><html lang=en><head><title>A post</title>"
            f"<script>{WP_RECEIVER}</script></head><body><h1>A post</h1>{frame}<p>After.</p></body></html>")
    return post, body["html"]


def player_frame(page, storyfeed):
    page.wait_for_function("() => document.querySelector('iframe').contentWindow !== null")
    frame = next(f for f in page.frames if f.url.startswith(f"{storyfeed}player/"))
    frame.wait_for_selector(".controls:not([hidden])")
    return frame


def frame_height(page) -> int:
    return int(page.locator("iframe").get_attribute("height"))


@in_chromium
def test_inside_wordpress_the_frame_fits_the_player_and_links_open(storyfeed, browser):
    post, _ = wordpress_post(storyfeed)
    with other_origin({"/post": post}) as blog:
        page = browser.new_page(viewport={"width": 700, "height": 800})
        try:
            page.goto(f"{blog}/post")
            frame = player_frame(page, storyfeed)
            assert frame.evaluate("window.origin") == "null"  # sandboxed as WordPress does
            page.wait_for_function("() => document.querySelector('iframe').height !== '180'")
            natural = frame.evaluate("Math.ceil(document.body.getBoundingClientRect().height)")
            assert frame_height(page) == max(200, natural)
            messages = page.evaluate("window.__messages")
            assert messages[-1] == {"message": "height", "value": natural, "secret": SECRET}
            assert all(set(m) == {"message", "value", "secret"} and m["secret"] == SECRET
                       for m in messages)

            # The transcript opens below the player; the frame grows to hold it.
            closed = frame_height(page)
            frame.click("button[aria-controls=transcript-panel]")
            frame.wait_for_selector(".cues button")
            page.wait_for_function(
                "(h) => +document.querySelector('iframe').height > h + 100", arg=closed)
            page.wait_for_timeout(300)  # the last of the resize messages
            grown = frame.evaluate("Math.ceil(document.body.getBoundingClientRect().height)")
            assert frame_height(page) == grown > 300
            # Nothing of the player is cut off: the frame's viewport holds it all.
            assert frame.evaluate("document.documentElement.scrollHeight <= window.innerHeight")
            shot(page, "player-in-wordpress.png")
            frame.click("button[aria-controls=transcript-panel]")  # closed: it shrinks back
            page.wait_for_function("(h) => +document.querySelector('iframe').height < h", arg=grown)

            # A link asks WordPress to go there: the post's page goes to the story.
            frame.click(".links a:text('Story')")
            page.wait_for_url(f"{storyfeed}stories/{SAMPLE_STORY}")
        finally:
            page.close()


@in_chromium
def test_inside_wordpress_the_title_link_opens_the_story_with_theme_and_start(storyfeed, browser):
    post, code = wordpress_post(storyfeed, f"{storyfeed}stories/{SAMPLE_STORY}?theme=dark#t=30")
    assert "?theme=dark#t=30" in code
    with other_origin({"/post": post}) as blog:
        page = browser.new_page(viewport={"width": 700, "height": 600})
        try:
            page.goto(f"{blog}/post")
            frame = player_frame(page, storyfeed)
            assert frame.evaluate("document.documentElement.dataset.theme") == "dark"
            assert frame.locator(".elapsed").inner_text() == "0:30"  # #t=30, before #?secret=
            frame.click("a.title")
            page.wait_for_url(f"{storyfeed}stories/{SAMPLE_STORY}")
        finally:
            page.close()


@in_chromium
def test_a_sandboxed_srcdoc_wrapper_plays(storyfeed, browser):
    player = f"{storyfeed}player/{SAMPLE_STORY}/{SAMPLE_AUDIO}"
    inner = f'<iframe src="{player}" width="100%" height="180" title="Player"></iframe>'
    post = (f'<!doctype html><html lang=en><title>Wrapper</title><body>'
            f'<iframe sandbox="allow-scripts" width="660" height="220" title="Wrapper" '
            f'srcdoc="{html.escape(inner)}"></iframe></body></html>')
    with other_origin({"/post": post}) as blog:
        page = browser.new_page(viewport={"width": 700, "height": 300})
        try:
            page.goto(f"{blog}/post")
            frame = None
            for _ in range(100):
                frame = next((f for f in page.frames if f.url.startswith(player)), None)
                if frame is not None:
                    break
                page.wait_for_timeout(100)
            assert frame is not None, [f.url for f in page.frames]  # not chrome-error://
            frame.wait_for_selector(".controls:not([hidden])")
            frame.click("button.play")
            frame.wait_for_function("() => document.querySelector('audio').currentTime > 1", timeout=15_000)
        finally:
            page.close()


def tab_order(page, count) -> list[str]:
    names = []
    for _ in range(count):
        page.keyboard.press("Tab")
        names.append(page.evaluate(
            "() => { const e = document.activeElement;"
            " return e.getAttribute('aria-label') || e.textContent.trim() }"))
    return names


@in_chromium
def test_keyboard_alone_reaches_chapters_and_the_transcript(storyfeed, browser):
    page = open_player(browser, storyfeed, viewport={"width": 600, "height": 360})
    try:
        title = "North Korean defectors may face deportation by China as COVID border controls ease"
        assert tab_order(page, 12) == [title, "Play", "Previous chapter", "Seek", "Next chapter",
                                       "Playback speed 1x", "Download", "Transcript page", "Story",
                                       "Chapters", "Transcript", "Share"]
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Shift+Tab")  # Chapters
        page.keyboard.press("Enter")
        assert page.get_attribute("button[aria-controls=chapters-panel]", "aria-expanded") == "true"
        # Past the other toggles, the list is one tab stop: its current chapter.
        assert tab_order(page, 3)[-1].endswith("Headline")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        wait_position(page, 21.3, 24)
        page.keyboard.press("n")  # chapter keys work from the list too
        assert position(page) >= 50.7
        page.keyboard.press("Escape")  # closes the panel, back on its toggle
        assert page.get_attribute("button[aria-controls=chapters-panel]", "aria-expanded") == "false"
        assert page.evaluate("document.activeElement.getAttribute('aria-controls')") == "chapters-panel"
        page.keyboard.press("Space")  # the toggle is a button: Space opens the panel again
        assert page.get_attribute("button[aria-controls=chapters-panel]", "aria-expanded") == "true"

        page.keyboard.press("Tab")  # Transcript
        page.keyboard.press("Enter")
        page.wait_for_selector(".cues button")
        assert page.get_attribute("button[aria-controls=chapters-panel]", "aria-expanded") == "false"
        page.keyboard.press("Tab")  # Share
        page.keyboard.press("Tab")  # the search field
        assert page.evaluate("document.activeElement.className") == "find"
        page.keyboard.type("pandemic")
        page.keyboard.press("ArrowLeft")  # typing keys stay in the field
        page.keyboard.press("Enter")
        assert "pandemic" in page.evaluate("document.activeElement.textContent")
        page.keyboard.press("Enter")
        wait_position(page, CUES[2][0], CUES[2][0] + 3)
        page.keyboard.press("Space")  # a cue is a button: Space seeks there again
        wait_position(page, CUES[2][0], CUES[2][0] + 3)
    finally:
        page.context.close()


@in_chromium
def test_screenshots_dark_and_320px(storyfeed, browser):
    page = open_player(browser, storyfeed, query="?theme=dark")
    try:
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(23, 25, 28)"
        shot(page, "player-dark.png")
    finally:
        page.context.close()
    page = open_player(browser, storyfeed, viewport={"width": 320, "height": 180})
    try:
        assert page.evaluate("document.documentElement.scrollWidth") <= 320  # nothing sticks out
        for selector in ("button.play", "button.next-chapter", ".seek", ".toggles"):
            box = page.locator(selector).bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 320, selector
        shot(page, "player-320.png")
        page.click("button[aria-controls=transcript-panel]")
        page.wait_for_selector(".cues button")
        shot(page, "player-320-transcript.png")
    finally:
        page.context.close()


# -- axe-core ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def axe_script() -> str:
    """axe-core as tests/js/package-lock.json pins it (`make test` runs `npm ci` there)."""
    if not AXE.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed, so axe-core cannot be (`npm ci --prefix tests/js`)")
        done = subprocess.run([npm, "ci", "--prefix", str(AXE_DIR), "--no-audit", "--no-fund"],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    return AXE.read_text(encoding="utf-8")


AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => `${v.id} (${v.impact}): ${v.help}: ` +
    v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", "));
}"""


def axe_violations(page) -> list[str]:
    return page.evaluate(AXE_RUN)


@in_chromium
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_violations(storyfeed, browser, axe_script, scheme):
    ctx = browser.new_context(viewport={"width": 800, "height": 600}, color_scheme=scheme)
    # Added as an init script, which the pages' Content-Security-Policy does not govern.
    ctx.add_init_script(axe_script)
    page = ctx.new_page()
    found = {}
    try:
        paths = ["", "topics/north-korean-defectors", f"stories/{SAMPLE_STORY}",
                 f"player/{SAMPLE_STORY}/{SAMPLE_AUDIO}", f"player/{SAMPLE_STORY}/{SAMPLE_AUDIO}?theme={scheme}"]
        transcript = f"stories/{SAMPLE_STORY}/transcript"
        if requests.get(f"{storyfeed}{transcript}", timeout=10).status_code == 200:
            paths.append(transcript)  # the transcript page, where this branch has one
        for path in paths:
            page.goto(f"{storyfeed}{path}")
            page.wait_for_load_state("load")
            found[path] = axe_violations(page)
            if path.startswith("player/"):  # and with each panel open
                page.wait_for_selector(".controls:not([hidden])")
                for panel in ("chapters", "transcript", "share"):
                    page.click(f"button[aria-controls={panel}-panel]")
                    if panel == "transcript":
                        page.wait_for_selector(".cues button")
                        page.fill(".find", "border")
                    found[f"{path} ({panel})"] = axe_violations(page)
        problems = {p: v for p, v in found.items() if v}
        assert problems == {}, json.dumps(problems, indent=1)
    finally:
        ctx.close()


def test_the_transcript_link_follows_one_rule_for_every_sample_story(sample_app):
    """Every sample story has a transcript page; the player linked to it for 3 of 7 (those
    whose record had a transcript_url or an HTML transcript)."""
    from stories.sample import SAMPLE_FILE

    client = sample_app.test_client()
    stories = json.loads(SAMPLE_FILE.read_text())["stories"]
    for story in stories:
        for audio in story["audio"]:
            page = client.get(f"/stories/{story['id']}/transcript")
            links = player_document(client, f"/player/{story['id']}/{audio['id']}").xpath(
                '//a[normalize-space()="Transcript page"]/@href')
            if page.status_code == 200:
                assert links == [f"{SITE}stories/{story['id']}/transcript"], story["id"]
            else:
                assert all(not href.startswith(SITE) for href in links), story["id"]


def test_the_audio_asks_cors_when_captions_come_from_this_site(client):
    """Captions in a frame with an opaque origin (WordPress's sandbox) load only for an
    audio element in CORS mode; media from this site send Access-Control-Allow-Origin."""
    document = player_document(client)
    (audio,) = document.xpath("//audio")
    assert document.xpath("//audio//track") and audio.get("crossorigin") == "anonymous"


def test_the_audio_stays_out_of_cors_mode_for_media_elsewhere(sample_app):
    """A host that sends no Access-Control-Allow-Origin would refuse the audio itself."""
    elsewhere = make_app_with_media_base(sample_app, "https://cdn.example.org/media/")
    (audio,) = player_document(elsewhere.test_client()).xpath("//audio")
    assert audio.get("crossorigin") is None


def make_app_with_media_base(sample_app, media_base_url):
    from .conftest import make_app

    url = str(app_state(sample_app).store.engine.url.render_as_string(hide_password=False))
    return make_app(url, SITE_URL=SITE, MEDIA_BASE_URL=media_base_url)
