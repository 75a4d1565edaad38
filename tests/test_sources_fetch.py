"""The address guard: only public addresses, on every hop, unless a source allows more.

Every server a test can start here listens on 127.0.0.1, a loopback address. So:
- a URL naming `localhost` (which resolves to 127.0.0.1) shows the refusal directly;
- for the redirect case, the retriever is built with `trusted_hosts={"127.0.0.1"}`, a
  test-only override that makes URLs written with the literal host 127.0.0.1 stand in
  for a public upstream; that upstream then redirects to `localhost`, which the guard
  resolves and refuses on the second hop. The server log proves the second hop's
  request never arrived.
"""

from __future__ import annotations

import json

import pytest
from requests_cache.backends import SQLiteCache

from serving.outbound import AddressGuard, AddressRefused, is_public
from sources.fetch import FetchSettings, HTTPRetriever
from sources.model import Outcome, Source
from sources.state import SourceStates
from sources.sync import Syncer
from stories.store import StoryStore

from .conftest import story_record

SETTINGS = FetchSettings(connect_timeout=2, read_timeout=1, retries=1, backoff_factor=0)
BODY = json.dumps([story_record(id="1001")])


@pytest.fixture
def store(sqlite_url):
    store = StoryStore.from_url(sqlite_url)
    yield store
    store.engine.dispose()


def syncer_for(store, tmp_path, trusted_hosts=frozenset()):
    retriever = HTTPRetriever(
        SQLiteCache(db_path=str(tmp_path / "cache.sqlite3")),
        SETTINGS,
        trusted_hosts=frozenset(trusted_hosts),
    )
    return Syncer(store, SourceStates(store.engine), retriever), retriever


@pytest.mark.parametrize(
    "address, public",
    [
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("93.184.216.34", True),
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
    ],
)
def test_public_addresses(address, public):
    assert is_public(address) is public


def test_the_guard_resolves_and_refuses_loopback():
    with pytest.raises(AddressRefused, match="localhost resolves to"):
        AddressGuard().resolve("localhost", 80)
    assert "127.0.0.1" in AddressGuard(private_origin=("localhost", 80)).resolve("localhost", 80)
    assert AddressGuard(trusted_hosts=frozenset({"127.0.0.1"})).resolve("127.0.0.1", 80) == [
        "127.0.0.1"
    ]


def test_a_source_resolving_to_a_private_address_is_refused(store, tmp_path, upstream):
    upstream.serve("/stories.json", BODY)
    syncer, retriever = syncer_for(store, tmp_path)
    src = Source(name="local", url=upstream.url("/stories.json", host="localhost"), kind="records")
    try:
        report = syncer.sync(src)
    finally:
        retriever.close()
    assert report.outcome is Outcome.FAILED
    assert report.detail.startswith("localhost resolves to 127.0.0.1, a loopback, private")
    assert upstream.seen == []  # refused before connecting
    assert store.count_stories() == 0


def test_a_redirect_to_a_private_address_is_refused(store, tmp_path, upstream):
    upstream.redirect("/start.json", upstream.url("/stories.json", host="localhost"), status=302)
    upstream.serve("/stories.json", BODY)
    syncer, retriever = syncer_for(store, tmp_path, trusted_hosts={"127.0.0.1"})
    src = Source(name="redirected", url=upstream.url("/start.json"), kind="records")
    try:
        report = syncer.sync(src)
    finally:
        retriever.close()
    assert report.outcome is Outcome.FAILED
    assert report.detail.startswith("localhost resolves to 127.0.0.1")
    assert upstream.statuses("/start.json") == [302]  # the first hop was allowed...
    assert upstream.seen_at("/stories.json") == []  # ...the second never left
    assert store.count_stories() == 0


def test_allow_private_lets_a_source_reach_local_servers(store, tmp_path, upstream):
    upstream.redirect("/start.json", upstream.url("/stories.json", host="localhost"))
    upstream.serve("/stories.json", BODY)
    syncer, retriever = syncer_for(store, tmp_path)
    src = Source(
        name="dev",
        url=upstream.url("/start.json", host="localhost"),
        kind="records",
        allow_private=True,
    )
    try:
        report = syncer.sync(src)
    finally:
        retriever.close()
    assert report.outcome is Outcome.FETCHED and report.added == 1


def test_a_refusal_is_not_covered_up_by_a_stale_copy(store, tmp_path, upstream):
    """Turning allow_private off must stop the source, not serve what it had."""
    upstream.serve("/stories.json", BODY)
    syncer, retriever = syncer_for(store, tmp_path)
    url = upstream.url("/stories.json", host="localhost")
    try:
        allowed = syncer.sync(Source(name="s", url=url, kind="records", allow_private=True))
        refused = syncer.sync(Source(name="s", url=url, kind="records", allow_private=False))
    finally:
        retriever.close()
    assert allowed.outcome is Outcome.FETCHED
    assert refused.outcome is Outcome.FAILED and "resolves to 127.0.0.1" in refused.detail


def test_one_sources_cached_copy_is_never_served_to_another(store, tmp_path, upstream):
    upstream.serve("/stories.json", BODY)
    syncer, retriever = syncer_for(store, tmp_path)
    url = upstream.url("/stories.json", host="localhost")
    try:
        syncer.sync(Source(name="allowed", url=url, kind="records", allow_private=True))
        other = syncer.sync(Source(name="other", url=url, kind="records"))
    finally:
        retriever.close()
    assert other.outcome is Outcome.FAILED


def test_requests_name_storyfeed_and_carry_the_token(store, tmp_path, upstream):
    upstream.serve("/stories.json", BODY, require_header=("Authorization", "Bearer s3cret"))
    syncer, retriever = syncer_for(store, tmp_path)
    syncer.environ = {"API_TOKEN": "s3cret"}
    src = Source(
        name="api",
        url=upstream.url("/stories.json"),
        kind="records",
        allow_private=True,
        token_env="API_TOKEN",
    )
    try:
        report = syncer.sync(src)
        syncer.environ = {}
        missing = syncer.sync(src)
    finally:
        retriever.close()
    assert report.outcome is Outcome.FETCHED
    seen = upstream.seen_at("/stories.json")[0]
    assert seen.headers["User-Agent"].startswith("storyfeed/")
    assert seen.headers["Accept"].startswith("application/json")
    assert missing.outcome is Outcome.FAILED
    assert missing.detail == "environment variable API_TOKEN (token_env) is not set"
