"""oEmbed responses (oembed.com, version 1.0) for stored audio and pasted player snippets.

Everything here takes records, a `serving.links.Links` and the provider registry, and returns
dicts or bytes; the blueprint only maps `OEmbedError.status` to HTTP. What real consumers
need shaped the rules (see the README): integer `width`/`height` in the JSON while the
iframe itself says `width="100%"`; `type: "link"` rather than a frame taller than
`maxheight`; the thumbnail trio complete or absent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction
from math import floor
from typing import Any
from urllib.parse import urlencode, urlsplit

from lxml import etree
from markupsafe import Markup

from serving.links import Links
from stories import errors
from stories.errors import InvalidInput, NotAllowed, StoryfeedError
from stories.model import Audio, Story

from .providers import ProviderRegistry, UrlMatch, iter_forms
from .snippets import (
    MAX_URL,
    PlayerOptions,
    PlayerRef,
    SnippetRefused,
    parse_player_snippet,
    parse_player_url,
    render_embed_html,
)

VERSION = "1.0"
DEFAULT_WIDTH = 600
MAX_WIDTH = 800
FORMATS = ("json", "xml")
CONTENT_TYPES = {"json": "application/json", "xml": "text/xml; charset=utf-8"}
DISCOVERY_TYPES = {"json": "application/json+oembed", "xml": "text/xml+oembed"}

FindStory = Callable[[str], "Story | None"]


@dataclass(frozen=True)
class OEmbedSettings:
    provider_name: str
    provider_url: str
    cache_age: int  # seconds; also the Cache-Control max-age of responses


class OEmbedError(StoryfeedError):
    """An answer the oEmbed spec gives a status for; `message` never repeats the input."""

    status: int | None = 500

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


class UrlInvalid(OEmbedError, InvalidInput):
    status = 400


class NotFound(OEmbedError, errors.NotFound):
    status = 404


class NotEmbeddable(OEmbedError, NotAllowed):
    status = 401


class FormatNotSupported(OEmbedError, InvalidInput):
    status = 501


def check_format(value: str | None) -> str:
    fmt = (value or "json").lower()
    if fmt not in FORMATS:
        raise FormatNotSupported("format must be json or xml")
    return fmt


def match_oembed_url(url: str | None, registry: ProviderRegistry) -> UrlMatch:
    """What `url` names: 400 when it is missing or not an http(s) URL, 404 when unknown."""
    if not url:
        raise UrlInvalid("the url parameter is required")
    try:
        parts = urlsplit(url)
    except ValueError:  # an unbalanced IPv6 bracket, as in "https://[host/"
        raise UrlInvalid("url has an invalid host (an unclosed or stray [ ])") from None
    if len(url) > MAX_URL or parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise UrlInvalid(f"url must be an absolute http(s) URL of at most {MAX_URL} characters")
    try:
        return parse_player_url(url, registry, players_only=False)
    except SnippetRefused as exc:
        raise NotFound(f"storyfeed has no embed for this URL: {exc.reason}") from None


def recorded_player(audio: Audio, registry: ProviderRegistry) -> PlayerRef | None:
    """The player the record's own snippet names, when the registry knows it."""
    if not audio.embed:
        return None
    try:
        return parse_player_snippet(audio.embed, registry)
    except SnippetRefused:
        return None


def player_for_audio(story: Story, audio: Audio, registry: ProviderRegistry, *,
                     prefer_own: bool, options: PlayerOptions | None = None) -> PlayerRef | None:
    """storyfeed's player (it needs an audio file) or the recorded one, in preferred order.

    `options` (theme, start) go to storyfeed's player, the start only within the audio."""
    own = registry.own
    options = (options or PlayerOptions()).within(audio.duration)
    own_ref = (PlayerRef(UrlMatch(own, story.id, audio.id), options=options)
               if own and audio.url else None)
    recorded = recorded_player(audio, registry)
    order = (own_ref, recorded) if prefer_own else (recorded, own_ref)
    return next((p for p in order if p is not None), None)


def embed_iframe(story: Story, audio: Audio, registry: ProviderRegistry, links: Links) -> Markup | None:
    """The embed code pages offer: the `html` oEmbed gives for the audio's player page."""
    if not audio.embeddable:
        return None
    player = player_for_audio(story, audio, registry, prefer_own=True)
    if player is None:
        return None
    return render_embed_html(player, player.clamped_height, story.title, links.story(story.id))


def fit_within(width: int, height: int, maxwidth: int | None,
               maxheight: int | None) -> tuple[int, int]:
    """Scaled down (never up) to fit, keeping the aspect ratio; at least 1x1."""
    scale = Fraction(1)
    if maxwidth:
        scale = min(scale, Fraction(maxwidth, width))
    if maxheight:
        scale = min(scale, Fraction(maxheight, height))
    return max(1, floor(width * scale)), max(1, floor(height * scale))


def build_oembed_response(*, title: str, story: Story | None, player: PlayerRef | None,
                          links: Links, settings: OEmbedSettings,
                          maxwidth: int | None = None, maxheight: int | None = None) -> dict[str, Any]:
    """A rich response with one rebuilt iframe, or `link` when no player fits maxheight."""
    response: dict[str, Any] = {}
    fits = player is not None and (maxheight is None or maxheight >= player.provider.height.min)
    if fits:
        assert player is not None
        height = player.clamped_height
        if maxheight is not None:
            height = min(height, maxheight)
        response.update(
            type="rich",
            version=VERSION,
            html=str(render_embed_html(player, height, title, links.story(story.id) if story else "")),
            width=min(maxwidth or DEFAULT_WIDTH, MAX_WIDTH),
            height=height,
        )
    else:
        response.update(type="link", version=VERSION)
    response["title"] = title
    if story is not None:
        if story.bylines:
            response["author_name"] = ", ".join(story.bylines)
        response["author_url"] = links.story(story.id)
    response.update(
        provider_name=settings.provider_name,
        provider_url=settings.provider_url,
        cache_age=settings.cache_age,
    )
    image = story.image if story is not None else None
    thumbnail_url = links.media(image.url) if image is not None else ""
    if image is not None and image.width and image.height and thumbnail_url:
        width, height = fit_within(image.width, image.height, maxwidth, maxheight)
        response.update(
            thumbnail_url=thumbnail_url, thumbnail_width=width, thumbnail_height=height
        )
    return response


def audio_for_match(match: UrlMatch, story: Story) -> Audio | None:
    """The audio a URL names: a player's own, or a story page's first embeddable one."""
    if match.is_player:
        return story.find_audio(match.audio_id or "")
    return story.embeddable_audio[0] if story.embeddable_audio else None


def options_for_match(match: UrlMatch, options: PlayerOptions, find_story: FindStory) -> PlayerOptions:
    """`options` as the answer for `match` will use them: a start only within the audio's
    duration. The story is read only when a start is given, the rare case."""
    if options.start is None:
        return options
    story = find_story(match.story_id)
    audio = audio_for_match(match, story) if story is not None else None
    return options.within(audio.duration if audio is not None else None)


def oembed_for_match(match: UrlMatch, find_story: FindStory, *, registry: ProviderRegistry,
                     links: Links, settings: OEmbedSettings, maxwidth: int | None = None,
                     maxheight: int | None = None, options: PlayerOptions | None = None) -> dict[str, Any]:
    """The response for what a story page or player URL (storyfeed's, or a provider's)
    names (`match_oembed_url`): it depends on the match and the player options (theme,
    start), not on how the URL was spelled."""
    story = find_story(match.story_id)
    if story is None:
        raise NotFound("storyfeed holds no story with this id")
    audio = audio_for_match(match, story)
    if match.is_player:
        if audio is None:
            raise NotFound("the story has no audio with this id")
        _check_embeddable(audio)
        if match.provider.own:
            player = player_for_audio(story, audio, registry, prefer_own=True, options=options)
        else:
            recorded = recorded_player(audio, registry)
            player = recorded if recorded is not None and recorded.match == match else PlayerRef(match)
    elif not story.audio:
        player = None  # a story without audio is still a link
    else:
        if audio is None:
            raise NotEmbeddable("the publisher does not allow this story's audio to be embedded")
        player = player_for_audio(story, audio, registry, prefer_own=match.provider.own,
                                  options=options)
    return build_oembed_response(title=story.title, story=story, player=player, links=links,
                                 settings=settings, maxwidth=maxwidth, maxheight=maxheight)


def oembed_for_snippet(snippet: str, find_story: FindStory, *, registry: ProviderRegistry,
                       links: Links, settings: OEmbedSettings, maxwidth: int | None = None,
                       maxheight: int | None = None) -> dict[str, Any]:
    """The response for a pasted snippet; SnippetRefused says why one is not embeddable.

    A player of audio storyfeed does not hold still converts, titled by the snippet."""
    player = parse_player_snippet(snippet, registry)
    story = find_story(player.story_id)
    audio = story.find_audio(player.audio_id) if story is not None else None
    if story is None or audio is None:
        if player.provider.own:
            raise NotFound("storyfeed holds no audio with these ids")
        title = player.title or player.provider.iframe_title
        return build_oembed_response(title=title, story=None, player=player, links=links,
                                     settings=settings, maxwidth=maxwidth, maxheight=maxheight)
    _check_embeddable(audio)
    if player.provider.own and not audio.url:
        raise NotFound("storyfeed's player has no audio file to play for this audio")
    player = replace(player, options=player.options.within(audio.duration))
    return build_oembed_response(title=story.title, story=story, player=player, links=links,
                                 settings=settings, maxwidth=maxwidth, maxheight=maxheight)


def _check_embeddable(audio: Audio) -> None:
    if not audio.embeddable:
        raise NotEmbeddable("the publisher does not allow this audio to be embedded")


def oembed_to_json(response: dict[str, Any] | list[dict[str, Any]]) -> bytes:
    return json.dumps(response, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def oembed_to_xml(response: dict[str, Any]) -> bytes:
    """`<oembed>` with one child per field, values escaped by lxml; no DOCTYPE."""
    root = etree.Element("oembed")
    for key, value in response.items():
        etree.SubElement(root, key).text = str(value)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def render_oembed(response: dict[str, Any], fmt: str) -> bytes:
    return oembed_to_xml(response) if fmt == "xml" else oembed_to_json(response)


def discovery_links(page_url: str, endpoint_url: str) -> list[tuple[str, str]]:
    """(type, href) of the JSON then the XML discovery link for a page (PyEmbed takes the first)."""
    return [
        (DISCOVERY_TYPES[fmt], f"{endpoint_url}?{urlencode({'url': page_url, 'format': fmt})}")
        for fmt in FORMATS
    ]


def registry_entry(registry: ProviderRegistry, *, endpoint_url: str, provider_name: str,
                   provider_url: str) -> list[dict[str, Any]]:
    """storyfeed's entry in the oembed.com providers.json format (a list of one provider).

    Every accepted URL form of every provider, for http and https, since registry schemes
    may not wildcard the URL scheme."""
    schemes = [
        f"{scheme}://{host}{form.scheme_pattern()}"
        for provider in registry.providers
        for host in sorted(provider.hosts)
        for form in iter_forms(provider)
        for scheme in ("http", "https")
    ]
    return [{
        "provider_name": provider_name,
        "provider_url": provider_url,
        "endpoints": [{
            "schemes": schemes,
            "url": endpoint_url,
            "discovery": True,
            "formats": list(FORMATS),
        }],
    }]
