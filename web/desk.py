"""The editors' desk at /desk: pages where editors see and steer what storyfeed does.

Who gets in: the accounts of `flask desk add-user` (`desk.accounts`), signed in with a
form; the session is Flask's signed cookie (SECRET_KEY), HttpOnly, SameSite=Lax, Secure
when SITE_URL is https, scoped to /desk and ending after DESK_SESSION_MINUTES or at the
account's next password change or removal. Every POST carries the session's CSRF token
(a random value kept in the signed session, compared in constant time: the synchronizer
token pattern, without a new dependency). Sign-in starts a new session (no fixation) and
is throttled per account and per address. Every answer under /desk is `no-store`, and none
goes through the render cache or the fast path (which only answers URLs a view
`remember`s: feeds and oEmbed).

Nothing here runs long inside a request: a linter run or a source's sync is a job
(`desk.jobs`) whose page shows its progress, refreshing itself with a `Refresh` header
while it runs (no script: the pages keep the site's strict CSP).
"""

from __future__ import annotations

import dataclasses
import hmac
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from audience.count import WINDOWS
from audience.report import Report
from desk.accounts import Accounts, Editor, LoginThrottle
from desk.charts import Bar, Bars, DailySeries
from desk.checks import FeedChecks
from desk.jobs import Job, Jobs, Progress
from desk.search import Query, StorySearch
from feeds.urls import TOPIC_FORMATS, feed_url
from serving.context import current_links, current_store
from serving.members import Members
from serving.state import AppState, app_state
from sources.config import SourcesConfig
from sources.model import Source
from sources.state import SourceStates
from sources.sync import Syncer
from stories.errors import InvalidInput
from stories.members import Member, Sharing
from stories.model import Story, Topic, story_to_record, topic_to_record
from stories.moves import MoveRefused
from stories.schema import story_topics, topics
from stories.validate import Problem, RecordInvalid, parse_story, parse_topic

from .audience import report_for
from .cli.feeds import check_feeds
from .members import _member_id

bp = Blueprint("desk", __name__, url_prefix="/desk")

PREFIX = "/desk"
CHECK, SYNC = "feeds-check", "sync"
# While a job runs, its page reloads itself this often (a header: no script needed).
REFRESH_SECONDS = 2
CHART_DAYS = 90
MAX_CHART_DAYS = 3653  # ten years
# The form fields of a story an editor may correct here; the rest of the record stays.
STORY_FIELDS = ("title", "teaser", "url", "published", "note")
PODCAST_FIELDS = ("description", "link", "language", "author", "owner_name", "owner_email",
                  "category", "subcategory", "type", "copyright")

V = TypeVar("V", bound=Callable[..., Any])


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# -- sessions, CSRF, sign-in ----------------------------------------------------------


def csrf_token() -> str:
    """This session's token, made once; every desk form carries it."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def _csrf_ok() -> bool:
    given, kept = request.form.get("csrf_token", ""), session.get("csrf")
    return isinstance(kept, str) and hmac.compare_digest(given.encode(), kept.encode())


def current_editor() -> Editor | None:
    """The editor this session belongs to, if it is still good: signed in within the
    session's lifetime, the account still there and its password unchanged since."""
    name, generation, at = session.get("user"), session.get("gen"), session.get("at")
    if not isinstance(name, str) or not isinstance(generation, int) or not isinstance(at, (int, float)):
        return None
    lifetime = app_state().settings["DESK_SESSION_MINUTES"] * 60
    if not 0 <= time.time() - at < lifetime:
        return None
    editor = Accounts(current_store().engine).get(name)
    if editor is None or editor.generation != generation:
        return None
    return editor


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a desk path of this site, never elsewhere."""
    default = url_for("desk.overview")
    if not target or any(c in target for c in "\\\r\n\t") or not target.startswith(PREFIX + "/"):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return default
    return target


@bp.before_request
def guard() -> BaseResponse | None:
    if request.method == "POST" and not _csrf_ok():
        abort(400, description="This form has expired or did not come from the desk: "
                               "reload the page and send it again.")
    if request.endpoint in ("desk.login", "desk.static"):
        return None
    editor = current_editor()
    if editor is None:
        if request.method != "GET":
            abort(403, description="Sign in to the desk first.")
        session.pop("user", None)
        return redirect(url_for("desk.login", next=request.full_path.rstrip("?")), 303)
    g.editor = editor
    return None


@bp.app_context_processor
def desk_helpers() -> dict[str, Any]:
    return {"csrf_token": csrf_token}


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("desk/login.html", next=target, error=None, name="")
    name = request.form.get("name", "").strip().lower()[:100]
    password = request.form.get("password", "")
    engine = current_store().engine
    throttle = LoginThrottle(engine)
    address = request.remote_addr or ""
    wait = throttle.retry_after(name, address)
    if wait:
        response = Response(render_template(
            "desk/login.html", next=target, name=name,
            error=f"Too many failed sign-ins: try again in {wait // 60 + 1} minutes."), 429)
        response.headers["Retry-After"] = str(wait)
        return response
    editor = Accounts(engine).verify(name, password)
    if editor is None:
        throttle.failed(name, address)
        return render_template("desk/login.html", next=target, name=name,
                               error="That name and password do not match an account."), 401
    throttle.succeeded(name)
    # A new session: nothing from before the sign-in (a planted cookie, its CSRF token)
    # carries over.
    session.clear()
    session.permanent = True
    session.update(user=editor.name, gen=editor.generation, at=time.time(),
                   csrf=secrets.token_urlsafe(32))
    return redirect(target, 303)


@bp.post("/logout")
def logout() -> Any:
    session.clear()
    return redirect(url_for("desk.login"), 303)


# -- the overview ---------------------------------------------------------------------


def topic_rows(state: AppState) -> list[tuple[Topic, int, datetime]]:
    """Every topic with its number of stories and when it last changed."""
    t = topics
    with state.store.engine.connect() as conn:
        changed = dict(conn.execute(sa.select(t.c.slug, t.c.changed_at)).all())
    counts = state.store.story_counts(members=True)  # the newsroom's: all its stories
    return [(topic, counts.get(topic.slug, 0), changed.get(topic.slug, datetime.min))
            for topic in state.store.list_topics()]


def feed_links(slug: str) -> list[tuple[str, str]]:
    links = current_links()
    return [(fmt.label, feed_url(links, fmt, slug)) for fmt in TOPIC_FORMATS]


def stories_per_day(state: AppState, topic: str | None, first: date, last: date) -> DailySeries:
    """Stories published each day from `first` to `last`, of one topic or of all."""
    st = story_topics
    day = sa.func.date(st.c.published)
    select = sa.select(day, sa.func.count(sa.distinct(st.c.story_id))).where(
        st.c.published >= datetime.combine(first, datetime.min.time()),
        st.c.published < datetime.combine(last + timedelta(1), datetime.min.time()))
    if topic:
        select = select.where(st.c.topic == topic)
    with state.store.engine.connect() as conn:
        rows = conn.execute(select.group_by(day)).all()
    counts = {(d if isinstance(d, date) else date.fromisoformat(str(d))): n for d, n in rows}
    title = "Stories published per day" + (f" in {topic}" if topic else "")
    return DailySeries.of(title, "stories", counts, first, last)


def chart_range(topic: str | None = None, newest: Callable[[], date] | None = None) -> tuple[date, date]:
    """The days asked for (?from=&to=, ISO dates), at most ten years (a bar a day: what
    one request may ask the database to count). By default the 90 days up to `newest`,
    else up to the newest story (of the topic): today in a newsroom that publishes, and
    something to see in one that paused."""
    try:
        last = (date.fromisoformat(request.args["to"]) if request.args.get("to")
                else newest() if newest else _newest_day(topic))
        first = (date.fromisoformat(request.args["from"]) if request.args.get("from")
                 else last - timedelta(CHART_DAYS - 1))
    except (ValueError, OverflowError):  # not a date; or one whose 90 days before are none
        abort(400, description="from and to are dates: YYYY-MM-DD, in 1970-2200.")
    if not FIRST_DAY <= first <= last <= LAST_DAY or (last - first).days >= MAX_CHART_DAYS:
        abort(400, description=f"from must be before to, at most {MAX_CHART_DAYS} days before it, "
                               "both in 1970-2200.")
    return first, last


def _newest_day(topic: str | None) -> date:
    newest = current_store().latest(topic, limit=1).stories
    return newest[0].published.astimezone(UTC).date() if newest else _now().date()


def source_rows(state: AppState) -> list[dict[str, Any]]:
    sources = state.area(SourcesConfig).sources or ()
    states = SourceStates(state.store.engine).all()
    jobs = Jobs(state.store.engine)
    rows = []
    for source in sources:
        kept = states.get(source.name)
        due = (kept.last_attempt + timedelta(seconds=source.interval)
               if kept is not None and kept.last_attempt else None)
        rows.append({"source": source, "state": kept, "next_run": due,
                     "job": jobs.latest(SYNC, source.name)})
    return rows


@bp.get("/")
def overview() -> Any:
    state = app_state()
    first, last = chart_range()
    series = stories_per_day(state, None, first, last)
    return render_template(
        "desk/overview.html", topics=topic_rows(state), checks=FeedChecks(state.store.engine).all(),
        feed_links=feed_links, sources=source_rows(state), series=series, first=first, last=last)


@bp.get("/charts/stories.csv")
def stories_csv() -> Response:
    state = app_state()
    topic = request.args.get("topic", "")
    if topic and state.store.get_topic(topic) is None:
        abort(404, description="There is no such topic.")
    first, last = chart_range(topic or None)
    series = stories_per_day(state, topic or None, first, last)
    return Response(series.csv(), content_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="stories-per-day-{first}-{last}.csv"'})


# -- audience -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class AudienceCharts:
    """The audience report (`audience.report.Report`, what `flask audience report` and
    /api/audience say) as the desk's three charts; the tables and CSVs are theirs."""

    report: Report
    days: DailySeries
    episodes: Bars
    apps: Bars

    @classmethod
    def of(cls, report: Report, first: date, last: date) -> AudienceCharts:
        scope = f" in {report.topic}" if report.topic else ""
        days = DailySeries.of(f"Downloads per day{scope}", "downloads",
                              {d.day: d.downloads for d in report.days}, first, last)
        episodes = Bars(f"Downloads per episode{scope}", "downloads", "episode", tuple(
            Bar(e.episode, e.downloads,
                (e.title or "", e.story_id or "", e.published.isoformat() if e.published else "",
                 *(dict(e.first_days).get(n, "") if e.first_days is not None else "" for n in WINDOWS)),
                shown=f"{e.title} ({e.episode})" if e.title else e.episode)
            for e in report.episodes), columns=("title", "story_id", "published",
                                                *(f"first_{n}_days" for n in WINDOWS)))
        apps = Bars(f"Downloads per app{scope}", "downloads", "app",
                    tuple(Bar(a.app, a.downloads) for a in report.apps))
        return cls(report, days, episodes, apps)


def audience_report() -> tuple[Report, date, date]:
    """The report of the days and topic asked for (?from=&to=&topic=): by default the 90
    days up to today (UTC), where downloads are, whenever the stories were published."""
    state = app_state()
    topic = request.args.get("topic", "") or None
    if topic is not None and state.store.get_topic(topic) is None:
        abort(404, description="There is no such topic.")
    first, last = chart_range(topic, newest=lambda: _now().date())
    return report_for(state, topic, first, last), first, last


def audience_html(report: Report, first: date, last: date) -> str:
    """The page of the report of the days first..last (tests time it on two years)."""
    topic = report.topic
    args = {"from": first, "to": last, **({"topic": topic} if topic else {})}
    return render_template("desk/audience.html", charts=AudienceCharts.of(report, first, last), topic=topic,
                           first=first, last=last, args=args, topics=app_state().store.list_topics())


@bp.get("/audience")
def audience_page() -> Any:
    return audience_html(*audience_report())


def _audience_csv(part: str, per: str) -> Response:
    report, first, last = audience_report()
    chart: DailySeries | Bars = getattr(AudienceCharts.of(report, first, last), part)
    topic = f"{report.topic}-" if report.topic else ""
    name = f"downloads-per-{per}-{topic}{first}-{last}.csv"
    return Response(chart.csv(), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/audience/days.csv")
def audience_days_csv() -> Response:
    return _audience_csv("days", "day")


@bp.get("/audience/episodes.csv")
def audience_episodes_csv() -> Response:
    return _audience_csv("episodes", "episode")


@bp.get("/audience/apps.csv")
def audience_apps_csv() -> Response:
    return _audience_csv("apps", "app")


# -- members --------------------------------------------------------------------------
#
# The same `MemberStore` calls as `flask members` and /api/members. A secret is made by
# a POST (add, rotate) and shown only in that POST's answer (no-store, like every desk
# answer): never in a URL, so never in a Location header, an access log or the history;
# every other answer here shows members by name and id alone.


def _members() -> Members:
    return app_state().area(Members)


def _member_feeds(secret: str) -> list[tuple[Topic, list[tuple[str, str]]]]:
    """Each topic's member feed URLs for this secret (what `flask members add` prints
    as a pattern, spelled out)."""
    links = current_links()
    return [(topic, [(fmt.label, links.absolute(f"m/{secret}/topics/{topic.slug}/{fmt.filename}"))
                     for fmt in TOPIC_FORMATS])
            for topic in current_store().list_topics()]


def _expiry(field: str) -> datetime | None:
    """A form's date as the end of that day, UTC (a membership "until 31 May" includes
    the 31st); None when left empty."""
    value = request.form.get(field, "").strip()
    if not value:
        return None
    day = desk_day(value)
    if day is None:
        raise InvalidInput(f"{field} is a date: YYYY-MM-DD, in 1970-2200")
    return datetime.combine(day + timedelta(1), datetime.min.time(), tzinfo=UTC)


def desk_day(value: str) -> date | None:
    """`value` as a date the desk takes (ISO 8601, 1970-2200); None when it is not one."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    return day if FIRST_DAY <= day <= LAST_DAY else None


FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2200, 12, 31)


def members_html(error: str | None = None, name: str = "", expires: str = "") -> str:
    area = _members()
    flagged: dict[int, Sharing] = {s.member.id: s for s in area.store.sharing(area.max_networks, area.max_apps)}
    members = area.store.list_members()
    return render_template(
        "desk/members.html", members=[m for m in members if m.id not in flagged], flagged=flagged,
        now=datetime.now(UTC), error=error, name=name, expires=expires,
        max_networks=area.max_networks, max_apps=area.max_apps)


@bp.get("/members")
def members_page() -> Any:
    return members_html()


def _secret_page(member: Member, secret: str, made: str, status: int) -> Response:
    body = render_template("desk/member_secret.html", member=member, secret=secret, made=made,
                           feeds=_member_feeds(secret))
    return Response(body, status, content_type="text/html; charset=utf-8")


@bp.post("/members")
def add_member() -> Any:
    name, expires = request.form.get("name", ""), request.form.get("expires", "")
    try:
        member, secret = _members().store.add(name, expires=_expiry("expires"))
    except InvalidInput as exc:
        return members_html(str(exc), name[:200], expires[:20]), 422
    return _secret_page(member, secret, "added", 201)


@bp.post("/members/<member_id>/rotate")
def rotate_member(member_id: str) -> Any:
    store = _members().store
    number = _member_id(member_id)
    secret = store.rotate(number)
    return _secret_page(store.get(number), secret, "given a new secret", 200)


def _changed(member: Member, what: str) -> BaseResponse:
    flash(f"{member.name} (#{member.id}) {what}.")
    return redirect(url_for("desk.members_page"), 303)


@bp.post("/members/<member_id>/revoke")
def revoke_member(member_id: str) -> Any:
    member = _members().store.revoke(_member_id(member_id))
    return _changed(member, "is revoked: their feeds answer 410 from now on")


@bp.post("/members/<member_id>/expire")
def expire_member(member_id: str) -> Any:
    member = _members().store.expire(_member_id(member_id))
    return _changed(member, "has lapsed: their feeds carry one item saying how to renew")


@bp.post("/members/<member_id>/renew")
def renew_member(member_id: str) -> Any:
    number = _member_id(member_id)
    member = _members().store.renew(number, _expiry("until"))
    until = f" until {member.expires:%Y-%m-%d %H:%M} UTC" if member.expires else ""
    return _changed(member, f"is renewed{until}: the same feed URLs work again")


# -- a topic --------------------------------------------------------------------------


def _topic_or_404(slug: str) -> Topic:
    found = current_store().get_topic(slug)
    if found is None:
        abort(404, description="There is no such topic.")
    return found


def refreshing(response: Response, job: Job | None) -> Response:
    if job is not None and job.running:
        response.headers["Refresh"] = str(REFRESH_SECONDS)
    return response


@bp.get("/topics/<slug>")
def topic_page(slug: str, problems: list[Problem] | None = None, values: dict[str, str] | None = None,
               status: int = 200) -> Any:
    state = app_state()
    topic = _topic_or_404(slug)
    job = Jobs(state.store.engine).latest(CHECK, slug)
    first, last = chart_range(slug)
    body = render_template(
        "desk/topic.html", topic=topic, check=FeedChecks(state.store.engine).get(slug), job=job,
        feeds=feed_links(slug), count=state.store.count_stories(slug),
        problems={p.field: p.reason for p in problems or ()}, values=values or {},
        podcast_fields=PODCAST_FIELDS, series=stories_per_day(state, slug, first, last),
        first=first, last=last)
    return refreshing(Response(body, status, content_type="text/html; charset=utf-8"), job)


class _JobSteps:
    """feeds check's progress, written to the job's row."""

    def __init__(self, progress: Progress):
        self.progress = progress

    @contextmanager
    def __call__(self, total: int) -> Iterator[Callable[[object], None]]:
        self.progress.total(total)
        yield self.progress.step


@bp.post("/topics/<slug>/check")
def run_check(slug: str) -> Any:
    _topic_or_404(slug)
    state = app_state()

    def work(progress: Progress) -> str:
        return check_feeds(state, slug, _JobSteps(progress), max_requests=1000).summary()

    Jobs(state.store.engine).start(CHECK, slug, g.editor.name, work)
    return redirect(url_for("desk.topic_page", slug=slug), 303)


def _write_topic(record: dict[str, Any], slug: str) -> list[Problem]:
    """Writes the topic's record as the API would (`parse_topic`); the problems found."""
    try:
        topic, _warnings = parse_topic(record, f"topic {slug}")
    except RecordInvalid as exc:
        return list(exc.problems)
    try:
        current_store().write(topics=[topic])
    except MoveRefused as exc:
        return [Problem("", "moved_to", str(exc))]
    return []


@bp.post("/topics/<slug>/settings")
def topic_settings(slug: str) -> Any:
    topic = _topic_or_404(slug)
    record = topic_to_record(topic)
    values = {name: request.form.get(name, "").strip() for name in ("title", *PODCAST_FIELDS)}
    for name, value in values.items():
        if value:
            record[name] = value
        else:
            record.pop(name, None)
    record["explicit"] = request.form.get("explicit") == "on"
    problems = _write_topic(record, slug)
    if problems:
        return topic_page(slug, problems, values, 422)
    flash("The topic's settings are saved.")
    return redirect(url_for("desk.topic_page", slug=slug), 303)


@bp.post("/topics/<slug>/move")
def move_topic(slug: str) -> Any:
    """Moves the topic to a new slug: the stories go with it, the old topic answers 301
    (`web.moves`), and a new slug carries on the podcast's identity."""
    store = current_store()
    topic = _topic_or_404(slug)
    new_slug = request.form.get("new_slug", "").strip()
    if new_slug == slug or not new_slug:
        return topic_page(slug, [Problem("", "new_slug", "names another topic's slug")],
                          {"new_slug": new_slug}, 422)
    try:
        target, _ = parse_topic({**topic_to_record(topic), "slug": new_slug, "moved_to": ""},
                                f"topic {new_slug}")
        moved, _ = parse_topic({**topic_to_record(topic), "moved_to": new_slug}, f"topic {slug}")
    except RecordInvalid as exc:
        problems = [Problem(p.location, "new_slug" if p.field in ("slug", "moved_to") else p.field, p.reason)
                    for p in exc.problems]
        return topic_page(slug, problems, {"new_slug": new_slug}, 422)
    stories = [_retagged(story, slug, new_slug) for story in store.iter_stories(slug)]
    existing = store.get_topic(new_slug)
    try:
        store.write(stories=stories, topics=[moved] if existing else [target, moved])
    except MoveRefused as exc:
        return topic_page(slug, [Problem("", "new_slug", str(exc))], {"new_slug": new_slug}, 422)
    flash(f"The topic moved to {new_slug}: its old URLs answer 301 to the new ones.")
    return redirect(url_for("desk.topic_page", slug=new_slug), 303)


def _retagged(story: Story, old: str, new: str) -> Story:
    slugs = [new if s == old else s for s in story.topics]
    return dataclasses.replace(story, topics=tuple(dict.fromkeys(slugs)))


@bp.post("/topics/<slug>/purge")
def purge_topic(slug: str) -> Any:
    _topic_or_404(slug)
    current_store().renew_topic(slug)
    flash("The topic's cached feeds and pages are made again at their next request.")
    return redirect(url_for("desk.topic_page", slug=slug), 303)


# -- stories --------------------------------------------------------------------------


def _day(name: str) -> datetime | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    day = desk_day(value)
    if day is None:
        abort(400, description=f"{name} is a date: YYYY-MM-DD, in 1970-2200.")
    return datetime.combine(day, datetime.min.time())


@bp.get("/stories")
def stories_page() -> Any:
    state = app_state()
    try:
        page = int(request.args.get("page", "1"))
    except ValueError:
        abort(400, description="page is a number.")
    until = _day("to")
    query = Query(words=request.args.get("q", "")[:200], topic=request.args.get("topic", "")[:100],
                  since=_day("from"), until=until + timedelta(1) if until else None, page=page)
    results = StorySearch(state.store.engine).find(query)
    return render_template("desk/stories.html", results=results, query=query,
                           topics=state.store.list_topics(), args=request.args)


@bp.route("/stories/<story_id>", methods=["GET", "POST"])
def story_page(story_id: str) -> Any:
    store = current_store()
    story = store.get_story(story_id)
    if story is None:
        abort(404, description="There is no such story.")
    record = story_to_record(story)
    if request.method == "GET":
        values = {name: str(record.get(name, "")) for name in STORY_FIELDS}
        values["topics"] = ", ".join(story.topics)
        return render_template("desk/story.html", story=story, values=values, problems={},
                               feeds=[(slug, feed_links(slug)) for slug in story.topics])
    values = {name: request.form.get(name, "") for name in (*STORY_FIELDS, "topics")}
    for name in STORY_FIELDS:
        if values[name].strip():
            record[name] = values[name]
        else:
            record.pop(name, None)
    record["topics"] = [slug.strip() for slug in values["topics"].split(",") if slug.strip()]
    try:
        corrected, _warnings = parse_story({**record, "id": story_id}, f"story {story_id}")
    except RecordInvalid as exc:
        return render_template("desk/story.html", story=story, values=values,
                               problems={p.field: p.reason for p in exc.problems},
                               feeds=[(slug, feed_links(slug)) for slug in story.topics]), 422
    result = store.write(stories=[corrected])
    flash("The story is saved; its feeds show the change." if result.changed else "Nothing changed.")
    return redirect(url_for("desk.story_page", story_id=story_id), 303)


# -- sources --------------------------------------------------------------------------


def _source_or_404(name: str) -> Source:
    for source in app_state().area(SourcesConfig).sources or ():
        if source.name == name:
            return source
    abort(404, description="There is no such source.")


@bp.get("/sources")
def sources_page() -> Any:
    rows = source_rows(app_state())
    running = next((row["job"] for row in rows if row["job"] is not None and row["job"].running), None)
    body = render_template("desk/sources.html", sources=rows,
                           configured=app_state().area(SourcesConfig).sources is not None)
    return refreshing(Response(body, content_type="text/html; charset=utf-8"), running)


@bp.post("/sources/<name>/sync")
def sync_source(name: str) -> Any:
    source = _source_or_404(name)
    state = app_state()

    def work(progress: Progress) -> str:
        retriever = state.area(SourcesConfig).retriever()
        try:
            report = Syncer(state.store, SourceStates(state.store.engine), retriever).sync(source)
        finally:
            retriever.close()
        return "\n".join((report.line(), *(f"skipped: {p}" for p in report.problems),
                          *(f"warning: {w}" for w in report.warnings)))

    Jobs(state.store.engine).start(SYNC, name, g.editor.name, work)
    return redirect(url_for("desk.sources_page"), 303)


# -- every answer ---------------------------------------------------------------------


def no_store(response: Response) -> Response:
    """Desk pages are one editor's: never kept by a browser or a proxy."""
    if request.path == PREFIX or request.path.startswith(PREFIX + "/"):
        response.headers["Cache-Control"] = "no-store"
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.vary.add("Cookie")
    return response


def init_app(app: Flask) -> None:
    settings = app_state(app).settings
    app.after_request(no_store)
    if not settings["DESK"]:
        return
    app.config.update(
        SESSION_COOKIE_NAME="storyfeed_desk",
        SESSION_COOKIE_PATH=PREFIX,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=(settings["SITE_URL"] or "").lower().startswith("https:"),
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings["DESK_SESSION_MINUTES"]),
    )
    app.register_blueprint(bp)
