"""oEmbed, snippet conversion and the player under attack: hostile URLs, sizes, formats,
snippets and ids, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from .payloads import HOSTILE_SEGMENTS, SAMPLE_AUDIO, SAMPLE_STORY, SITE, refused_status

STORY_PAGE = f"{SITE}stories/{SAMPLE_STORY}"

# (name, url, status): 400 for a missing or malformed URL, 404 for one naming nothing held.
OEMBED_URLS = [
    ("missing", None, 400),
    ("empty", "", 400),
    ("javascript", "javascript:alert(1)", 400),
    ("data", "data:text/html,<script>alert(1)</script>", 400),
    ("ftp", f"ftp://storyfeed.test/stories/{SAMPLE_STORY}", 400),
    ("protocol-relative", f"//storyfeed.test/stories/{SAMPLE_STORY}", 400),
    ("no-host", "http:///stories/1", 400),
    ("too-long", f"{STORY_PAGE}?" + "x" * 5000, 400),
    ("ipv6-unclosed", f"http://[::1/stories/{SAMPLE_STORY}", 400),
    ("ipv6-not-an-address", f"http://[storyfeed.test]/stories/{SAMPLE_STORY}", 400),
    ("ipv6-unclosed-npr", "https://[www.npr.org/player/embed/1/2", 400),
    # A port that is not one: malformed (400) or naming nothing held (404) are both clear.
    ("port-out-of-range", f"http://storyfeed.test:99999/stories/{SAMPLE_STORY}", (400, 404)),
    ("port-not-a-number", f"http://storyfeed.test:abc/stories/{SAMPLE_STORY}", (400, 404)),
    ("unknown-story", f"{SITE}stories/0", 404),
    ("nul-in-id", f"{SITE}stories/%00", 404),
    ("nul-raw", f"{SITE}stories/\x00", 400),  # a NUL in our own query: refused_status
    ("other-host", f"https://evil.example/stories/{SAMPLE_STORY}", 404),
    ("userinfo-trick", f"http://storyfeed.test@evil.example/stories/{SAMPLE_STORY}", 404),
    ("lookalike-host", f"http://storyfeed.test.evil.example/stories/{SAMPLE_STORY}", 404),
    ("homoglyph-host", f"http://st\u043eryfeed.test/stories/{SAMPLE_STORY}", 404),
    ("npr-lookalike", "https://www.npr.org.evil.example/player/embed/1169464713/1169825816", 404),
    ("player-unknown-audio", f"{SITE}player/{SAMPLE_STORY}/0", 404),
    ("path-traversal", f"{SITE}stories/../player/{SAMPLE_STORY}/{SAMPLE_AUDIO}", 404),
    ("encoded-slash", f"{SITE}stories/{SAMPLE_STORY}%2F..", 404),
]


@pytest.mark.parametrize("name, url, status", OEMBED_URLS, ids=[u[0] for u in OEMBED_URLS])
@pytest.mark.parametrize("endpoint", ["/oembed", "/oembed.json", "/oembed.xml"])
def test_oembed_urls(backend_client, endpoint, name, url, status):
    query = {} if url is None else {"url": url}
    response = backend_client.get(endpoint, query_string=query)
    assert response.status_code in (status if isinstance(status, tuple) else (status,))
    assert response.is_json  # oEmbed consumers read JSON errors


@pytest.mark.parametrize("name, value", [
    ("zero", "0"), ("negative", "-1"), ("letters", "abc"), ("exponent", "1e3"),
    ("fraction", "1.5"), ("huge", "9" * 100), ("over-limit", "100001"), ("fullwidth", "\uff15"),
    ("space", " 5"),
])
@pytest.mark.parametrize("parameter", ["maxwidth", "maxheight"])
def test_a_bad_size_is_400(client, parameter, name, value):
    response = client.get("/oembed", query_string={"url": STORY_PAGE, parameter: value})
    assert response.status_code == 400


@pytest.mark.parametrize("path, query, status", [
    ("/oembed", {"format": "yaml"}, 501),
    ("/oembed", {"format": "XML"}, 200),
    ("/oembed", {"format": ""}, 200),
    ("/oembed.yaml", {}, 501),
    ("/oembed.xml", {"format": "json"}, 501),
    ("/oembed.JSON", {}, 200),
    ("/oembed.json%00", {}, 400),  # NUL in the path: refused_status
    ("/oembed", {"format": "json", "callback": "alert"}, 200),  # no JSONP
])
def test_formats(client, path, query, status):
    response = client.get(path, query_string={"url": STORY_PAGE, **query})
    assert response.status_code == status
    if status == 200:
        assert not response.get_data().startswith(b"alert")


@pytest.mark.parametrize("name, segment", HOSTILE_SEGMENTS, ids=[s[0] for s in HOSTILE_SEGMENTS])
@pytest.mark.parametrize("path", ["/stories/{}/oembed.json", "/stories/{}/oembed.xml",
                                  "/player/{}/" + SAMPLE_AUDIO, f"/player/{SAMPLE_STORY}/{{}}"])
def test_hostile_ids_in_story_oembed_and_player_paths_are_404(backend_client, path, name,
                                                             segment):
    response = backend_client.get(path.format(segment))
    if name == "long" and "oembed" in path:
        # The story's page URL is then longer than any URL oEmbed takes: 400 says so.
        assert response.status_code in (400, 404)
    else:
        assert response.status_code == refused_status(segment)


@pytest.mark.parametrize("theme", ["", "neon", "\"><script>alert(1)</script>", "%00", "x" * 5000])
def test_an_unknown_player_theme_falls_back(client, theme):
    response = client.get(f"/player/{SAMPLE_STORY}/{SAMPLE_AUDIO}", query_string={"theme": theme})
    assert response.status_code == 200
    assert b'data-theme="auto"' in response.get_data()


# -- POST /oembed/convert ------------------------------------------------------------------

NPR_SNIPPET = f'<iframe src="https://www.npr.org/player/embed/{SAMPLE_STORY}/{SAMPLE_AUDIO}">'

# (name, body, content type, status)
CONVERT = [
    ("nested-json-100000", "[" * 100_000 + "]" * 100_000, "application/json", 413),
    ("nested-json-990", "[" * 990 + "]" * 990, "application/json", 400),
    ("nested-json-snippet", json.dumps({"snippet": "X"}).replace('"X"', "[" * 985 + "]" * 985),
     "application/json", 400),
    ("nested-json-maxwidth", json.dumps({"snippet": NPR_SNIPPET, "maxwidth": "X"})
     .replace('"X"', "{\"a\":" * 985 + "1" + "}" * 985), "application/json", 400),
    ("json-list", json.dumps([NPR_SNIPPET]), "application/json", 400),
    ("json-string", json.dumps(NPR_SNIPPET), "application/json", 400),
    ("json-invalid", '{"snippet": ', "application/json", 400),
    ("json-snippet-number", json.dumps({"snippet": 1}), "application/json", 400),
    ("json-maxwidth-float", json.dumps({"snippet": NPR_SNIPPET, "maxwidth": 1.5}),
     "application/json", 400),
    ("json-maxwidth-bool", json.dumps({"snippet": NPR_SNIPPET, "maxwidth": True}),
     "application/json", 400),
    ("json-maxwidth-list", json.dumps({"snippet": NPR_SNIPPET, "maxwidth": [300]}),
     "application/json", 400),
    ("json-maxwidth-negative", json.dumps({"snippet": NPR_SNIPPET, "maxwidth": -3}),
     "application/json", 400),
    ("json-maxwidth-huge", json.dumps({"snippet": NPR_SNIPPET, "maxwidth": 10**100}),
     "application/json", 400),
    ("json-maxwidth-nan", '{"snippet": "<iframe>", "maxwidth": NaN}', "application/json", 400),
    ("too-large", "x" * (64 * 1024 + 1), "text/plain", 413),
    ("not-utf8", b"<iframe src=\"https://www.npr.org/player/embed/1/2\xff\">", "text/plain", 400),
    ("empty", "", "text/plain", 400),
    ("javascript-src", '<iframe src="javascript:alert(1)">', "text/plain", 400),
    ("data-src", '<iframe src="data:text/html,<script>alert(1)</script>">', "text/plain", 400),
    ("srcdoc", '<iframe srcdoc="<script>alert(1)</script>" '
               'src="https://www.npr.org/player/embed/1/2">', "text/plain", 400),
    ("script-only", "<script>alert(1)</script>", "text/plain", 400),
    ("lookalike-host", '<iframe src="https://www.npr.org.evil.example/player/embed/1/2">',
     "text/plain", 400),
    ("userinfo-host", '<iframe src="https://www.npr.org@evil.example/player/embed/1/2">',
     "text/plain", 400),
    ("ipv6-unclosed", '<iframe src="https://[::1/player/embed/1/2">', "text/plain", 400),
    ("ipv6-bracket-host", '<iframe src="https://[www.npr.org]/player/embed/1/2">', "text/plain",
     400),
    ("bad-port", '<iframe src="https://www.npr.org:99999/player/embed/1/2">', "text/plain", 400),
    ("nul-in-url", '<iframe src="https://www.npr.org/player/embed/1\x00/2">', "text/plain", 400),
    ("two-iframes", NPR_SNIPPET + '<iframe src="https://evil.example/x">', "text/plain", 400),
    ("own-player-unknown-story", f'<iframe src="{SITE}player/0/0">', "text/plain", 404),
]


@pytest.mark.parametrize("name, body, content_type, status", CONVERT, ids=[c[0] for c in CONVERT])
def test_convert(client, name, body, content_type, status):
    response = client.post("/oembed/convert", data=body, content_type=content_type)
    assert response.status_code == status, response.get_data()[:200]
    assert response.is_json


@pytest.mark.parametrize("query", ["maxwidth=abc", "maxheight=-1", "maxwidth=" + "9" * 50])
def test_convert_sizes_in_the_query(client, query):
    response = client.post(f"/oembed/convert?{query}", data=NPR_SNIPPET, content_type="text/plain")
    assert response.status_code == 400


ABSURD_DATES = ["Mon, 01 Jan 99999999999999999999 00:00:00 GMT",
                "Mon, 01 Jan 2024 99999999999:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT"]


@pytest.mark.parametrize("value", ABSURD_DATES)
@pytest.mark.parametrize("path", [f"/oembed?url={STORY_PAGE}", f"/player/{SAMPLE_STORY}/{SAMPLE_AUDIO}",
                                  "/oembed/providers.json", f"/stories/{SAMPLE_STORY}/oembed.xml"])
def test_an_absurd_if_modified_since_is_ignored(client, path, value):
    assert client.get(path, headers={"If-Modified-Since": value}).status_code == 200


# What one anonymous client can add to the shared render cache is bounded: URL spellings
# of one story and sizes come down to a few keys.
SPELLINGS = [
    f"{STORY_PAGE}?x={i}" if i % 3 == 0 else
    f"{STORY_PAGE}#{i}" if i % 3 == 1 else
    f"{STORY_PAGE}?utm_source={i}&utm_medium=x"
    for i in range(150)
]


@pytest.mark.parametrize("queries", [
    pytest.param([{"url": url} for url in SPELLINGS], id="url-spellings"),
    pytest.param([{"url": STORY_PAGE, "maxwidth": str(w)} for w in range(100, 250)],
                 id="maxwidth"),
    pytest.param([{"url": STORY_PAGE, "maxheight": str(h)} for h in range(200, 350)],
                 id="maxheight"),
])
def test_anonymous_requests_cannot_grow_the_render_cache(redis_app, queries):
    client = redis_app.test_client()
    before = redis_app.extensions["hostile.render_keys"]()
    for query in queries:
        assert client.get("/oembed", query_string=query).status_code in (200, 404)
    added = redis_app.extensions["hostile.render_keys"]() - before
    assert added <= 20, f"{len(queries)} requests added {added} render cache keys"
