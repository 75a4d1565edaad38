"""Stored XSS in a real browser: a hostile story, put straight into the store (as a record
stored before validation refused it, or a tampered database), is opened in Chromium on its
story page, its topic page and its player; every link, button and summary is clicked, and
no script of the record's may run (no alert/confirm/prompt dialog ever opens)."""

from __future__ import annotations

import contextlib
import os

import pytest

from serving.state import app_state
from stories.model import story_from_record, topic_from_record

from ..browser_support import CHROMIUM
from ..conftest import migrated_sqlite, story_record
from ..servers import InThread
from .conftest import build_app, dispose

SCRIPT = "alert(document.domain)"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Chromium is not installed"),
]


def hostile_records() -> tuple[dict, dict]:
    story = story_record(
        id="evil", topics=["evil-topic"], url=f"javascript:{SCRIPT}",
        title=f"\"><img src=x onerror={SCRIPT}>", teaser=f"</script><script>{SCRIPT}</script>",
        body_html=f"<p>Body<img src=x onerror={SCRIPT}><a href=\"javascript:{SCRIPT}\">more</a></p>",
        bylines=[f"<svg/onload={SCRIPT}>"],
        published="2024-01-02T15:00:00+00:00", updated="2024-01-02T15:00:00+00:00",
        image={"url": f"/media/javascript:{SCRIPT}//x.jpg", "width": 1400, "height": 1400,
               "caption": f"<img src=x onerror={SCRIPT}>", "credit": "A/B"},
        audio=[{"id": "666", "url": f"/media/javascript:{SCRIPT}//x.mp3", "type": "audio/mpeg",
                "length": 10, "duration": 7, "transcript_url": f"JaVaScRiPt:{SCRIPT}",
                "embed": f'<iframe src="javascript:{SCRIPT}">'}],
    )
    topic = {"slug": "evil-topic", "title": f"<script>{SCRIPT}</script>", "link": f"javascript:{SCRIPT}",
             "description": f"\"><img src=x onerror={SCRIPT}>", "owner_email": "a@b.org",
             "category": "News",
             "image": {"url": f"/media/javascript:{SCRIPT}//a.jpg", "width": 1400, "height": 1400}}
    return story, topic


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory):
    app = build_app(migrated_sqlite(tmp_path_factory.mktemp("browser") / "b.sqlite3"),
                    SITE_URL=None)
    story, topic = hostile_records()
    app_state(app).store.write(stories=[story_from_record(story)],
                                            topics=[topic_from_record(topic)])
    try:
        with InThread(app) as server:
            yield server.base + "/"
    finally:
        dispose(app)



# Everything a visitor can click, but the podcast apps' own subscribe links (podcast://,
# overcast://, pktc://, built by us from the feed URL): headless Chromium hands those to
# the system, which may never answer.
CLICKABLE = ("a:not([href^='podcast:']):not([href^='overcast:']):not([href^='pktc:']), "
             "button, summary, [onclick], audio, img, input[type=range]")


def is_a_page_of(site: str, url: str) -> bool:
    """Only the site's own pages and assets load: nothing leaves this machine, and feeds
    and media (which Chromium would download) are not fetched."""
    path = url.split("?", 1)[0]
    return url.startswith(site) and not path.endswith((".xml", ".json", ".opml", ".mp3", ".jpg"))


@pytest.mark.parametrize("path", ["stories/evil", "topics/evil-topic", "player/evil/666"])
def test_clicking_everything_on_a_hostile_story_opens_no_dialog(browser, hostile_site, path):
    from playwright.sync_api import Error as PlaywrightError

    dialogs: list[str] = []
    doing = ["loading the page"]

    def watch(page):
        # Named by the page it opened on (a link may open the story page in a new tab)
        # and by what the test was doing then.
        page.on("dialog", lambda dialog: (
            dialogs.append(f"on {page.url.removeprefix(hostile_site)!r}, {doing[0]}"),
            dialog.dismiss()))

    def new_context():
        context = browser.new_context(accept_downloads=True)
        context.on("page", watch)
        context.route("**/*", lambda route: route.continue_()
                      if is_a_page_of(hostile_site, route.request.url) else route.abort())
        context.set_default_timeout(5000)
        return context

    url = hostile_site + path
    context = new_context()
    first = context.new_page()
    first.goto(url)
    labels = first.locator(CLICKABLE).evaluate_all("els => els.map(e => e.outerHTML.slice(0, 150))")
    context.close()
    assert len(labels) > 3, f"{url} has almost nothing to click"
    for index, label in enumerate(labels):
        # A fresh context per click: what one click started cannot disturb the next. It is
        # closed whole, after any navigation the click started has loaded: Chromium can
        # drop a page's close that races a navigation's commit, and page.close() then
        # waits for ever (Playwright issues 41900, 42366).
        context = new_context()
        try:
            page = context.new_page()
            doing[0] = "loading the page"
            page.goto(url)
            try:
                doing[0] = "clicking " + label
                page.locator(CLICKABLE).nth(index).click(force=True, timeout=2000, no_wait_after=True)
            except PlaywrightError:
                pass  # not clickable after all: the others are still tried
            page.wait_for_timeout(150)
            for opened in context.pages:  # this page and any tab a link opened
                with contextlib.suppress(PlaywrightError):
                    opened.wait_for_load_state(timeout=2000)
        finally:
            context.close()
    assert not dialogs, f"{len(dialogs)} dialog(s) opened:\n" + "\n".join(sorted(set(dialogs)))
