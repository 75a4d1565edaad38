"""The pages in a real browser (issue 26): the story page plays in storyfeed's own player,
the topic page plays its stories one at a time and remembers where a listener stopped, the
transcript page follows playback, `#t=` starts there, and every page passes axe-core in
light and dark. Debian's Chromium through Playwright, against the sample over real HTTP.

Screenshots: test-artifacts/pages-<page>-<width>-<scheme>.png.
"""

from __future__ import annotations

import json
import os

import pytest

from .browser_support import ARTIFACTS, CHROMIUM
from .embeds_support import SAMPLE_STORY, serve_sample
from .test_player_features import AXE_RUN, axe_script  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Chromium is not installed")]

TOPIC = "north-korean-defectors"
PAGES = {
    "home": "",
    "topic": f"topics/{TOPIC}",
    "story": f"stories/{SAMPLE_STORY}",
    "transcript": f"stories/{SAMPLE_STORY}/transcript",
}
IN_BRIEF = 11.403  # the sample story's second chapter, and its second cue


@pytest.fixture(scope="module")
def storyfeed(tmp_path_factory):
    with serve_sample(tmp_path_factory.mktemp("pages") / "test.sqlite3") as base:
        yield base



@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport={"width": 800, "height": 900})
    yield ctx
    ctx.close()


def current_time(player) -> float:
    return player.evaluate("p => p.querySelector('audio').currentTime")


def wait_time(player, low: float, high: float = 1e9) -> None:
    """Until the player's audio is between low and high seconds (a function: the pages'
    policy refuses the eval Playwright polls an expression with)."""
    player.page.wait_for_function(
        "([p, low, high]) => { const t = p.querySelector('audio').currentTime; return t >= low && t < high }",
        arg=[player.element_handle(), low, high], timeout=15_000)


def test_the_story_page_plays_in_our_player_seeks_by_chapter_and_follows_the_transcript(storyfeed, context):
    page = context.new_page()
    page.goto(f"{storyfeed}{PAGES['story']}")
    player = page.locator("article .player.inline")
    assert player.count() == 1
    player.locator(".controls:not([hidden])").wait_for()  # player.js mounted on the page
    assert not player.locator("audio").is_visible()  # the browser's controls gave way
    assert player.locator(".play").is_visible()

    player.locator(".play").click()
    wait_time(player, 0.5)
    assert player.locator(".play").get_attribute("aria-label") == "Pause"

    # Chapters: the list, then "In brief" seeks there.
    player.locator("button[data-panel=chapters]").click()
    player.locator(".chapter-list button", has_text="In brief").click()
    wait_time(player, IN_BRIEF - 0.05, IN_BRIEF + 5)
    assert player.locator(".meta .chapter").inner_text() == "In brief"

    # The transcript panel: its current cue is the one playing, and it moves on.
    player.locator("button[data-panel=transcript]").click()
    player.locator(".cues button").first.wait_for()
    current = player.locator(".cues [aria-current=true]")
    current.wait_for()
    assert current.inner_text().split("\n")[-1].startswith("As China reopens")
    player.locator(".chapter-list button", has_text="The picture").evaluate("b => b.click()")
    page.wait_for_function(
        "() => (document.querySelector('.cues [aria-current=true]') || {}).textContent"
        " && !document.querySelector('.cues [aria-current=true]').textContent.includes('As China reopens')")
    assert current_time(player) >= 21.3

    # Share at the current time: the story page's own URL with #t=.
    player.locator(".play").click()
    page.wait_for_function("() => document.querySelector('.player audio').paused")
    player.locator("button[data-panel=share]").click()
    at = int(current_time(player))
    assert player.locator(".share-link").input_value() == f"{storyfeed}{PAGES['story']}#t={at}"

    # The keyboard, within the player: the arrows seek by 5 seconds, Space plays.
    before = current_time(player)
    player.locator(".seek").focus()
    page.keyboard.press("ArrowRight")
    assert current_time(player) == pytest.approx(before + 5, abs=0.05)
    page.keyboard.press("Space")
    page.wait_for_function("() => !document.querySelector('.player audio').paused")


def test_a_time_in_the_story_url_starts_there(storyfeed, context):
    page = context.new_page()
    page.goto(f"{storyfeed}{PAGES['story']}#t=21")
    player = page.locator(".player.inline")
    player.locator(".controls:not([hidden])").wait_for()
    assert player.locator(".elapsed").inner_text() == "0:21"
    player.locator(".play").click()
    wait_time(player, 21, 30)


def test_the_topic_page_plays_two_stories_in_turn_and_resumes_one(storyfeed, context):
    page = context.new_page()
    page.goto(f"{storyfeed}{PAGES['topic']}")
    players = page.locator("article .player.inline")
    assert players.count() == 7
    first, second = players.nth(0), players.nth(1)
    first.locator(".controls:not([hidden])").wait_for()

    first.locator(".play").click()
    wait_time(first, 2.2)
    second.locator(".play").click()  # one at a time: the first pauses
    wait_time(second, 0.5)
    page.wait_for_function("() => document.querySelectorAll('.player audio')[0].paused")
    stopped = current_time(first)
    assert stopped >= 2.2
    second.locator(".play").click()
    page.wait_for_function("() => document.querySelectorAll('.player audio')[1].paused")
    assert page.url == f"{storyfeed}{PAGES['topic']}"  # never left the page

    # Back later: the first story resumes where it stopped (this browser's storage).
    page.reload()
    first = page.locator("article .player.inline").first
    first.locator(".controls:not([hidden])").wait_for()
    assert first.locator(".elapsed").inner_text() == f"0:{int(stopped):02d}"
    first.locator(".play").click()
    wait_time(first, int(stopped), int(stopped) + 5)
    # The same story's own page resumes it too.
    first.locator(".play").click()
    page.wait_for_function("() => document.querySelectorAll('.player audio')[0].paused")
    kept = int(current_time(first))
    page.goto(f"{storyfeed}{PAGES['story']}")
    page.locator(".player .controls:not([hidden])").wait_for()
    assert page.locator(".player .elapsed").inner_text() == f"0:{kept:02d}"


def test_the_transcript_page_follows_playback_and_a_cue_plays_from_its_time(storyfeed, context):
    page = context.new_page()
    page.goto(f"{storyfeed}{PAGES['transcript']}")
    player = page.locator("section.transcript .player.inline")
    player.locator(".controls:not([hidden])").wait_for()
    assert player.locator("button[data-panel=transcript]").is_hidden()  # the page is the transcript
    cues = page.locator("div.cues .cue")
    assert cues.count() > 3
    in_brief = "div.cues .cue[data-start='11.403']"
    page.locator(f"{in_brief} time a").click()  # plays from there, on this page
    wait_time(player, IN_BRIEF - 0.05, IN_BRIEF + 4)
    assert page.url == f"{storyfeed}{PAGES['transcript']}"
    page.wait_for_function(f"() => document.querySelector(\"{in_brief}\").getAttribute('aria-current') === 'true'")
    # It moves on with the audio.
    page.wait_for_function(
        f"() => document.querySelector('div.cues .cue[aria-current=true]') !== document.querySelector(\"{in_brief}\")",
        timeout=20_000)
    assert current_time(player) > IN_BRIEF
    assert page.locator("div.cues .cue[aria-current=true]").count() == 1


def test_without_javascript_the_pages_play_with_the_browsers_own_controls(storyfeed, browser):
    ctx = browser.new_context(java_script_enabled=False)
    try:
        page = ctx.new_page()
        for name in ("story", "topic", "transcript"):
            page.goto(f"{storyfeed}{PAGES[name]}")
            audio = page.locator(".player audio").first
            assert audio.is_visible() and audio.get_attribute("controls") is not None, name
            assert page.locator(".player .controls").first.is_hidden(), name
        page.goto(f"{storyfeed}{PAGES['transcript']}")
        href = page.locator("div.cues .cue[data-start='11.403'] time a").get_attribute("href")
        assert href == f"{storyfeed}player/{SAMPLE_STORY}/1169825816#t=11.403"  # the player, at that time
    finally:
        ctx.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_at_375_and_1280_px_passes_axe(storyfeed, browser, axe_script, scheme):  # noqa: F811
    found = {}
    for width in (375, 1280):
        ctx = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
        ctx.add_init_script(axe_script)  # an init script: the pages' CSP does not govern it
        page = ctx.new_page()
        try:
            for name, path in PAGES.items():
                page.goto(f"{storyfeed}{path}")
                page.wait_for_load_state("load")
                if name != "home":
                    page.locator(".player .controls:not([hidden])").first.wait_for()
                found[f"{name} {width}"] = page.evaluate(AXE_RUN)
                page.screenshot(path=str(ARTIFACTS / f"pages-{name}-{width}-{scheme}.png"), full_page=True)
                if name == "story":  # and with the player's panels open
                    for panel in ("chapters", "transcript", "share"):
                        page.click(f".player button[data-panel={panel}]")
                        if panel == "transcript":
                            page.locator(".player .cues button").first.wait_for()
                        found[f"{name} {width} ({panel})"] = page.evaluate(AXE_RUN)
        finally:
            ctx.close()
    problems = {p: v for p, v in found.items() if v}
    assert problems == {}, json.dumps(problems, indent=1)


def test_the_pages_follow_a_dark_system_theme_in_the_players_colours(storyfeed, browser):
    for scheme, background in (("light", "rgb(255, 255, 255)"), ("dark", "rgb(23, 25, 28)")):
        ctx = browser.new_context(color_scheme=scheme)
        try:
            page = ctx.new_page()
            for path in PAGES.values():
                page.goto(f"{storyfeed}{path}")
                assert page.evaluate("getComputedStyle(document.body).backgroundColor") == background, path
            # The embedded player's own "auto" theme gives the same colour.
            page.goto(f"{storyfeed}player/{SAMPLE_STORY}/1169825816")
            assert page.evaluate("getComputedStyle(document.body).backgroundColor") == background
        finally:
            ctx.close()


def test_on_a_phone_the_topic_header_stacks_and_nothing_scrolls_sideways(storyfeed, browser):
    ctx = browser.new_context(viewport={"width": 375, "height": 800}, is_mobile=True, has_touch=True)
    try:
        page = ctx.new_page()
        page.goto(f"{storyfeed}{PAGES['topic']}")
        art = page.locator("header.topic .artwork").bounding_box()
        title = page.locator("header.topic h1").bounding_box()
        assert art["y"] + art["height"] <= title["y"]  # the artwork above, not beside
        assert title["height"] < 4 * 40  # the title keeps the width: not five lines
        for path in PAGES.values():
            page.goto(f"{storyfeed}{path}")
            assert page.evaluate("document.documentElement.scrollWidth") <= 375, path
    finally:
        ctx.close()


def test_pictures_carry_their_size_and_only_the_first_screen_loads_at_once(storyfeed, context):
    page = context.new_page()
    page.goto(f"{storyfeed}{PAGES['topic']}")
    images = page.locator("article img")
    assert images.count() == 7
    for i in range(7):
        image = images.nth(i)
        assert image.get_attribute("width") and image.get_attribute("height")
        assert image.get_attribute("loading") == (None if i == 0 else "lazy")
    page.goto(f"{storyfeed}{PAGES['story']}")
    assert page.locator("article img").get_attribute("loading") is None  # the story's own, on top
