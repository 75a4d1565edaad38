"""The desk's members page (/desk/members): the members and their status, the flagged
ones first, and add, rotate, revoke, expire and renew through the same `MemberStore` as
`flask members` and /api/members, each seen from outside at the member's feed URL. A
secret shows once, in the answer to the POST that made it. The hostile side (anonymous
access, CSRF, markup, secrets in later pages and headers) is in tests/test_desk_hostile.py,
Chromium in tests/test_desk_browser.py."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest

from serving.members import Members
from serving.state import app_state
from stories.members import APP, LAPSED, LIVE, NETWORK, REVOKED

from .desk_support import add_editor, desk_app, signed_in, token
from .members_support import SAMPLE, TOKEN, feed_path, fill, member_media

SECRET_INPUT = re.compile(r'id="secret" class="secret-value" readonly value="([^"]+)"')


@pytest.fixture
def app(database_url, tmp_path):
    app = desk_app(database_url, INGEST_TOKENS=TOKEN, MEDIA_DIR=str(member_media(tmp_path)))
    add_editor(app)
    fill(app)
    yield app
    app_state(app).store.engine.dispose()


@pytest.fixture
def editor(app):
    return signed_in(app)


def store(app):
    return app_state(app).area(Members).store


def secret_of(answer) -> str:
    found = SECRET_INPUT.search(answer.get_data(as_text=True))
    assert found, answer.get_data(as_text=True)
    return unescape(found.group(1))


def add(editor, name: str, expires: str = "") -> tuple[int, str]:
    answer = editor.post("/desk/members", data={"csrf_token": token(editor, "/desk/members"),
                                                "name": name, "expires": expires})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    assert answer.headers["Cache-Control"] == "no-store"
    assert "Location" not in answer.headers  # the secret's page is the answer itself
    member = next(m for m in store(editor.application).list_members() if m.name == name)
    return member.id, secret_of(answer)


def act(editor, member_id: int, action: str, **form: str):
    return editor.post(f"/desk/members/{member_id}/{action}",
                       data={"csrf_token": token(editor, "/desk/members"), **form})


def feed_status(app, secret: str) -> int:
    return app.test_client().get(feed_path(secret)).status_code


def test_the_page_is_in_the_desk_nav_and_lists_each_member_with_its_status(app, editor):
    members = store(app)
    live, _ = members.add("Live Listener", expires=datetime.now(UTC) + timedelta(days=30))
    lapsed, _ = members.add("Lapsed Listener")
    members.expire(lapsed.id)
    revoked, _ = members.add("Revoked Listener")
    members.revoke(revoked.id)
    assert 'href="/desk/members"' in editor.get("/desk/").get_data(as_text=True)
    answer = editor.get("/desk/members")
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    rows = {m.group(1): m.group(0) for m in re.finditer(r"<tr>\s*<th scope=\"row\">([^<]+?) <.*?</tr>",
                                                         answer.get_data(as_text=True), re.S)}
    assert set(rows) == {"Live Listener", "Lapsed Listener", "Revoked Listener"}
    assert f">{LIVE}<" in rows["Live Listener"] and live.expires.strftime("%Y-%m-%d") in rows["Live Listener"]
    assert f">{LAPSED}<" in rows["Lapsed Listener"]
    assert f">{REVOKED}<" in rows["Revoked Listener"]
    assert "/rotate" not in rows["Revoked Listener"]  # nothing left to do for a revoked one
    assert "/expire" not in rows["Lapsed Listener"] and "/renew" in rows["Lapsed Listener"]


def test_adding_a_member_shows_the_secret_and_feed_urls_once_and_the_feed_answers(app, editor):
    answer = editor.post("/desk/members", data={"csrf_token": token(editor, "/desk/members"),
                                                "name": "Dana Listener", "expires": ""})
    assert answer.status_code == 201
    secret = secret_of(answer)
    body = answer.get_data(as_text=True)
    for filename in ("podcast.xml", "rss.xml", "atom.xml", "feed.json"):
        assert f"http://storyfeed.test{feed_path(secret, SAMPLE, filename)}" in body
    (member,) = store(app).list_members()
    assert member.name == "Dana Listener" and member.expires is None
    assert store(app).lookup(secret).member == member  # the same store the CLI reads
    assert feed_status(app, secret) == 200
    # Never again: not on the list, nor on any other desk page.
    for path in ("/desk/members", "/desk/", "/desk/stories"):
        assert secret not in editor.get(path).get_data(as_text=True), path


def test_an_expiry_date_is_the_end_of_that_day_utc(app, editor):
    member_id, secret = add(editor, "Until May", expires="2099-05-31")
    assert store(app).get(member_id).expires == datetime(2099, 6, 1, tzinfo=UTC)
    assert feed_status(app, secret) == 200


@pytest.mark.parametrize("name, expires, reason", [
    ("", "", "printable characters"),
    ("x" * 201, "", "printable characters"),
    ("Tab\tin a name", "", "printable characters"),
    ("Fine name", "31/05/2099", "YYYY-MM-DD"),
    ("Fine name", "0001-01-01", "YYYY-MM-DD"),
])
def test_a_bad_name_or_date_is_a_422_with_the_reason_and_adds_no_one(app, editor, name, expires, reason):
    answer = editor.post("/desk/members", data={"csrf_token": token(editor, "/desk/members"),
                                                "name": name, "expires": expires})
    assert answer.status_code == 422
    body = answer.get_data(as_text=True)
    assert reason in body and 'aria-invalid="true"' in body
    assert "secret-value" not in body
    assert store(app).list_members() == []


def test_revoking_through_the_desk_makes_the_feed_answer_410(app, editor):
    member_id, secret = add(editor, "Soon Gone")
    assert feed_status(app, secret) == 200
    answer = act(editor, member_id, "revoke")
    assert answer.status_code == 303 and answer.headers["Location"] == "/desk/members"
    assert feed_status(app, secret) == 410
    page = editor.get("/desk/members").get_data(as_text=True)
    assert f"Soon Gone (#{member_id}) is revoked" in page
    assert store(app).get(member_id).status() == REVOKED


def test_rotating_shows_a_new_secret_once_and_the_old_url_answers_410(app, editor):
    member_id, old = add(editor, "Rotated Listener")
    answer = act(editor, member_id, "rotate")
    assert answer.status_code == 200 and "Location" not in answer.headers
    new = secret_of(answer)
    assert new != old
    assert feed_status(app, old) == 410
    assert feed_status(app, new) == 200
    assert new not in editor.get("/desk/members").get_data(as_text=True)


def test_expiring_then_renewing_brings_the_same_url_back(app, editor):
    member_id, secret = add(editor, "Lapsing Listener")
    assert act(editor, member_id, "expire").status_code == 303
    assert store(app).get(member_id).status() == LAPSED
    lapsed = app.test_client().get(feed_path(secret, SAMPLE, "rss.xml"))
    assert lapsed.status_code == 200 and "Your membership has lapsed" in lapsed.get_data(as_text=True)
    answer = act(editor, member_id, "renew", until="2099-12-31")
    assert answer.status_code == 303
    assert "renewed until 2100-01-01 00:00 UTC" in editor.get("/desk/members").get_data(as_text=True)
    assert store(app).get(member_id).expires == datetime(2100, 1, 1, tzinfo=UTC)
    renewed = app.test_client().get(feed_path(secret, SAMPLE, "rss.xml"))
    assert renewed.status_code == 200 and "Your membership has lapsed" not in renewed.get_data(as_text=True)
    assert act(editor, member_id, "renew").status_code == 303  # no date: no end
    assert store(app).get(member_id).expires is None


def test_members_sharing_their_secret_are_flagged_and_listed_first(app, editor):
    members = store(app)
    area = app_state(app).area(Members)
    quiet_id, _ = add(editor, "Quiet Listener")
    shared_id, _ = add(editor, "Shared Listener")
    members.record_sightings(shared_id, [(NETWORK, f"net{n}") for n in range(area.max_networks + 1)]
                             + [(APP, "one-app")])
    members.record_sightings(quiet_id, [(NETWORK, "net0"), (APP, "one-app")])
    page = editor.get("/desk/members").get_data(as_text=True)
    flagged, others = page.split('id="flagged-heading"')[1].split('id="members-heading"')
    assert "Shared Listener" in flagged and "Quiet Listener" not in flagged
    assert f"<td>{area.max_networks + 1}</td>" in flagged
    assert "Quiet Listener" in others and "Shared Listener" not in others
    # Rotating the flagged one clears its sightings: it is no longer flagged.
    act(editor, shared_id, "rotate")
    assert 'id="flagged-heading"' not in editor.get("/desk/members").get_data(as_text=True)


@pytest.mark.parametrize("member_id, status", [("999", 404), ("abc", 404), ("0", 404),
                                               ("99999999999999999999", 404)])
def test_an_unknown_member_is_a_404_for_every_action(app, editor, member_id, status):
    for action in ("rotate", "revoke", "expire", "renew"):
        answer = editor.post(f"/desk/members/{member_id}/{action}",
                             data={"csrf_token": token(editor, "/desk/members")})
        assert answer.status_code == status, action
        assert answer.headers["Cache-Control"] == "no-store"


def test_a_revoked_member_cannot_be_rotated_and_a_bad_renewal_date_is_a_400(app, editor):
    member_id, _ = add(editor, "Revoked Listener")
    act(editor, member_id, "revoke")
    assert act(editor, member_id, "rotate").status_code == 400
    live_id, _ = add(editor, "Live Listener")
    assert act(editor, live_id, "renew", until="tomorrow").status_code == 400
    assert store(app).get(live_id).expires is None
