"""`/metrics`: behind its token, counting what the app does, in series that strangers
cannot multiply, summed over gunicorn's workers, read by Prometheus' own tool."""

from __future__ import annotations

import io
import itertools
import json
import random
import re
import shutil
import string
import subprocess
import time
import uuid
from urllib.parse import quote

import pytest
import requests
import sqlalchemy as sa
from prometheus_client import Histogram
from prometheus_client.parser import text_string_to_metric_families

from serving import metrics
from serving.state import app_state

from .conftest import make_app, story_record
from .servers import Gunicorn, flask_cli, service_env

TOKEN = "metrics-token-4f1c"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FEED = "/topics/north-korean-defectors/rss.xml"

Series = tuple[str, frozenset[tuple[str, str]]]


def samples(text: str) -> dict[Series, float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client) -> dict[Series, float]:
    answer = client.get("/metrics", headers=AUTH)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return samples(answer.get_data(as_text=True))


def value(found: dict[Series, float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def requests_of(found: dict[Series, float], route: str, method: str = "GET", status: str = "200") -> float:
    return value(found, "storyfeed_http_requests_total", route=route, method=method, status=status)


@pytest.fixture
def metrics_app(sqlite_url):
    app = make_app(sqlite_url, METRICS_TOKEN=TOKEN)
    result = app.test_cli_runner().invoke(args=["stories", "sample"])
    assert result.exit_code == 0, result.output
    yield app
    app_state(app).store.engine.dispose()


@pytest.fixture
def metrics_client(metrics_app):
    return metrics_app.test_client()


# -- the token ---------------------------------------------------------------------------


def test_the_path_is_there_only_with_a_token_set(client, metrics_client):
    answer = client.get("/metrics", headers=AUTH)
    assert answer.status_code == 404
    unknown = client.get("/no-such-path").get_data(as_text=True).replace("/no-such-path", "/metrics")
    assert answer.get_data(as_text=True) == unknown
    assert metrics_client.get("/metrics", headers=AUTH).status_code == 200


def test_without_a_token_no_request_is_counted(client, metrics_client):
    # Both apps count into this process's one registry: the tokenless app's answers would
    # show in the other's scrape.
    before = requests_of(scrape(metrics_client), "/topics/<slug>")
    for _ in range(3):
        assert client.get("/topics/north-korean-defectors").status_code in (200, 404)
    assert requests_of(scrape(metrics_client), "/topics/<slug>") == before
    metrics_client.get("/topics/north-korean-defectors")
    assert requests_of(scrape(metrics_client), "/topics/<slug>") == before + 1


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer wrong"},
    {"Authorization": f"Bearer {TOKEN}x"},
    {"Authorization": f"Bearer {TOKEN[:-1]}"},
    {"Authorization": f"Basic {TOKEN}"},
    {"Authorization": TOKEN},
], ids=["none", "empty", "wrong", "longer", "shorter", "basic", "bare"])
def test_a_missing_or_wrong_token_is_refused(metrics_client, headers):
    answer = metrics_client.get("/metrics", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer ")
    assert answer.headers["Cache-Control"] == "no-store"
    assert "storyfeed_" not in answer.get_data(as_text=True)


def test_the_token_is_not_taken_from_the_url(metrics_client):
    assert metrics_client.get(f"/metrics?token={TOKEN}").status_code == 401
    assert metrics_client.get(f"/metrics?access_token={TOKEN}").status_code == 401


def test_the_right_token_reads_the_metrics_and_nothing_keeps_them(metrics_client):
    answer = metrics_client.get("/metrics", headers=AUTH)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert answer.headers["Cache-Control"] == "no-store"
    assert "ETag" not in answer.headers
    # Asked again without the token (the fast path would answer a URL it has seen): refused.
    assert metrics_client.get("/metrics").status_code == 401
    assert metrics_client.get("/metrics", headers=AUTH).get_data() != answer.get_data()


# -- what is counted ---------------------------------------------------------------------


def test_requests_are_counted_by_route_template_with_the_fast_path_apart(metrics_client):
    before = scrape(metrics_client)
    for _ in range(3):
        assert metrics_client.get(FEED).status_code == 200  # Flask, then the fast path
    assert metrics_client.get("/topics/no-such-topic/rss.xml").status_code == 404
    assert metrics_client.get("/a/path/nobody/declared").status_code == 404
    assert metrics_client.open("/", method="BREW").status_code == 405
    after = scrape(metrics_client)

    def added(route, method="GET", status="200"):
        return requests_of(after, route, method, status) - requests_of(before, route, method, status)

    assert added("/topics/<slug>/rss.xml") == 1
    assert added("fast_path:feed") == 2
    assert added("/topics/<slug>/rss.xml", status="404") == 1
    assert added("unmatched", status="404") == 1
    assert added("unmatched", method="other", status="405") == 1
    count = "storyfeed_http_request_duration_seconds_count"
    assert value(after, count, route="fast_path:feed", method="GET") - value(
        before, count, route="fast_path:feed", method="GET") == 2
    slowest = value(after, "storyfeed_http_request_duration_seconds_bucket",
                    route="fast_path:feed", method="GET", le="+Inf")
    assert slowest == value(after, count, route="fast_path:feed", method="GET")


def test_tallied_durations_land_in_the_buckets_observe_would_choose(metrics_client):
    """Requests are summed in memory and handed over a second later; the histogram must
    read as if each had been observed: every bound (`le` is inclusive), past the last,
    and the sum."""
    key = ("/tallied", "GET", "200")
    durations = [0.0001, 0.0005, 0.0007, 0.01, 0.3, 10.0, 12.5]
    reference = Histogram("tally_reference", "", buckets=metrics.DURATION_BUCKETS, registry=None)
    for seconds in durations:
        metrics.TALLY.add(key, seconds)
        reference.observe(seconds)
    found = scrape(metrics_client)  # flushes this process's tally first
    expected = {s.labels["le"]: s.value for s in reference.collect()[0].samples if s.name.endswith("_bucket")}
    assert len(expected) == len(metrics.DURATION_BUCKETS) + 1
    for le, cumulative in expected.items():
        assert value(found, "storyfeed_http_request_duration_seconds_bucket",
                     route="/tallied", method="GET", le=le) == cumulative, le
    assert value(found, "storyfeed_http_request_duration_seconds_sum",
                 route="/tallied", method="GET") == pytest.approx(sum(durations))
    assert requests_of(found, "/tallied") == len(durations)


def test_renders_and_render_cache_lookups_are_counted(metrics_client):
    before = scrape(metrics_client)
    metrics_client.get("/topics/north-korean-defectors/atom.xml")  # a miss, rendered
    metrics_client.get("/topics/north-korean-defectors/atom.xml")  # the fast path: its own series
    metrics_client.get("/topics/north-korean-defectors/atom.xml", headers={"Range": "bytes=0-1"})  # Flask: a hit
    after = scrape(metrics_client)

    def added(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert added("storyfeed_render_cache_lookups_total", result="miss") == 1
    assert added("storyfeed_render_cache_lookups_total", result="hit") == 1
    assert added("storyfeed_http_requests_total", route="fast_path:feed", method="GET", status="200") == 1
    assert added("storyfeed_render_duration_seconds_count", format="application/atom+xml") == 1
    assert added("storyfeed_render_duration_seconds_sum", format="application/atom+xml") > 0


@pytest.mark.parametrize("cache", ["memory", "redis"])
def test_either_render_cache_counts_its_lookups(cache, request, sqlite_url):
    config = {"METRICS_TOKEN": TOKEN, "FAST_PATH": "off"}
    if cache == "redis":
        config.update(REDIS_URL=request.getfixturevalue("redis_url"), REDIS_PREFIX=f"test:{uuid.uuid4().hex}:")
    app = make_app(sqlite_url, **config)
    client = app.test_client()
    before = scrape(client)
    for _ in range(3):
        assert client.get("/oembed/providers.json").status_code == 200
    after = scrape(client)

    def added(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert added("storyfeed_render_cache_lookups_total", result="miss") == 1
    assert added("storyfeed_render_cache_lookups_total", result="hit") == 2
    assert added("storyfeed_render_duration_seconds_count", format="application/json") == 1
    render_cache = app_state(app).render_cache
    if cache == "redis":
        for key in render_cache.client.scan_iter(f"{config['REDIS_PREFIX']}*"):
            render_cache.client.delete(key)
    app_state(app).store.engine.dispose()


def test_ingested_records_are_counted(sqlite_url):
    app = make_app(sqlite_url, METRICS_TOKEN=TOKEN, INGEST_TOKENS="ingest-token")
    client = app.test_client()
    auth = {"Authorization": "Bearer ingest-token"}
    before = scrape(client)
    good, bad = story_record(id="5001"), story_record(id="5002", title="")
    assert client.post("/api/stories", json=[good, bad], headers=auth).status_code == 422
    assert client.post("/api/stories?partial=1", json=[good, bad], headers=auth).status_code == 200
    assert client.put("/api/stories/5003", json=story_record(id="5003"), headers=auth).status_code == 201
    assert client.put("/api/topics/world", json={"title": 5}, headers=auth).status_code == 422
    after = scrape(client)

    def added(kind, result):
        labels = {"kind": kind, "result": result}
        return (value(after, "storyfeed_ingest_records_total", **labels)
                - value(before, "storyfeed_ingest_records_total", **labels))

    assert added("story", "accepted") == 2
    assert added("story", "refused") == 3
    assert added("topic", "refused") == 1
    app_state(app).store.engine.dispose()


def test_audience_fetches_are_counted_as_recorded_written_and_dropped(sqlite_url):
    """Counting that stops shows: recorded without written, or dropped."""
    from audience.recorder import Recorder

    app = make_app(sqlite_url, METRICS_TOKEN=TOKEN, AUDIENCE_FLUSH_SECONDS=3600)
    client = app.test_client()
    mp3 = "/media/north-korean-defectors/1169825816.mp3"
    name = "storyfeed_audience_fetches_total"
    before = scrape(client)
    assert client.get(mp3).status_code == 200
    app_state(app).area(Recorder).flush()
    with app_state(app).store.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE audience_salts"))
    app_state(app).area(Recorder)._salt = None  # a new day, and the store without its table
    assert client.get(mp3).status_code == 200
    after = scrape(client)
    for outcome in ("recorded", "written", "dropped"):
        assert value(after, name, outcome=outcome) - value(before, name, outcome=outcome) == 1, outcome
    app_state(app).store.engine.dispose()


def test_store_errors_are_counted(metrics_app, metrics_client):
    before = scrape(metrics_client)
    with app_state(metrics_app).store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE stories")
    assert metrics_client.get("/api/stories/1169464713").status_code == 503
    after = scrape(metrics_client)
    name = "storyfeed_store_errors_total"
    assert value(after, name, error="OperationalError") > value(before, name, error="OperationalError")


def test_each_source_shows_its_last_pull(sqlite_url, tmp_path, upstream):
    upstream.serve("/defectors.json", json.dumps([story_record(id="1169464713"), story_record(id="1022642030")]))
    upstream.serve("/broken.json", b"", status=500)
    path = tmp_path / "sources.toml"
    path.write_text("".join(
        f'[[source]]\nname = "{name}"\nurl = "{upstream.url(url)}"\nkind = "records"\nallow_private = true\n'
        for name, url in (("defectors", "/defectors.json"), ("broken", "/broken.json"), ("later", "/later.json"))
    ))
    app = make_app(sqlite_url, METRICS_TOKEN=TOKEN, SOURCES_FILE=str(path), SOURCES_RETRIES="0",
                   SOURCES_CACHE_PATH=str(tmp_path / "cache.sqlite3"), REDIS_URL="")
    client = app.test_client()
    started = time.time()
    result = app.test_cli_runner().invoke(args=["sync", "--source", "defectors", "--source", "broken"])
    assert result.exit_code == 1, result.output
    found = scrape(client)

    assert value(found, "storyfeed_source_records", source="defectors") == 2
    assert value(found, "storyfeed_source_failing", source="defectors") == 0
    assert value(found, "storyfeed_source_failing", source="broken") == 1
    success = value(found, "storyfeed_source_last_success_timestamp_seconds", source="defectors")
    assert started - 2 <= success <= time.time()
    assert ("storyfeed_source_last_success_timestamp_seconds", frozenset({("source", "broken")})) not in found
    assert value(found, "storyfeed_source_last_attempt_timestamp_seconds", source="broken") >= started - 2
    # Named in the file, never pulled: there, with no records and no times.
    assert ("storyfeed_source_records", frozenset({("source", "later")})) in found
    assert ("storyfeed_source_failing", frozenset({("source", "later")})) not in found
    app_state(app).store.engine.dispose()


def test_build_info(sqlite_url):
    app = make_app(sqlite_url, METRICS_TOKEN=TOKEN, SOURCE_VERSION="0123abc")
    found = scrape(app.test_client())
    (labels,) = [dict(labels) for name, labels in found if name == "storyfeed_build_info"]
    assert labels["revision"] == "0123abc"
    assert re.fullmatch(r"3\.\d+\.\d+", labels["python"])
    app_state(app).store.engine.dispose()


# -- random URLs add no series -----------------------------------------------------------

METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "BREW", "get", "M-SEARCH")
HOSTS = ("storyfeed.test", "other.example", "bad host")  # SITE_URL's, another, one refused
QUERIES = ("none", "junk", "json", "xml", "junk format")
ALPHABET = string.ascii_letters + string.digits + "-_.~%é€/ :@!$&'()*+,;=?#"


def junk(rng: random.Random, most: int = 12) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, most)))


def random_path(rng: random.Random, shape: str) -> str:
    if shape == "warm feed":
        return FEED  # the fast path answers it (for SITE_URL's host)
    if shape == "junk":
        return "/" + "/".join(quote(junk(rng), safe="/%") for _ in range(rng.randint(0, 4)))
    # A declared route with junk in its variables.
    return re.sub(r"<[^>]+>", lambda _: quote(junk(rng) or "x", safe=""), shape)


def random_query(rng: random.Random, kind: str) -> str:
    if kind == "none":
        return ""
    if kind == "junk":
        return "&".join(f"{quote(junk(rng, 6))}={quote(junk(rng))}" for _ in range(rng.randint(1, 3)))
    # What oEmbed endpoints read.
    fmt = quote(junk(rng)) if kind == "junk format" else kind
    return f"url={quote('https://www.npr.org/' + junk(rng))}&format={fmt}"


def random_environ(rng: random.Random, shape: str, method: str, query: str, host: str,
                   conditional: bool) -> dict:
    """A request of that kind, with junk wherever a client may put some."""
    environ = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": random_path(rng, shape).encode("utf-8").decode("latin-1"),  # WSGI's str of bytes
        "QUERY_STRING": random_query(rng, query),
        "SERVER_NAME": "storyfeed.test",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": host,
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if rng.random() < 0.3:
        environ["HTTP_ACCEPT"] = rng.choice(["application/json", "*/*", junk(rng)])
    if conditional:
        environ["HTTP_IF_NONE_MATCH"] = rng.choice(["*", junk(rng)])
    return environ


def call(app, environ: dict) -> str:
    statuses = []
    body = app(environ, lambda status, headers, exc_info=None: statuses.append(status))
    try:
        for _ in body:
            pass
    finally:
        if hasattr(body, "close"):
            body.close()
    return statuses[0]


@pytest.mark.slow
def test_100000_random_requests_add_no_series(metrics_app, metrics_client):
    templates = sorted({rule.rule for rule in metrics_app.url_map.iter_rules()} - {"/metrics"})
    shapes = ["warm feed", "junk", *templates]
    kinds = list(itertools.product(shapes, METHODS, QUERIES, HOSTS, (False, True)))
    # A series is a route template, a method and a status. A tour first: one request of
    # each kind (path shape, method, query, Host, conditional or not), and a scrape, so
    # that the series these can have exist.
    rng = random.Random(1)
    for kind in kinds:
        call(metrics_app, random_environ(rng, *kind))
    scrape(metrics_client)
    before = set(scrape(metrics_client))

    # Then 100,000 more of those kinds, each with other junk in it: no new series.
    rng = random.Random(2)
    statuses: set[str] = set()
    for _ in range(100_000):
        statuses.add(call(metrics_app, random_environ(rng, *rng.choice(kinds)))[:3])
    after = scrape(metrics_client)

    assert set(after) - before == set()
    assert "500" not in statuses  # (501: oEmbed's answer to a format it does not serve)
    routes = {dict(labels)["route"] for name, labels in after if name == "storyfeed_http_requests_total"}
    assert routes <= set(templates) | {"/metrics", "unmatched", "fast_path:feed"}
    methods = {dict(labels)["method"] for name, labels in after if name == "storyfeed_http_requests_total"}
    assert methods <= metrics.METHODS | {"other"}
    total = sum(v for (name, _), v in after.items() if name == "storyfeed_http_requests_total")
    assert total >= 100_000 + len(kinds)
    counters = sum(1 for name, _ in after if name == "storyfeed_http_requests_total")
    print(f"\n{len(kinds)} kinds of request; {len(before)} series after the tour, {len(after)} after "
          f"100,000 random requests ({counters} of storyfeed_http_requests_total)")


# -- gunicorn: two workers, one sum; Prometheus' own tool reads it -------------------------


@pytest.fixture
def served(sqlite_url, tmp_path):
    env = service_env(DATABASE_URL=sqlite_url, METRICS_TOKEN=TOKEN, METRICS_DIR=str(tmp_path / "metrics"))
    assert flask_cli(env, "stories", "sample").returncode == 0
    with Gunicorn(env, workers=2) as server:
        yield server


def scrape_over_http(base: str) -> str:
    answer = requests.get(f"{base}/metrics", headers=AUTH, timeout=10)
    assert answer.status_code == 200
    return answer.text


def pids_that_answered(server: Gunicorn, path: str) -> set[str]:
    return {
        record["pid"] for record in (json.loads(line) for line in server.log.read_text().splitlines()
                                     if line.startswith("{") and '"path"' in line)
        if record["path"] == path
    }


@pytest.mark.slow
def test_gunicorn_workers_counts_are_summed(served):
    sent = 0
    deadline = time.monotonic() + 60
    # Each request on a new connection; whichever worker accepts it answers it.
    while sent < 200 or len(pids_that_answered(served, "/feeds.opml")) < 2:
        assert time.monotonic() < deadline, "one worker answered every request"
        assert requests.get(f"{served.base}/feeds.opml", timeout=10).status_code == 200
        sent += 1
    time.sleep(0.5)  # the access log is written after the answer
    assert len(pids_that_answered(served, "/feeds.opml")) == 2
    # Each worker hands its counts over once a second (RequestTally.FLUSH_SECONDS).
    deadline = time.monotonic() + 5
    while (counted := requests_of(samples(scrape_over_http(served.base)), "/feeds.opml")) != sent:
        assert time.monotonic() < deadline, f"{counted} of {sent} requests counted after 5 s"
        time.sleep(0.2)
    # The same sum whichever worker answers the scrape.
    for _ in range(5):
        assert requests_of(samples(scrape_over_http(served.base)), "/feeds.opml") == sent
    served.stop()
    assert TOKEN not in served.log.read_text()


@pytest.mark.slow
def test_the_folder_is_emptied_when_gunicorn_starts(sqlite_url, tmp_path):
    env = service_env(DATABASE_URL=sqlite_url, METRICS_TOKEN=TOKEN, METRICS_DIR=str(tmp_path / "metrics"))
    for _ in range(2):
        with Gunicorn(env, workers=1) as server:
            for _ in range(3):
                requests.get(f"{server.base}/feeds.opml", timeout=10)
            assert requests_of(samples(scrape_over_http(server.base)), "/feeds.opml") == 3


PROMTOOL = shutil.which("promtool")


@pytest.mark.slow
@pytest.mark.promtool
@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (Debian's prometheus package)")
def test_promtool_finds_no_problem_in_what_gunicorn_serves(served):
    for path in ("/", FEED, FEED, "/oembed?url=https%3A%2F%2Fwww.npr.org%2F1", "/nope", "/api/stories/x"):
        requests.get(f"{served.base}{path}", timeout=10)
    text = scrape_over_http(served.base)
    assert "storyfeed_http_requests_total" in text and "storyfeed_build_info" in text
    checked = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                             text=True, timeout=60)
    assert (checked.returncode, checked.stdout, checked.stderr) == (0, "", "")


@pytest.mark.promtool
@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (Debian's prometheus package)")
def test_promtool_finds_no_problem_in_one_process(metrics_client):
    metrics_client.get(FEED)
    metrics_client.get(FEED)
    text = metrics_client.get("/metrics", headers=AUTH).get_data(as_text=True)
    checked = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                             text=True, timeout=60)
    assert (checked.returncode, checked.stdout, checked.stderr) == (0, "", "")


def test_the_store_failing_leaves_the_scrape_standing(metrics_app, metrics_client):
    with app_state(metrics_app).store.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE source_state"))
    assert metrics_client.get("/metrics", headers=AUTH).status_code == 200
