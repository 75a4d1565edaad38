"""Request headers a stranger controls (Host, X-Forwarded-*) and the response headers
that defend pages (CSP, Referrer-Policy, nosniff, HSTS behind an https proxy)."""

from __future__ import annotations

import pytest

from ..conftest import migrated_sqlite
from .conftest import build_app, dispose
from .payloads import (
    SAMPLE_AUDIO,
    SAMPLE_MEDIA,
    SAMPLE_STORY,
    SLUG,
    oembed_problems,
    url_is_safe,
)

PATHS = [
    "/", f"/topics/{SLUG}", f"/stories/{SAMPLE_STORY}", f"/player/{SAMPLE_STORY}/{SAMPLE_AUDIO}",
    "/no-such-page", f"/api/stories/{SAMPLE_STORY}", f"/topics/{SLUG}/rss.xml", "/feed.json",
    f"/oembed?url=http://storyfeed.test/stories/{SAMPLE_STORY}", f"/media/{SAMPLE_MEDIA}",
    "/openapi.json", "/healthz",
]
HTML_PATHS = PATHS[:5]
# Labels over 63 characters, and empty ones: IDNA refuses both.
LONG_LABEL_HOSTS = ["a" * 64 + ".example", "a" * 64, f"{'b' * 63}.{'c' * 64}.example:8000",
                    "." * 70]


@pytest.fixture(scope="module")
def no_site_url_app(tmp_path_factory):
    app = build_app(migrated_sqlite(tmp_path_factory.mktemp("nosite") / "n.sqlite3"),
                    SITE_URL=None)
    yield app
    dispose(app)


@pytest.mark.parametrize("host", LONG_LABEL_HOSTS, ids=lambda h: f"{len(h)}-chars")
@pytest.mark.parametrize("path", PATHS)
def test_a_host_with_a_label_over_63_characters_is_400(client, no_site_url_app, path, host):
    for each in (client, no_site_url_app.test_client()):
        assert each.get(path, headers={"Host": host}).status_code == 400


@pytest.fixture(scope="module")
def trusted_hosts_app(tmp_path_factory):
    # As the environment gives it: a comma-separated string.
    app = build_app(migrated_sqlite(tmp_path_factory.mktemp("trusted") / "t.sqlite3"),
                    SITE_URL=None, TRUSTED_HOSTS="storyfeed.test,www.storyfeed.test",
                    PROXY_HOPS="1")
    yield app
    dispose(app)


@pytest.mark.parametrize("headers", [
    {"Host": "evil.example"},
    {"Host": "storyfeed.test.evil.example"},
    {"Host": "evil.example", "X-Forwarded-Host": "storyfeed.test"},  # the proxy says evil
    {"Host": "storyfeed.test", "X-Forwarded-Host": "evil.example"},
    {"Host": "storyfeed.test:abc"},
    {"Host": "[::1"},
    {"Host": "storyfeed.test@evil.example"},
], ids=["other", "suffix", "proxy-host-trusted-but-host-not", "forwarded-evil", "bad-port",
        "bad-ipv6", "userinfo"])
@pytest.mark.parametrize("path", PATHS)
def test_a_host_not_trusted_is_400(trusted_hosts_app, path, headers):
    client = trusted_hosts_app.test_client()
    expected = 400
    if headers.get("X-Forwarded-Host") == "storyfeed.test":
        expected = 200 if path != "/no-such-page" else 404  # behind the proxy, its host counts
    if path in ("/healthz", "/readyz", "/livez"):
        expected = 200  # platforms probe with their own Host; the answer holds no URL
    assert client.get(path, headers=headers).status_code == expected


@pytest.mark.parametrize("host", ["storyfeed.test", "www.storyfeed.test", "storyfeed.test:443"])
def test_a_trusted_host_is_served(trusted_hosts_app, host):
    client = trusted_hosts_app.test_client()
    assert client.get(f"/stories/{SAMPLE_STORY}", headers={"Host": host}).status_code == 200


@pytest.fixture(scope="module")
def proxied_app(tmp_path_factory):
    app = build_app(migrated_sqlite(tmp_path_factory.mktemp("proxied") / "p.sqlite3"),
                    SITE_URL=None, PROXY_HOPS="1")
    yield app
    dispose(app)


@pytest.mark.parametrize("proto", ["javascript", "data", "file", "vbscript", "http, javascript",
                                   "ht tp", "jAvAsCrIpT", "https\x00"])
def test_only_http_and_https_are_taken_from_x_forwarded_proto(proxied_app, proto):
    client = proxied_app.test_client()
    headers = {"Host": "storyfeed.test", "X-Forwarded-Proto": proto}
    oembed = client.get(f"/oembed?url=http://storyfeed.test/stories/{SAMPLE_STORY}",
                        headers=headers)
    assert oembed.status_code in (200, 400, 404)
    if oembed.status_code == 200:
        assert oembed_problems(oembed.get_json()) == []
    rss = client.get(f"/topics/{SLUG}/rss.xml", headers=headers)
    assert rss.status_code in (200, 400)
    if rss.status_code == 200:
        assert b"javascript:" not in rss.get_data().lower()
        assert b"file:" not in rss.get_data() and b"data:" not in rss.get_data()
    page = client.get(f"/stories/{SAMPLE_STORY}", headers=headers)
    assert page.status_code in (200, 400)
    if page.status_code == 200:
        assert b"javascript:" not in page.get_data().lower()


@pytest.mark.parametrize("path", HTML_PATHS)
def test_pages_forbid_scripts_from_elsewhere(client, path):
    policy = client.get(path).headers.get("Content-Security-Policy", "")
    directives = {d.strip().split(" ")[0]: d.strip() for d in policy.split(";") if d.strip()}
    source = directives.get("script-src") or directives.get("default-src")
    assert source, f"{path}: no script-src in {policy!r}"
    assert "'unsafe-inline'" not in source and "*" not in source.split()
    if path.startswith("/player/"):
        # The embeddable player is framed by any site: no frame-ancestors limit.
        assert directives.get("frame-ancestors", "frame-ancestors *") == "frame-ancestors *"
    else:
        assert "frame-ancestors" in directives
    assert "object-src" in directives or "'none'" in directives.get("default-src", "")
    assert directives.get("base-uri") in ("base-uri 'self'", "base-uri 'none'")


@pytest.mark.parametrize("path", HTML_PATHS)
def test_pages_set_a_referrer_policy(client, path):
    assert client.get(path).headers.get("Referrer-Policy") in (
        "no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin")


@pytest.mark.parametrize("path", PATHS)
def test_every_answer_says_nosniff(client, path):
    assert client.get(path).headers.get("X-Content-Type-Options") == "nosniff"


@pytest.mark.parametrize("path", PATHS)
def test_hsts_behind_an_https_proxy_only(proxied_app, path):
    client = proxied_app.test_client()
    secure = client.get(path, headers={"Host": "storyfeed.test", "X-Forwarded-Proto": "https"})
    plain = client.get(path, headers={"Host": "storyfeed.test", "X-Forwarded-Proto": "http"})
    assert "max-age=" in secure.headers.get("Strict-Transport-Security", "")
    assert "Strict-Transport-Security" not in plain.headers


def test_links_on_the_default_host_are_http(no_site_url_app):
    response = no_site_url_app.test_client().get(
        f"/oembed?url=http://localhost/stories/{SAMPLE_STORY}")
    assert response.status_code == 200
    assert all(url_is_safe(response.get_json()[k]) for k in ("author_url", "provider_url"))


PUNYCODE_HOSTS = ["xn--80ak6aa92e.com", "xn--bcher-kva.example:8000", "www.xn--mnchen-3ya.de"]


@pytest.mark.parametrize("host", PUNYCODE_HOSTS)
@pytest.mark.parametrize("path", PATHS)
def test_every_header_is_ascii_for_a_punycode_host(no_site_url_app, path, host):
    """gunicorn refuses a non-ASCII header with its bare 500: the Link header of a story
    page once carried the host decoded to Unicode."""
    answer = no_site_url_app.test_client().get(path, headers={"Host": host})
    assert answer.status_code < 500, path
    for name, value in answer.headers.items():
        assert value.isascii(), f"{name}: {value!r}"
    if answer.mimetype == "text/html" and answer.status_code == 200:
        assert host.split(":")[0] in answer.get_data(as_text=True)
