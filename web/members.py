"""Members' URLs (docs/members.md): each member's feeds, media and member items'
transcripts and chapters under `/m/<secret>/`, and the members API under /api/members (INGEST_TOKENS bearer).

A member's feed is the topic's feed with member items, rendered once for every member
(`serving.members`) and served with the member's secret put in. Answers by the secret's
state: live, the feed; lapsed (expired), 200 with one item saying how to renew, so apps
keep polling and recover once renewed; revoked or rotated away, 410; unknown, the
same 404 as any unknown URL. The fast path never answers these URLs: every answer
checks the secret, so a revocation holds at once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, Response, abort, jsonify, redirect, request

from feeds.podcast import PodcastSettingsIncomplete, missing_podcast_settings
from feeds.render import render_atom_feed, render_json_feed, render_podcast_feed, render_rss_feed
from feeds.urls import PODCAST, RSS, TOPIC_FORMATS, FeedFormat, Paging
from serving.context import cache_key, current_links, current_render_cache, current_store, current_version
from serving.fastpath import Answer
from serving.files import regular_file_in
from serving.members import (
    MemberLinks,
    Members,
    is_member_file,
    media_relative,
    member_answer,
    shared_member_path,
)
from serving.params import parse_cursor, parse_limit
from serving.rendered import Rendered
from serving.state import app_state
from stories.errors import InvalidInput
from stories.members import LAPSED, LIVE, REVOKED, Member, SecretMatch
from stories.model import MEMBERS, Story, Topic, format_datetime
from stories.store import StoryPage

from .feeds import FEED_PARAMS
from .ingest import require_token
from .media import count_fetch, send_media_file
from .moves import current_moves
from .transcripts import (
    audio_or_404,
    chapters_answer,
    story_or_404,
    transcript_file_response,
    transcript_page_rendered,
)

bp = Blueprint("members", __name__)
api = Blueprint("members_api", __name__, url_prefix="/api/members")
api.before_request(require_token)

BY_FILENAME = {fmt.filename: fmt for fmt in TOPIC_FORMATS}
LAPSED_ID = "membership-lapsed"


def members_area() -> Members:
    return app_state().area(Members)


def _match(secret: str) -> SecretMatch:
    """The secret's member; the plain 404 of any unknown URL when it is none."""
    match = members_area().secrets.lookup(secret)
    if match is None:
        abort(404)
    return match


def _live(secret: str) -> SecretMatch:
    """A live secret's member: what the member's media and story files need."""
    match = _match(secret)
    status = match.status()
    if status == REVOKED:
        abort(410, description="This private feed was revoked.")
    if status != LIVE:
        abort(403, description="The membership has lapsed: renew it to download member episodes.")
    return match


def _member_items(topic: Topic, page: StoryPage) -> list[str]:
    """The ids of the member items on `page`: a member story, or one in a members' topic
    (`stories.model.MEMBERS`). Their transcripts and chapters are the member's own URLs."""
    if topic.access == MEMBERS:
        return [story.id for story in page.stories]
    members_topics = {t.slug for t in current_store().list_topics(members=True) if t.access == MEMBERS}
    return [story.id for story in page.stories
            if story.access == MEMBERS or not members_topics.isdisjoint(story.topics)]


def _render(topic: Topic, fmt: FeedFormat, paging: Paging, links: MemberLinks) -> Rendered:
    store = current_store()
    public_links = current_links()
    if fmt is PODCAST:
        page = store.latest(topic.slug, limit=paging.limit, cursor=paging.cursor, episodes=True,
                            members=True)
        links = MemberLinks.of(public_links, _member_items(topic, page))
        body = render_podcast_feed(topic, page, links, paging, private=True,
                                   guid=current_moves().podcast_guid(public_links, topic.slug))
    else:
        page = store.latest(topic.slug, limit=paging.limit, cursor=paging.cursor, members=True)
        links = MemberLinks.of(public_links, _member_items(topic, page))
        titles = store.topic_titles(slug for story in page.stories for slug in story.topics)
        if fmt is RSS:
            body = render_rss_feed(topic, page, links, paging, topic_titles=titles, private=True)
        else:
            render = render_atom_feed if fmt.name == "atom" else render_json_feed
            body = render(topic, page, links, paging, topic_titles=titles)
    return Rendered.of(body, fmt.content_type, page.changed_at)


def _lapsed(topic: Topic, fmt: FeedFormat, member: Member, links: MemberLinks) -> Rendered:
    """The feed of a lapsed member: one item saying so, dated when the membership ended,
    its id the same every time (apps show it once)."""
    ended = member.expires or datetime.now(UTC)
    home = topic.link or links.site_url
    notice = Story(
        id=LAPSED_ID, url=home, title="Your membership has lapsed",
        published=ended, updated=ended,
        teaser=("Renew your membership to get new member episodes here again: this feed "
                f"starts working again as soon as you do. {home}"),
    )
    page = StoryPage((notice,), None, None, ended)
    if fmt is PODCAST:
        # The podcast feed the app subscribed to (its self link, its podcast:guid), with
        # the notice as an item of its own: it has no audio to be an episode.
        guid = current_moves().podcast_guid(current_links(), topic.slug)
        body = render_podcast_feed(topic, StoryPage((), None, None, ended), links, private=True,
                                   guid=guid, notice=notice)
        return Rendered.of(body, fmt.content_type, ended)
    if fmt is RSS:
        return Rendered.of(render_rss_feed(topic, page, links, private=True), fmt.content_type, ended)
    render = render_atom_feed if fmt.name == "atom" else render_json_feed
    return Rendered.of(render(topic, page, links), fmt.content_type, ended)


def _send(rendered: Rendered, match: SecretMatch, secret: str) -> Response:
    status, headers, body = member_answer(rendered, match.member.id, secret, request.environ)
    return Response(body, status=status, headers=headers)


@bp.get("/m/<secret>/topics/<slug>/<filename>")
@bp.get("/m/<secret>/topics/<slug>/pages/<cursor>/<filename>")
def member_feed(secret: str, slug: str, filename: str, cursor: str | None = None) -> Response:
    match = _match(secret)
    fmt = BY_FILENAME.get(filename)
    status = match.status()
    if status == REVOKED:
        abort(410, description="This private feed was revoked.")
    store = current_store()
    topic = store.get_topic(slug, members=True)
    if fmt is None or topic is None:
        abort(404)
    if fmt is PODCAST and missing_podcast_settings(topic):
        abort(404)
    links = MemberLinks.of(current_links())
    if status == LAPSED:
        try:
            return _send(_lapsed(topic, fmt, match.member, links), match, secret)
        except PodcastSettingsIncomplete:
            abort(404)
    write = members_area().sightings.seen(match.member.id, secret, request.remote_addr,
                                          request.headers.get("User-Agent"))
    limit = parse_limit(request.args.get("limit"), default=fmt.page_size, maximum=fmt.max_page_size)
    paging = Paging(limit=limit or fmt.page_size, cursor=parse_cursor(cursor))
    key = version = None
    if paging.limit == fmt.page_size and store.is_story_position(slug, paging.cursor, members=True):
        # The placeholder's render, the same for every member: what the cache keeps.
        version = current_version(slug)
        key = cache_key("member-feed", fmt.name, slug, version, paging.limit, paging.cursor or "")
    try:
        rendered = current_render_cache().get_or_render(
            key, lambda: _render(topic, fmt, paging, links))
    except PodcastSettingsIncomplete:
        abort(404)
    fast_path = app_state().fast_path
    if fast_path is not None and key is not None:
        # Every member's next request for this feed, answered before Flask while the
        # secret is remembered live (serving/fastpath.py): known by the shared path.
        shared = dict(request.environ, PATH_INFO=shared_member_path(request.environ["PATH_INFO"], secret))
        fast_path.remember(shared, Answer(key, slug, version, 0), FEED_PARAMS)
    response = _send(rendered, match, secret)
    if write is not None:
        response.call_on_close(write)  # once the answer is sent
    return response


@bp.get("/m/<secret>/media/<path:filename>")
def member_media(secret: str, filename: str) -> Response:
    match = _live(secret)
    area = members_area()
    settings = app_state().settings
    path = regular_file_in(settings["MEDIA_DIR"], filename)
    if path is None or not is_member_file(relative := media_relative(settings["MEDIA_DIR"], path)):
        abort(404)
    write = area.sightings.seen(match.member.id, secret, request.remote_addr,
                                request.headers.get("User-Agent"))
    links = current_links()
    if area.signer is not None and links.media_base_url != links.absolute("media/"):
        response = redirect(area.signer.signed_url(links, relative), 302)
        response.headers["Cache-Control"] = "private, no-store"
        if write is not None:
            response.call_on_close(write)
        return response
    response = send_media_file(path)
    response.headers["Cache-Control"] = "private, no-store"
    # Counted under its path below /media/, as the same file fetched there through a
    # signed URL is (docs/audience.md).
    count_fetch(str(path), relative, response)
    if write is not None:
        response.call_on_close(write)
    return response


# A member item's transcript page and files, as web/transcripts.py serves a public one's
# under /stories/ (which answers 404 for member items): what member feeds link for them.

def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


@bp.get("/m/<secret>/stories/<story_id>/transcript")
def member_transcript_page(secret: str, story_id: str) -> Response:
    match = _live(secret)
    story = story_or_404(story_id, members=True)
    if not story.has_transcripts:
        abort(404, description="This story has no transcript.")
    # Rendered with the placeholder, kept like that, the secret put in as it is sent.
    links = MemberLinks.of(current_links(), [story.id])
    return _send(transcript_page_rendered(story, links, members=True), match, secret)


@bp.get("/m/<secret>/stories/<story_id>/audio/<audio_id>/transcript.<extension>")
def member_transcript_file(secret: str, story_id: str, audio_id: str, extension: str) -> Response:
    _live(secret)
    _story, audio = audio_or_404(story_id, audio_id, members=True)
    return _private(transcript_file_response(audio, extension))


@bp.get("/m/<secret>/stories/<story_id>/audio/<audio_id>/chapters.json")
def member_chapters_file(secret: str, story_id: str, audio_id: str) -> Response:
    match = _live(secret)
    story, audio = audio_or_404(story_id, audio_id, members=True)
    answer = chapters_answer(story, audio, MemberLinks.of(current_links(), [story.id]))
    if isinstance(answer, Rendered):
        response = _send(answer, match, secret)
        # Podcast apps' web players read chapters from other origins, as for public ones.
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response
    return _private(answer)


# -- the members API ---------------------------------------------------------------------

def member_json(member: Member) -> dict[str, Any]:
    return {
        "id": member.id,
        "name": member.name,
        "created": format_datetime(member.created),
        "expires": format_datetime(member.expires) if member.expires else None,
        "revoked": format_datetime(member.revoked) if member.revoked else None,
        "status": member.status(),
    }


def member_urls(secret: str) -> dict[str, str]:
    return {"secret": secret, "feeds": current_links().absolute(f"m/{secret}/topics/")}


def _no_store(response: Response, status: int = 200) -> Response:
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _when(body: dict[str, Any], key: str) -> datetime | None:
    value = body.get(key)
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{key} must be an RFC 3339 date and time") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True) if request.content_length else {}
    if not isinstance(body, dict):
        abort(400, description="Send a JSON object.")
    return body


def _member_id(text: str) -> int:
    """The id in a path; a plain string in the route, so that the route (a metrics label)
    is the same whatever the path holds, and anything not a number is a 404."""
    if not (text.isascii() and text.isdigit()) or len(text) > 12:
        abort(404, description=f"There is no member {text[:50]!r}.")
    return int(text)


@api.get("")
def list_members() -> Response:
    return _no_store(jsonify(members=[member_json(m) for m in members_area().store.list_members()]))


@api.post("")
def add_member() -> Response:
    body = _body()
    name = body.get("name")
    if not isinstance(name, str):
        abort(400, description="name is required")
    member, secret = members_area().store.add(name, expires=_when(body, "expires"))
    return _no_store(jsonify(member=member_json(member), **member_urls(secret)), 201)


@api.get("/sharing")
def sharing() -> Response:
    area = members_area()
    return _no_store(jsonify(shared=[
        {"member": member_json(s.member), "networks": s.networks, "apps": s.apps}
        for s in area.store.sharing(area.max_networks, area.max_apps)]))


@api.post("/<member_id>/rotate")
def rotate(member_id: str) -> Response:
    number = _member_id(member_id)
    secret = members_area().store.rotate(number)
    return _no_store(jsonify(member=member_json(members_area().store.get(number)),
                             **member_urls(secret)))


@api.post("/<member_id>/revoke")
def revoke(member_id: str) -> Response:
    return _no_store(jsonify(member=member_json(members_area().store.revoke(_member_id(member_id)))))


@api.post("/<member_id>/expire")
def expire(member_id: str) -> Response:
    at = _when(_body(), "at")
    return _no_store(jsonify(member=member_json(members_area().store.expire(_member_id(member_id), at))))


@api.post("/<member_id>/renew")
def renew(member_id: str) -> Response:
    until = _when(_body(), "until")
    return _no_store(jsonify(member=member_json(members_area().store.renew(_member_id(member_id), until))))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(api)
