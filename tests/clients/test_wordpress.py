"""The player inside real WordPress (Debian's 6.1), in published posts, seen by a visitor
in Debian's Chromium.

WordPress discovers the oEmbed endpoint from the story page, filters the HTML as it does
for any untrusted provider (sandbox, a secret) and loads wp-embed.js only when that HTML
holds its blockquote. These tests hold what an imitation of wp-embed.js once hid: the
frame follows the player's height, its links open, captions load and it plays.
Screenshots of the post with each panel open go to test-artifacts/.
"""

from __future__ import annotations

import pytest

from ..browser_support import ARTIFACTS
from ..embeds_support import SAMPLE_TITLE
from .wordpress import php_version, wordpress_version

pytestmark = [pytest.mark.clients, pytest.mark.slow, pytest.mark.browser]

POSTS = ["classic", "block"]
PANELS_OF_PLAYER = ["chapters", "transcript", "share"]
# wp-embed.js keeps a frame between 200 and 1000 px, whatever height the player asks for.
WP_MIN, WP_MAX = 200, 1000
SLACK = 3  # px: rounding between the player's layout and the frame's height attribute


def open_post(browser, storyfeed, link: str, viewport: dict[str, int]):
    """A visitor's page showing a published post, and the player's frame in it."""
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.goto(link)
    page.wait_for_function("() => document.querySelector('iframe.wp-embedded-content') !== null")
    page.wait_for_function("() => document.querySelector('iframe.wp-embedded-content').contentWindow !== null")
    player = f"{storyfeed.base}/player/"
    frame = next(f for f in page.frames if f.url.startswith(player))
    frame.wait_for_selector(".controls:not([hidden])")
    return page, frame


@pytest.fixture(params=POSTS)
def post(request, wordpress, storyfeed, browser):
    page, frame = open_post(browser, storyfeed, wordpress.links[request.param], {"width": 800, "height": 900})
    yield request.param, page, frame
    page.context.close()


def player_height(frame) -> int:
    return int(frame.evaluate("Math.ceil(document.body.getBoundingClientRect().height)"))


def frame_height(page) -> float:
    return float(page.evaluate("document.querySelector('iframe.wp-embedded-content').getBoundingClientRect().height"))


def fits(page, frame) -> None:
    """The frame is as tall as the player (as wp-embed.js bounds it) and shows all of it."""
    def settled() -> bool:
        wanted = min(max(player_height(frame), WP_MIN), WP_MAX)
        return abs(frame_height(page) - wanted) <= SLACK and frame.evaluate(
            "document.documentElement.scrollHeight <= window.innerHeight")

    # The player sends its height when it changes; wp-embed.js sets it a message later. A
    # panel may grow again meanwhile (a transcript's cues laid out after the first shows):
    # both checks must hold at once, as they do once the heights stop changing.
    for _ in range(100):  # 10 s, for a busy machine
        if settled():
            break
        page.wait_for_timeout(100)
    wanted = min(max(player_height(frame), WP_MIN), WP_MAX)
    assert abs(frame_height(page) - wanted) <= SLACK, (frame_height(page), player_height(frame))
    # Nothing cut off: inside the frame, the document is no taller than its viewport.
    assert frame.evaluate("document.documentElement.scrollHeight <= window.innerHeight"), \
        frame.evaluate("[document.documentElement.scrollHeight, window.innerHeight]")


def test_versions_of_the_clients_are_recorded(wordpress, browser):
    """The closing note of a run names what it tested against (test-artifacts/clients.txt)."""
    versions = {"WordPress": wordpress_version(), "PHP": php_version(), "Chromium": browser.version}
    assert versions["WordPress"].startswith("6.")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "clients.txt").write_text("".join(f"{k} {v}\n" for k, v in versions.items()))


def test_wordpress_loads_wp_embed_and_shows_the_player(post):
    name, page, frame = post
    scripts = page.eval_on_selector_all("script[src]", "s => s.map(e => e.src)")
    assert any("wp-embed" in src for src in scripts), scripts
    # wp-embed.js hides the fallback link and shows the frame once the player speaks.
    page.wait_for_function("() => getComputedStyle(document.querySelector('blockquote.wp-embedded-content'))"
                           ".display === 'none'")
    page.wait_for_function("() => !document.querySelector('iframe.wp-embedded-content').hasAttribute('style')")
    iframe = page.locator("iframe.wp-embedded-content")
    assert iframe.get_attribute("sandbox") == "allow-scripts"  # as WordPress frames any provider
    assert iframe.is_visible()
    assert frame.locator(".title").inner_text() == SAMPLE_TITLE
    fits(page, frame)
    # A narrower window wraps the title onto more lines: the frame follows.
    page.set_viewport_size({"width": 420, "height": 900})
    fits(page, frame)


@pytest.mark.parametrize("panel", PANELS_OF_PLAYER)
def test_the_frame_follows_the_player_as_a_panel_opens_and_closes(post, panel):
    name, page, frame = post
    fits(page, frame)
    closed = frame_height(page)
    toggle = frame.locator(f"button[aria-controls={panel}-panel]")
    toggle.click()
    if panel == "transcript":
        frame.wait_for_selector(".cues button")
    page.wait_for_function("(h) => document.querySelector('iframe.wp-embedded-content')"
                           ".getBoundingClientRect().height > h", arg=closed)
    fits(page, frame)
    # Every control of the open panel is inside the frame, so the mouse reaches it.
    for control in frame.locator(f"#{panel}-panel").locator("button, input, textarea").all()[:3]:
        control.click(trial=True)
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("iframe.wp-embedded-content").scroll_into_view_if_needed()
    page.locator(".wp-block-post-content").screenshot(path=str(ARTIFACTS / f"wordpress-{name}-{panel}.png"))
    toggle.click()
    page.wait_for_function("(h) => document.querySelector('iframe.wp-embedded-content')"
                           ".getBoundingClientRect().height <= h", arg=closed + SLACK)
    fits(page, frame)


@pytest.mark.parametrize("link", ["title", "Story", "Download", "Transcript page"])
def test_links_open_top_level_pages(post, storyfeed, link):
    name, page, frame = post
    # wp-embed.js follows a link only while its frame has the focus: a click gives it.
    anchor = frame.locator("a.title") if link == "title" else frame.locator(f".links a:text('{link}')")
    href = anchor.get_attribute("href")
    assert href.startswith(f"{storyfeed.base}/")
    anchor.click()
    page.wait_for_url(href)
    assert page.url == href


def test_captions_load_and_it_plays(post):
    name, page, frame = post
    frame.evaluate("document.querySelector('track').track.mode = 'hidden'")
    frame.locator("button.play").click()
    frame.wait_for_function("() => document.querySelector('track').readyState === 2"
                            " && document.querySelector('track').track.cues.length > 0", timeout=15_000)
    frame.wait_for_function("() => document.querySelector('audio').currentTime > 1", timeout=15_000)
    assert frame.evaluate("document.querySelector('audio').crossOrigin") == "anonymous"


def test_on_a_phone_each_panel_fits_and_every_control_is_in_reach(wordpress, storyfeed, browser):
    page, frame = open_post(browser, storyfeed, wordpress.links["block"], {"width": 360, "height": 740})
    try:
        fits(page, frame)
        for panel in PANELS_OF_PLAYER:
            toggle = frame.locator(f"button[aria-controls={panel}-panel]")
            toggle.click()
            if panel == "transcript":
                frame.wait_for_selector(".cues button")
            fits(page, frame)
            # Each control under the mouse once the post (or the panel's own list) is
            # scrolled to it; the frame's page itself, which a user cannot scroll, stays put.
            for control in frame.locator(f"#{panel}-panel").locator("button, input, textarea").all():
                control.click(trial=True, timeout=5_000)
            assert frame.evaluate("document.scrollingElement.scrollTop") == 0
            page.locator(".wp-block-post-content").screenshot(path=str(ARTIFACTS / f"wordpress-phone-{panel}.png"))
            toggle.click()
    finally:
        page.context.close()
