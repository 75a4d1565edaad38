"""Pages, the JSON API, media with byte ranges, errors."""

from __future__ import annotations

import json

import lxml.html
import pytest
import sqlalchemy as sa
from mutagen.mp3 import MP3

from serving.state import app_state
from stories.sample import SAMPLE_FILE
from stories.validate import parse_story

from .conftest import make_app, story_record

SAMPLE = json.loads(SAMPLE_FILE.read_text())
MEDIA_DIR = SAMPLE_FILE.parent / "media"


def test_index_lists_topics(sample_client):
    page = sample_client.get("/")
    assert page.status_code == 200
    assert b"Stories About north korean defectors" in page.data
    assert b"7 stories" in page.data


def test_the_index_shows_each_topics_artwork_latest_story_and_subscribe_links(client, app):
    store = app_state(app).store
    store.write([parse_story(story_record(id=f"s{n}", title=f"Story {n}", topics=[f"t{n % 3}"],
                                          published=f"2024-01-{n + 1:02d}T12:00:00Z"))[0]
                 for n in range(9)])
    page = lxml.html.fromstring(client.get("/").data)
    for topic, newest in (("t0", 6), ("t1", 7), ("t2", 8)):
        (item,) = page.xpath(f"//ul[@class='topic-list']/li[.//h2/a[@href='/topics/{topic}']]")
        assert item.xpath(".//p[@class='latest']/a/@href") == [f"/stories/s{newest}"]
        assert item.xpath(".//p[@class='latest']/time/@datetime")[0].startswith(f"2024-01-{newest + 1:02d}")
        assert item.xpath(".//details[@class='subscribe']//input/@value")  # its feed URLs


def test_the_index_shows_the_artwork_of_a_topic_with_its_size(sample_client):
    page = lxml.html.fromstring(sample_client.get("/").data)
    (art,) = page.xpath("//ul[@class='topic-list']/li/img[@class='artwork']")
    assert art.get("src").endswith("/media/north-korean-defectors/artwork.jpg")
    assert (art.get("width"), art.get("height"), art.get("alt")) == ("96", "96", "")


def test_the_index_reads_the_counts_of_all_topics_at_once(client, app):
    store = app_state(app).store
    store.write([parse_story(story_record(id=f"s{n}", topics=[f"t{n % 30}", "all"]))[0]
                 for n in range(90)])
    statements = []
    sa.event.listen(store.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    response = client.get("/")
    assert response.status_code == 200
    items = [" ".join(li.text_content().split()) for li in lxml.html.fromstring(response.data).xpath("//li")]
    assert any("All" in item and "90" in item for item in items), items
    # The topics, the moves, the counts, the latest stories: not a query per topic.
    assert len(statements) <= 5, statements
    # Kept until the store changes: then made again, with the new count.
    statements.clear()
    assert client.get("/").data == response.data
    assert len(statements) <= 1, statements  # the store's version, when not remembered
    store.write([parse_story(story_record(id="s90", topics=["all"]))[0]])
    assert b"91 stories" in client.get("/").data


def test_topic_page_shows_what_the_seed_page_shows(sample_client):
    page = sample_client.get("/topics/north-korean-defectors")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for story in SAMPLE["stories"]:
        assert f'id="story-{story["id"]}"' in html
        assert story["image"]["credit"] in html
        audio = story["audio"][0]
        assert f'src="http://storyfeed.test/media/north-korean-defectors/{audio["id"]}.mp3"' in html
    assert html.count(">Download</a>") == 7
    assert html.count(">Transcript</a>") == 4
    assert html.count('preload="none"') == 7
    assert "<title>Stories About north korean defectors</title>" in html
    assert '<link rel="canonical" href="http://storyfeed.test/topics/north-korean-defectors">' in html
    assert '<meta property="og:image" content="http://storyfeed.test/media/north-korean-defectors/artwork.jpg">' in html
    # Newest first.
    assert html.index("story-1169464713") < html.index("story-511745886")


def test_story_page(sample_client):
    page = sample_client.get("/stories/1022642030")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<title>That&#39;s &#39;Comrade&#39; To You!" in html
    assert 'href="https://www.npr.org/transcripts/1022642030"' in html
    assert '<meta property="og:type" content="article">' in html


PLAYER_ASSETS = ["/static/player.css", "/static/player.js"]


def assets(page) -> list[str]:
    return [*page.xpath("//link[@rel='stylesheet']/@href"), *page.xpath("//script/@src")]


def test_the_pages_play_in_the_embeddable_players_own_markup_script_and_styles(sample_client):
    """One player: the pages load the frame's own player.css and player.js (no copy), and
    each audio's markup is the frame's, built on the browser's own <audio controls>."""
    frame = lxml.html.fromstring(sample_client.get("/player/1169464713/1169825816").data)
    assert set(PLAYER_ASSETS) <= set(assets(frame))
    frame_controls = [b.get("class") for b in frame.xpath("//*[@data-player]//div[@class='controls']//button")]
    for path, players in (("/stories/1169464713", 1), ("/topics/north-korean-defectors", 7),
                          ("/stories/1169464713/transcript", 1)):
        page = lxml.html.fromstring(sample_client.get(path).data)
        assert set(PLAYER_ASSETS) <= set(assets(page)), path
        inline = page.xpath("//*[@data-player]")
        assert len(inline) == players, path
        for player in inline:
            assert "inline" in player.get("class").split()
            # Without the script: the browser's controls, every source, the captions.
            (audio,) = player.xpath(".//audio")
            assert audio.get("controls") is not None and audio.get("preload") == "none"
            sources = audio.xpath(".//source/@src")  # best first, as in the frame
            assert len(sources) == 2 and sources[0].endswith(".opus") and sources[1].endswith(".mp3")
            assert audio.xpath(".//track[@kind='captions']")
            assert player.xpath(".//div[@class='controls']")[0].get("hidden") is not None
            assert [b.get("class") for b in player.xpath(".//div[@class='controls']//button")] == frame_controls
        ids = page.xpath("//@id")
        assert len(ids) == len(set(ids)), path  # each player's panels are its own
        for toggle in page.xpath("//*[@data-player]//button[@aria-controls]"):
            assert page.xpath(f"//*[@id='{toggle.get('aria-controls')}']"), toggle.get("aria-controls")
    # The home page plays nothing: it loads the styles (its colours), not the script.
    home = lxml.html.fromstring(sample_client.get("/").data)
    assert "/static/player.css" in assets(home) and "/static/player.js" not in assets(home)


def test_an_inline_players_data(sample_client):
    page = lxml.html.fromstring(sample_client.get("/stories/1169464713").data)
    (player,) = page.xpath("//*[@data-player]")
    data = json.loads(player.get("data-player"))
    # Shared from the story page itself (its #t= starts there); remembered per audio.
    assert data["shareUrl"] == "http://storyfeed.test/stories/1169464713"
    assert data["remember"] == "1169464713/1169825816"
    assert [c["title"] for c in data["chapters"]] == ["Headline", "In brief", "The picture", "Credit"]
    assert data["transcriptUrl"].endswith("/media/north-korean-defectors/1169825816.vtt")
    # The story's title, picture and links are the page's: the player keeps its controls.
    assert not player.xpath(".//h1 | .//img | .//ul[@class='links']")
    # On the transcript page the page is the transcript: no panel of it in the player.
    page = lxml.html.fromstring(sample_client.get("/stories/1169464713/transcript").data)
    (player,) = page.xpath("//*[@data-player]")
    assert json.loads(player.get("data-player"))["transcriptUrl"] == ""
    starts = page.xpath("//div[@class='cues']/div[@class='cue']/@data-start")
    assert starts[:3] == ["0", "4.021", "11.403"]


def test_pictures_carry_their_size_and_below_the_first_screen_load_lazily(sample_client):
    topic = lxml.html.fromstring(sample_client.get("/topics/north-korean-defectors").data)
    images = topic.xpath("//article//img")
    assert [(i.get("width"), i.get("height")) for i in images] == [("800", "450")] * 7
    assert [i.get("loading") for i in images] == [None] + ["lazy"] * 6
    story = lxml.html.fromstring(sample_client.get("/stories/1169464713").data)
    assert [i.get("loading") for i in story.xpath("//article//img")] == [None]


def test_every_page_describes_itself(sample_client):
    for path in ("/", "/topics/north-korean-defectors", "/stories/1169464713", "/stories/1169464713/transcript"):
        page = lxml.html.fromstring(sample_client.get(path).data)
        (description,) = page.xpath("//meta[@name='description']/@content")
        assert len(description) > 20, path
        assert page.xpath("/html/@data-theme") == ["auto"], path  # the player's colours, dark or light


def test_a_hostile_title_stays_data_in_an_inline_player(client, app):
    evil = "'><script>alert(1)</script>\"&amp;"
    app_state(app).store.write([parse_story(story_record(title=evil, bylines=[evil]))[0]])
    for path in ("/stories/1001", "/topics/world"):
        body = client.get(path).get_data(as_text=True)
        page = lxml.html.fromstring(body)
        assert all(s.get("src") or s.get("type") == "application/ld+json" for s in page.iter("script"))
        (player,) = page.xpath("//*[@data-player]")
        assert json.loads(player.get("data-player"))["session"]["title"] == evil


def test_record_text_is_escaped(client, app):
    evil = "<script>alert(1)</script>"
    app_state(app).store.write([
        __import__("stories.validate", fromlist=["parse_story"]).parse_story(
            story_record(title=evil, teaser=evil, bylines=[evil],
                         image={"url": "https://x.example/a.jpg", "caption": evil, "credit": evil}))[0]
    ])
    for path in ("/topics/world", "/stories/1001", "/"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get("/stories/1001").get_data(as_text=True)


@pytest.mark.parametrize("path", ["/topics/nope", "/stories/nope", "/no/such/page"])
def test_unknown_pages_are_404_pages(client, path):
    page = client.get(path)
    assert page.status_code == 404
    assert page.mimetype == "text/html" and b"404 Not Found" in page.data


def test_api_story_and_paging(sample_client):
    story = sample_client.get("/api/stories/1169464713").get_json()
    assert story["story"]["title"].startswith("North Korean defectors may face")
    assert story["first_seen"].endswith("Z")

    first = sample_client.get("/api/topics/north-korean-defectors/stories?limit=3").get_json()
    assert [s["id"] for s in first["stories"]] == ["1169464713", "1022642030", "761156048"]
    assert first["previous_cursor"] is None
    second = sample_client.get(
        f"/api/topics/north-korean-defectors/stories?limit=3&cursor={first['next_cursor']}"
    ).get_json()
    assert [s["id"] for s in second["stories"]] == ["708718922", "607375723", "528615440"]


@pytest.mark.parametrize("query, message", [
    ("limit=0", "limit must be a whole number from 1 to 100"),
    ("limit=101", "limit must be a whole number from 1 to 100"),
    ("limit=500", "limit must be a whole number from 1 to 100"),
    ("limit=abc", "limit must be a whole number from 1 to 100"),
    ("cursor=zzz", "cursor is not one this service made"),
])
def test_api_bad_paging_is_400_with_a_reason(sample_client, query, message):
    answer = sample_client.get(f"/api/topics/north-korean-defectors/stories?{query}")
    assert answer.status_code == 400
    assert answer.get_json()["message"] == message


def test_api_unknown_is_json_404(client):
    answer = client.get("/api/stories/nope")
    assert answer.status_code == 404 and answer.get_json()["status"] == 404


def test_healthz(client, tmp_path):
    answer = client.get("/healthz").get_json()
    assert answer["status"] == "ok" and answer["checks"]["store"]["status"] == "ok"
    broken = make_app("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1").test_client()
    answer = broken.get("/healthz")
    assert answer.status_code == 503 and answer.get_json()["checks"]["store"]["status"] == "unavailable"


def test_store_down_is_503_with_retry_after_and_no_traceback():
    broken = make_app("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1").test_client()
    answer = broken.get("/topics/north-korean-defectors")
    assert answer.status_code == 503
    assert answer.headers["Retry-After"]
    assert b"Traceback" not in answer.data and b"psycopg" not in answer.data


# -- media -----------------------------------------------------------------------

AUDIO = "/media/north-korean-defectors/1169825816.mp3"
AUDIO_BYTES = (MEDIA_DIR / "north-korean-defectors" / "1169825816.mp3").read_bytes()


def test_sample_records_match_their_media_files():
    for story in SAMPLE["stories"]:
        for audio in story["audio"]:
            path = MEDIA_DIR / audio["url"].removeprefix("/media/")
            assert audio["length"] == path.stat().st_size
            assert audio["duration"] == round(MP3(path).info.length)
            assert 20 <= audio["duration"] <= 90  # spoken headline, teaser, caption, credit
    art = SAMPLE["topics"][0]["image"]
    from PIL import Image
    with Image.open(MEDIA_DIR / art["url"].removeprefix("/media/")) as image:
        assert image.size == (art["width"], art["height"]) == (1400, 1400)
        assert image.mode == "RGB"


def test_media_whole_file(client):
    answer = client.get(AUDIO)
    assert answer.status_code == 200
    assert answer.headers["Accept-Ranges"] == "bytes"
    assert int(answer.headers["Content-Length"]) == len(AUDIO_BYTES)
    assert answer.mimetype == "audio/mpeg"
    assert answer.data == AUDIO_BYTES


@pytest.mark.parametrize("header, start, end", [
    ("bytes=0-99", 0, 99),
    ("bytes=1000-1999", 1000, 1999),
    ("bytes=-500", len(AUDIO_BYTES) - 500, len(AUDIO_BYTES) - 1),
    ("bytes=20000-", 20000, len(AUDIO_BYTES) - 1),
])
def test_media_ranges(client, header, start, end):
    answer = client.get(AUDIO, headers={"Range": header})
    assert answer.status_code == 206
    assert answer.headers["Content-Range"] == f"bytes {start}-{end}/{len(AUDIO_BYTES)}"
    assert int(answer.headers["Content-Length"]) == end - start + 1
    assert answer.data == AUDIO_BYTES[start:end + 1]


def test_media_unsatisfiable_range_is_416(client):
    answer = client.get(AUDIO, headers={"Range": f"bytes={len(AUDIO_BYTES) + 10}-"})
    assert answer.status_code == 416
    assert answer.headers["Content-Range"] == f"bytes */{len(AUDIO_BYTES)}"


def test_media_refuses_paths_outside_its_folder(client):
    assert client.get("/media/../app.py").status_code == 404
    assert client.get("/media/%2e%2e/app.py").status_code == 404


def test_media_base_url_points_records_at_a_cdn(sqlite_url):
    app = make_app(sqlite_url, MEDIA_BASE_URL="https://cdn.example.net/sf/")
    app.test_cli_runner().invoke(args=["stories", "sample"])
    html = app.test_client().get("/topics/north-korean-defectors").get_data(as_text=True)
    assert 'src="https://cdn.example.net/sf/north-korean-defectors/1169825816.mp3"' in html


def test_links_follow_the_forwarded_headers_of_a_trusted_router(sqlite_url):
    app = make_app(sqlite_url, SITE_URL=None, PROXY_HOPS=1)
    app.test_cli_runner().invoke(args=["stories", "sample"])
    html = app.test_client().get(
        "/topics/north-korean-defectors",
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "news.example.org"},
    ).get_data(as_text=True)
    assert '<link rel="canonical" href="https://news.example.org/topics/north-korean-defectors">' in html
    assert 'src="https://news.example.org/media/north-korean-defectors/1169825816.mp3"' in html


def test_forwarded_headers_are_ignored_without_proxy_hops(sqlite_url):
    app = make_app(sqlite_url, SITE_URL=None)
    html = app.test_client().get("/", headers={"X-Forwarded-Host": "evil.example"}).get_data(as_text=True)
    assert "evil.example" not in html


@pytest.mark.parametrize("given, expected", [
    ("postgres://u:p@db.example:5432/app", "postgresql+psycopg://u:p@db.example:5432/app"),
    ("postgresql://u@db/app", "postgresql+psycopg://u@db/app"),
    ("postgresql+psycopg://u@db/app", "postgresql+psycopg://u@db/app"),
    ("sqlite:///x.sqlite3", "sqlite:///x.sqlite3"),
])
def test_paas_database_urls_are_accepted(given, expected):
    from stories.store import database_url

    assert database_url(given) == expected


def test_the_api_description_states_the_largest_page_the_api_serves(sample_client):
    from serving.params import MAX_LIMIT

    spec = sample_client.get("/openapi.json").get_json()
    [limit] = [p for p in spec["paths"]["/api/topics/{slug}/stories"]["get"]["parameters"] if p["name"] == "limit"]
    assert limit["schema"]["maximum"] == MAX_LIMIT == 100
    url = "/api/topics/north-korean-defectors/stories?limit="
    assert sample_client.get(f"{url}{MAX_LIMIT}").status_code == 200
    assert sample_client.get(f"{url}{MAX_LIMIT + 1}").status_code == 400
