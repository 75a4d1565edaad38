"""Logs: one JSON object per line, a request id on every line a request causes, no secret,
repeated failures held back; errors to Sentry (serving/logs.py, serving/access_log.py)."""

from __future__ import annotations

import gzip
import io
import json
import logging
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime

import pytest
import requests

from serving import logs
from serving.settings import SECRET_SETTINGS, SETTINGS, load_settings
from serving.state import app_state
from stories.errors import SettingsError

from .conftest import ROOT, make_app, story_record
from .servers import Gunicorn, InThread, procfile_command, service_env

HEX_ID = re.compile(r"[0-9a-f]{32}\Z")
STORE_DOWN = "postgresql://postgres@127.0.0.1:1/nowhere"  # nothing listens on port 1


def capture_log() -> io.StringIO:
    """What the process's JSON handler (set up by the last create_app) writes from now on."""
    stream = io.StringIO()
    handlers = [h for h in logging.getLogger().handlers if getattr(h, "_storyfeed", False)]
    assert len(handlers) == 1, "one JSON handler on the root logger"
    handlers[0].setStream(stream)  # type: ignore[attr-defined]
    return stream


def lines_of(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


# -- the line ---------------------------------------------------------------------------


def test_a_record_is_one_json_line_with_its_traceback_as_a_field(app):
    stream = capture_log()
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        logging.getLogger("storyfeed.test").exception("it failed: %s", "here", extra={"source": "s1"})
    text = stream.getvalue()
    assert text.count("\n") == 1, "one line, the traceback inside it"
    line = json.loads(text)
    assert line["level"] == "ERROR" and line["logger"] == "storyfeed.test"
    assert line["message"] == "it failed: here" and line["source"] == "s1"
    assert isinstance(line["pid"], int)
    assert line["time"].endswith("Z")
    assert datetime.fromisoformat(line["time"]).utcoffset().total_seconds() == 0
    assert line["exc_info"].startswith("Traceback") and "ValueError: bad\nvalue" in line["exc_info"]
    assert "request_id" not in line, "no request, no request id"


@pytest.mark.slow
def test_warnings_and_uncaught_exceptions_are_lines_too(sqlite_url):
    script = ("import sys, warnings; from tests.conftest import make_app; make_app(sys.argv[1]); "
              "warnings.warn('careful'); raise KeyError('lost')")
    done = subprocess.run([sys.executable, "-c", script, sqlite_url], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    warned, uncaught = [json.loads(line) for line in done.stderr.splitlines()]
    assert warned["logger"] == "py.warnings" and "careful" in warned["message"]
    assert uncaught["level"] == "CRITICAL" and "KeyError: 'lost'" in uncaught["exc_info"]


@pytest.mark.slow
@pytest.mark.parametrize("command", [["gunicorn.conf.py"], ["-m", "flask", "--app", "app", "stories", "list"]])
def test_a_process_that_cannot_start_says_why_in_one_json_line(tmp_path, command):
    env = service_env(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", PORT="eighty", LOG_LEVEL="LOUD",
                      SENTRY_DSN="https://hushhushkey@sentry.example")
    done = subprocess.run([sys.executable, *command], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1
    [line] = [json.loads(line) for line in done.stderr.splitlines()]
    assert line["level"] == "CRITICAL" and line["message"].startswith("storyfeed cannot start: ")
    assert "hushhushkey" not in done.stderr


# -- request ids ------------------------------------------------------------------------


@pytest.mark.parametrize("given", ["abc", "a.b-c_D9", "x" * 128, "0af7651916cd43dd8448eb211c80319c"])
def test_a_well_formed_request_id_is_kept_and_echoed(client, given):
    assert client.get("/", headers={"X-Request-ID": given}).headers["X-Request-ID"] == given


@pytest.mark.parametrize("given", [None, "", "x" * 129, "a b", "a/b", "<script>", "é", "a\tb", "id,other"])
def test_any_other_request_id_is_replaced_by_a_new_one(client, given):
    headers = {} if given is None else {"X-Request-ID": given}
    first = client.get("/", headers=headers).headers["X-Request-ID"]
    second = client.get("/", headers=headers).headers["X-Request-ID"]
    assert HEX_ID.match(first) and HEX_ID.match(second) and first != second


def test_fast_path_answers_carry_a_request_id(sample_app):
    client = sample_app.test_client()
    url = "/topics/north-korean-defectors/feed.json"
    first = client.get(url)
    assert first.status_code == 200, first.status_code
    assert app_state(sample_app).fast_path.answers, "the view let the fast path answer it next"
    again = client.get(url, headers={"X-Request-ID": "from-the-router"})
    assert again.status_code == 200 and again.data == first.data
    assert again.headers["X-Request-ID"] == "from-the-router"
    assert HEX_ID.match(client.get(url).headers["X-Request-ID"])


def test_every_line_a_request_causes_carries_its_id():
    app = make_app(STORE_DOWN)
    stream = capture_log()
    answer = app.test_client().get("/topics/world", headers={"X-Request-ID": "req-42"})
    assert answer.status_code == 503
    lines = lines_of(stream)
    assert lines and all(line.get("request_id") == "req-42" for line in lines), lines
    # The test client runs in this thread: what it logs after the request is not the
    # request's once gunicorn's access line ended it (serving.access_log).
    logs.end_request()
    logging.getLogger("after").warning("outside")
    assert "request_id" not in lines_of(stream)[-1]


def test_request_ids_cost_about_a_microsecond():
    import timeit

    def inner(environ, start_response):
        start_response("200 OK", [])
        return [b""]

    wrapped = logs.RequestIds(inner)

    def start(status, headers, exc_info=None):
        return None

    cost = min(timeit.repeat(lambda: wrapped({}, start), number=20_000, repeat=5)) / 20_000
    bare = min(timeit.repeat(lambda: inner({}, start), number=20_000, repeat=5)) / 20_000
    assert cost - bare < 20e-6, f"{(cost - bare) * 1e6:.1f} us a request"


# -- repeats ----------------------------------------------------------------------------


def test_a_failure_repeated_per_request_is_logged_once_a_while_with_a_count(monkeypatch):
    """The store going down is said once per outage where it is noticed (VersionMemo); any
    other failure that each request logs (here the store's error handler's line, as a
    pool timeout logs it) goes through the repeats filter."""
    monkeypatch.setattr(logs, "REPEAT_SECONDS", 1.0)
    app = make_app(STORE_DOWN)
    stream = capture_log()
    failing = logging.getLogger("web.errors.test")

    def request_fails() -> None:
        with app.test_request_context("/topics/world"):
            failing.error("store unavailable: %s", "QueuePool limit of size 5 overflow 2 reached")

    started = time.monotonic()
    for _ in range(20):
        request_fails()
    assert time.monotonic() - started < 1.0, "the machine is too slow for this test's window"
    said = [line for line in lines_of(stream) if line["message"].startswith("store unavailable")]
    assert len(said) == 1 and "suppressed" not in said[0]
    time.sleep(1.1)
    request_fails()
    said = [line for line in lines_of(stream) if line["message"].startswith("store unavailable")]
    assert len(said) == 2 and said[1]["suppressed"] == 19


def test_repeats_are_told_apart_by_logger_and_template():
    clock = [0.0]
    kept = logs.RepeatsFilter(interval=5, clock=lambda: clock[0])

    def passes(name: str, msg: str, level: int = logging.WARNING, *args: object) -> bool:
        return kept.filter(logging.LogRecord(name, level, __file__, 1, msg, args or None, None))

    assert passes("a", "store down: %s", logging.WARNING, "x")
    assert not passes("a", "store down: %s", logging.WARNING, "y"), "same template, other argument"
    assert passes("b", "store down: %s"), "another logger"
    assert passes("a", "hub down: %s"), "another template"
    assert all(passes("a", "store down: %s", logging.INFO) for _ in range(3)), "info is never held"
    clock[0] = 5.0
    record = logging.LogRecord("a", logging.ERROR, __file__, 1, "store down: %s", ("z",), None)
    assert kept.filter(record) and record.suppressed == 1


# -- secrets ----------------------------------------------------------------------------


def test_every_setting_named_like_a_secret_is_kept_secret():
    looks_secret = re.compile(r"TOKEN|SECRET|PASSWORD|DSN|_KEY\b|_URL\Z")
    public_urls = {"SITE_URL", "MEDIA_BASE_URL", "WEBSUB_HUB", "OEMBED_PROVIDER_URL"}
    for setting in SETTINGS:
        if looks_secret.search(setting.name) and setting.name not in public_urls:
            assert setting.name in SECRET_SETTINGS, setting.name


def test_a_secret_setting_that_cannot_be_used_is_not_shown():
    with pytest.raises(SettingsError) as refused:
        load_settings({"SENTRY_DSN": "https://hushhushkey@sentry.example"})  # no project
    assert "SENTRY_DSN" in str(refused.value) and "hushhushkey" not in str(refused.value)


def test_the_formatter_redacts_known_secrets_and_whatever_looks_like_one(app):
    logs.add_secrets(["tok-known-123456"])
    stream = capture_log()
    log = logging.getLogger("storyfeed.test")
    log.warning("query token=%s", "tok-known-123456", extra={"headers": {"Authorization": "x"}})
    log.warning("sent Authorization: Bearer unknown-abcdefgh and %s", "postgresql://u:pw-123@db/x")
    log.warning("HTTP_AUTHORIZATION='Basic dXNlcjpwYXNz'")
    first, second, third = lines_of(stream)
    assert first["message"] == "query token=[redacted]" and first["headers"] == {"Authorization": "[redacted]"}
    assert second["message"] == "sent Authorization: Bearer [redacted] and postgresql://u:[redacted]@db/x"
    assert "dXNlcjpwYXNz" not in third["message"]


def test_secrets_come_from_the_settings():
    settings = {"INGEST_TOKENS": ("tok-a", "tok-b"), "METRICS_TOKEN": "met",
                "SENTRY_DSN": "https://sentrykey@o1.ingest.sentry.io/42",
                "DATABASE_URL": "postgresql://storyfeed:dbpass@db/storyfeed", "REDIS_URL": "redis://h:6379/0",
                "SITE_URL": "https://news.example/"}
    assert logs.secrets_of(settings) == {"tok-a", "tok-b", "met", "sentrykey", "dbpass"}


# -- Sentry -----------------------------------------------------------------------------


class Collector:
    """A stand-in for Sentry's ingestion host: keeps every envelope posted to it."""

    def __init__(self) -> None:
        self.envelopes: list[tuple[dict, bytes]] = []
        self.lock = threading.Lock()
        self.server = InThread(self.answer).start()

    def answer(self, environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        if environ.get("HTTP_CONTENT_ENCODING") == "gzip":
            body = gzip.decompress(body)
        headers = {k: v for k, v in environ.items() if k.startswith("HTTP_")}
        with self.lock:
            self.envelopes.append((headers, body))
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]

    def items(self) -> list[tuple[str, dict]]:
        """(type, payload) of every item of every envelope."""
        found = []
        for _, body in self.envelopes:
            lines = body.split(b"\n")
            for header, payload in zip(lines[1::2], lines[2::2], strict=False):
                found.append((json.loads(header).get("type"), json.loads(payload)))
        return found


SENTRY_APP = """
import sys
import sentry_sdk
from tests.conftest import make_app

token = sys.argv[2]
app = make_app(sys.argv[1], SENTRY_DSN=sys.argv[3], INGEST_TOKENS=token)

@app.get("/boom")
def boom():
    settings = {"INGEST_TOKENS": token}  # a frame variable holding it
    raise RuntimeError(f"broken with {settings['INGEST_TOKENS']}")

answer = app.test_client().get(f"/boom?token={token}", headers={
    "Authorization": f"Bearer {token}", "X-Request-ID": "req-7", "Cookie": f"session={token}"})
assert answer.status_code == 500, answer.status_code
sentry_sdk.flush(timeout=10)
"""


@pytest.mark.slow
def test_unhandled_errors_go_to_sentry_without_secrets(sqlite_url):
    collector = Collector()
    token = "ingest-tok-9f8e7d6c5b4a"
    dsn = f"http://publickey@127.0.0.1:{collector.server.port}/1"
    try:
        done = subprocess.run([sys.executable, "-c", SENTRY_APP, sqlite_url, token, dsn], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
    finally:
        collector.server.stop()
    assert done.returncode == 0, done.stderr
    kinds = [kind for kind, _ in collector.items()]
    assert "log" not in kinds, "log lines are breadcrumbs of events, not sent on their own"
    [event] = [payload for kind, payload in collector.items() if kind == "event"]
    [exception] = event["exception"]["values"]
    assert exception["type"] == "RuntimeError"
    assert event["request"]["url"].endswith("/boom") and event["tags"]["request_id"] == "req-7"
    sent = b"\n".join(body for _, body in collector.envelopes).decode()
    assert token not in sent and "Bearer" not in sent
    assert "[redacted]" in exception["value"]
    # The process's own log said it once, as one line, redacted too.
    assert token not in done.stderr
    [line] = [json.loads(line) for line in done.stderr.splitlines()]
    assert line["message"] == "unhandled error on /boom" and line["request_id"] == "req-7"


def test_without_a_dsn_nothing_is_set_up(app):
    import sentry_sdk

    assert not sentry_sdk.get_client().is_active()


# -- a whole run ------------------------------------------------------------------------


def raw_request(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(data)
        try:
            return conn.recv(65536)
        except OSError:
            return b""


@pytest.mark.slow
def test_no_secret_reaches_any_line_of_a_run_and_every_line_is_json(sqlite_url, tmp_path, upstream):
    """gunicorn (master, workers, access log) and the clock process, run for real with an
    ingest token and a source's token, sent good and bad tokens and the token in odd
    places: every line is one JSON object and none holds either token."""
    token, source_token = "ingest-secret-5b7c9d1e3f", "source-secret-a1b2c3d4e5"
    env = service_env(DATABASE_URL=sqlite_url, INGEST_TOKENS=f"other-token-0000,{token}",
                      LOG_LEVEL="INFO", SOURCE_TOKEN=source_token)
    auth = {"Authorization": f"Bearer {token}"}
    with Gunicorn(env) as server:
        base = server.base
        record = story_record(id="5001")
        assert requests.post(f"{base}/api/stories", json=record, headers=auth, timeout=10).status_code == 200
        for wrong in (f"Bearer {token}x", f"Bearer x{token}", f"Basic {token}", token, "Bearer nope"):
            answer = requests.post(f"{base}/api/stories", json=record, headers={"Authorization": wrong},
                                   timeout=10)
            assert answer.status_code == 401
        odd = {"X-Request-ID": token, "User-Agent": f"agent {token}", "Referer": f"https://x/?t={token}",
               "Cookie": f"session={token}"}
        requests.get(f"{base}/topics/{token}?token={token}&access_token={token}", headers=odd, timeout=10)
        requests.get(f"{base}/api/stories/{token}", headers=auth, timeout=10)
        requests.put(f"{base}/api/stories/{token}", data=f'{{"id": "{token}"', headers=auth, timeout=10)
        requests.get(f"{base}/media/{token}.mp3", timeout=10)
        # Ids: the client's, and new ones, the fast path's answers included (the second GET).
        traced = requests.get(f"{base}/healthz", headers={"X-Request-ID": "trace-1"}, timeout=10)
        assert traced.headers["X-Request-ID"] == "trace-1"
        feeds = [requests.get(f"{base}/rss.xml", timeout=10) for _ in range(2)]
        feed_ids = [answer.headers["X-Request-ID"] for answer in feeds]
        assert all(HEX_ID.match(rid) for rid in feed_ids) and feed_ids[0] != feed_ids[1]
        # Requests gunicorn itself refuses, and logs: the token in the request line and a header.
        raw_request(server.port, f"GET /?t={token} HTTP/1.1\r\nHost: a\r\nAuthorization {token}\r\n\r\n".encode())
        raw_request(server.port, f"GET /{token} HTTP/9.9\r\nHost: a\r\n\r\n".encode())
        raw_request(server.port, f"{token} / HTTP/1.1\r\n\r\n".encode())
        served = server.log.read_text()

    sources = tmp_path / "sources.toml"
    upstream.serve("/private.json", json.dumps([story_record(id="5002")]),
                   require_header=("Authorization", f"Bearer {source_token}"))
    sources.write_text(f'[[source]]\nname = "private"\nurl = "{upstream.url("/private.json")}"\n'
                       'kind = "records"\ninterval = 1\nallow_private = true\ntoken_env = "SOURCE_TOKEN"\n')
    clock_env = {**env, "SOURCES_FILE": str(sources), "SOURCES_CACHE_PATH": str(tmp_path / "cache.sqlite3")}
    clock = subprocess.Popen(procfile_command("clock"), cwd=ROOT, env=clock_env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while len(upstream.seen_at("/private.json")) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        clock.send_signal(signal.SIGTERM)
        out, err = clock.communicate(timeout=15)
    finally:
        if clock.poll() is None:
            clock.kill()
            clock.communicate()
    assert [s.status for s in upstream.seen_at("/private.json")][:2] == [200, 304], "the token was sent"

    lines = served.splitlines() + out.splitlines() + err.splitlines()
    for line in lines:
        assert token not in line and source_token not in line, line
        json.loads(line)
    parsed = [json.loads(line) for line in lines]
    access = [line for line in parsed if line["logger"] == "gunicorn.access"]
    assert any(line["path"] == "/topics/[redacted]" and line["request_id"] == "[redacted]" for line in access)
    assert sum(line["status"] == 401 for line in access) == 5
    assert any(line["path"] == "/healthz" and line["request_id"] == "trace-1" for line in access)
    assert [line["request_id"] for line in access if line["path"] == "/rss.xml"] == feed_ids
    assert any(line["logger"] == "gunicorn.error" and "Invalid request" in line["message"] for line in parsed)
    assert any(line["logger"] == "web.cli.sources" and line.get("source") == "private" for line in parsed)
