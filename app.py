"""storyfeed: the app factory, and `app` for `gunicorn app:app` and `flask --app app`."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from sources.config import load_sources
from stories.store import StoryStore, stories_changed
from web.redis_cache import RedisChangeNotices, RedisRenderCache
from web.rendered import MemoryRenderCache, RenderCache

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
    "REDIS_URL": None,
    "REDIS_PREFIX": "storyfeed:",
    "RENDER_CACHE_TTL": "3600",
    # How long a process may answer from a remembered store version before asking the
    # database again; with Redis, writes elsewhere are announced and seen at once.
    "VERSION_MEMO_SECONDS": "0.25",
    # Per process; a PaaS database plan's connection limit must cover
    # instances x WEB_CONCURRENCY x (DB_POOL_SIZE + DB_MAX_OVERFLOW) plus the CLI.
    "DB_POOL_SIZE": "5",
    "DB_MAX_OVERFLOW": "2",
    "DB_POOL_TIMEOUT": "10",
    "DB_POOL_RECYCLE": "1800",
    "OEMBED_PROVIDER_NAME": None,
    "OEMBED_PROVIDER_URL": None,
    "OEMBED_CACHE_AGE": None,
    "PLAYER_PROVIDERS": None,
    "BENCH_BASELINE": None,
    # Upstream sources (sources/) and the ingest API (web/ingest.py).
    "SOURCES_FILE": None,
    "SOURCES_CACHE_PATH": None,
    "SOURCES_CONNECT_TIMEOUT": None,
    "SOURCES_READ_TIMEOUT": None,
    "SOURCES_RETRIES": None,
    "SOURCES_MAX_BYTES": None,
    "INGEST_TOKENS": None,
    "INGEST_MAX_BYTES": None,
    "INGEST_MAX_RECORDS": None,
    "FEED_MAX_AGE": "300",
    "WEBSUB_HUB": None,
}

INTEGER_SETTINGS = (
    "PROXY_HOPS", "RENDER_CACHE_TTL", "DB_POOL_SIZE", "DB_MAX_OVERFLOW", "DB_POOL_TIMEOUT",
    "DB_POOL_RECYCLE",
)


def load_settings(overrides: dict | None = None) -> dict:
    settings = {key: os.environ.get(key, default) for key, default in ENV_SETTINGS.items()}
    settings.update(overrides or {})
    for key in INTEGER_SETTINGS:
        settings[key] = int(settings[key])
    settings["VERSION_MEMO_SECONDS"] = float(settings["VERSION_MEMO_SECONDS"])
    return settings


def create_store(config) -> StoryStore:
    url = config["DATABASE_URL"]
    if url.startswith("sqlite"):
        return StoryStore.from_url(url)
    return StoryStore.from_url(
        url,
        pool_size=config["DB_POOL_SIZE"],
        max_overflow=config["DB_MAX_OVERFLOW"],
        pool_timeout=config["DB_POOL_TIMEOUT"],
        pool_recycle=config["DB_POOL_RECYCLE"],
    )


def create_render_cache(config) -> RenderCache:
    if config["REDIS_URL"]:
        return RedisRenderCache.from_url(
            config["REDIS_URL"], prefix=config["REDIS_PREFIX"], ttl=config["RENDER_CACHE_TTL"]
        )
    return MemoryRenderCache()


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

    app.extensions["storyfeed.store"] = create_store(app.config)
    app.extensions["storyfeed.render_cache"] = create_render_cache(app.config)
    if app.config["REDIS_URL"]:
        notices = RedisChangeNotices(app.config["REDIS_URL"], app.config["REDIS_PREFIX"] + "changes")
        stories_changed.connect(notices.publish, sender=app.extensions["storyfeed.store"])
        app.extensions["storyfeed.change_notices"] = notices
    # Read at start-up so that a broken sources file stops the release, not a sync later.
    sources_file = app.config["SOURCES_FILE"]
    app.extensions["storyfeed.sources"] = load_sources(sources_file) if sources_file else None

    import embeds
    from sources import cli as sources_cli
    from feeds import views as feeds_views
    from stories import cli as stories_cli
    from web import api, errors, export, ingest, media, openapi, pages

    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(ingest.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(media.bp)
    embeds.register(app)
    feeds_views.register(app)
    errors.register(app)
    stories_cli.register(app)
    export.register(app)
    sources_cli.register(app)
    if str(app.config["BENCH_BASELINE"] or "").lower() in ("1", "true", "yes", "on"):
        from bench.common import baseline_bp  # the constant-bytes endpoint benchmarks compare to

        app.register_blueprint(baseline_bp)
    return app


app = create_app()
