"""The oEmbed endpoints, snippet conversion, the provider entry and the embeddable player.

Errors of the embeds area (OEmbedError, SnippetRefused) are left to `web.errors`, which
answers each with its kind's status (or the one the oEmbed spec fixes) in JSON.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from flask import Blueprint, Flask, Response, abort, render_template, request
from markupsafe import Markup

from embeds.config import EmbedSettings
from embeds.oembed import (
    CONTENT_TYPES,
    DEFAULT_WIDTH,
    FormatNotSupported,
    check_format,
    discovery_links,
    embed_iframe,
    match_oembed_url,
    oembed_for_match,
    oembed_for_snippet,
    oembed_to_json,
    options_for_match,
    player_for_audio,
    registry_entry,
    render_oembed,
)
from embeds.player import player_page
from embeds.snippets import THEMES, PlayerOptions, player_options
from serving import fastpath
from serving.context import (
    cache_key,
    current_links,
    current_render_cache,
    current_store,
    current_version,
)
from serving.links import Links
from serving.params import parse_limit
from serving.rendered import Rendered, send_rendered
from serving.security_headers import frameable
from serving.state import app_state
from stories.model import Audio, Story

from .errors import json_errors

bp = Blueprint("embeds", __name__)

MAX_CONVERT_BODY = 64 * 1024
MAX_DIMENSION = 100_000  # a bound for parsing; sizes are clamped far below it
PLAYER_MAX_AGE = 300
DISCOVERY_ENDPOINTS = {"pages.story", "embeds.player"}
# Answers for these maxwidth/maxheight values (and for none) are kept in the render
# cache; any other value is answered exactly as asked but rendered each time, so that a
# stranger cycling through sizes cannot add a key per value.
CACHED_SIZES = frozenset(range(100, 1001, 50))
# Every query parameter an oEmbed answer reads (`oembed`, `serve_oembed`), at /oembed and
# at a story's own path: the fast path's URLs ignore the rest.
OEMBED_PARAMS = ("format", "maxheight", "maxwidth", "theme", "url")
STORY_OEMBED_PARAMS = ("maxheight", "maxwidth", "theme")


def embed_settings() -> EmbedSettings:
    return app_state().area(EmbedSettings)


def player_page_url(links: Links, story_id: str, audio_id: str) -> str:
    return links.absolute(f"player/{quote(story_id)}/{quote(audio_id)}")


def oembed_endpoint_url(links: Links) -> str:
    return links.absolute("oembed")


def _dimension(value, name: str) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if value is not None and not isinstance(value, str):
        abort(400, description=f"{name} must be a whole number from 1 to {MAX_DIMENSION}")
    return parse_limit(value, default=None, maximum=MAX_DIMENSION, name=name)


@bp.get("/oembed", defaults={"path_format": None})
@bp.get("/oembed.<path_format>")
@json_errors
def oembed(path_format: str | None):
    query_format = request.args.get("format")
    fmt = check_format(path_format or query_format)
    if path_format and query_format and query_format.lower() != fmt:
        raise FormatNotSupported(f"this endpoint answers {fmt} only")
    return serve_oembed(request.args.get("url"), fmt, OEMBED_PARAMS)


@bp.get("/stories/<story_id>/oembed.<path_format>")
@json_errors
def story_oembed(story_id: str, path_format: str):
    """A story's oEmbed at a path of its own (as Castopod has per episode): the same
    answer as `/oembed?url=<story page>`, and a plain file in a static export."""
    return serve_oembed(current_links().story(story_id), check_format(path_format), STORY_OEMBED_PARAMS)


def serve_oembed(url: str | None, fmt: str, reads: tuple[str, ...]):
    maxwidth = _dimension(request.args.get("maxwidth"), "maxwidth")
    maxheight = _dimension(request.args.get("maxheight"), "maxheight")
    links = current_links()
    store = current_store()
    settings = embed_settings()
    registry = settings.registry(links)
    match = match_oembed_url(url, registry)
    options = options_for_match(match, player_options(url or "", request.args.get("theme")),
                                store.get_story)
    key = version = None
    # By what the URL names, not how it is spelled: one entry per story or player.
    if {maxwidth, maxheight} <= CACHED_SIZES | {None}:
        version = current_version()
        key = cache_key("oembed", fmt, version, match.provider.name, match.story_id,
                        match.audio_id or "", maxwidth, maxheight, options.theme, options.start)

    def render() -> Rendered:
        response = oembed_for_match(
            match, store.get_story, registry=registry, links=links,
            settings=settings.oembed(links), maxwidth=maxwidth, maxheight=maxheight,
            options=options,
        )
        return Rendered.of(render_oembed(response, fmt), CONTENT_TYPES[fmt])

    rendered = current_render_cache().get_or_render(key, render)
    fastpath.remember(key, None, version, settings.cache_age, reads)
    return send_rendered(rendered, max_age=settings.cache_age)


@bp.post("/oembed/convert")
@json_errors
def convert():
    request.max_content_length = MAX_CONVERT_BODY  # larger bodies get 413 before parsing
    if request.is_json:
        data = request.get_json(silent=True)
        if not isinstance(data, dict) or not isinstance(data.get("snippet"), str):
            abort(400, description='send {"snippet": "<iframe ...>"} or the snippet as plain text')
        snippet = data["snippet"]
        maxwidth = _dimension(data.get("maxwidth"), "maxwidth")
        maxheight = _dimension(data.get("maxheight"), "maxheight")
    else:
        snippet = request.get_data(as_text=True)
        maxwidth = _dimension(request.args.get("maxwidth"), "maxwidth")
        maxheight = _dimension(request.args.get("maxheight"), "maxheight")
    links = current_links()
    settings = embed_settings()
    response = oembed_for_snippet(
        snippet, current_store().get_story, registry=settings.registry(links), links=links,
        settings=settings.oembed(links), maxwidth=maxwidth, maxheight=maxheight,
    )
    return Response(oembed_to_json(response), content_type=CONTENT_TYPES["json"])


@bp.get("/oembed/providers.json")
@json_errors
def providers():
    links = current_links()
    settings = embed_settings()
    oembed_settings = settings.oembed(links)

    def render() -> Rendered:
        entry = registry_entry(
            settings.registry(links), endpoint_url=oembed_endpoint_url(links),
            provider_name=oembed_settings.provider_name,
            provider_url=oembed_settings.provider_url,
        )
        return Rendered.of(oembed_to_json(entry), CONTENT_TYPES["json"])

    key = cache_key("oembed-providers")
    return send_rendered(current_render_cache().get_or_render(key, render),
                         max_age=settings.cache_age)


@bp.get("/player/<story_id>/<audio_id>")
@frameable
def player(story_id: str, audio_id: str):
    theme = request.args.get("theme")
    theme = theme if theme in THEMES else "auto"
    links = current_links()
    store = current_store()
    # Made-up ids end in a 404 inside render(), which keeps nothing.
    key = cache_key("player", current_version(), story_id, audio_id, theme)

    def render() -> Rendered:
        story = store.get_story(story_id)
        audio = story.find_audio(audio_id) if story is not None else None
        if audio is None:
            abort(404, description="There is no such audio.")
        if not audio.embeddable:
            abort(403, description="The publisher does not allow this audio to be embedded.")
        media_url = links.media(audio.url) if audio.url else ""
        if not media_url:
            abort(404, description="There is no audio file to play for this audio.")
        settings = embed_settings()
        values = player_page(story, audio, links, registry=settings.registry(links),
                             page_url=player_page_url(links, story_id, audio_id),
                             site_name=settings.provider_name)
        html = render_template("player.html", theme=theme, p=values, **values)
        return Rendered.of(html.encode("utf-8"), "text/html; charset=utf-8")

    rendered = current_render_cache().get_or_render(key, render)
    return send_rendered(rendered, max_age=PLAYER_MAX_AGE, cors=False)


@bp.after_request
def cors(response: Response) -> Response:
    """oEmbed answers may be read by any page's script (the player is framed, not read)."""
    if request.endpoint != "embeds.player":
        response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.after_app_request
def discovery(response: Response) -> Response:
    """Story and player pages announce their oEmbed answers in Link headers."""
    if request.endpoint in DISCOVERY_ENDPOINTS and response.status_code == 200:
        links = current_links()
        args = request.view_args or {}
        if request.endpoint == "pages.story":
            page_url = links.story(args["story_id"])
        else:
            page_url = player_page_url(links, args["story_id"], args["audio_id"])
        for media_type, href in discovery_links(page_with_theme(page_url), oembed_endpoint_url(links)):
            response.headers.add("Link", f'<{href}>; rel="alternate"; type="{media_type}"')
    return response


def requested_theme() -> str | None:
    """The `?theme=` this page was opened with. Only a theme we have: no other value
    reaches a link or a cache key."""
    theme = request.args.get("theme")
    return theme if theme in THEMES else None


def page_with_theme(page_url: str) -> str:
    """The page URL discovery names: with the page's theme, so that a consumer that
    discovers the oEmbed answer from a themed page gets that theme's player (the endpoint
    reads the theme from the URL)."""
    theme = requested_theme()
    return f"{page_url}?{urlencode({'theme': theme})}" if theme else page_url


@bp.app_template_global()
def oembed_discovery_links(page_url: str) -> list[tuple[str, str]]:
    return discovery_links(page_with_theme(page_url), oembed_endpoint_url(current_links()))


@bp.app_template_global()
def embed_code(story: Story, audio: Audio) -> Markup | None:
    """The iframe an editor copies for one audio: the same one oEmbed hands out."""
    links = current_links()
    return embed_iframe(story, audio, embed_settings().registry(links), links)


@bp.app_template_global()
def story_player_card(story: Story) -> dict | None:
    """The twitter:card=player values of a story page: storyfeed's player of its first
    embeddable audio, when that audio has a file to play. In the page's theme, as its
    oEmbed discovery: unfurlers that read the card (open-graph-scraper) lost ?theme=dark."""
    links = current_links()
    registry = embed_settings().registry(links)
    options = PlayerOptions(theme=requested_theme())
    for audio in story.embeddable_audio:
        player = player_for_audio(story, audio, registry, prefer_own=True, options=options)
        if player is not None and player.provider.own:
            audio_url = links.media(audio.url)
            if not audio_url:
                continue
            return {
                "url": player.src,
                "width": DEFAULT_WIDTH,
                "height": player.clamped_height,
                "audio_url": audio_url,
                "audio_type": audio.type,
            }
    return None


@bp.app_template_global()
def inline_player(story: Story, audio: Audio, share_url: str = "", transcript: bool = True) -> dict | None:
    """storyfeed's player of one audio on our own pages (templates/_player.html, inline):
    any audio with a file to play, embeddable elsewhere or not, since the page is ours.
    Its share link is `share_url` (the story page) when given, else the player's page;
    `transcript=False` on the transcript page, which is the transcript. The script keeps
    where a listener stopped under `remember` (the page's localStorage, never the frame's)."""
    links = current_links()
    if not audio.url or not links.media(audio.url):
        return None
    settings = embed_settings()
    values = player_page(story, audio, links, registry=settings.registry(links),
                         page_url=player_page_url(links, story.id, audio.id),
                         site_name=settings.provider_name)
    data = {**values["script_data"], "remember": f"{story.id}/{audio.id}"}
    if share_url:
        data["shareUrl"] = share_url
    if not transcript:
        data["transcriptUrl"] = ""
    return {**values, "script_data": data}


@bp.app_template_global()
def player_page_of(story: Story, audio: Audio) -> str:
    return player_page_url(current_links(), story.id, audio.id)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
