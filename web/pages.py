"""Human pages: the index, topic pages, story pages."""

from __future__ import annotations

from flask import Blueprint, Flask, abort, redirect, render_template, request
from markupsafe import Markup

from serving.context import cache_key, current_links, current_render_cache, current_store, current_version
from serving.rendered import Rendered, send_rendered
from serving.state import app_state
from stories.store import InvalidCursor
from stories.validate import clean_stored_body_html

from .moves import listed_topics

bp = Blueprint("pages", __name__)

PAGE_SIZE = 20


@bp.app_context_processor
def inject_links():
    return {"links": current_links()}


@bp.app_template_filter("clean_html")
def clean_html(html: str) -> Markup:
    """Stored HTML, cleaned again as it is shown (`clean_stored_body_html`; feeds clean it
    again too)."""
    return Markup(clean_stored_body_html(html))


@bp.get("/")
def index():
    store = current_store()

    # Every topic with its latest story and subscribe links: some 170 µs a topic, so the
    # page is made once per change of the store and kept like the feeds.
    def render() -> Rendered:
        counts = store.story_counts()
        latest = store.latest_by_topic()
        topics = [(topic, counts.get(topic.slug, 0), latest.get(topic.slug))
                  for topic in listed_topics(store)]
        return Rendered.of(render_template("index.html", topics=topics).encode("utf-8"),
                           "text/html; charset=utf-8")

    rendered = current_render_cache().get_or_render(cache_key("index", current_version()), render)
    return send_rendered(rendered, max_age=app_state().settings["FEED_MAX_AGE"], cors=False)


@bp.get("/topics/<slug>")
def topic(slug: str):
    store = current_store()
    found = store.get_topic(slug)
    if found is None:
        abort(404, description=f"There is no topic {slug!r}.")
    try:
        page = store.latest(slug, limit=PAGE_SIZE, cursor=request.args.get("cursor"))
    except InvalidCursor as exc:
        abort(400, description=str(exc))
    return render_template("topic.html", topic=found, page=page)


@bp.get("/stories/<story_id>")
def story(story_id: str):
    store = current_store()
    found = store.get_story(story_id)
    if found is None:
        abort(404, description=f"There is no story {story_id!r}.")
    topics = [store.get_topic(slug) for slug in found.topics]
    return render_template("story.html", story=found, topics=[t for t in topics if t])


@bp.get("/stories/<story_id>/")
def story_with_slash(story_id: str):
    """A pasted `/stories/<id>/` reaches the one canonical URL (308 keeps the method)."""
    return redirect(current_links().story(story_id), 308)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
