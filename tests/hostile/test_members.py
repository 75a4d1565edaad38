"""Member URLs under attack (docs/members.md): guessed secrets, near misses and case
changes, path tricks in /m/, in member media and in member items' transcripts and
chapters, symlinks planted in the members' folder, revoked secrets replayed with
validators, secrets in the error pages, and the members API without its token. Every
answer is a clear 4xx; none names a secret."""

from __future__ import annotations

import os
import secrets as random_secrets

import pytest

from serving.state import app_state

from ..members_support import AUTH, SAMPLE, add_member, feed_path, member_site
from .payloads import HostileClient


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from ..conftest import migrated_sqlite

    folder = tmp_path_factory.mktemp("hostile-members")
    app = member_site(migrated_sqlite(folder / "db.sqlite3"), folder)
    app.test_client_class = HostileClient
    media = app_state(app).settings["MEDIA_DIR"]
    # A symlink planted in the members' folder, to a file outside it.
    os.symlink(os.path.abspath("app.py"), os.path.join(media, "members", "planted.mp3"))
    yield app
    app_state(app).store.engine.dispose()


@pytest.fixture(scope="module")
def member(site):
    return add_member(site)


def no_secret(response, *secrets: str) -> None:
    text = response.get_data(as_text=True) + " ".join(f"{k}: {v}" for k, v in response.headers.items())
    for secret in secrets:
        assert secret not in text


def test_guesses_get_the_404_of_any_unknown_url(site, member):
    client = site.test_client()
    _, secret = member
    plain = client.get("/m/unknown/url")
    guesses = [random_secrets.token_urlsafe(24) for _ in range(50)]
    guesses += [secret.swapcase(), secret[:-1] + ("A" if secret[-1] != "A" else "B"), secret[1:],
                secret + secret, secret.lower(), secret.upper(), f"{secret}%00", f"{secret}%20",
                f"%{secret}", "x" * 4000, "%E2%80%A8", "..", "%2e%2e"]
    for guess in guesses:
        if guess == secret:
            continue
        response = client.get(feed_path(guess))
        if "%00" in guess:  # refused before routing, as NUL in any URL (request guards)
            assert response.status_code == 400, guess
            continue
        assert response.status_code == 404, guess
        assert response.data == plain.data, guess


@pytest.mark.parametrize("path", [
    "/m/{s}/topics/{t}/podcast.xml/..", "/m/{s}/topics/../{t}/podcast.xml", "/m/{s}/topics/{t}/PODCAST.XML",
    "/m/{s}/topics/{t}/feeds.opml", "/m/{s}/topics/nope/podcast.xml", "/m/{s}/topics/{t}/pages/bad/rss.xml",
    "/m/{s}/topics/{t}/pages/%00/rss.xml", "/m/{s}/topics/{t}/rss.xml?limit=-1",
    "/m/{s}/topics/{t}/rss.xml?limit=99999", "/m/{s}/media/members/planted.mp3",
    "/m/{s}/media/members/../../app.py", "/m/{s}/media/members/%2e%2e/%2e%2e/app.py",
    "/m/{s}/media/members/", "/m/{s}/media/members", "/m/{s}/media/%2fetc%2fpasswd",
    "/m/{s}/media/MEMBERS/bonus-1.mp3", "/m/{s}/media/north-korean-defectors/artwork.jpg",
    "/m/{s}//topics/{t}/rss.xml", "/m/{s}/rss.xml", "/m/{s}/stories/bonus-1",
    # A member item's transcript and chapters: none here, a story or audio not there, tricks.
    "/m/{s}/stories/bonus-1/transcript", "/m/{s}/stories/bonus-1/audio/bonus-1-audio/chapters.json",
    "/m/{s}/stories/bonus-1/audio/bonus-1-audio/transcript.vtt",
    "/m/{s}/stories/bonus-1/audio/bonus-1-audio/transcript.%2e%2e%2fapp.py",
    "/m/{s}/stories/bonus-1/audio/nope/chapters.json", "/m/{s}/stories/%2e%2e/transcript",
    "/m/{s}/stories/..%2f..%2fapp.py/transcript", "/m/{s}/stories/%00/transcript",
    "/m/{s}/stories/" + "x" * 3000 + "/transcript", "/m/{s}/stories/bonus-1/audio/%2e%2e/transcript.vtt",
])
def test_path_tricks_are_clear_refusals_without_a_secret(site, member, path):
    client = site.test_client()
    _, secret = member
    response = client.get(path.format(s=secret, t=SAMPLE))
    assert 300 <= response.status_code < 500, path
    if response.status_code in (301, 302, 307, 308):
        # werkzeug's slash merging answers the member themself, on the host they asked.
        assert response.headers["Location"].startswith(("/", "http://localhost/"))
        return
    assert response.status_code != 200
    no_secret(response, secret)


@pytest.mark.parametrize("path", [
    "/media/members/bonus-1.mp3", "/media/members/bonus-1.mp3?sig=", "/media/members/bonus-1.mp3?sig=x.y.z",
    "/media/members/planted.mp3", "/media/./members/bonus-1.mp3", "/media/members%2fbonus-1.mp3",
    "/media/north-korean-defectors/../members/bonus-1.mp3",
])
def test_members_files_are_never_public(site, path):
    response = site.test_client().get(path)
    assert response.status_code in (403, 404), path
    assert b"ID3" not in response.data


def test_a_revoked_secret_replayed_with_its_validators_gets_410(site):
    client = site.test_client()
    member_id, secret = add_member(site, "replayed")
    live = client.get(feed_path(secret))
    media = client.get(f"/m/{secret}/media/members/bonus-1.mp3")
    assert live.status_code == 200 and media.status_code == 200
    assert client.post(f"/api/members/{member_id}/revoke", headers=AUTH).status_code == 200
    for headers in ({"If-None-Match": live.headers["ETag"]}, {"If-Modified-Since": live.headers["Last-Modified"]},
                    {"If-None-Match": "*"}, {"Range": "bytes=0-10"}):
        assert client.get(feed_path(secret), headers=headers).status_code == 410
        response = client.get(f"/m/{secret}/media/members/bonus-1.mp3", headers=headers)
        assert response.status_code == 410 and b"ID3" not in response.data
        no_secret(response, secret)


def test_error_pages_and_headers_name_no_secret(site, member):
    client = site.test_client()
    _, secret = member
    for path, status in ((f"/m/{secret}/topics/nope/rss.xml", 404), (f"/m/{secret}/media/members/x.mp3", 404)):
        for accept in ("text/html", "application/json"):
            response = client.get(path, headers={"Accept": accept})
            assert response.status_code == status
            no_secret(response, secret)


@pytest.mark.parametrize("method, path", [
    ("GET", "/api/members"), ("POST", "/api/members"), ("GET", "/api/members/sharing"),
    ("POST", "/api/members/1/rotate"), ("POST", "/api/members/1/revoke"),
])
def test_the_members_api_needs_the_token(site, method, path):
    client = site.test_client()
    assert client.open(path, method=method).status_code == 401
    assert client.open(path, method=method, headers={"Authorization": "Bearer wrong"}).status_code == 401


@pytest.mark.parametrize("body", [
    {"name": ""}, {"name": "x" * 201}, {"name": "tab\there"}, {"name": 5}, [], "x",
    {"name": "ok", "expires": "yesterday"}, {"name": "ok", "expires": 5},
])
def test_bad_member_bodies_are_400(site, body):
    response = site.test_client().post("/api/members", json=body, headers=AUTH)
    assert response.status_code == 400, body
    assert response.is_json


@pytest.mark.parametrize("path", ["/api/members/0/revoke", "/api/members/99999/rotate",
                                  "/api/members/x/revoke", "/api/members/-1/revoke",
                                  "/api/members/99999999999999999999/revoke"])
def test_unknown_members_are_404(site, path):
    assert site.test_client().post(path, headers=AUTH).status_code == 404


def test_a_guess_costs_one_lookup_by_its_hash_and_never_reaches_the_database(site, member):
    """Timing: the only thing compared is the guess's SHA-256, by the database's index;
    how much of a guess matches a real secret changes nothing a guesser could time. And
    the database (its logs, its statement statistics) never sees a secret."""
    import sqlalchemy as sa

    from serving.members import Members
    from stories.members import secret_hash

    _, secret = member
    sent: list[str] = []
    engine = app_state(site).store.engine

    def seen(_conn, _cursor, statement, parameters, _context, _many):
        sent.append(f"{statement} {parameters}")

    store = app_state(site).area(Members).store
    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        for guess in (secret[:-1] + ("A" if secret[-1] != "A" else "B"), "A" * 32, secret):
            sent.clear()
            store.lookup(guess)
            assert len(sent) == 1, sent
            assert secret_hash(guess) in sent[0]
            assert guess not in sent[0]
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
