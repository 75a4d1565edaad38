"""What a stranger can send over HTTP without an account: each answer is a clear 4xx (or
the header is ignored), never a 500, on SQLite and on PostgreSQL.

Organised by what is hostile: paging cursors, NUL in URLs, conditional dates, nested
JSON, Host headers, forwarded schemes.
"""

from __future__ import annotations

import base64
import http.client
import json
import time
from urllib.parse import quote

import pytest

from app import create_app
from serving.state import app_state

from .conftest import make_app
from .servers import InThread

# Warm answers come from the WSGI fast path (serving/fastpath.py) or from Flask: alike.
both_paths = pytest.mark.usefixtures("both_paths")

TOPIC = "north-korean-defectors"
STORY = "1169464713"
AUDIO = "1169825816"
MEDIA = f"/media/{TOPIC}/{AUDIO}.mp3"
TOKEN = "alpha-token"


@pytest.fixture
def hostile_app(database_url):
    """The sample on each backend, with the write API on."""
    app = make_app(database_url, INGEST_TOKENS=TOKEN)
    result = app.test_cli_runner().invoke(args=["stories", "sample"])
    assert result.exit_code == 0, result.output
    yield app
    app_state(app).store.engine.dispose()


@pytest.fixture
def client(hostile_app):
    return hostile_app.test_client()


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_of(value) -> str:
    return b64(json.dumps(value).encode())


def export(app) -> list[str]:
    result = app.test_cli_runner().invoke(args=["stories", "export"])
    assert result.exit_code == 0, result.output
    return sorted(result.output.splitlines())


# -- paging cursors ---------------------------------------------------------------------

CURSORS = {
    "nested past the recursion limit": b64(b"[" * 3000 + b"]" * 3000),
    "nested within a short cursor": b64(b"[" * 300 + b"]" * 300),
    "lone surrogate in the id": b64(b'["older", "2024-01-01T00:00:00", "\\ud800"]'),
    "NUL in the id": cursor_of(["older", "2024-01-01T00:00:00", "\x00"]),
    "NUL in the direction": cursor_of(["older\x00", "2024-01-01T00:00:00", "1"]),
    "number for a date": cursor_of(["older", 5, "1"]),
    "number for an id": cursor_of(["older", "2024-01-01T00:00:00", 5]),
    "list for an id": cursor_of(["older", "2024-01-01T00:00:00", ["1"]]),
    "date with an offset": cursor_of(["older", "2024-01-01T00:00:00+05:00", "1"]),
    "date out of range": cursor_of(["older", "10000-01-01T00:00:00", "1"]),
    "not a date": cursor_of(["older", "yesterday", "1"]),
    "sideways": cursor_of(["sideways", "2024-01-01T00:00:00", "1"]),
    "two fields": cursor_of(["older", "2024-01-01T00:00:00"]),
    "an object": cursor_of({"direction": "older"}),
    "a string": cursor_of("older"),
    "NaN": b64(b'["older", NaN, "1"]'),
    "not UTF-8": b64(b'["older", "\xff\xfe", "1"]'),
    "not JSON": b64(b"older,2024,1"),
    "not base64": "!!!!",
    "NUL amid base64": "WyJvbGRlciIs\x00",
    "one character": "a",
    "very long": "A" * 100_000,
    "non-ASCII": "é" * 8,
}


def cursor_urls(cursor: str) -> list[str]:
    c = quote(cursor, safe="")
    return [
        f"/pages/{c}/rss.xml", f"/pages/{c}/atom.xml", f"/pages/{c}/feed.json",
        f"/topics/{TOPIC}/pages/{c}/rss.xml", f"/topics/{TOPIC}/pages/{c}/atom.xml",
        f"/topics/{TOPIC}/pages/{c}/feed.json", f"/topics/{TOPIC}/pages/{c}/podcast.xml",
        f"/topics/{TOPIC}?cursor={c}", f"/api/topics/{TOPIC}/stories?cursor={c}",
    ]


@both_paths
@pytest.mark.parametrize("name", sorted(CURSORS))
def test_a_cursor_we_did_not_make_is_a_400_everywhere(client, name):
    for url in cursor_urls(CURSORS[name]):
        response = client.get(url)
        assert response.status_code == 400, (url[:120], response.status_code)
        text = response.get_data(as_text=True)
        assert "cursor" in text or "NUL" in text, url[:120]


def test_the_cursors_we_make_still_page(client):
    first = client.get(f"/api/topics/{TOPIC}/stories?limit=3").get_json()
    second = client.get(f"/api/topics/{TOPIC}/stories?limit=3&cursor={first['next_cursor']}")
    assert second.status_code == 200 and len(second.get_json()["stories"]) == 3
    rss = client.get(f"/topics/{TOPIC}/pages/{first['next_cursor']}/rss.xml")
    assert rss.status_code == 200


def test_paging_does_not_depend_on_the_process_time_zone(hostile_app, monkeypatch):
    """Rows come back naive in UTC; a cursor made from one must not shift by the local offset."""
    store = app_state(hostile_app).store
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        first = store.latest(TOPIC, limit=3)
        second = store.latest(TOPIC, limit=3, cursor=first.next_cursor)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert not {s.id for s in first.stories} & {s.id for s in second.stories}
    assert len(second.stories) == 3


# -- NUL in URLs --------------------------------------------------------------------------

NUL_GETS = [
    "/stories/%00", "/stories/a%00b", f"/stories/{STORY}%00", "/stories/%00/oembed.json",
    "/topics/%00", "/topics/%00/rss.xml", "/topics/%00/podcast.xml", "/topics/%00/pages/x/atom.xml",
    "/player/%00/1", f"/player/{STORY}/%00", "/media/%00", f"/media/{TOPIC}/%00.mp3",
    "/api/stories/%00", "/api/topics/%00/stories", "/pages/%00/rss.xml",
    "/oembed?url=http://storyfeed.test/stories/%00", "/oembed?url=%00",
    f"/topics/{TOPIC}?cursor=%00", f"/api/topics/{TOPIC}/stories?limit=%00",
    "/rss.xml?%00=1", f"/player/{STORY}/{AUDIO}?theme=%00",
]


@both_paths
@pytest.mark.parametrize("url", NUL_GETS)
def test_nul_in_a_url_is_a_400(client, url):
    response = client.get(url)
    assert response.status_code == 400
    assert "NUL" in response.get_data(as_text=True)


@pytest.mark.parametrize("method,url", [
    ("DELETE", "/api/stories/%00"), ("PUT", "/api/stories/%00"), ("PUT", "/api/topics/%00"),
    ("POST", "/api/stories?x=%00"),
])
def test_nul_in_a_write_url_is_a_400_and_writes_nothing(hostile_app, client, method, url):
    before = export(hostile_app)
    response = client.open(url, method=method, json={"id": "x"},
                           headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 400
    assert export(hostile_app) == before


@both_paths
def test_nul_inside_an_oembed_url_names_nothing(client):
    # Percent-encoded inside the parameter: the id pattern never matches it.
    response = client.get("/oembed", query_string={"url": "http://storyfeed.test/stories/%00"})
    assert response.status_code == 404


def test_nul_in_a_pasted_snippet_is_refused(client):
    response = client.post("/oembed/convert", json={
        "snippet": '<iframe src="http://storyfeed.test/player/\x00/1">'})
    assert response.status_code == 400


# -- conditional dates ------------------------------------------------------------------

ABSURD_DATES = [
    "Sat, 01 Jan 99999999999 00:00:00 GMT",
    "Sat, 01 Jan 99999999999999999999999 00:00:00 GMT",
    "Sat, 01 Jan 10000 00:00:00 GMT",
    "Sat, 01 Jan 0000 00:00:00 GMT",
    "not a date",
]
CONDITIONAL_URLS = [
    "/rss.xml", f"/topics/{TOPIC}/podcast.xml", "/feeds.opml", "/oembed/providers.json",
    f"/oembed?url=http://storyfeed.test/stories/{STORY}", f"/player/{STORY}/{AUDIO}", MEDIA,
]


@both_paths
@pytest.mark.parametrize("header", ["If-Modified-Since", "If-Unmodified-Since"])
@pytest.mark.parametrize("date", ABSURD_DATES)
def test_an_unreadable_conditional_date_is_ignored(client, header, date):
    for url in CONDITIONAL_URLS:
        client.get(url)  # warm: with the fast path on, it answers the next one
        response = client.get(url, headers={header: date})
        assert response.status_code == 200, (url, response.status_code)


@pytest.mark.parametrize("date", ABSURD_DATES)
def test_an_unreadable_if_range_sends_the_whole_file(client, date):
    response = client.get(MEDIA, headers={"Range": "bytes=0-3", "If-Range": date})
    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) > 4


def test_a_readable_if_range_still_works(client):
    whole = client.get(MEDIA)
    matching = client.get(MEDIA, headers={"Range": "bytes=0-3", "If-Range": whole.headers["ETag"]})
    assert matching.status_code == 206 and matching.data == whole.data[:4]
    dated = client.get(MEDIA, headers={"Range": "bytes=0-3",
                                       "If-Range": whole.headers["Last-Modified"]})
    assert dated.status_code == 206


# -- nested JSON ----------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    "[" * 20_000 + "]" * 20_000,
    '{"snippet": ' + "[" * 20_000 + "]" * 20_000 + "}",
    '{"a":' * 10_000 + "1" + "}" * 10_000,
])
def test_deeply_nested_json_to_convert_is_a_400(client, body):
    response = client.post("/oembed/convert", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["status"] == 400


# -- Host -------------------------------------------------------------------------------

LONG_LABEL = "a" * 64 + ".example.org"


@both_paths
@pytest.mark.parametrize("site_url", ["http://storyfeed.test/", None])
@pytest.mark.parametrize("url,json_answer", [
    ("/", False), ("/no/such/page", False), (f"/stories/{STORY}", False), ("/rss.xml", False),
    (f"/api/stories/{STORY}", True), (f"/oembed?url=http://storyfeed.test/stories/{STORY}", True),
])
def test_a_host_that_is_no_host_name_is_a_400_with_a_working_error_page(
        database_url, site_url, url, json_answer):
    app = make_app(database_url, SITE_URL=site_url)
    response = app.test_client().get(url, headers={"Host": LONG_LABEL})
    assert response.status_code == 400
    if json_answer:
        assert response.get_json()["message"].startswith("The Host header")
    else:
        assert response.get_data(as_text=True).startswith("400 Bad Request: The Host header")


@both_paths
def test_trusted_hosts_refuse_others(sqlite_url, monkeypatch):
    monkeypatch.setenv("TRUSTED_HOSTS", "storyfeed.test, www.storyfeed.test")
    app = create_app({"TESTING": True, "DATABASE_URL": sqlite_url})
    client = app.test_client()
    assert client.get("/rss.xml", headers={"Host": "storyfeed.test"}).status_code == 200
    assert client.get("/rss.xml", headers={"Host": "www.storyfeed.test:8000"}).status_code == 200
    refused = client.get("/rss.xml", headers={"Host": "evil.example"})
    assert refused.status_code == 400 and b"evil.example" not in refused.data
    assert client.get("/api/stories/1", headers={"Host": "evil.example"}).status_code == 400


@both_paths
def test_with_site_url_no_url_comes_from_host(sample_client):
    for url in ("/rss.xml", "/feeds.opml", f"/oembed?url=http://storyfeed.test/stories/{STORY}",
                f"/stories/{STORY}", f"/topics/{TOPIC}", f"/player/{STORY}/{AUDIO}"):
        response = sample_client.get(url, headers={"Host": "evil.example",
                                                   "X-Forwarded-Host": "evil.example"})
        assert response.status_code == 200
        assert b"evil.example" not in response.data, url


# -- forwarded scheme -------------------------------------------------------------------

@both_paths
@pytest.mark.parametrize("proto,scheme", [
    ("javascript", "http"), ("data", "http"), ("https", "https"), ("HTTPS", "https"),
    ("http", "http"), ("", "http"), ("https, javascript", "http"), ("javascript:alert(1)//", "http"),
])
def test_only_http_and_https_are_taken_from_x_forwarded_proto(sqlite_url, proto, scheme):
    app = make_app(sqlite_url, SITE_URL=None, PROXY_HOPS="1")
    app.test_cli_runner().invoke(args=["stories", "sample"])
    client = app.test_client()
    for url in ("/rss.xml", f"/topics/{TOPIC}", f"/oembed?url=http://localhost/stories/{STORY}"):
        response = client.get(url, headers={"X-Forwarded-Proto": proto})
        assert response.status_code == 200, url
        text = response.get_data(as_text=True)
        assert "javascript" not in text and "data://" not in text
        assert f"{scheme}://localhost/" in text, url


@both_paths
@pytest.mark.parametrize("site_url", ["http://storyfeed.test/", None])
def test_a_host_whose_punycode_does_not_decode_is_a_400(sqlite_url, site_url):
    """Over a real socket: werkzeug's test client itself cannot send this Host."""
    app = make_app(sqlite_url, SITE_URL=site_url, TESTING=False)
    with InThread(app) as server:
        port = server.port
        for url in ("/", "/rss.xml", "/no/such/page", f"/api/stories/{STORY}"):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.putrequest("GET", url, skip_host=True)
            connection.putheader("Host", "xn--a.example")
            connection.endheaders()
            response = connection.getresponse()
            assert response.status == 400, url
            assert b"The Host header" in response.read()
            connection.close()
    app_state(app).store.engine.dispose()


# -- numbers in parameters ----------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "/rss.xml?limit=" + "9" * 5000, f"/api/topics/{TOPIC}/stories?limit=" + "9" * 5000,
    f"/oembed?url=http://storyfeed.test/stories/{STORY}&maxwidth=" + "9" * 5000,
    f"/oembed?url=http://storyfeed.test/stories/{STORY}&maxheight=" + "1" * 400,
])
def test_a_number_too_long_to_read_is_a_400(client, url):
    response = client.get(url)
    assert response.status_code == 400
    assert "whole number" in response.get_data(as_text=True)


def test_a_number_too_long_to_read_in_a_convert_body_is_a_400(client):
    response = client.post("/oembed/convert", json={
        "snippet": "<iframe src='https://www.npr.org/player/embed/1/2'>", "maxwidth": "9" * 5000})
    assert response.status_code == 400


def test_leading_zeros_are_still_a_number(client):
    assert len(client.get(f"/api/topics/{TOPIC}/stories?limit=0003").get_json()["stories"]) == 3


# Chunked bodies gunicorn cannot parse: its parse errors surface from `wsgi.input` inside
# the view. Each must be a 400 (JSON, under /api/), with no traceback in the log.
MALFORMED_CHUNKED = {
    "chunk size not hex": b"zz\r\nabc\r\n0\r\n\r\n",
    "chunk without its CRLF": b"3\r\nabcXX0\r\n\r\n",
    "bad chunk extension": b"3;\x01=\r\nabc\r\n0\r\n\r\n",
    "negative chunk size": b"-3\r\nabc\r\n0\r\n\r\n",
}


@pytest.mark.slow  # gunicorn, for real: the parse errors are its own
def test_a_malformed_chunked_body_is_a_400_without_a_traceback(tmp_path):
    import socket

    from .conftest import migrated_sqlite
    from .servers import Gunicorn, service_env

    env = service_env(DATABASE_URL=migrated_sqlite(tmp_path / "c.sqlite3"), INGEST_TOKENS=TOKEN,
                      SITE_URL="http://news.example.org/")
    with Gunicorn(env, workers=1) as server:
        for name, body in MALFORMED_CHUNKED.items():
            for authorization in (f"Bearer {TOKEN}", "Bearer wrong"):
                with socket.create_connection(("127.0.0.1", server.port), timeout=15) as conn:
                    conn.sendall(
                        b"POST /api/stories HTTP/1.1\r\nHost: news.example.org\r\n"
                        + f"Authorization: {authorization}\r\n".encode()
                        + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
                    status_line = conn.recv(4096).split(b"\r\n", 1)[0]
                # A refused token may be answered before the body is read (401): also fine.
                assert status_line.split()[1] in (b"400", b"401"), (name, status_line)
                if authorization.endswith(TOKEN):
                    assert status_line.split()[1] == b"400", (name, status_line)
        log = server.log.read_text()
    assert "Traceback" not in log
    assert '"status": 500' not in log


@pytest.mark.slow  # gunicorn, for real: these answers are its own, before the app
def test_what_gunicorn_refuses_itself_is_a_json_problem(tmp_path):
    import socket

    from .conftest import migrated_sqlite
    from .servers import Gunicorn, service_env

    env = service_env(DATABASE_URL=migrated_sqlite(tmp_path / "g.sqlite3"), SITE_URL="http://news.example.org/")
    requests_ = {
        414: b"GET /api/stories/" + b"x" * 9000 + b" HTTP/1.1\r\nHost: news.example.org\r\n\r\n",
        400: b"GET /api/stories/1 HTTP/1.1\r\nHost: news.example.org\r\nBad Header\r\n\r\n",
    }
    with Gunicorn(env, workers=1) as server:
        for status, raw in requests_.items():
            with socket.create_connection(("127.0.0.1", server.port), timeout=15) as conn:
                conn.sendall(raw)
                answer = b""
                while chunk := conn.recv(65536):
                    answer += chunk
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.split(b"\r\n")[0].startswith(f"HTTP/1.1 {status} ".encode()), head
            assert b"Content-Type: application/json" in head
            problem = json.loads(body)
            assert problem["status"] == status and problem["error"] and problem["message"]


@pytest.mark.parametrize("path", ["/topics/north-korean-defectors", "/topics/north-korean-defectors/rss.xml",
                                  "/oembed", "/api/stories/1169464713", "/"])
def test_a_query_string_that_is_not_utf8_is_a_400(hostile_app, path):
    """Raw non-UTF-8 bytes in the request line reach the app as a WSGI (latin-1) string;
    werkzeug's strict decoding of it was a 500."""
    from werkzeug.test import EnvironBuilder, run_wsgi_app

    environ = EnvironBuilder(path=path).get_environ()
    environ["QUERY_STRING"] = "a=\xe9\xff"
    _body, status, _headers = run_wsgi_app(hostile_app, environ)
    assert status.startswith("400"), status
