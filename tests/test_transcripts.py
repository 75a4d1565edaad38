"""A story's transcript page, transcript files and chapters file (web/transcripts.py):
cues link into the player at their times, chapters follow the Podcast Index JSON shape,
hostile text stays text, remote transcripts are linked and never fetched, and the static
export holds all of it."""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace

import jsonschema
import lxml.html
import pytest

from feeds.cues import MAX_CUES
from serving.state import app_state
from stories.sample import SAMPLE_FILE
from stories.validate import parse_story
from web.export import MANIFEST, export_site

from .conftest import make_app, story_record

SAMPLE_MEDIA = SAMPLE_FILE.parent / "media" / "north-korean-defectors"
STORY, AUDIO = "1169464713", "1169825816"
PLAYER = f"http://storyfeed.test/player/{STORY}/{AUDIO}"
FILES = f"/stories/{STORY}/audio/{AUDIO}"
VTT_TIME = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d\d\d) --> ", re.MULTILINE)

# The Podcast Index JSON chapters format (docs/examples/chapters/jsonChapters.md in
# Podcastindex-org/podcast-namespace, version 1.2) as a JSON Schema.
CHAPTERS_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["version", "chapters"],
    "properties": {
        "version": {"type": "string", "pattern": r"^\d+\.\d+(\.\d+)?$"},
        "chapters": {"type": "array", "items": {"$ref": "#/$defs/chapter"}},
        "author": {"type": "string"},
        "title": {"type": "string"},
        "podcastName": {"type": "string"},
        "description": {"type": "string"},
        "fileName": {"type": "string"},
        "waypoints": {"type": "boolean"},
    },
    "additionalProperties": False,
    "$defs": {
        "chapter": {
            "type": "object",
            "required": ["startTime"],
            "properties": {
                "startTime": {"type": "number", "minimum": 0},
                "endTime": {"type": "number", "minimum": 0},
                "title": {"type": "string"},
                "img": {"type": "string", "pattern": r"^https?://\S+$"},
                "url": {"type": "string", "pattern": r"^https?://\S+$"},
                "toc": {"type": "boolean"},
                "location": {"type": "object", "required": ["name", "geo"],
                             "properties": {"name": {"type": "string"}, "geo": {"type": "string"},
                                            "osm": {"type": "string"}}},
            },
            "additionalProperties": False,
        },
    },
}
jsonschema.Draft202012Validator.check_schema(CHAPTERS_SCHEMA)


def check_chapters(document: dict) -> None:
    jsonschema.Draft202012Validator(CHAPTERS_SCHEMA).validate(document)
    starts = [c["startTime"] for c in document["chapters"]]
    assert starts == sorted(starts), "chapters are in ascending startTime order"


def vtt_cues(path) -> list[tuple[float, str]]:
    """(start, text) of each cue, read with a regular expression, not the code under test."""
    text = path.read_text(encoding="utf-8")
    cues = []
    for block in text.split("\n\n")[1:]:
        match = VTT_TIME.match(block.strip())
        if match:
            h, m, s, ms = map(int, match.groups())
            cues.append((h * 3600 + m * 60 + s + ms / 1000, " ".join(block.strip().split("\n")[1:])))
    return cues


def page(client, path: str):
    response = client.get(path)
    assert response.status_code == 200, response.data[:300]
    return lxml.html.fromstring(response.data)


# -- the sample ---------------------------------------------------------------------------

def test_every_cue_links_into_the_player_at_its_time(sample_client):
    document = page(sample_client, f"/stories/{STORY}/transcript")
    cues = document.xpath("//div[@class='cue']")
    expected = vtt_cues(SAMPLE_MEDIA / f"{AUDIO}.vtt")
    assert len(cues) == len(expected) == 9
    for cue, (start, text) in zip(cues, expected, strict=True):
        link = cue.xpath("time/a")[0]
        href = link.get("href")
        assert href.startswith(PLAYER + "#t=")
        assert float(href.split("#t=")[1]) == pytest.approx(start, abs=0.0005)
        assert link.text == f"{int(start) // 60}:{int(start) % 60:02d}"
        assert link.get("aria-label") == f"Listen from {link.text}"
        assert cue.xpath("time/@datetime")[0] == f"PT{href.split('#t=')[1]}S"
        assert cue.xpath("p/text()") == [text]
    assert document.xpath("//div[@class='cues']/@lang") == ["en-US"]


def test_chapter_titles_head_the_cues_they_start_at(sample_client):
    document = page(sample_client, f"/stories/{STORY}/transcript")
    record = json.loads(SAMPLE_FILE.read_text())
    chapters = next(s for s in record["stories"] if s["id"] == STORY)["audio"][0]["chapters"]["chapters"]
    headings = document.xpath("//div[@class='cues']/h2[@class='chapter']")
    assert [h.text_content() for h in headings] == [c["title"] for c in chapters]
    for heading, chapter in zip(headings, chapters, strict=True):
        assert heading.xpath("a/@href")[0] == f"{PLAYER}#t={chapter['startTime']:g}"
        following = heading.getnext()
        assert float(following.xpath("time/a/@href")[0].split("#t=")[1]) == pytest.approx(chapter["startTime"])


def test_the_page_lists_the_transcript_files_and_the_story_links_it(sample_client):
    document = page(sample_client, f"/stories/{STORY}/transcript")
    files = [(a.get("href"), a.get("type"), a.text) for a in document.xpath("//ul[@class='actions']/li/a")]
    assert files == [
        (PLAYER, None, "Listen"),
        (f"http://storyfeed.test{FILES}/transcript.vtt", "text/vtt", "WebVTT (en-US)"),
        (f"http://storyfeed.test{FILES}/transcript.json", "application/json", "JSON (en-US)"),
    ]
    story = page(sample_client, f"/stories/{STORY}")
    assert story.xpath("//p[@class='transcript-link']/a/@href") == [
        f"http://storyfeed.test/stories/{STORY}/transcript"]


@pytest.mark.parametrize("extension, content_type", [
    ("vtt", "text/vtt; charset=utf-8"), ("json", "application/json")])
def test_transcript_files_are_the_media_files_with_their_type(sample_client, extension, content_type):
    response = sample_client.get(f"{FILES}/transcript.{extension}")
    assert response.status_code == 200
    assert response.content_type == content_type
    assert response.data == (SAMPLE_MEDIA / f"{AUDIO}.{extension}").read_bytes()
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    again = sample_client.get(f"{FILES}/transcript.{extension}", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_chapters_json_is_a_podcast_index_chapters_file(sample_client):
    response = sample_client.get(f"{FILES}/chapters.json")
    assert response.status_code == 200
    assert response.content_type == "application/json+chapters"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    document = json.loads(response.data)
    check_chapters(document)
    assert [c["title"] for c in document["chapters"]] == ["Headline", "In brief", "The picture", "Credit"]
    # The record's /media/ picture, made absolute for apps that fetch it.
    assert document["chapters"][2]["img"] == f"http://storyfeed.test/media/north-korean-defectors/{STORY}.jpg"
    assert sample_client.get(f"{FILES}/chapters.json",
                             headers={"If-None-Match": response.headers["ETag"]}).status_code == 304


def test_the_schema_refuses_what_is_not_a_chapters_file():
    """The check itself: each of these breaks the format."""
    for bad in ({"chapters": []}, {"version": "1.2.0", "chapters": [{"title": "no start"}]},
                {"version": "1.2.0", "chapters": [{"startTime": "0"}]},
                {"version": "1.2.0", "chapters": [{"startTime": 0, "img": "/media/x.jpg"}]}):
        with pytest.raises(jsonschema.ValidationError):
            check_chapters(bad)


@pytest.mark.parametrize("path", [
    "/stories/nope/transcript",
    f"/stories/{STORY}/audio/nope/chapters.json",
    f"{FILES}/transcript.srt",  # the sample has none
    f"{FILES}/transcript.html",
    f"{FILES}/transcript.mp3",
    "/stories/800/transcript",  # a story without transcripts
])
def test_what_is_not_there_is_a_404_page(sample_client, path):
    response = sample_client.get(path)
    assert response.status_code == 404
    assert response.mimetype == "text/html"


# -- stories of our own, with files of our own --------------------------------------------

@pytest.fixture
def media_app(sqlite_url, tmp_path):
    media = tmp_path / "media"
    (media / "t").mkdir(parents=True)
    app = make_app(sqlite_url, MEDIA_DIR=str(media))
    app.media = media / "t"  # where the test's files go
    yield app
    app_state(app).store.engine.dispose()


def add_story(app, transcripts, **audio_fields):
    audio = {"id": "a1", "url": "/media/t/a1.mp3", "length": 1000, "duration": 60,
             "transcripts": transcripts, **audio_fields}
    story = parse_story(story_record(id="s1", topics=["t"], audio=[audio]))[0]
    app_state(app).store.write([story])


HOSTILE = "<script>alert(1)</script> & <img src=x onerror=alert(2)>"


def test_hostile_cue_text_and_speakers_are_escaped(media_app):
    (media_app.media / "a1.json").write_text(json.dumps({"version": "1.0.0", "segments": [
        {"speaker": HOSTILE, "startTime": 1, "endTime": 2, "body": HOSTILE + "."},
    ]}))
    (media_app.media / "a1.vtt").write_text(
        "WEBVTT\n\n00:00:03.000 --> 00:00:04.000\n<v Eve &lt;b&gt;>&lt;script&gt;alert(3)&lt;/script&gt; ok\n")
    for transcripts in ([{"url": "/media/t/a1.json", "type": "application/json"}],
                        [{"url": "/media/t/a1.vtt", "type": "text/vtt"}]):
        add_story(media_app, transcripts)
        response = media_app.test_client().get("/stories/s1/transcript")
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert "<script>alert" not in html and "<img src=x" not in html and "<b>" not in html
        document = lxml.html.fromstring(html)
        assert not document.xpath("//div[@class='cues']//script | //div[@class='cues']//img")
        text = document.xpath("//div[@class='cue']/p/text()")[0]
        assert text in (HOSTILE + ".", "<script>alert(3)</script> ok")
        assert document.xpath("//div[@class='cue']/cite/text()")[0] in (HOSTILE + ":", "Eve <b>:")


def test_word_by_word_json_reads_as_sentences_by_speaker(media_app):
    words = [("Darth", 0.5, "I"), ("Darth", 1, "am"), ("Darth", 1.5, "your"), ("Darth", 2.25, "father.\n"),
             ("Luke", 2.75, "Nooooo")]
    (media_app.media / "a1.json").write_text(json.dumps({"version": "1.0.0", "segments": [
        {"speaker": who, "startTime": at, "endTime": at + 0.25, "body": body} for who, at, body in words]}))
    add_story(media_app, [{"url": "/media/t/a1.json", "type": "application/json"}])
    document = page(media_app.test_client(), "/stories/s1/transcript")
    cues = [(c.xpath("cite/text()")[0], c.xpath("time/a/@href")[0].split("#t=")[1], c.xpath("p/text()")[0])
            for c in document.xpath("//div[@class='cue']")]
    assert cues == [("Darth:", "0.5", "I am your father."), ("Luke:", "2.75", "Nooooo")]


def test_a_broken_transcript_is_named_and_the_next_one_is_read(media_app):
    (media_app.media / "a1.vtt").write_bytes(b"not a WebVTT file")
    (media_app.media / "a1.srt").write_bytes(b"1\n00:00:01,500 --> 00:00:02,000\nFrom SubRip\n")
    (media_app.media / "bad.json").write_bytes(b'{"segments": [{"startTime": NaN, "body": "x"}]}')
    add_story(media_app, [{"url": "/media/t/a1.vtt", "type": "text/vtt"},
                          {"url": "/media/t/a1.srt", "type": "application/x-subrip"}])
    document = page(media_app.test_client(), "/stories/s1/transcript")
    assert document.xpath("//div[@class='cue']/p/text()") == ["From SubRip"]
    assert document.xpath("//div[@class='cue']/time/a/@href") == ["http://storyfeed.test/player/s1/a1#t=1.5"]
    add_story(media_app, [{"url": "/media/t/a1.vtt", "type": "text/vtt"},
                          {"url": "/media/t/bad.json", "type": "application/json"}])
    response = media_app.test_client().get("/stories/s1/transcript")
    assert response.status_code == 200
    problem = lxml.html.fromstring(response.data).xpath("//p[@class='problem']/text()")[0]
    assert "WebVTT transcript is not WebVTT" in problem
    assert "JSON transcript segments[0].startTime is not a time in seconds: nan" in problem


def test_remote_transcripts_are_linked_never_fetched(media_app, upstream):
    upstream.serve("/t.vtt", "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nremote\n", content_type="text/vtt")
    remote = upstream.url("/t.vtt")
    add_story(media_app, [{"url": remote, "type": "text/vtt", "language": "fr"}])
    client = media_app.test_client()
    document = page(client, "/stories/s1/transcript")
    assert not document.xpath("//div[@class='cue']")
    assert document.xpath("//ul[@class='actions']/li/a[@type='text/vtt']/@href") == [remote]
    assert client.get("/stories/s1/audio/a1/transcript.vtt").status_code == 404
    assert page(client, "/stories/s1").xpath("//script[@type='application/ld+json']")
    assert upstream.seen == []


def test_not_embeddable_audio_links_cues_to_the_file_itself(media_app):
    (media_app.media / "a1.vtt").write_text("WEBVTT\n\n00:00:02.000 --> 00:00:03.000\nhello\n")
    add_story(media_app, [{"url": "/media/t/a1.vtt", "type": "text/vtt"}], embeddable=False)
    document = page(media_app.test_client(), "/stories/s1/transcript")
    assert document.xpath("//div[@class='cue']/time/a/@href") == ["http://storyfeed.test/media/t/a1.mp3#t=2"]
    add_story(media_app, [{"url": "/media/t/a1.vtt", "type": "text/vtt"}], embeddable=False, downloadable=False)
    document = page(media_app.test_client(), "/stories/s1/transcript")
    assert document.xpath("//div[@class='cue']/time/a") == []
    assert document.xpath("//div[@class='cue']/time/text()") == ["0:02"]


def test_chapters_by_url_are_served_from_media_or_left_to_their_host(media_app):
    chapters = {"version": "1.2.0", "chapters": [{"startTime": 0, "title": "One"}]}
    (media_app.media / "a1.chapters.json").write_text(json.dumps(chapters))
    add_story(media_app, [], chapters={"url": "/media/t/a1.chapters.json"})
    client = media_app.test_client()
    response = client.get("/stories/s1/audio/a1/chapters.json")
    assert response.content_type == "application/json+chapters"
    check_chapters(json.loads(response.data))
    add_story(media_app, [], chapters={"url": "https://chapters.example.org/a1.json"})
    assert client.get("/stories/s1/audio/a1/chapters.json").status_code == 404


def test_a_symlink_or_a_path_outside_media_is_never_served(media_app, tmp_path):
    secret = tmp_path / "secret.vtt"
    secret.write_text("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nsecret\n")
    (media_app.media / "link.vtt").symlink_to(secret)
    add_story(media_app, [{"url": "/media/t/link.vtt", "type": "text/vtt"},
                          {"url": "/media/t/elsewhere.srt", "type": "application/x-subrip"}])
    # Validation refuses "..": a record from before it (or written directly) may hold one.
    store = app_state(media_app).store
    story = store.get_story("s1")
    audio = story.audio[0]
    climbing = replace(audio.transcripts[1], url="/media/t/../../secret.vtt")
    store.write([replace(story, audio=(replace(audio, transcripts=(audio.transcripts[0], climbing)),))])
    client = media_app.test_client()
    assert client.get("/stories/s1/audio/a1/transcript.vtt").status_code == 404
    assert client.get("/stories/s1/audio/a1/transcript.srt").status_code == 404
    document = page(client, "/stories/s1/transcript")
    assert not document.xpath("//div[@class='cue']")  # nothing read from either file


def vtt_of(count: int, words: str = "Words") -> str:
    times = [f"{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}" for i in range(count)]
    cues = [f"{at}.000 --> {at}.500\n{words} {i}\n" for i, at in enumerate(times)]
    return "WEBVTT\n\n" + "\n".join(cues)


def test_a_transcript_of_more_cues_than_a_page_holds_is_a_named_problem(media_app):
    (media_app.media / "a1.vtt").write_text(vtt_of(MAX_CUES + 1))
    (media_app.media / "a1.srt").write_text("\n".join(
        f"{i + 1}\n00:00:{i % 60:02d},000 --> 00:00:{i % 60:02d},500\nline {i}\n" for i in range(40_000)))
    (media_app.media / "a1.json").write_text(json.dumps({"version": "1.0.0", "segments": [
        {"startTime": i, "body": f"Sentence {i}."} for i in range(MAX_CUES + 1)]}))
    (media_app.media / "ok.vtt").write_text(vtt_of(MAX_CUES))
    add_story(media_app, [{"url": "/media/t/a1.vtt", "type": "text/vtt"},
                          {"url": "/media/t/a1.srt", "type": "application/x-subrip"},
                          {"url": "/media/t/a1.json", "type": "application/json"}])
    client = media_app.test_client()
    response = client.get("/stories/s1/transcript")
    assert response.status_code == 200
    document = lxml.html.fromstring(response.data)
    assert not document.xpath("//div[@class='cue']")
    problem = document.xpath("//p[@class='problem']/text()")[0]
    for name in ("WebVTT", "SubRip", "JSON"):
        assert f"The {name} transcript has more than 5,000 cues." in problem
    assert client.get("/stories/s1").status_code == 200  # its structured data has no text
    add_story(media_app, [{"url": "/media/t/ok.vtt", "type": "text/vtt"}])
    assert len(page(client, "/stories/s1/transcript").xpath("//div[@class='cue']")) == MAX_CUES


def test_the_transcript_page_is_made_once_per_change_of_the_story_or_its_file(media_app):
    transcript = media_app.media / "a1.vtt"
    transcript.write_text(vtt_of(3, "First"))
    add_story(media_app, [{"url": "/media/t/a1.vtt", "type": "text/vtt"}])
    client = media_app.test_client()
    cues = lambda: page(client, "/stories/s1/transcript").xpath("//div[@class='cue']/p/text()")  # noqa: E731
    assert cues() == ["First 0", "First 1", "First 2"]
    # The same size and time: the kept page is the answer, the file is not read again.
    stat = transcript.stat()
    transcript.write_text(vtt_of(3, "Other"))
    os.utime(transcript, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert cues() == ["First 0", "First 1", "First 2"]
    response = client.get("/stories/s1/transcript")
    assert client.get("/stories/s1/transcript", headers={"If-None-Match": response.headers["ETag"]}
                      ).status_code == 304
    # An edited file (a new time) makes a new page, and so does a write to the store.
    os.utime(transcript, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert cues() == ["Other 0", "Other 1", "Other 2"]
    add_story(media_app, [{"url": "/media/t/a1.vtt", "type": "text/vtt", "language": "de"}])
    assert page(client, "/stories/s1/transcript").xpath("//div[@class='cues']/@lang") == ["de"]
    assert client.get("/stories/nothing-here/transcript").status_code == 404


# -- the static export ----------------------------------------------------------------------

def test_the_export_holds_the_transcript_pages_files_and_chapters(sample_app, tmp_path):
    sample_app.config["SITE_URL"] = "http://storyfeed.test/"
    root = tmp_path / "export"
    export_site(sample_app, root)
    manifest = json.loads((root / MANIFEST).read_text())["files"]
    record = json.loads(SAMPLE_FILE.read_text())
    for story in record["stories"]:
        audio = story["audio"][0]["id"]
        for path, content_type in [
            (f"stories/{story['id']}/transcript", "text/html; charset=utf-8"),
            (f"stories/{story['id']}/audio/{audio}/transcript.vtt", "text/vtt; charset=utf-8"),
            (f"stories/{story['id']}/audio/{audio}/transcript.json", "application/json"),
            (f"stories/{story['id']}/audio/{audio}/chapters.json", "application/json+chapters"),
        ]:
            assert manifest[path]["content_type"] == content_type, path
            live = sample_app.test_client().get("/" + path, headers={"Accept-Encoding": "identity"})
            assert (root / path).read_bytes() == live.data, path
        check_chapters(json.loads((root / f"stories/{story['id']}/audio/{audio}/chapters.json").read_text()))


# A transcript file a record points at is as hostile as a request: JSON that the decoder
# reads but that no float holds, and JSON nested past the decoder's recursion limit.
HOSTILE_JSON = {
    "huge-number": b'{"segments": [{"startTime": 1' + b"0" * 400 + b', "body": "x."}]}',
    "deep-nesting": b'{"segments": ' + b"[" * 200_000 + b"]" * 200_000 + b"}",
}


@pytest.mark.parametrize("name", HOSTILE_JSON)
def test_a_hostile_json_transcript_is_named_on_every_page_and_in_the_export(media_app, tmp_path, name):
    (media_app.media / "bad.json").write_bytes(HOSTILE_JSON[name])
    add_story(media_app, [{"url": "/media/t/bad.json", "type": "application/json"}])
    client = media_app.test_client()
    assert client.get("/stories/s1").status_code == 200
    response = client.get("/stories/s1/transcript")
    assert response.status_code == 200
    document = lxml.html.fromstring(response.data)
    assert "JSON transcript" in document.xpath("//p[@class='problem']/text()")[0]
    media_app.config["SITE_URL"] = "http://storyfeed.test/"
    export_site(media_app, tmp_path / "export")
    assert (tmp_path / "export" / "stories" / "s1" / "transcript").is_file()


def test_the_cue_memo_holds_what_its_bound_says_and_rereads_an_edited_file(tmp_path, monkeypatch):
    # It kept 256 files of up to 5,000 cues each: hundreds of MB in every worker.
    from bench.anonymous import write_transcript
    from web import transcripts

    memo = transcripts.CueMemo(max_cues=3_000, max_bytes=1024 * 1024)
    monkeypatch.setattr(transcripts, "CUE_MEMO", memo)
    reads = []
    real = transcripts.read_cues
    monkeypatch.setattr(transcripts, "read_cues", lambda data, type: reads.append(type) or real(data, type))
    for n in range(12):
        write_transcript(tmp_path, f"{n}.vtt", 1_000)
        assert len(transcripts.file_cues(str(tmp_path / f"{n}.vtt"), "text/vtt")) == 1_000
        files, cues, size = memo.sizes()
        assert cues <= 3_000 and size <= 1024 * 1024
    assert memo.sizes()[:2] == (3, 3_000)
    reads.clear()
    transcripts.file_cues(str(tmp_path / "11.vtt"), "text/vtt")
    assert reads == []  # the newest files are kept
    (tmp_path / "11.vtt").write_text("WEBVTT\n\n00:01.000 --> 00:02.000\nEdited.\n")
    assert [c.text for c in transcripts.file_cues(str(tmp_path / "11.vtt"), "text/vtt")] == ["Edited."]
    assert reads == ["text/vtt"]
    write_transcript(tmp_path, "big.vtt", 3_001)  # past the bound alone: read, not kept
    transcripts.file_cues(str(tmp_path / "big.vtt"), "text/vtt")
    assert memo.sizes()[1] <= 3_000
