"""A story page's schema.org JSON-LD and audio meta tags: the right types and values, no
way out of the script element whatever the record holds, and (in Chromium) no
Content-Security-Policy violation, since a data block is never run."""

from __future__ import annotations

import json
import os
import re

import lxml.html
import pytest

from serving.state import app_state
from stories.sample import SAMPLE_FILE
from stories.validate import parse_story

from .browser_support import CHROMIUM
from .conftest import make_app, migrated_sqlite, story_record
from .servers import InThread

STORY, AUDIO = "1169464713", "1169825816"
SITE = "http://storyfeed.test/"
SAMPLE_MEDIA = SAMPLE_FILE.parent / "media" / "north-korean-defectors"
BREAKOUT = '</script><script>alert(1)</script><!-- & \u2028 </SCRIPT >'


def structured_data(body: bytes) -> tuple[str, dict]:
    """The raw text of the page's one JSON-LD block, and what it says."""
    blocks = lxml.html.fromstring(body).xpath("//script[@type='application/ld+json']")
    assert len(blocks) == 1
    return blocks[0].text, json.loads(blocks[0].text)


def metas(body: bytes) -> dict[str, str]:
    return {(m.get("property") or m.get("name")): m.get("content")
            for m in lxml.html.fromstring(body).iter("meta") if m.get("content") is not None}


def test_the_sample_story_is_a_podcast_episode_with_its_audio(sample_client):
    _, data = structured_data(sample_client.get(f"/stories/{STORY}").data)
    record = next(s for s in json.loads(SAMPLE_FILE.read_text())["stories"] if s["id"] == STORY)
    assert data["@context"] == "https://schema.org"
    assert data["@type"] == "PodcastEpisode"
    assert data["@id"] == data["url"] == f"{SITE}stories/{STORY}"
    assert data["name"] == record["title"] and data["description"] == record["teaser"]
    assert data["datePublished"] == "2023-04-06T09:00:00Z"
    assert data["episodeNumber"] == 7
    assert data["partOfSeries"] == [{
        "@type": "PodcastSeries", "name": "Stories About north korean defectors",
        "url": f"{SITE}topics/north-korean-defectors",
        "webFeed": f"{SITE}topics/north-korean-defectors/podcast.xml"}]
    assert [(p["@type"], p["name"]) for p in data["contributor"]] == [
        ("Person", "eSpeak NG"), ("Person", "Sample Reporter")]
    [audio] = data["associatedMedia"]
    assert audio["@type"] == "AudioObject"
    assert audio["contentUrl"] == f"{SITE}media/north-korean-defectors/{AUDIO}.mp3"
    assert audio["encodingFormat"] == "audio/mpeg"
    assert audio["duration"] == "PT56S"  # ISO 8601, from the record's 56 seconds
    assert audio["embedUrl"] == f"{SITE}player/{STORY}/{AUDIO}"
    # The transcript as text: the cues of the WebVTT file, in order.
    vtt = (SAMPLE_MEDIA / f"{AUDIO}.vtt").read_text()
    lines = [line for block in vtt.split("\n\n")[1:] for line in block.strip().split("\n")[1:]]
    assert audio["transcript"] == " ".join(lines)
    assert audio["caption"] == [{"@type": "MediaObject", "encodingFormat": "text/vtt", "inLanguage": "en-US",
                                 "contentUrl": f"{SITE}media/north-korean-defectors/{AUDIO}.vtt"}]
    chapters = record["audio"][0]["chapters"]["chapters"]
    assert [(c["@type"], c["name"], c["startOffset"], c["endOffset"]) for c in audio["hasPart"]] == [
        ("Clip", c["title"], c["startTime"], c["endTime"]) for c in chapters]
    assert audio["hasPart"][1]["url"] == f"{SITE}player/{STORY}/{AUDIO}#t=11.403"


def test_the_story_page_names_its_audio_stream(sample_client):
    found = metas(sample_client.get(f"/stories/{STORY}").data)
    audio_url = f"{SITE}media/north-korean-defectors/{AUDIO}.mp3"
    assert found["og:audio"] == audio_url and found["og:audio:type"] == "audio/mpeg"
    assert found["twitter:player:stream"] == audio_url
    assert found["twitter:player:stream:content_type"] == "audio/mpeg"
    assert found["twitter:card"] == "player"


def test_a_story_without_audio_has_no_episode_data(app):
    app_state(app).store.write([parse_story(story_record(audio=None))[0]])
    body = app.test_client().get("/stories/1001").data
    assert b"application/ld+json" not in body
    assert "twitter:player:stream" not in metas(body)


def test_nothing_in_a_record_closes_the_script_element(app):
    story = parse_story(story_record(title=BREAKOUT, teaser=BREAKOUT, bylines=[BREAKOUT], persons=[
        {"name": BREAKOUT}]))[0]
    app_state(app).store.write([story])
    body = app.test_client().get("/stories/1001").data
    raw, data = structured_data(body)
    # <, > and & are \u escapes: the HTML parser sees no tag, comment or entity in it.
    assert not re.search(r"[<>&]", raw)
    assert "\\u003c/script\\u003e" in raw
    assert data["name"] == data["description"] == BREAKOUT
    assert data["author"] == [{"@type": "Person", "name": BREAKOUT}]
    assert data["contributor"][0]["name"] == BREAKOUT
    page = lxml.html.fromstring(body)
    assert [s.get("src") for s in page.iter("script") if s.get("type") != "application/ld+json"] == [
        "/static/pages.js", "/static/player.js"]


# -- in a browser -----------------------------------------------------------------------



@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Chromium is not installed")
def test_chromium_reads_the_json_ld_and_reports_no_policy_violation(tmp_path):
    from playwright.sync_api import sync_playwright

    app = make_app(migrated_sqlite(tmp_path / "test.sqlite3"), SITE_URL=None)
    assert app.test_cli_runner().invoke(args=["stories", "sample"]).exit_code == 0
    app_state(app).store.write([parse_story(story_record(
        id="666", title=BREAKOUT, audio=[{"id": "667", "url": "/media/north-korean-defectors/1169825816.mp3",
                                          "duration": 7}]))[0]])
    with InThread(app) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page()
            messages: list[str] = []
            page.on("console", lambda message: messages.append(message.text))
            # Init scripts run outside the page's policy; this one records every violation.
            page.add_init_script("window.__violations = [];"
                                 "document.addEventListener('securitypolicyviolation',"
                                 " e => window.__violations.push(e.violatedDirective));")
            for story_id in (STORY, "666"):
                page.goto(f"{server.base}/stories/{story_id}")
                page.wait_for_load_state("load")
                in_browser = page.evaluate(
                    "JSON.parse(document.querySelector('script[type=\"application/ld+json\"]').textContent)")
                assert in_browser["@type"] == "PodcastEpisode"
                if story_id == "666":
                    assert in_browser["name"] == BREAKOUT
                assert page.evaluate("window.__violations") == []
                assert page.evaluate("document.scripts.length") == 3  # pages.js, player.js, the JSON-LD
            # The listener does catch what the policy refuses: an inline script added now.
            page.evaluate("() => { const s = document.createElement('script');"
                          " s.textContent = 'window.ran = 1'; document.head.append(s); }")
            page.wait_for_function("() => window.__violations.length > 0")  # a function: see test_player_browser
            assert page.evaluate("window.__violations") == ["script-src-elem"]
            assert page.evaluate("typeof window.ran") == "undefined"
            assert [m for m in messages if "Content Security Policy" in m] == [messages[-1]]
        finally:
            browser.close()
