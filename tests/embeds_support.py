"""Shared by the embeds tests: extra stories, and the app served over real HTTP."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from serving.state import app_state
from stories.validate import parse_story

from .conftest import story_record
from .servers import InThread

SAMPLE_STORY = "1169464713"
SAMPLE_AUDIO = "1169825816"
SAMPLE_TITLE = "North Korean defectors may face deportation by China as COVID border controls ease"
HOSTILE_TITLE = '"><script>alert(1)</script>'


def extra_records() -> list[dict]:
    """Stories the sample lacks: a hostile title, audio that may not be embedded, a story
    without audio, and audio known only by NPR's player (no file)."""
    return [
        story_record(id="666", title=HOSTILE_TITLE, bylines=["Ann <b>Writer</b>", "Bo & Co"],
                     audio=[{"id": "667", "url": "/media/north-korean-defectors/1169825816.mp3",
                             "duration": 7,
                             "embed": '<iframe src="https://www.npr.org/player/embed/666/667">'}]),
        story_record(id="700", audio=[{
            "id": "701", "url": "https://media.example.org/701.mp3", "embeddable": False,
            "embed": '<iframe src="https://www.npr.org/player/embed/700/701" height="290">',
        }]),
        story_record(id="800", audio=None),
        story_record(id="900", image=None, audio=[{
            "id": "901", "embed": '<iframe src="https://www.npr.org/player/embed/900/901" height="240">',
        }]),
    ]


def add_extra_stories(app) -> None:
    stories = [parse_story(r)[0] for r in extra_records()]
    app_state(app).store.write(stories)


@contextlib.contextmanager
def serve_sample(db_path, with_extra_stories: bool = False) -> Iterator[str]:
    """The sample topic (and the extra stories) served over real HTTP on a free port.

    No SITE_URL: links come from the request, so they name this server's real port.
    """
    from .conftest import make_app, migrated_sqlite

    app = make_app(migrated_sqlite(db_path), SITE_URL=None)
    assert app.test_cli_runner().invoke(args=["stories", "sample"]).exit_code == 0
    if with_extra_stories:
        add_extra_stories(app)
    try:
        with InThread(app) as server:
            yield server.base + "/"
    finally:
        app_state(app).store.engine.dispose()


def embed_parts(html: str):
    """(the blockquote WordPress's embeds carry, or None; the iframe) of embed HTML, which
    holds nothing else."""
    import lxml.html

    elements = lxml.html.fragments_fromstring(html)
    assert [e.tag for e in elements] in (["iframe"], ["blockquote", "iframe"]), html
    return (elements[0] if len(elements) == 2 else None), elements[-1]


def embed_src(html: str) -> str:
    return embed_parts(html)[1].get("src")
