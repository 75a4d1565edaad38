"""Text that a record brings is isolated from the page around it: an Arabic or Hebrew title,
or a U+202E RIGHT-TO-LEFT OVERRIDE in a byline, must not reorder the words, numbers and
punctuation the page puts beside it. Each such text sits in an element with `dir` (`auto`:
its own first strong character decides) or in a `<bdi>`, both isolated by HTML's rules."""

from __future__ import annotations

import lxml.html
import pytest

from serving.state import app_state
from stories.validate import parse_story, parse_topic

from .conftest import make_app, story_record

RLO = "\u202e"
HEBREW = "\u05e9\u05dc\u05d5\u05dd"


def marked(field: str) -> str:
    return f"{HEBREW} {field} {RLO}evil"


@pytest.fixture
def rtl_app(sqlite_url, tmp_path):
    media = tmp_path / "media"
    (media / "t").mkdir(parents=True)
    (media / "t" / "a1.vtt").write_text(
        f"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v {marked('speaker')}>{marked('cue')}\n")
    (media / "t" / "a1.json").write_text(
        '{"version": "1.2.0", "chapters": [{"startTime": 0, "title": "' + marked("chapter") + '"}]}')
    app = make_app(sqlite_url, MEDIA_DIR=str(media), SITE_URL="http://storyfeed.test/")
    topic, _ = parse_topic({"slug": "t", "title": marked("topic title"),
                            "description": marked("topic description")}, "topic")
    story, _ = parse_story(story_record(
        id="s1", topics=["t"], title=marked("title"), teaser=marked("teaser"),
        bylines=[marked("byline one"), marked("byline two")],
        body_html=f"<p>{marked('body')}</p>",
        image={"url": "https://example.org/p.jpg", "caption": marked("caption"), "credit": marked("credit")},
        audio=[{"id": "a1", "url": "/media/t/a1.mp3", "length": 1000, "duration": 60,
                "transcripts": [{"url": "/media/t/a1.vtt", "type": "text/vtt"}],
                "chapters": {"url": "/media/t/a1.json"}}],
    ), "story")
    app_state(app).store.write(stories=[story], topics=[topic])
    yield app
    app_state(app).store.engine.dispose()


@pytest.mark.parametrize("path", ["/", "/topics/t", "/stories/s1", "/stories/s1/transcript", "/player/s1/a1",
                                  "/topics/t?cursor=" + RLO])
def test_every_text_a_record_brings_is_isolated(rtl_app, path):
    response = rtl_app.test_client().get(path)
    document = lxml.html.fromstring(response.data)
    body = document.find("body")
    texts = [text for text in body.xpath("//body//text()") if RLO in text]
    if response.status_code == 200:
        assert texts, "the page shows none of the record's texts"
    for text in texts:
        element = text.getparent()
        isolated = any(e.tag == "bdi" or e.get("dir") for e in [element, *element.iterancestors()]
                       if e is not document)
        assert isolated, f"{path}: {text!r} in <{element.tag}> is not isolated"
