"""Every control of the player within the mouse's reach at every size it supports, in a
frame that does not resize (any host but WordPress): an open panel scrolls inside the
frame instead of running out of it.

At the default 180 px (and 320 px wide) the share panel's "Embed code" and its copy
button once lay below the frame's edge, where no mouse and no scrolling could reach them.
Below 150 px the player folds into one row without panels.
"""

from __future__ import annotations

import os

import pytest

from .browser_support import CHROMIUM
from .embeds_support import SAMPLE_AUDIO, SAMPLE_STORY, serve_sample

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Chromium is not installed")]

SIZES = [(320, 150), (320, 180), (600, 180), (320, 240)]  # width, height: the smallest with panels
PANELS = ["chapters", "transcript", "share"]

# The element's nearest ancestor a user can scroll (a list, a panel), or the root.
SCROLLER = """e => {
  for (let p = e.parentElement; p; p = p.parentElement) {
    if (/auto|scroll/.test(getComputedStyle(p).overflowY)) return p;
  }
  return document.documentElement;
}"""
# Where the mouse can click the element: its middle, when the whole of it shows in the
# frame's viewport and under the mouse (the middle of what shows, for an element taller
# than the box that scrolls it); else null.
TARGET = """([e, box]) => {
  const r = e.getBoundingClientRect(), b = box.getBoundingClientRect();
  const top = Math.max(b.top, 0), bottom = Math.min(b.bottom, innerHeight);
  const x = r.left + r.width / 2;
  if (x < 0 || x >= innerWidth) return null;
  const on = y => { const hit = document.elementFromPoint(x, y); return hit === e || e.contains(hit); };
  if (r.height <= bottom - top) {
    const whole = r.top >= top - 1 && r.bottom <= bottom + 1 && on(r.top + 2) && on(r.bottom - 2);
    return whole ? [x, (r.top + r.bottom) / 2] : null;
  }
  const y = (Math.max(r.top, top) + Math.min(r.bottom, bottom)) / 2;
  return r.top <= top + 1 && r.bottom >= bottom - 1 && on(y) ? [x, y] : null;
}"""
# Where a user turns the wheel (the middle of what the viewport shows of the box), and by
# how much at a time: steps under half the room the box has around the element, so that
# no step jumps over the range where all of it shows.
WHEEL = """([e, b]) => {
  const r = b.getBoundingClientRect();
  const top = Math.max(r.top, 0), bottom = Math.min(r.bottom, innerHeight);
  const room = bottom - top - e.getBoundingClientRect().height;
  return bottom > top ? [r.left + r.width / 2, (top + bottom) / 2, Math.max(3, Math.min(40, room / 2))] : null;
}"""


def reach(page, control):
    """Where to click `control` after turning the mouse wheel over the box that scrolls
    it, as a user would (Playwright's own scrolling into view scrolls even what a user
    cannot); None when it stays out of reach."""
    element = control.element_handle()
    box = control.evaluate_handle(SCROLLER)
    for _ in range(200):
        target = page.evaluate(TARGET, [element, box])
        if target is not None:
            return target
        wheel = page.evaluate(WHEEL, [element, box])
        if wheel is None:
            return None
        page.mouse.move(wheel[0], wheel[1])
        page.mouse.wheel(0, wheel[2])
        page.wait_for_timeout(20)
    return None


@pytest.fixture(scope="module")
def storyfeed(tmp_path_factory):
    with serve_sample(tmp_path_factory.mktemp("reach") / "test.sqlite3") as base:
        yield base



@pytest.mark.parametrize("width, height", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_every_control_of_each_panel_is_within_reach(storyfeed, browser, width, height):
    page = browser.new_page(viewport={"width": width, "height": height})
    try:
        page.goto(f"{storyfeed}player/{SAMPLE_STORY}/{SAMPLE_AUDIO}")
        page.wait_for_selector(".controls:not([hidden])")
        for panel in PANELS:
            page.click(f"button[aria-controls={panel}-panel]")
            if panel == "transcript":
                page.wait_for_selector(".cues button")
            section = page.locator(f"#{panel}-panel")
            controls = section.locator("button, input, textarea")
            assert controls.count() > 0
            for control in controls.all():
                assert reach(page, control), (panel, control.evaluate("e => e.outerHTML.slice(0, 80)"))
            # The page itself never scrolled (a user cannot scroll it), and the toggle that
            # closes the panel is still there.
            assert page.evaluate("document.scrollingElement.scrollTop") == 0
            page.mouse.click(*reach(page, page.locator(f"button[aria-controls={panel}-panel]")))
    finally:
        page.close()


def test_copy_embed_code_by_mouse_at_the_default_height_and_320px(storyfeed, browser):
    page = browser.new_page(viewport={"width": 320, "height": 180})
    try:
        page.goto(f"{storyfeed}player/{SAMPLE_STORY}/{SAMPLE_AUDIO}")
        page.wait_for_selector(".controls:not([hidden])")
        page.click("button[aria-controls=share-panel]")
        at = reach(page, page.locator("button[data-field=share-embed]"))
        assert at is not None, "Copy embed code is out of the mouse's reach"
        page.mouse.click(*at)
        page.wait_for_function("() => document.querySelector('.status').textContent.includes('embed code')"
                               " || document.querySelector('.status').textContent.includes('Embed code')")
    finally:
        page.close()
