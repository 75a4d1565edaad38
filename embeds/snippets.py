"""Player snippets as publishers paste them, read with an HTML parser and rebuilt.

`parse_player_snippet` takes an `<iframe ...>` snippet (closed or not, any quoting, case,
attribute order, surrounding markup) or a bare player URL and returns a `PlayerRef`:
which provider, which story and audio, and the snippet's height and title. Nothing of the
input is passed on: `render_player_iframe` builds a new iframe with only the attributes
WordPress keeps for untrusted providers, every value escaped by markupsafe.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urlsplit

from markupsafe import Markup

from stories.errors import InvalidInput
from stories.validate import XML_ILLEGAL_RE

from .providers import PlayerProvider, ProviderRegistry, UrlMatch

MAX_SNIPPET = 65_536  # the same bound the record validator puts on `audio[].embed`
MAX_URL = 2_000
MAX_TITLE = 300
_HEIGHT_RE = re.compile(r"\s*([0-9]{1,5})\s*(px)?\s*")
# WHATWG URL parsing drops these anywhere in a URL, so "java\nscript:" is "javascript:".
_URL_IGNORED_RE = re.compile("[\t\n\r]")
_SCHEME_RE = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*):")
# The themes storyfeed's player has besides following the reader's system ("auto").
THEMES = ("light", "dark")
# A start time in a URL fragment, as media fragments write it: `t=90`, `t=90.5`,
# `t=npt:90`, `t=1:30`, `t=0:01:30` (a `,end` after it is ignored). WordPress appends
# `#?secret=...` to the src, so the time may be followed by more of the fragment.
_START_RE = re.compile(
    r"(?:^|[&?#])t=(?:npt:)?(?:([0-9]{1,2}):)??(?:([0-9]{1,2}):)?([0-9]{1,6})(?:\.[0-9]*)?(?=$|[,&#])"
)


@dataclass(frozen=True)
class PlayerOptions:
    """What storyfeed's own player takes besides its ids: `?theme=` and `#t=` (seconds).

    Only a theme of `THEMES` and a whole number of seconds are kept, so that answers
    (and the cache keys naming them) come in a bounded number of kinds.
    """

    theme: str | None = None
    start: int | None = None

    def applied_to(self, src: str) -> str:
        if self.theme:
            src += "?" + urlencode({"theme": self.theme})
        if self.start:
            src += f"#t={self.start}"
        return src

    def within(self, duration: int | None) -> PlayerOptions:
        """The start kept only from 1 s to the audio's duration (dropped when unknown)."""
        keep = self.start is not None and duration is not None and 1 <= self.start <= duration
        return replace(self, start=self.start if keep else None)


def player_options(url: str, theme: str | None = None) -> PlayerOptions:
    """The options a pasted URL carries (its `?theme=`, its `#t=`); `theme`, given to the
    oEmbed endpoint as a provider parameter, wins over the URL's."""
    parts = urlsplit(_URL_IGNORED_RE.sub("", url or "").strip())
    if theme not in THEMES:
        given = parse_qs(parts.query).get("theme", [])
        theme = given[0] if len(given) == 1 and given[0] in THEMES else None
    found = _START_RE.search(parts.fragment)
    start = None
    if found:
        hours, minutes, seconds = (int(g) if g else 0 for g in found.groups())
        start = hours * 3600 + minutes * 60 + seconds
    return PlayerOptions(theme=theme, start=start or None)


class SnippetRefused(InvalidInput):
    """A snippet or URL storyfeed will not embed; `reason` says why, for people."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(f"snippet refused: {reason}")


@dataclass(frozen=True)
class PlayerRef:
    """A recognised player: the provider, the ids, and what the snippet said of size and title."""

    match: UrlMatch
    height: int | None = None  # the snippet's pixel height, before clamping
    title: str = ""  # the snippet's iframe title, cleaned of control characters
    options: PlayerOptions = field(default_factory=PlayerOptions)  # storyfeed's player only

    @property
    def provider(self) -> PlayerProvider:
        return self.match.provider

    @property
    def story_id(self) -> str:
        return self.match.story_id

    @property
    def audio_id(self) -> str:
        assert self.match.audio_id is not None
        return self.match.audio_id

    @property
    def src(self) -> str:
        # Other providers' players take no options of ours: theirs would be guesses.
        if self.provider.own:
            return self.options.applied_to(self.match.player_src)
        return self.match.player_src

    @property
    def clamped_height(self) -> int:
        return self.provider.height.clamp(self.height)


class _IframeCollector(HTMLParser):
    """Collects the attributes of every <iframe> start tag; ignores everything else.

    html.parser lowercases tag and attribute names, decodes character references in
    values, and treats <script>/<style> content as text, so an iframe written inside a
    script or a comment is not an iframe.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.iframes: list[list[tuple[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "iframe":
            self.iframes.append(attrs)

    handle_startendtag = handle_starttag


def _first(attrs: list[tuple[str, str | None]], name: str) -> str | None:
    # HTML keeps the first of duplicated attributes; so do we.
    for key, value in attrs:
        if key == name:
            return value if value is not None else ""
    return None


def parse_player_snippet(snippet: str, registry: ProviderRegistry) -> PlayerRef:
    """The player a pasted snippet (or bare player URL) names; SnippetRefused otherwise."""
    if not isinstance(snippet, str):
        raise SnippetRefused("the snippet must be text")
    if len(snippet) > MAX_SNIPPET:
        raise SnippetRefused(f"the snippet is longer than {MAX_SNIPPET} characters")
    text = snippet.strip()
    if not text:
        raise SnippetRefused("the snippet is empty")
    collector = _IframeCollector()
    collector.feed(text)
    collector.close()
    if not collector.iframes:
        if "<" not in text and not any(c.isspace() for c in text):
            return PlayerRef(parse_player_url(text, registry, players_only=True),
                             options=player_options(text))
        raise SnippetRefused("no iframe found (paste the whole <iframe ...> snippet or a player URL)")
    if len(collector.iframes) > 1:
        raise SnippetRefused("more than one iframe: paste one player at a time")
    attrs = collector.iframes[0]
    if _first(attrs, "srcdoc") is not None:
        raise SnippetRefused("the iframe has srcdoc: inline documents are not players")
    src = _first(attrs, "src")
    if not src:
        raise SnippetRefused("the iframe has no src")
    match = parse_player_url(src, registry, players_only=True)
    return PlayerRef(match, height=_pixel_height(_first(attrs, "height")),
                     title=clean_title(_first(attrs, "title") or ""), options=player_options(src))


def _pixel_height(value: str | None) -> int | None:
    """"290" or "290px"; anything else (percentages, junk) means the provider's default."""
    if value is None:
        return None
    found = _HEIGHT_RE.fullmatch(value)
    return int(found.group(1)) if found else None


def clean_title(value: str) -> str:
    text = " ".join(XML_ILLEGAL_RE.sub("", value).split())
    return text[:MAX_TITLE]


def parse_player_url(url: str, registry: ProviderRegistry, *, players_only: bool) -> UrlMatch:
    """The provider form a URL matches, anchored on scheme, host, port and whole path.

    `players_only` refuses story page URLs (a snippet must name a player)."""
    cleaned = _URL_IGNORED_RE.sub("", url).strip()
    if len(cleaned) > MAX_URL:
        raise SnippetRefused(f"the URL is longer than {MAX_URL} characters")
    if cleaned.startswith("//"):
        cleaned = "https:" + cleaned  # protocol-relative: players are rebuilt on https anyway
    scheme = _SCHEME_RE.match(cleaned)
    if scheme is None:
        raise SnippetRefused("the URL is not absolute (it needs https:// and a host)")
    scheme_name = scheme.group(1).lower()
    if scheme_name not in ("http", "https"):
        raise SnippetRefused(f"{scheme_name}: URLs are not players; only http(s) players are embedded")
    if "\\" in cleaned or any(c.isspace() or ord(c) < 32 for c in cleaned):
        raise SnippetRefused("the URL contains backslashes, spaces or control characters")
    try:
        parts = urlsplit(cleaned)
    except ValueError:  # an unbalanced IPv6 bracket, as in "https://[::1/"
        raise SnippetRefused("the URL has an invalid host (an unclosed or stray [ ])") from None
    if not cleaned[len(scheme.group(0)):].startswith("//"):
        raise SnippetRefused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise SnippetRefused("the URL carries a user name or password (a classic disguise)")
    try:
        port = parts.port
    except ValueError:
        raise SnippetRefused("the URL has an invalid port") from None
    hostname = parts.hostname or ""
    provider = registry.for_host(scheme_name, hostname, port)
    if provider is None:
        raise SnippetRefused(_unknown_host_reason(hostname, port, registry))
    forms = provider.players if players_only else provider.players + provider.story_pages
    for form in forms:
        values = form.match(parts.path, parts.query)
        if values is not None:
            return UrlMatch(provider, values["story_id"], values.get("audio_id"))
    what = "player" if players_only else "player or story page"
    raise SnippetRefused(f"the URL is on {provider.name}'s host but is not a {what} URL it makes")


def _unknown_host_reason(hostname: str, port: int | None, registry: ProviderRegistry) -> str:
    # Reasons name known hosts only, never the input: they end up in error responses.
    known_hosts = [known.split(":")[0] for known in registry.known_hosts()]
    if hostname in known_hosts:
        return f"{hostname} on that port is not a known player address"
    for bare in known_hosts:
        core = bare.removeprefix("www.")
        if core and core in hostname:
            return f"look-alike host: the host imitates {bare} but is another site"
    return "unknown host: not a known audio player (more can be added with PLAYER_PROVIDERS)"


def render_player_iframe(src: str, height: int, title: str) -> Markup:
    """The one iframe storyfeed hands out: fluid width, fixed pixel height, escaped values."""
    return Markup(
        '<iframe src="{}" width="100%" height="{}" frameborder="0" scrolling="no" title="{}">'
        "</iframe>"
    ).format(src, int(height), title)


def render_embed_html(player: PlayerRef, height: int, title: str, story_url: str) -> Markup:
    """The embed HTML oEmbed answers and pages hand out: the player's iframe, and for
    storyfeed's own player the `<blockquote>` WordPress's own embeds carry before it.

    WordPress loads `wp-embed.js`, which sizes the frame and opens its links, only for
    embed HTML that holds a blockquote (`wp_maybe_enqueue_oembed_host_js`); without it
    the player's messages reach nobody. WordPress hides the blockquote, a link to the
    story, once the frame speaks, and keeps the frame hidden until then: so only a player
    that speaks WordPress's messages, ours, gets one. Elsewhere it is a link to the story.
    """
    frame = render_player_iframe(player.src, height, title)
    if not player.provider.own or not story_url:
        return frame
    return Markup('<blockquote class="wp-embedded-content"><a href="{}">{}</a></blockquote>').format(
        story_url, title) + frame


def rewrite_player_snippet(snippet: str, registry: ProviderRegistry) -> Markup:
    """A pasted snippet as the one canonical iframe of its player; SnippetRefused otherwise."""
    ref = parse_player_snippet(snippet, registry)
    return render_player_iframe(ref.src, ref.clamped_height, ref.title or ref.provider.iframe_title)
