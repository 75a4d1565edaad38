"""storyfeed: the app factory, and `app` for `gunicorn app:app` and `flask --app app`."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from stories.store import StoryStore
from web.rendered import MemoryRenderCache

HERE = Path(__file__).resolve().parent
SAMPLE_MEDIA = HERE / "stories" / "sample" / "media"

# Configuration read from the environment (README, "Configuration"), with defaults.
ENV_SETTINGS = {
    "DATABASE_URL": None,
    "SITE_URL": None,
    "MEDIA_BASE_URL": None,
    "MEDIA_DIR": str(SAMPLE_MEDIA),
    "LOG_LEVEL": "INFO",
    "PROXY_HOPS": "0",
    "FEED_MAX_AGE": "300",
    "WEBSUB_HUB": None,
}


def load_settings(overrides: dict | None = None) -> dict:
    settings = {key: os.environ.get(key, default) for key, default in ENV_SETTINGS.items()}
    settings.update(overrides or {})
    settings["PROXY_HOPS"] = int(settings["PROXY_HOPS"] or 0)
    return settings


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.update(load_settings(config))
    logging.basicConfig(
        level=app.config["LOG_LEVEL"].upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if not app.config["DATABASE_URL"]:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        app.config["DATABASE_URL"] = f"sqlite:///{Path(app.instance_path) / 'storyfeed.sqlite3'}"
    if app.config["PROXY_HOPS"]:
        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)

    app.extensions["storyfeed.store"] = StoryStore.from_url(app.config["DATABASE_URL"])
    app.extensions["storyfeed.render_cache"] = MemoryRenderCache()

    from feeds import views as feeds_views
    from stories import cli as stories_cli
    from web import api, errors, media, pages

    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(media.bp)
    feeds_views.register(app)
    errors.register(app)
    stories_cli.register(app)
    return app


app = create_app()
