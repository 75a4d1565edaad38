"""The player in a real browser: Debian's Chromium driven by Playwright.

A page on a second local origin puts the oEmbed `html` into its body the way WordPress
does (with sandbox="allow-scripts"); the player must load, play the sample audio, and
answer Space and the arrow keys. The screenshot is kept under test-artifacts/.
"""

from __future__ import annotations

import contextlib
import json
import os

import lxml.html
import pytest
import requests
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Request, Response

from serving.state import app_state

from .browser_support import ARTIFACTS, CHROMIUM
from .conftest import ROOT
from .embeds_support import SAMPLE_AUDIO, SAMPLE_STORY, SAMPLE_TITLE, embed_parts, serve_sample
from .servers import InThread


def sample_duration() -> int:
    """The sample audio's duration as its record gives it (what the player announces)."""
    data = json.loads((ROOT / "stories/sample/north-korean-defectors.json").read_text())
    story = next(s for s in data["stories"] if s["id"] == SAMPLE_STORY)
    return next(a["duration"] for a in story["audio"] if a["id"] == SAMPLE_AUDIO)


pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Chromium is not installed")]


@pytest.fixture(scope="module")
def storyfeed(tmp_path_factory):
    with serve_sample(tmp_path_factory.mktemp("browser") / "test.sqlite3") as base:
        yield base


@contextlib.contextmanager
def other_origin(pages: dict[str, str]):
    """A second origin (another port) serving the given HTML pages."""

    @Request.application
    def page(request: Request) -> Response:
        body = pages.get(request.path)
        if body is None:
            return NotFound()
        return Response(body, content_type="text/html; charset=utf-8")

    with InThread(page) as server:
        yield server.base


def as_wordpress_embeds(oembed_html: str) -> str:
    """What WordPress does to an untrusted provider's iframe: keep it, sandbox it."""
    frame = embed_parts(oembed_html)[1]
    frame.set("sandbox", "allow-scripts")
    frame.set("class", "wp-embedded-content")
    return lxml.html.tostring(frame, encoding="unicode")



def position(frame) -> float:
    return frame.evaluate("document.querySelector('audio').currentTime")


def test_player_plays_in_a_sandboxed_frame_on_another_origin(storyfeed, browser):
    story_page = f"{storyfeed}stories/{SAMPLE_STORY}"
    body = requests.get(f"{storyfeed}oembed", params={"url": story_page, "maxwidth": 600},
                        timeout=10).json()
    post = (f"<!doctype html><html><head><title>A blog</title></head><body>"
            f"<h1>A post</h1>{as_wordpress_embeds(body['html'])}</body></html>")
    with other_origin({"/post": post}) as blog:
        page = browser.new_page(viewport={"width": 700, "height": 400})
        page.goto(f"{blog}/post")
        page.wait_for_function("() => document.querySelector('iframe').contentWindow !== null")
        frame = next(f for f in page.frames if f.url.startswith(f"{storyfeed}player/"))
        frame.wait_for_selector(".controls:not([hidden])")  # the script ran inside the sandbox
        assert frame.evaluate("document.querySelector('audio').preload") == "none"
        assert frame.evaluate("window.origin") == "null"  # an opaque origin, as WordPress makes it
        title = frame.locator(".title")
        assert title.inner_text() == SAMPLE_TITLE

        play = frame.locator("button.play")
        play.click()
        frame.wait_for_function("() => document.querySelector('audio').currentTime > 1.2", timeout=15_000)
        assert play.get_attribute("aria-label") == "Pause"
        # The clock follows the audio's "timeupdate" events, which a busy machine delays.
        # A function, not an expression: Playwright polls an expression with eval, which the
        # player's policy (no 'unsafe-eval') refuses once the first check has not passed.
        frame.wait_for_function("() => document.querySelector('.elapsed').textContent !== '0:00'")
        seek = frame.locator("input.seek")
        assert f"of {sample_duration()} seconds" in seek.get_attribute("aria-valuetext")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "player-in-sandboxed-frame.png"))

        # Space on the focused play button pauses, as the button's own activation.
        page.keyboard.press("Space")
        frame.wait_for_function("() => document.querySelector('audio').paused")
        # The label follows the audio's own "pause" event, which may come a moment later.
        frame.wait_for_function(
            "() => document.querySelector('button.play').getAttribute('aria-label') === 'Play'"
        )

        # On the slider, Space toggles and the arrow keys seek by 5 seconds.
        seek.focus()
        page.keyboard.press("Space")
        frame.wait_for_function("() => !document.querySelector('audio').paused")
        page.keyboard.press("Space")
        frame.wait_for_function("() => document.querySelector('audio').paused")
        before = position(frame)
        duration = frame.evaluate("document.querySelector('audio').duration")
        page.keyboard.press("ArrowRight")
        forward = position(frame)
        assert forward == pytest.approx(min(before + 5, duration), abs=0.05)
        page.keyboard.press("ArrowLeft")
        assert position(frame) == pytest.approx(max(forward - 5, 0), abs=0.05)
        page.keyboard.press("Home")
        assert position(frame) == 0
        page.keyboard.press("ArrowRight")
        assert position(frame) == pytest.approx(5, abs=0.05)
        assert seek.get_attribute("aria-valuetext").startswith("5 seconds of")
        page.keyboard.press("ArrowLeft")
        assert position(frame) == pytest.approx(0, abs=0.05)

        # The speed button cycles the rate and says so.
        speed = frame.locator("button.speed")
        speed.click()
        assert speed.get_attribute("aria-label") == "Playback speed 1.25x"
        assert frame.evaluate("document.querySelector('audio').playbackRate") == 1.25
        page.close()


def test_time_fragment_theme_and_compact_layout(storyfeed, browser):
    player = f"{storyfeed}player/{SAMPLE_STORY}/{SAMPLE_AUDIO}"
    post = (f'<!doctype html><body><iframe sandbox="allow-scripts" width="100%" height="70" '
            f'src="{player}?theme=dark#t=3"></iframe></body>')
    with other_origin({"/post": post}) as blog:
        page = browser.new_page(viewport={"width": 500, "height": 200})
        page.goto(f"{blog}/post")
        page.wait_for_function("() => document.querySelector('iframe').contentWindow !== null")
        frame = next(f for f in page.frames if f.url.startswith(player))
        frame.wait_for_selector(".controls:not([hidden])")
        assert frame.locator(".elapsed").inner_text() == "0:03"
        assert frame.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(23, 25, 28)"
        assert not frame.locator(".art").is_visible()  # compact: no artwork at 70 px
        assert frame.locator("button.play").is_visible()
        frame.locator("button.play").click()
        frame.wait_for_function("() => document.querySelector('audio').currentTime >= 3")
        page.screenshot(path=str(ARTIFACTS / "player-compact-dark.png"))
        page.close()


def test_other_pages_refuse_to_be_framed_by_another_origin(storyfeed, browser):
    story_page = f"{storyfeed}stories/{SAMPLE_STORY}"
    post = f'<!doctype html><body><iframe src="{story_page}"></iframe></body>'
    with other_origin({"/post": post}) as blog:
        page = browser.new_page()
        page.goto(f"{blog}/post")
        page.wait_for_load_state("load")
        frame = page.frames[1]
        # Chromium replaces a frame blocked by frame-ancestors with an error page.
        assert frame.url.startswith("chrome-error://"), frame.url
        page.close()


def test_topic_page_shows_the_sample_and_its_audio_plays(storyfeed, browser):
    page = browser.new_page(viewport={"width": 1000, "height": 1400})
    try:
        page.goto(f"{storyfeed}topics/north-korean-defectors")
        assert page.locator("article.story").count() == 7
        page.wait_for_function(  # the first picture is in view; the rest load lazily
            "() => { const i = document.querySelector('article img'); return i.complete && i.naturalWidth > 0 }"
        )
        audios = page.locator("article audio")
        assert audios.count() == 7
        for i in (0, 6):  # the newest and the oldest
            audios.nth(i).evaluate("a => a.play()")
            page.wait_for_function(
                "([i]) => document.querySelectorAll('article audio')[i].currentTime > 0.5", arg=[i],
                timeout=15_000,
            )
            audios.nth(i).evaluate("a => a.pause()")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "topic-page.png"))
    finally:
        page.close()


# -- the Content-Security-Policy, seen by the browser ----------------------------------------

RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation",
    (e) => window.__violations.push(e.violatedDirective + " " + e.blockedURI));
"""


def test_pages_and_player_work_under_their_content_security_policy(storyfeed, browser):
    context = browser.new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=storyfeed.rstrip("/"))
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    try:
        for path in ("", "topics/north-korean-defectors", f"stories/{SAMPLE_STORY}",
                     f"player/{SAMPLE_STORY}/{SAMPLE_AUDIO}"):
            page.goto(f"{storyfeed}{path}")
            page.wait_for_load_state("load")
            assert page.evaluate("window.__violations") == [], path
        page.goto(f"{storyfeed}player/{SAMPLE_STORY}/{SAMPLE_AUDIO}")
        page.wait_for_selector(".controls:not([hidden])")  # player.js ran
        page.goto(f"{storyfeed}topics/north-korean-defectors")
        copy = page.locator("button.copy").first
        copy.click()  # pages.js, not an inline handler, copies the feed URL
        page.wait_for_function("() => document.querySelector('button.copy').textContent === 'Copied'")
        assert page.evaluate("navigator.clipboard.readText()") == copy.get_attribute("data-copy")
        assert page.evaluate("window.__violations") == []
    finally:
        context.close()


def test_clicking_every_link_of_a_hostile_story_opens_no_dialog(tmp_path, browser):
    from .conftest import make_app, migrated_sqlite
    from .servers import InThread
    from .test_security_headers import IMAGE_SCRIPT, MEDIA_SCRIPT, SCRIPT, hostile_story

    app = make_app(migrated_sqlite(tmp_path / "hostile.sqlite3"), SITE_URL=None)
    assert app.test_cli_runner().invoke(args=["stories", "sample"]).exit_code == 0
    story = hostile_story(MEDIA_SCRIPT, IMAGE_SCRIPT, transcript_url=SCRIPT, url=SCRIPT)
    app_state(app).store.write([story])
    dialogs = []
    with InThread(app) as server:
        base = server.base + "/"
        page = browser.new_page()
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        try:
            for path in (f"stories/{story.id}", f"player/{story.id}/1667"):
                page.goto(f"{base}{path}")
                count = page.locator("a[href]").count()
                assert count > 0
                for i in range(count):
                    page.goto(f"{base}{path}")
                    link = page.locator("a[href]").nth(i)
                    with contextlib.suppress(Exception):  # downloads and dead links are fine
                        link.click(modifiers=[], no_wait_after=True, timeout=2_000)
                    page.wait_for_timeout(200)
        finally:
            page.close()
            app_state(app).store.engine.dispose()
    assert dialogs == []


def test_captions_load_in_a_frame_sandboxed_as_wordpress_does(storyfeed, browser):
    """Chromium refused the <track> in an opaque-origin frame ("Unsafe attempt to load
    URL") until the audio element asked for CORS."""
    story_page = f"{storyfeed}stories/{SAMPLE_STORY}"
    body = requests.get(f"{storyfeed}oembed", params={"url": story_page}, timeout=10).json()
    post = f"<!doctype html><html><body>{as_wordpress_embeds(body['html'])}</body></html>"
    with other_origin({"/post": post}) as blog:
        page = browser.new_page()
        page.goto(f"{blog}/post")
        page.wait_for_function("() => document.querySelector('iframe').contentWindow !== null")
        frame = next(f for f in page.frames if f.url.startswith(f"{storyfeed}player/"))
        frame.wait_for_selector(".controls:not([hidden])")
        # Loading starts once the track is shown or hidden; 2 is LOADED, 3 ERROR.
        frame.evaluate("() => { document.querySelector('track').track.mode = 'hidden'; }")
        frame.wait_for_function("() => [2, 3].includes(document.querySelector('track').readyState)")
        assert frame.evaluate("() => document.querySelector('track').readyState") == 2
        assert frame.evaluate("() => document.querySelector('track').track.cues.length") > 0
        page.close()
