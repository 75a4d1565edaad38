"""The desk against hostile requests: every route anonymously, forms without their CSRF
token, a planted session, password guessing, redirects off the site after signing in,
markup in every field the desk shows (the audience page's User-Agents, files and
episode titles too, and no formula in its CSVs; members' names), a member's secret seen
nowhere but in the answer that made it, and answers that must never be cached or served by
the fast path."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import replace
from datetime import datetime

import lxml.etree
import pytest
import sqlalchemy as sa
from werkzeug.test import EnvironBuilder

from audience.count import Fetch
from audience.store import write_fetches
from desk.accounts import LoginThrottle
from desk.checks import FeedChecks
from desk.schema import desk_login_failures
from serving.members import Members
from serving.state import app_state
from sources.state import SourceState, SourceStates
from stories.model import Topic
from stories.validate import parse_story

from .conftest import story_record
from .desk_support import EDITOR, PASSWORD, SAMPLE_TOPIC, add_editor, csrf_of, desk_app, sign_in, token

XSS = '<script>alert("desk")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def app(sqlite_url, tmp_path):
    sources = tmp_path / "sources.toml"
    sources.write_text('[[source]]\nname = "wire"\nurl = "https://wire.example/records.json"\n'
                       'kind = "records"\n', encoding="utf-8")
    app = desk_app(sqlite_url, SOURCES_FILE=str(sources))
    add_editor(app)
    result = app.test_cli_runner().invoke(args=["stories", "sample"])
    assert result.exit_code == 0
    yield app
    app_state(app).store.engine.dispose()


def desk_routes(app) -> list[tuple[str, str]]:
    """(method, path) of every desk route, with sample values for its parameters."""
    values = {"slug": SAMPLE_TOPIC, "story_id": "1169825816", "name": "wire", "member_id": "1"}
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/desk"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], rule.rule)
        found += [(method, path) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return found


def test_there_are_desk_routes_to_check(app):
    routes = desk_routes(app)
    assert len(routes) >= 24
    # The audience page and its CSVs are among them (the anonymous check below walks them).
    assert {("GET", f"/desk/audience{part}") for part in ("", "/days.csv", "/episodes.csv", "/apps.csv")} <= set(routes)
    # The members page and each of its actions, too.
    assert {("GET", "/desk/members"), ("POST", "/desk/members")} | {
        ("POST", f"/desk/members/1/{action}") for action in ("rotate", "revoke", "expire", "renew")
    } <= set(routes)


def test_anonymous_requests_get_no_content_on_any_route(app):
    client = app.test_client()
    store = app_state(app).store
    version = store.version()
    members = app_state(app).area(Members).store
    member, secret = members.add("Anonymous Can't Touch")
    for method, path in desk_routes(app):
        if path == "/desk/login":
            continue
        answer = client.open(path, method=method, data={"csrf_token": "x"})
        body = answer.get_data(as_text=True)
        if method == "GET":
            assert answer.status_code == 303, (method, path)
            assert answer.headers["Location"].startswith("/desk/login?next=/desk"), path
        else:
            assert answer.status_code in (400, 403), (method, path)
        # No content: the sample topic's title, a story's, the source's name.
        for shown in ("Stories About", "North Korean defectors may", "Sync wire now", member.name):
            assert shown not in body, (method, path)
        assert answer.headers["Cache-Control"] == "no-store", path
    assert store.version() == version
    # No member added, rotated, revoked, lapsed or renewed.
    assert members.list_members() == [member]
    assert members.lookup(secret).status() == "live"


def test_a_post_without_the_sessions_token_changes_nothing(app):
    client = app.test_client()
    sign_in(client)
    store = app_state(app).store
    version, title = store.version(), store.get_topic(SAMPLE_TOPIC).title
    members = app_state(app).area(Members).store
    member, secret = members.add("Forgery Target")
    for method, path in desk_routes(app):
        if method != "POST":
            continue
        for data in ({}, {"csrf_token": ""}, {"csrf_token": "forged"},
                     {"csrf_token": token(client) + "x"}):
            answer = client.post(path, data={**data, "title": "Forged", "new_slug": "forged",
                                             "name": EDITOR, "password": PASSWORD})
            assert answer.status_code == 400, (path, data)
            assert "This form has expired" in answer.get_data(as_text=True)
    assert store.version() == version
    assert store.get_topic(SAMPLE_TOPIC).title == title
    assert members.list_members() == [member]  # no "ann" added by a forged form
    assert members.lookup(secret).status() == "live"
    assert client.get("/desk/").status_code == 200  # still signed in: logout was refused too


def test_another_sessions_token_is_refused(app):
    mallory = app.test_client()
    add_editor(app, "mallory", "mallory's own password")
    sign_in(mallory, "mallory", "mallory's own password")
    victim = app.test_client()
    sign_in(victim)
    answer = victim.post(f"/desk/topics/{SAMPLE_TOPIC}/purge", data={"csrf_token": token(mallory)})
    assert answer.status_code == 400


def test_signing_in_starts_a_new_session_so_a_planted_one_is_worth_nothing(app):
    client = app.test_client()
    page = client.get("/desk/login").get_data(as_text=True)
    planted_token = csrf_of(page)
    planted_cookie = client.get_cookie("storyfeed_desk", path="/desk").value
    assert sign_in(client).status_code == 303
    signed_in_cookie = client.get_cookie("storyfeed_desk", path="/desk").value
    assert signed_in_cookie != planted_cookie
    assert token(client) != planted_token
    assert client.post(f"/desk/topics/{SAMPLE_TOPIC}/purge",
                       data={"csrf_token": planted_token}).status_code == 400
    # The cookie from before the sign-in (what an attacker planted) is still anonymous.
    attacker = app.test_client()
    attacker.set_cookie("storyfeed_desk", planted_cookie, path="/desk")
    assert attacker.get("/desk/").status_code == 303


def test_guessing_passwords_is_throttled_per_account(app):
    client = app.test_client()
    for _ in range(LoginThrottle.per_account):
        assert sign_in(client, EDITOR, "a wrong guess!").status_code == 401
    answer = sign_in(client, EDITOR, PASSWORD)  # even the right one, until the window ends
    assert answer.status_code == 429
    assert int(answer.headers["Retry-After"]) > 60
    assert "Too many failed sign-ins" in answer.get_data(as_text=True)
    assert client.get("/desk/").status_code == 303


def test_guessing_across_accounts_is_throttled_per_address(app):
    client = app.test_client()
    for n in range(LoginThrottle.per_address):
        assert sign_in(client, f"user{n}", "a wrong guess!").status_code == 401
    assert sign_in(client, EDITOR, PASSWORD).status_code == 429
    other = app.test_client()
    other_address = {"REMOTE_ADDR": "192.0.2.7"}
    page = other.get("/desk/login", environ_base=other_address).get_data(as_text=True)
    answer = other.post("/desk/login", environ_base=other_address, data={
        "csrf_token": csrf_of(page), "name": EDITOR, "password": PASSWORD})
    assert answer.status_code == 303


def test_failures_of_windows_past_are_deleted(app):
    throttle = LoginThrottle(app_state(app).store.engine)
    with throttle.engine.begin() as conn:
        conn.execute(desk_login_failures.insert().values(
            key="user:old", window_start=datetime(2000, 1, 1), failures=99))
    throttle.failed("someone", "192.0.2.1")
    with throttle.engine.connect() as conn:
        keys = set(conn.execute(sa.select(desk_login_failures.c.key)).scalars())
    assert keys == {"user:someone", "addr:192.0.2.1"}


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/desk/", "/\\evil.example", "\\\\evil.example",
    "javascript:alert(1)", "/desk\r\nLocation: https://evil.example", "http:/evil.example",
    "/deskx", "/topics/x", "desk/", "/desk/\t//evil.example",
])
def test_after_signing_in_only_desk_paths_are_followed(app, target):
    answer = sign_in(app.test_client(), next=target)
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/desk/"


def test_markup_in_every_field_shown_is_escaped(app):
    store = app_state(app).store
    story, _ = parse_story(story_record(id="666", title=XSS, teaser=XSS, note=XSS, topics=["xss"]))
    store.write(stories=[story], topics=[Topic(slug="xss", title=XSS, author=XSS)])
    FeedChecks(store.engine).save(["xss"], [{"severity": "error", "topic": "xss", "story": "666",
                                             "field": XSS, "message": XSS}])
    SourceStates(store.engine).save(SourceState("wire", outcome="failed", message=XSS))
    client = app.test_client()
    sign_in(client)
    for path in ("/desk/", "/desk/topics/xss", "/desk/stories?q=desk", "/desk/stories/666",
                 "/desk/sources", f"/desk/stories?q={XSS}"):
        answer = client.get(path)
        body = answer.get_data(as_text=True)
        assert answer.status_code == 200, path
        assert "<script>alert" not in body and "<img src=x" not in body, path
        assert answer.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert "&lt;script&gt;alert" in client.get("/desk/topics/xss").get_data(as_text=True)
    # A failed save shows what was typed, escaped too.
    answer = client.post("/desk/stories/666", data={"csrf_token": token(client), "title": XSS,
                                                    "url": XSS, "published": XSS, "topics": XSS})
    assert answer.status_code == 422
    assert "<script>alert" not in answer.get_data(as_text=True)


def test_markup_in_a_user_agent_an_episode_and_its_title_is_escaped_on_the_audience_page(app):
    """The story's title (an ingest token's or a wire's), the file's name and the
    User-Agent (anyone's) reach the charts' SVG, tables and CSVs only as text."""
    store = app_state(app).store
    record = story_record(id="667", title=XSS, topics=["xss"])
    record["audio"][0]["url"] = "/media/xss/667.mp3"
    story, _ = parse_story(record)
    store.write(stories=[story], topics=[Topic(slug="xss", title=XSS)])
    at = datetime(2026, 3, 1, 12)
    fetch = Fetch(at=at, listener="l1", user_agent="Podcasts/1650.20 CFNetwork/1404.0.5 Darwin/22.3.0",
                  episode="xss/667.mp3", method="GET", status=200, first=0, last=999, file_size=1000)
    write_fetches(store.engine, [
        fetch,
        replace(fetch, listener="l2", user_agent=XSS),  # an app no list names: "Unknown"
        replace(fetch, listener="l3", episode=XSS),  # a file no story names, by its name alone
        replace(fetch, listener="l4", episode="=HYPERLINK(\"https://evil.example\")")])
    client = app.test_client()
    sign_in(client)
    for query in ("from=2026-03-01&to=2026-03-01", "from=2026-03-01&to=2026-03-01&topic=xss"):
        answer = client.get(f"/desk/audience?{query}")
        body = answer.get_data(as_text=True)
        assert answer.status_code == 200
        assert "<script>alert" not in body and "<img src=x" not in body, query
        svg = body.split('id="downloads-per-episode"')[1].split("</svg>")[0]
        table = body.split("<caption>Downloads per episode")[1].split("</table>")[0]
        assert "&lt;script&gt;alert" in svg and "&lt;script&gt;alert" in table, query
        assert "Unknown" in body.split("<caption>Downloads per app")[1]
        lxml.etree.fromstring(("<svg" + body.split("<svg")[2].split("</svg>")[0] + "</svg>").encode())
    rows = list(csv.reader(io.StringIO(client.get(
        "/desk/audience/episodes.csv?from=2026-03-01&to=2026-03-01").get_data(as_text=True))))
    cells = [cell for row in rows for cell in row]
    assert XSS in cells  # a CSV's text is the text, quoted by the csv module
    # No cell a spreadsheet would run as a formula.
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@")]
    assert "'=HYPERLINK(\"https://evil.example\")" in cells


@pytest.mark.parametrize("query, status", [
    ("from=2026-13-01", 400),
    ("to=yesterday", 400),
    ("from=2026-03-02&to=2026-03-01", 400),
    ("from=2000-01-01&to=2026-01-01", 400),  # more than ten years
    ("from=0001-01-01&to=0001-01-02", 400),
    ("to=0001-01-01", 400),  # its 90 days before are no dates
    ("to=9999-12-31", 400),
    ("from=%00", 400),
    ("topic=no-such-topic", 404),
    ("topic=%3Cscript%3E", 404),
])
def test_a_bad_range_is_a_400_on_the_audience_page_and_every_csv(app, query, status):
    client = app.test_client()
    sign_in(client)
    for path in ("/desk/audience", "/desk/audience/days.csv", "/desk/audience/episodes.csv",
                 "/desk/audience/apps.csv"):
        answer = client.get(f"{path}?{query}")
        assert answer.status_code == status, (path, query)
        assert answer.headers["Cache-Control"] == "no-store"


def test_every_desk_answer_is_no_store_and_none_comes_from_the_fast_path(app):
    client = app.test_client()
    assert client.get("/desk/login").headers["Cache-Control"] == "no-store"
    assert client.get("/desk/no-such-page").headers["Cache-Control"] == "no-store"
    sign_in(client)
    fast_path = app_state(app).fast_path
    assert fast_path is not None
    for method, path in desk_routes(app):
        if method != "GET":
            continue
        for _ in range(2):
            answer = client.get(path)
            assert answer.headers["Cache-Control"] == "no-store", path
            assert "Set-Cookie" not in answer.headers or "storyfeed_desk" in answer.headers["Set-Cookie"]
        assert fast_path.find(EnvironBuilder(path=path).get_environ()) is None, path
    assert not any("/desk" in str(url) for url in fast_path.answers)
    # While a feed answered is the fast path's: the check above can see one.
    feed = f"/topics/{SAMPLE_TOPIC}/rss.xml"
    client.get(feed)
    assert fast_path.find(EnvironBuilder(path=feed).get_environ()) is not None


def test_no_public_answer_carries_the_desk_cookie(app):
    client = app.test_client()
    sign_in(client)
    for path in ("/", f"/topics/{SAMPLE_TOPIC}", f"/topics/{SAMPLE_TOPIC}/rss.xml"):
        answer = client.get(path)
        assert "Set-Cookie" not in answer.headers, path
        assert "no-store" not in answer.headers.get("Cache-Control", ""), path


def test_a_huge_password_is_refused_without_hashing_it(app):
    answer = sign_in(app.test_client(), EDITOR, "x" * 2_000_000)
    assert answer.status_code in (401, 413)


def test_markup_in_a_members_name_is_escaped_on_every_page_that_shows_it(app):
    client = app.test_client()
    sign_in(client)
    answer = client.post("/desk/members", data={"csrf_token": token(client, "/desk/members"), "name": XSS})
    assert answer.status_code == 201
    pages = [answer]
    (member,) = app_state(app).area(Members).store.list_members()
    assert member.name == XSS  # kept as typed: it is text, escaped where shown
    pages.append(client.get("/desk/members"))
    assert client.post(f"/desk/members/{member.id}/revoke",
                       data={"csrf_token": token(client, "/desk/members")}).status_code == 303
    pages.append(client.get("/desk/members"))  # the flash message names the member
    # A refused form shows what was typed, escaped too.
    pages.append(client.post("/desk/members", data={"csrf_token": token(client, "/desk/members"),
                                                    "name": XSS, "expires": XSS}))
    assert pages[-1].status_code == 422
    for page in pages:
        body = page.get_data(as_text=True)
        assert "<script>alert" not in body and "<img src=x" not in body
        assert "&lt;script&gt;alert" in body
        assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")


def test_a_secret_is_seen_only_in_the_answer_that_made_it(app, caplog):
    """Not in a later page, a header (no redirect carries it), the session cookie (Flask's
    is signed, not encrypted: a flash message would be readable) or a log line."""
    caplog.set_level("DEBUG")
    client = app.test_client()
    sign_in(client)
    serializer = app.session_interface.get_signing_serializer(app)
    seen = []  # (answer, the session as it stood after it), every request in order

    def send(method: str, path: str, **form: str):
        data = {"csrf_token": send("GET", "/desk/members").get_data(as_text=True)} if method == "POST" else None
        if data is not None:
            data = {"csrf_token": csrf_of(data["csrf_token"]), **form}
        answer = client.open(path, method=method, data=data)
        cookie = client.get_cookie("storyfeed_desk", path="/desk")
        seen.append((answer, str(serializer.loads(cookie.value)) if cookie else ""))
        return answer

    made = send("POST", "/desk/members", name="Kept Quiet")
    (member,) = app_state(app).area(Members).store.list_members()
    rotated = send("POST", f"/desk/members/{member.id}/rotate")
    secrets = [re.search(r'id="secret" class="secret-value" readonly value="([^"]+)"',
                         answer.get_data(as_text=True)).group(1) for answer in (made, rotated)]
    assert len(set(secrets)) == 2
    for action in ("expire", "renew", "revoke"):
        send("POST", f"/desk/members/{member.id}/{action}")
    for method, path in desk_routes(app):
        if method == "GET":
            send("GET", path)
    for answer, session_kept in seen:
        body, headers = answer.get_data(as_text=True), str(answer.headers)
        for own, secret in zip((made, rotated), secrets, strict=True):
            if answer is own:
                assert secret in body  # its own answer: shown once
                assert answer.headers["Cache-Control"] == "no-store"
            else:
                assert secret not in body, answer.request.path
            assert secret not in headers and secret not in session_kept, answer.request.path
    assert not [r for r in caplog.records if any(s in r.getMessage() for s in secrets)]
