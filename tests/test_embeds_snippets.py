"""Player snippets: every pasted variant becomes one canonical iframe; hostile ones are refused."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

from embeds.providers import (
    ProviderConfigInvalid,
    load_providers,
    registry_for_site,
)
from embeds.snippets import (
    MAX_SNIPPET,
    SnippetRefused,
    parse_player_snippet,
    rewrite_player_snippet,
)

from .conftest import FIXTURES

SITE = "http://storyfeed.test/"
REGISTRY = registry_for_site(load_providers(), SITE)

NPR_TITLE = "NPR embedded audio player"


def npr(story_id: str, audio_id: str, height: int = 290, title: str = NPR_TITLE) -> str:
    return (
        f'<iframe src="https://www.npr.org/player/embed/{story_id}/{audio_id}" width="100%" '
        f'height="{height}" frameborder="0" scrolling="no" title="{title}"></iframe>'
    )


# The seven snippets exactly as the seed page shows them (unterminated <iframe ...>).
SEED_SNIPPETS = [
    ('<iframe src="https://www.npr.org/player/embed/1169464713/1169825816" width="100%" height="290" frameborder="0" scrolling="no" title="NPR embedded audio player">',
     npr("1169464713", "1169825816")),
    ('<iframe src="https://www.npr.org/player/embed/1022642030/1022642033" width="100%" height="290" frameborder="0" scrolling="no" title="NPR embedded audio player">',
     npr("1022642030", "1022642033")),
    ('<iframe src="https://www.npr.org/player/embed/761156048/761217553" width="100%" height="290" frameborder="0" scrolling="no" title="NPR embedded audio player">',
     npr("761156048", "761217553")),
    ('<iframe src="https://www.npr.org/player/embed/708718922/710257409" width="100%" height="290" frameborder="0" scrolling="no" title="NPR embedded audio player">',
     npr("708718922", "710257409")),
    ('<iframe src="https://www.npr.org/player/embed/607375723/607483549" width="100%" height="290" frameborder="0" scrolling="no" title="NPR embedded audio player">',
     npr("607375723", "607483549")),
    ('<iframe src="https://www.npr.org/player/embed/528615440/530257552" width="100%" height="290" frameborder="0" scrolling="no" title="NPR embedded audio player">',
     npr("528615440", "530257552")),
    ('<iframe src="https://www.npr.org/player/embed/511745886/511851779" width="100%" height="290" frameborder="0" scrolling="no" title="NPR embedded audio player">',
     npr("511745886", "511851779")),
]

S, A = "1169464713", "1169825816"
CANON = npr(S, A)

VARIANTS = [
    # closed and unclosed
    (f'<iframe src="https://www.npr.org/player/embed/{S}/{A}" width="100%" height="290" frameborder="0" scrolling="no" title="NPR embedded audio player"></iframe>', CANON),
    (f'<iframe src="https://www.npr.org/player/embed/{S}/{A}" />', CANON),
    # quoting
    (f"<iframe src='https://www.npr.org/player/embed/{S}/{A}' width='100%' height='290' title='NPR embedded audio player'>", CANON),
    (f"<iframe src=https://www.npr.org/player/embed/{S}/{A} width=100% height=290 frameborder=0 scrolling=no title=NPR>", npr(S, A, title="NPR")),
    # case, attribute order, extra attributes, line breaks inside the tag
    (f'<IFRAME SRC="https://www.npr.org/player/embed/{S}/{A}" HEIGHT="290" TITLE="NPR embedded audio player">', CANON),
    (f'<iframe\n  title="NPR embedded audio player"\n  scrolling="no" class="npr" id="p1"\n  allow="autoplay" loading="lazy" style="border:0"\n  height="290" src="https://www.npr.org/player/embed/{S}/{A}">', CANON),
    (f'<iframe src="HTTPS://WWW.NPR.ORG/player/embed/{S}/{A}">', CANON),
    # http: and protocol-relative sources, bare npr.org, explicit default port, trailing slash
    (f'<iframe src="http://www.npr.org/player/embed/{S}/{A}" height="290">', CANON),
    (f'<iframe src="//www.npr.org/player/embed/{S}/{A}" height="290">', CANON),
    (f'<iframe src="https://npr.org/player/embed/{S}/{A}">', CANON),
    (f'<iframe src="https://www.npr.org:443/player/embed/{S}/{A}/">', CANON),
    (f'<iframe src="https://www.npr.org/player/embed/{S}/{A}?autoplay=true#t=30">', CANON),
    # surrounding text and markup
    (f'<p>Listen:</p>\n<iframe src="https://www.npr.org/player/embed/{S}/{A}" height="290"></iframe>\n<p>More below.</p>', CANON),
    # bare player URLs, current and legacy
    (f"https://www.npr.org/player/embed/{S}/{A}", CANON),
    (f"  //www.npr.org/player/embed/{S}/{A}\n", CANON),
    (f"http://www.npr.org/player/v2/mediaPlayer.html?action=1&t=1&islist=false&id={S}&m={A}", CANON),
    (f"http://www.npr.org/v2/?i={S}&m={A}&t=audio", CANON),
    (f"http://www.npr.org/v2?i={S}&m={A}&t=audio", CANON),
    # legacy forms inside an iframe, with &amp; as HTML writes it
    (f'<iframe src="http://www.npr.org/player/v2/mediaPlayer.html?action=1&amp;t=1&amp;islist=false&amp;id={S}&amp;m={A}" width="100%" height="290">', CANON),
    (f'<iframe src="http://www.npr.org/v2/?i={S}&amp;m={A}&amp;t=audio">', CANON),
    # new-style ids
    ('<iframe src="https://www.npr.org/player/embed/nx-s1-5978614/nx-s1-9012345" width="100%" height="290" frameborder="0" scrolling="no" title="NPR embedded audio player">',
     npr("nx-s1-5978614", "nx-s1-9012345")),
    ("http://www.npr.org/player/v2/mediaPlayer.html?id=nx-s1-5978614&m=nx-s1-9012345",
     npr("nx-s1-5978614", "nx-s1-9012345")),
    # heights: kept within NPR's 200-290, default for percentages and junk
    (f'<iframe src="https://www.npr.org/player/embed/{S}/{A}" height="200">', npr(S, A, 200)),
    (f'<iframe src="https://www.npr.org/player/embed/{S}/{A}" height="120">', npr(S, A, 200)),
    (f'<iframe src="https://www.npr.org/player/embed/{S}/{A}" height="900">', npr(S, A, 290)),
    (f'<iframe src="https://www.npr.org/player/embed/{S}/{A}" height="250px">', npr(S, A, 250)),
    (f'<iframe src="https://www.npr.org/player/embed/{S}/{A}" height="100%">', CANON),
    # storyfeed's own player
    ('<iframe src="http://storyfeed.test/player/1001/2001" height="120" title="Our player">',
     '<iframe src="http://storyfeed.test/player/1001/2001" width="100%" height="120" '
     'frameborder="0" scrolling="no" title="Our player"></iframe>'),
    ("https://storyfeed.test/player/1001/2001",
     '<iframe src="http://storyfeed.test/player/1001/2001" width="100%" height="180" '
     'frameborder="0" scrolling="no" title="storyfeed audio player"></iframe>'),
]

# Accepted, but nothing hostile survives: the iframe is rebuilt from the ids alone.
REBUILT = [
    (f'<iframe src="https://www.npr.org/player/embed/{S}/{A}" onload="alert(1)" onerror=alert(2) '
     f'style="position:fixed" sandbox="" allow="camera" title="NPR embedded audio player">', CANON),
    (f'<iframe src="https://www.npr.org/player/embed/{S}/{A}" height="290 onload=alert(1)">', CANON),
    (f'<iframe src="https://www.npr.org/player/embed/{S}/{A}" title=\'"><script>alert(1)</script>\'>',
     npr(S, A, title="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;")),
    (f'<iframe src="https://www.npr.org/player/embed/{S}/{A}" src="https://evil.example/">', CANON),
]

HOSTILE = [
    ('<iframe src="https://evil.example/player/embed/1/2">', "unknown host"),
    ('<iframe src="https://www.npr.org.evil.example/player/embed/1/2">', "look-alike host"),
    ("https://evilnpr.org/player/embed/1/2", "look-alike host"),
    ("https://www.n\u0440r.org/player/embed/1/2", "unknown host"),  # Cyrillic "р"
    ("https://www.npr.org@evil.example/player/embed/1/2", "user name"),
    ("https://evil.example\\@www.npr.org/player/embed/1/2", "backslashes"),
    ("https://www.npr.org:8443/player/embed/1/2", "port"),
    ('<iframe src="javascript:alert(1)">', "javascript: URLs are not players"),
    ('<iframe src="java&#x73;cript:alert(1)">', "javascript: URLs are not players"),
    ('<iframe src=" JaVaScRiPt:alert(1)">', "javascript: URLs are not players"),
    ('<iframe src="java\tscript:alert(1)">', "javascript: URLs are not players"),
    ('<iframe src="data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;">', "data: URLs are not players"),
    ("ftp://www.npr.org/player/embed/1/2", "ftp: URLs"),
    ('<iframe srcdoc="<script>alert(1)</script>" src="https://www.npr.org/player/embed/1/2">', "srcdoc"),
    ("<iframe>", "no src"),
    ('<iframe src="">', "no src"),
    ("<p>Listen to the story</p>", "no iframe found"),
    ("Listen: https://www.npr.org/player/embed/1/2", "no iframe found"),
    ('<!-- <iframe src="https://www.npr.org/player/embed/1/2"> -->', "no iframe found"),
    ('<script>document.write(\'<iframe src="https://www.npr.org/player/embed/1/2">\')</script>', "no iframe found"),
    ('"><script>alert(1)</script>', "no iframe found"),
    ('<iframe src="https://www.npr.org/player/embed/1/2"><iframe src="https://www.npr.org/player/embed/3/4">', "more than one iframe"),
    ("/player/embed/1/2", "not absolute"),
    ("https:/www.npr.org/player/embed/1/2", "no host"),
    ("https://www.npr.org/player/embed/ABC/1", "not a player URL"),
    ("https://www.npr.org/player/embed/1/2/3", "not a player URL"),
    ("https://www.npr.org/player/embed/1", "not a player URL"),
    ("https://www.npr.org/player/embed/1%2F..%2F/2", "not a player URL"),
    ("https://www.npr.org/evil/player/embed/1/2", "not a player URL"),
    ("http://www.npr.org/player/v2/mediaPlayer.html?id=1&id=9&m=2", "not a player URL"),
    ("http://www.npr.org/v2/?i=1&m=2&t=video", "not a player URL"),
    ("https://www.npr.org/2023/04/06/1169464713/north-korean-defectors", "not a player URL"),
    ("", "empty"),
    ("   \n ", "empty"),
    ('<iframe src="https://www.npr.org/player/embed/1/2">' + " " * (1024 * 1024), "longer than"),
]


def test_the_seed_snippets_are_quoted_exactly():
    text = (FIXTURES / "npr_topic_page_seed.txt").read_text(encoding="utf-8")
    for snippet, _ in SEED_SNIPPETS:
        assert snippet in text
    assert text.count("<iframe") == len(SEED_SNIPPETS)


def test_the_table_is_large_enough():
    assert len(SEED_SNIPPETS) + len(VARIANTS) >= 25


@pytest.mark.parametrize("snippet,expected", SEED_SNIPPETS + VARIANTS + REBUILT)
def test_snippet_becomes_canonical_iframe(snippet, expected):
    assert str(rewrite_player_snippet(snippet, REGISTRY)) == expected


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


@pytest.mark.parametrize("snippet,_", SEED_SNIPPETS + VARIANTS + REBUILT)
def test_output_keeps_only_the_attributes_wordpress_keeps(snippet, _):
    out = str(rewrite_player_snippet(snippet, REGISTRY))
    parser = _Tags()
    parser.feed(out)
    assert [t for t, _ in parser.tags] == ["iframe"]
    attrs = parser.tags[0][1]
    assert set(attrs) == {"src", "width", "height", "frameborder", "scrolling", "title"}
    assert attrs["width"] == "100%" and attrs["height"].isdigit()
    assert attrs["frameborder"] == "0" and attrs["scrolling"] == "no"
    # Rewriting the output again changes nothing: it is already canonical.
    assert str(rewrite_player_snippet(out, REGISTRY)) == out


@pytest.mark.parametrize("snippet,_", SEED_SNIPPETS + VARIANTS[:20])
def test_npr_players_are_rebuilt_on_https(snippet, _):
    ref = parse_player_snippet(snippet, REGISTRY)
    assert ref.provider.name == "NPR"
    assert ref.src.startswith("https://www.npr.org/player/embed/")


@pytest.mark.parametrize("snippet,reason", HOSTILE)
def test_hostile_snippets_are_refused_with_a_reason(snippet, reason):
    with pytest.raises(SnippetRefused) as refused:
        rewrite_player_snippet(snippet, REGISTRY)
    assert reason in refused.value.reason
    assert str(refused.value).startswith("snippet refused: ")
    # Reasons never repeat the input, since they reach error responses.
    assert "evil" not in refused.value.reason and "<script" not in refused.value.reason


def test_a_megabyte_snippet_is_refused_before_parsing():
    huge = "<p>" + "a" * (1024 * 1024)
    with pytest.raises(SnippetRefused, match=str(MAX_SNIPPET)):
        parse_player_snippet(huge, REGISTRY)


def test_snippet_keeps_its_height_and_title_for_the_caller():
    ref = parse_player_snippet(
        f'<iframe src="https://www.npr.org/player/embed/{S}/{A}" height="240" title=" An  interview\x07 ">',
        REGISTRY,
    )
    assert (ref.story_id, ref.audio_id, ref.height, ref.clamped_height) == (S, A, 240, 240)
    assert ref.title == "An interview"


# -- the registry is data, extendable by configuration -----------------------------------

EXTRA = {
    "name": "Example Radio",
    "hosts": ["player.example.org"],
    "players": [
        "/embed/{story_id}/{audio_id}",
        {"path": "/old.php", "query": {"s": "{story_id}", "a": "{audio_id}"}},
    ],
    "story_pages": ["/news/{year}/{story_id}/{slug}"],
    "player_url": "https://player.example.org/embed/{story_id}/{audio_id}",
    "height": {"default": 150, "min": 100, "max": 300},
    "iframe_title": "Example Radio player",
}


def test_configured_provider_is_accepted_host_and_path_anchored(tmp_path):
    path = tmp_path / "providers.json"
    path.write_text(json.dumps([EXTRA]))
    registry = load_providers(str(path))
    out = rewrite_player_snippet('<iframe src="http://player.example.org/old.php?a=7&amp;s=x-1">', registry)
    assert str(out) == (
        '<iframe src="https://player.example.org/embed/x-1/7" width="100%" height="150" '
        'frameborder="0" scrolling="no" title="Example Radio player"></iframe>'
    )
    assert load_providers(json.dumps([EXTRA])) == registry  # inline JSON works the same
    for hostile in ("https://player.example.org.evil.example/embed/1/2",
                    "https://example.org/embed/1/2",
                    "https://player.example.org/embed/1/2/extra"):
        with pytest.raises(SnippetRefused):
            parse_player_snippet(hostile, registry)


@pytest.mark.parametrize("change,message", [
    ({"player_url": "http://player.example.org/embed/{story_id}/{audio_id}"}, "player_url: must be an https URL"),
    ({"player_url": "https://player.example.org/embed/{story_id}"}, "player_url"),
    ({"hosts": ["https://player.example.org"]}, "hosts: must be a list of lowercase host names"),
    ({"hosts": []}, "hosts"),
    ({"players": ["/embed/{story_id}"]}, "must name {audio_id} exactly once"),
    ({"players": ["/embed/{story}/{audio_id}"]}, "unknown placeholder {story}"),
    ({"players": ["embed/{story_id}/{audio_id}"]}, "path: must be a string starting with /"),
    ({"height": {"default": 50, "min": 100, "max": 300}}, "min <= default <= max"),
    ({"colour": "red"}, "unknown field 'colour'"),
    ({"hosts": ["www.npr.org"]}, "host www.npr.org already belongs to NPR"),
])
def test_bad_provider_configuration_says_where_and_why(change, message):
    with pytest.raises(ProviderConfigInvalid) as bad:
        load_providers([{**EXTRA, **change}])
    assert message in str(bad.value)
    if "already belongs" not in message:
        assert str(bad.value).startswith("PLAYER_PROVIDERS entry 1")


def test_bad_provider_setting_stops_the_app(sqlite_url):
    from .conftest import make_app

    with pytest.raises(ProviderConfigInvalid, match="not valid JSON"):
        make_app(sqlite_url, PLAYER_PROVIDERS="[{oops")


def test_storyfeeds_own_player_lives_under_the_site_path():
    registry = registry_for_site(load_providers(), "https://example.org/sf/")
    ref = parse_player_snippet("http://example.org/sf/player/1001/2001", registry)
    assert ref.provider.own and ref.src == "https://example.org/sf/player/1001/2001"
    for elsewhere in ("https://example.org/player/1001/2001", "https://example.org:8443/sf/player/1/2"):
        with pytest.raises(SnippetRefused):
            parse_player_snippet(elsewhere, registry)
