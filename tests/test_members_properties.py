"""The leak test of member feeds (docs/members.md): 1,000 members fetching in random
order, on two app instances sharing one database and one Redis, through the fast path
and through Flask alone, while members are expired, renewed, rotated and revoked.

Whatever the order: no answer holds another member's secret (nor the placeholder); no
public answer holds a member item or any secret; a revoked or rotated-away secret gets
410 and an expired one the lapsed feed, from every instance and every cache."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serving.members import Members
from serving.state import app_state
from stories.members import SECRET_PLACEHOLDER

from .conftest import make_app
from .members_support import MEMBER_MARKS, SAMPLE, TOKEN, feed_path, member_site

pytestmark = pytest.mark.slow

MEMBERS = 1000
FILENAMES = ("podcast.xml", "rss.xml", "atom.xml", "feed.json")
SECRET_IN_URL = re.compile(rb"/m/([A-Za-z0-9_-]{32})/")
NOTICE_WAIT = 3.0  # seconds a change notice may take to reach the other instance


@dataclass
class Model:
    """What each member's secrets should get."""

    secrets: list[str]
    state: list[str] = field(default_factory=list)  # per member: live, lapsed, revoked
    gone: dict[str, int] = field(default_factory=dict)  # rotated-away or revoked secret -> member

    def expected(self, member: int, secret: str) -> int:
        return 410 if secret in self.gone or self.state[member] == "revoked" else 200


@pytest.fixture(params=["on", "off"], ids=["fast-path", "flask"])
def instances(request, database_url, redis_url, tmp_path):
    prefix = f"leak-{time.monotonic_ns()}:"
    common = {"REDIS_URL": redis_url, "REDIS_PREFIX": prefix, "FAST_PATH": request.param,
              "MEMBER_MEMO_SECONDS": "3600"}
    one = member_site(database_url, tmp_path, **common)
    other = make_app(database_url, INGEST_TOKENS=TOKEN, MEDIA_DIR=app_state(one).settings["MEDIA_DIR"],
                     **common)
    store = app_state(one).area(Members).store
    secrets = [store.add(f"member {i}")[1] for i in range(MEMBERS)]
    model = Model(secrets, ["live"] * MEMBERS)
    yield (one, other), model
    for app in (one, other):
        app_state(app).store.engine.dispose()


def check_no_leak(response, secret: str, model: Model, member: int) -> None:
    """What must hold of every answer to a member URL, at every moment."""
    body = response.data
    assert SECRET_PLACEHOLDER.encode() not in body
    assert {found.decode() for found in SECRET_IN_URL.findall(body)} <= {secret}, "another's secret"
    for other in (model.secrets[member - 1], model.secrets[(member + 1) % MEMBERS]):
        if other != secret:
            assert other.encode() not in body
    assert "public" not in response.headers.get("Cache-Control", "")
    if response.status_code != 200:
        assert b"Bonus episode" not in body


def as_documented(response, secret: str, model: Model, member: int) -> bool:
    """Whether the answer is the one the member's state documents."""
    if model.expected(member, secret) == 410:
        return response.status_code == 410
    if response.status_code == 304:
        return True
    lapsed = b"Your membership has lapsed" in response.data
    member_item = b"Bonus episode for members" in response.data
    if model.state[member] == "lapsed":
        return response.status_code == 200 and lapsed and not member_item
    return response.status_code == 200 and member_item and not lapsed


def fetch(app, path: str, headers: dict | None = None):
    return app.test_client().get(path, headers={"Accept-Encoding": "identity", **(headers or {})})


steps = st.lists(st.tuples(
    st.sampled_from(["fetch", "fetch", "fetch", "conditional", "public", "expire", "renew", "rotate",
                     "revoke", "replay"]),
    # Mostly a few members, so that one is fetched again after a change to it; any of
    # the thousand now and then.
    st.one_of(st.integers(0, 7), st.integers(0, 7), st.integers(0, MEMBERS - 1)),
    st.integers(0, 1), st.sampled_from(FILENAMES),
), min_size=5, max_size=40)


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps)
def test_no_member_ever_sees_another_members_secret(instances, plan):
    apps, model = instances
    store = app_state(apps[0]).area(Members).store
    for action, member, which, filename in plan:
        app = apps[which]
        secret = model.secrets[member]
        if action in ("expire", "renew", "rotate", "revoke"):
            if model.state[member] == "revoked":
                continue
            if action == "rotate":
                model.gone[secret] = member
                model.secrets[member] = store.rotate(member + 1)
            else:
                getattr(store, action)(member + 1)
                model.state[member] = {"expire": "lapsed", "renew": "live", "revoke": "revoked"}[action]
            continue
        if action == "public":
            response = fetch(app, f"/topics/{SAMPLE}/{filename}")
            assert response.status_code == 200
            text = response.data.decode()
            assert not [mark for mark in MEMBER_MARKS if mark in text]
            assert b"/m/" not in response.data and SECRET_PLACEHOLDER not in text
            continue
        if action == "replay" and model.gone:
            # An old secret, replayed through every cache, conditional or not.
            secret, member = next(iter(model.gone.items()))
        path = feed_path(secret, filename=filename)
        headers = None
        if action == "conditional":
            first = fetch(app, path)
            headers = {"If-None-Match": first.headers.get("ETag", '"x"')}
        deadline = time.monotonic() + NOTICE_WAIT
        while True:
            response = fetch(app, path, headers)
            check_no_leak(response, secret, model, member)
            if as_documented(response, secret, model, member):
                break
            # The other instance hears of a change through Redis: a moment, never longer.
            assert time.monotonic() < deadline, (action, response.status_code, model.state[member])
            time.sleep(0.01)
