"""storyfeed: the app factory, and `app` for `gunicorn app:app` and `flask --app app`."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from flask import Flask, Request
from werkzeug.exceptions import BadHost
from werkzeug.middleware.proxy_fix import ProxyFix

from serving import fastpath
from sources.config import load_sources
from stories.store import StoryStore, stories_changed
from web import request_guards, security_headers
from web.redis_cache import RedisChangeNotices, RedisRenderCache
from web.rendered import MemoryRenderCache, RenderCache

HERE = Path(__file__).resolve().parent
SAMPLE_MEDIA = HERE / "stories" / "sample" / "media"

# Configuration read from the environment (README, "Configuration"), with defaults.
ENV_SETTINGS = {
    "DATABASE_URL": None,
    "SITE_URL": None,
    # Host names (comma-separated; ".example.org" takes every subdomain) a request may
    # name; others get 400. Production sets SITE_URL, so no URL is built from Host.
    "TRUSTED_HOSTS": None,
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
    # Warm feed and oEmbed answers from the render cache before Flask (serving/fastpath.py).
    "FAST_PATH": "on",
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
    settings["TRUSTED_HOSTS"] = parse_trusted_hosts(settings["TRUSTED_HOSTS"])
    return settings


def parse_trusted_hosts(value) -> list[str] | None:
    """TRUSTED_HOSTS as Flask takes it: a list, or None for "any host"."""
    if isinstance(value, str):
        value = value.split(",")
    hosts = [h.strip().lower() for h in value or () if h.strip()]
    return hosts or None


def is_on(value) -> bool:
    return str(value or "").lower() in ("1", "true", "yes", "on")


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


class StoryfeedFlask(Flask):
    def create_url_adapter(self, request: Request | None):
        adapter = super().create_url_adapter(request)
        if request is not None:
            try:
                request.root_url  # noqa: B018 (decodes the host from punycode, IDNA)
            except UnicodeError:
                # A Host like "xn--a.example" passes werkzeug's checks, then breaks every
                # absolute URL built from it (and the error page). Refused where werkzeug
                # refuses other invalid hosts, it ends as the same 400.
                raise BadHost() from None
        return adapter


def create_app(config: dict | None = None) -> Flask:
    app = StoryfeedFlask(__name__, instance_relative_config=True)
    app.config.update(load_settings(config))
    logging.basicConfig(
        level=app.config["LOG_LEVEL"].upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if not app.config["DATABASE_URL"]:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        app.config["DATABASE_URL"] = f"sqlite:///{Path(app.instance_path) / 'storyfeed.sqlite3'}"
    if is_on(app.config["FAST_PATH"]):
        fastpath.install(app)  # inside ProxyFix: it needs the scheme and Host clients used
    if app.config["PROXY_HOPS"]:
        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(request_guards.OnlyWebSchemes(app.wsgi_app),
                                x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
    request_guards.register(app)
    security_headers.register(app)

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
    from feeds import check_cli as feeds_check_cli
    from feeds import views as feeds_views
    from stories import cli as stories_cli
    from web import api, errors, export, ingest, media, moves, openapi, pages, transcripts

    moves.register(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(ingest.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(media.bp)
    app.register_blueprint(transcripts.bp)
    embeds.register(app)
    feeds_views.register(app)
    errors.register(app)
    stories_cli.register(app)
    export.register(app)
    sources_cli.register(app)
    feeds_check_cli.register(app)
    if is_on(app.config["BENCH_BASELINE"]):
        from bench.common import baseline_bp  # the constant-bytes endpoint benchmarks compare to

        app.register_blueprint(baseline_bp)
    return app


app = create_app()
