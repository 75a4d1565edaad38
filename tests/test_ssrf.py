"""The address guard against every spelling of a non-public address.

`judge_address` is what `AddressGuard.resolve` asks, and the guard runs inside urllib3's
connection (serving.outbound), on every hop and retry. The tables below go through it three
ways: the decision for each address form; the guard resolving the form as a URL host
would be resolved; and real `sync` runs against a real server on 127.0.0.1, straight at
the form and after a redirect from an allowed local source, where the server's log
proves the hostile hop never arrived. IPv6 traffic cannot be routed here, so IPv6 forms
are refused before any connection is tried (the detail says so), never by a failed
connect.
"""

from __future__ import annotations

import json

import pytest
from requests_cache.backends import SQLiteCache

from serving.outbound import AddressGuard, AddressRefused, Reach, judge_address
from sources.fetch import FetchSettings, HTTPRetriever
from sources.model import Outcome, Source
from sources.state import SourceStates
from sources.sync import Syncer
from stories.store import StoryStore

from .conftest import story_record

SETTINGS = FetchSettings(connect_timeout=2, read_timeout=2, retries=0, backoff_factor=0)
BODY = json.dumps([story_record(id="1001")])

PUBLIC, PRIVATE, NEVER = Reach.PUBLIC, Reach.PRIVATE, Reach.NEVER

# (address as a resolver gives it, how far it may be reached, the IPv4 address it carries)
ADDRESSES = [
    # plain IPv4 and IPv6
    ("127.0.0.1", PRIVATE, None),
    ("10.1.2.3", PRIVATE, None),
    ("172.16.0.1", PRIVATE, None),
    ("192.168.1.1", PRIVATE, None),
    ("100.64.0.1", PRIVATE, None),
    ("::1", PRIVATE, None),
    ("fd00::1", PRIVATE, None),
    ("fec0::1", PRIVATE, None),  # site-local (deprecated): not global, whatever Python says
    ("93.184.216.34", PUBLIC, None),
    ("8.8.8.8", PUBLIC, None),
    ("2606:4700:4700::1111", PUBLIC, None),
    # never, allow_private or not
    ("169.254.169.254", NEVER, None),
    ("169.254.0.1", NEVER, None),
    ("fe80::1", NEVER, None),
    ("fe80::1%eth0", NEVER, None),
    ("fd00:ec2::254", NEVER, None),  # AWS metadata over IPv6
    ("fd20:ce::254", NEVER, None),  # GCP metadata over IPv6
    ("100.100.100.200", NEVER, None),  # Alibaba metadata
    ("168.63.129.16", NEVER, None),  # Azure WireServer
    ("0.0.0.0", NEVER, None),
    ("::", NEVER, None),
    ("224.0.0.1", NEVER, None),
    ("ff02::1", NEVER, None),
    ("255.255.255.255", NEVER, None),
    ("240.0.0.1", NEVER, None),
    # IPv4-mapped ::ffff:a.b.c.d
    ("::ffff:127.0.0.1", PRIVATE, "127.0.0.1"),
    ("::ffff:10.0.0.1", PRIVATE, "10.0.0.1"),
    ("::ffff:169.254.169.254", NEVER, "169.254.169.254"),
    ("::ffff:8.8.8.8", PUBLIC, None),
    # IPv4-compatible ::a.b.c.d (deprecated; Python calls ::127.0.0.1 global)
    ("::127.0.0.1", PRIVATE, "127.0.0.1"),
    ("::7f00:1", PRIVATE, "127.0.0.1"),
    ("::a9fe:a9fe", NEVER, "169.254.169.254"),
    ("::c0a8:101", PRIVATE, "192.168.1.1"),
    # IPv4-translated ::ffff:0:a.b.c.d (RFC 2765)
    ("::ffff:0:7f00:1", PRIVATE, "127.0.0.1"),
    # NAT64, well-known prefix 64:ff9b::/96 (Python calls it global)
    ("64:ff9b::7f00:1", PRIVATE, "127.0.0.1"),
    ("64:ff9b::10.0.0.1", PRIVATE, "10.0.0.1"),
    ("64:ff9b::a9fe:a9fe", NEVER, "169.254.169.254"),
    ("64:ff9b::808:808", PUBLIC, None),
    # NAT64, local-use prefix 64:ff9b:1::/48: not globally reachable at all
    ("64:ff9b:1::7f00:1", PRIVATE, None),
    ("64:ff9b:1::808:808", PRIVATE, None),
    # 6to4 2002:a.b.c.d::/48
    ("2002:7f00:1::1", PRIVATE, "127.0.0.1"),
    ("2002:a00:1::", PRIVATE, "10.0.0.1"),
    ("2002:a9fe:a9fe::1", NEVER, "169.254.169.254"),
    ("2002:808:808::1", PUBLIC, None),
    # Teredo 2001::/32: server in bits 32-63, client = NOT of the last 32 bits
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", PRIVATE, "127.0.0.1"),  # client 127.0.0.1
    ("2001:0:a00:1:8000:63bf:f7f7:f7f7", PRIVATE, "10.0.0.1"),  # server 10.0.0.1
    ("2001:0:4136:e378:8000:63bf:5601:5601", NEVER, "169.254.169.254"),  # client
    ("2001:0:a9fe:a9fe:8000:63bf:f7f7:f7f7", NEVER, "169.254.169.254"),  # server
    # ISATAP interface ids ::0:5efe:a.b.c.d and ::200:5efe:a.b.c.d, under a global prefix
    ("2606:4700::5efe:7f00:1", PRIVATE, "127.0.0.1"),
    ("2606:4700::200:5efe:a00:1", PRIVATE, "10.0.0.1"),
    ("2606:4700::200:5efe:a9fe:a9fe", NEVER, "169.254.169.254"),
    ("2606:4700::5efe:808:808", PUBLIC, None),
    ("fe80::5efe:808:808", NEVER, None),
]


@pytest.mark.parametrize("address, reach, carried", ADDRESSES, ids=[a[0] for a in ADDRESSES])
def test_every_address_form_is_judged_by_where_it_leads(address, reach, carried):
    judgement = judge_address(address)
    assert judgement.reach is reach
    assert (str(judgement.carried) if judgement.carried else None) == carried


IPV6_REFUSED = [a for a, reach, _ in ADDRESSES if ":" in a and reach is not PUBLIC]


@pytest.mark.parametrize("address", IPV6_REFUSED)
def test_the_guard_refuses_ipv6_forms_and_says_what_they_carry(address):
    host = address.split("%")[0]
    with pytest.raises(AddressRefused) as refused:
        AddressGuard().resolve(host, 80)
    carried = judge_address(host).carried
    if carried is not None:
        assert f"which carries the IPv4 address {carried}" in str(refused.value)


@pytest.mark.parametrize("address", [a for a, reach, _ in ADDRESSES if reach is NEVER])
def test_nothing_allows_link_local_or_metadata_addresses(address):
    host = address.split("%")[0]
    guard = AddressGuard(private_origin=(host, 80))  # even as the source's own host
    with pytest.raises(AddressRefused, match="never allowed"):
        guard.resolve(host, 80)


@pytest.mark.parametrize("address", [a for a, reach, _ in ADDRESSES if reach is PRIVATE])
def test_a_private_address_is_allowed_only_as_the_sources_own_host(address):
    host = address.split("%")[0]
    assert AddressGuard(private_origin=(host, 80)).resolve(host, 80)
    with pytest.raises(AddressRefused, match="only for the source's own host"):
        AddressGuard(private_origin=(host, 8080)).resolve(host, 80)
    with pytest.raises(AddressRefused):
        AddressGuard(private_origin=("localhost", 80)).resolve(host, 80)


# -- real syncs against a real server on 127.0.0.1 -----------------------------------------

# How a URL can name this machine's loopback (every one reaches the test server).
LOOPBACK_HOSTS = [
    "127.0.0.1",
    "2130706433",  # decimal
    "0177.0.0.1",  # octal
    "017700000001",  # octal, one number
    "0x7f000001",  # hex
    "0x7f.0.0.1",
    "127.1",  # short forms
    "127.0.1",
    "0",  # 0.0.0.0: "this host"
    "localhost",
    "LOCALHOST",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[0:0:0:0:0:ffff:127.0.0.1]",
]
# Forms that would lead to loopback, private or metadata addresses if routed.
IPV6_HOSTS = [f"[{a}]" for a in IPV6_REFUSED if "%" not in a]
ELSEWHERE_HOSTS = ["169.254.169.254", "100.100.100.200", "10.0.0.1", "192.168.0.1"]


@pytest.fixture(scope="module")
def shared_upstream():
    from .upstream import Upstream

    server = Upstream()
    yield server
    server.close()


@pytest.fixture
def upstream(shared_upstream):
    """One real server for the module (stopping one takes half a second), emptied
    before each test."""
    with shared_upstream._lock:
        shared_upstream.routes.clear()
        shared_upstream.seen.clear()
    return shared_upstream


@pytest.fixture
def store(sqlite_url):
    store = StoryStore.from_url(sqlite_url)
    yield store
    store.engine.dispose()


@pytest.fixture
def sync(store, tmp_path):
    retriever = HTTPRetriever(SQLiteCache(db_path=str(tmp_path / "cache.sqlite3")), SETTINGS)
    syncer = Syncer(store, SourceStates(store.engine), retriever)
    yield syncer.sync
    retriever.close()


def url_at(upstream, host: str, path: str) -> str:
    return f"http://{host}:{upstream.port}{path}"


ALL_HOSTS = list(dict.fromkeys(LOOPBACK_HOSTS + IPV6_HOSTS + ELSEWHERE_HOSTS))


@pytest.mark.parametrize("host", ALL_HOSTS)
def test_a_source_naming_a_non_public_address_is_refused(sync, store, upstream, host):
    upstream.serve("/stories.json", BODY)
    report = sync(Source(name="s", url=url_at(upstream, host, "/stories.json"), kind="records"))
    assert report.outcome is Outcome.FAILED
    assert " resolves to " in report.detail, report.detail
    assert "non-public" in report.detail or "never allowed" in report.detail
    assert upstream.seen == []  # refused before connecting
    assert store.count_stories() == 0


@pytest.mark.parametrize("host", ["169.254.169.254", "100.100.100.200", "0",
                                  "[fe80::1]", "[fd00:ec2::254]", "[::ffff:169.254.169.254]",
                                  "[64:ff9b::a9fe:a9fe]"])
def test_allow_private_never_reaches_link_local_or_metadata_addresses(sync, store, upstream, host):
    report = sync(Source(name="s", url=url_at(upstream, host, "/latest/meta-data/"),
                         kind="records", allow_private=True))
    assert report.outcome is Outcome.FAILED
    assert "never allowed" in report.detail, report.detail
    assert upstream.seen == []


@pytest.mark.parametrize("host", [h for h in ALL_HOSTS if h.lower() != "localhost"])
def test_an_allowed_local_source_cannot_redirect_to_another_local_address(
        sync, store, upstream, host):
    upstream.redirect("/start.json", url_at(upstream, host, "/stories.json"), status=302)
    upstream.serve("/stories.json", BODY)
    report = sync(Source(name="dev", url=url_at(upstream, "localhost", "/start.json"),
                         kind="records", allow_private=True))
    assert report.outcome is Outcome.FAILED
    assert " resolves to " in report.detail, report.detail
    assert upstream.statuses("/start.json") == [302]  # the allowed hop was made...
    assert upstream.seen_at("/stories.json") == []  # ...the hostile one never arrived
    assert store.count_stories() == 0


def test_an_allowed_local_source_cannot_redirect_to_another_port_of_its_host(
        sync, store, upstream):
    from .upstream import Upstream

    other = Upstream()  # another local service, on another port
    try:
        other.serve("/admin", BODY)
        upstream.redirect("/start.json", url_at(other, "localhost", "/admin"), status=302)
        report = sync(Source(name="dev", url=url_at(upstream, "localhost", "/start.json"),
                             kind="records", allow_private=True))
        assert other.seen == []
    finally:
        other.close()
    assert report.outcome is Outcome.FAILED
    assert "only for the source's own host, localhost:" in report.detail


def test_an_allowed_local_source_may_redirect_to_itself(sync, store, upstream):
    upstream.redirect("/start.json", url_at(upstream, "LOCALHOST", "/stories.json"), status=302)
    upstream.serve("/stories.json", BODY)
    report = sync(Source(name="dev", url=url_at(upstream, "localhost", "/start.json"),
                         kind="records", allow_private=True))
    assert report.outcome is Outcome.FETCHED and report.added == 1
