"""storyfeed: the app factory, and `app` for `gunicorn app:app` and `flask --app app`.

Layers, each importing only those below it (tests/test_layers.py): `stories/` (records,
store), `serving/` (links, render caches, request parameters, settings, app state), the
areas `feeds/`, `embeds/`, `sources/`, then `web/` (blueprints, commands) and this file.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Request
from werkzeug.exceptions import BadHost
from werkzeug.middleware.proxy_fix import ProxyFix

from embeds.config import EmbedSettings
from feeds.websub import WebSubPublisher, publisher_for
from serving import fastpath, request_guards, security_headers
from serving.redis_cache import RedisChangeNotices, RedisRenderCache
from serving.rendered import MemoryRenderCache, RenderCache, VersionMemo
from serving.settings import Settings, load_settings
from serving.state import AppState
from sources.config import SourcesConfig
from stories.errors import StoryfeedError
from stories.store import StoryStore, stories_changed
from web import api, embeds, errors, feeds, ingest, media, metrics, moves, openapi, pages, transcripts
from web.cli import embeds as embeds_cli
from web.cli import export as export_cli
from web.cli import feeds as feeds_cli
from web.cli import sources as sources_cli
from web.cli import stories as stories_cli
from web.moves import SiteMovesMemo

# Each module that hooks into the app, in the order its hooks must run: init_app(app).
PARTS = (
    request_guards, security_headers,
    moves, pages, api, ingest, openapi, media, transcripts, feeds, embeds, errors, metrics,
    stories_cli, sources_cli, embeds_cli, export_cli, feeds_cli,
)


def create_store(settings: Settings) -> StoryStore:
    url = settings["DATABASE_URL"]
    if url.startswith("sqlite"):
        return StoryStore.from_url(url)
    return StoryStore.from_url(
        url,
        pool_size=settings["DB_POOL_SIZE"],
        max_overflow=settings["DB_MAX_OVERFLOW"],
        pool_timeout=settings["DB_POOL_TIMEOUT"],
        pool_recycle=settings["DB_POOL_RECYCLE"],
    )


def create_render_cache(settings: Settings) -> RenderCache:
    in_memory = settings["RENDER_CACHE_MB"] * 1024 * 1024
    if settings["REDIS_URL"]:
        return RedisRenderCache.from_url(
            settings["REDIS_URL"], prefix=settings["REDIS_PREFIX"], ttl=settings["RENDER_CACHE_TTL"],
            local_bytes=in_memory,
        )
    return MemoryRenderCache(max_bytes=in_memory)


def create_state(settings: Settings, instance_path: str,
                 fast_path: fastpath.FastPath | None = None) -> AppState:
    """Everything the app keeps for its life, built now: a bad setting or sources file
    stops start-up here, and no request has to build anything."""
    store = create_store(settings)
    versions = VersionMemo(store, ttl=settings["VERSION_MEMO_SECONDS"])
    notices = None
    if settings["REDIS_URL"]:
        notices = RedisChangeNotices(settings["REDIS_URL"], settings["REDIS_PREFIX"] + "changes")
        stories_changed.connect(notices.publish, sender=store)
        notices.subscribe(versions.forget)
    areas: dict[type, Any] = {
        EmbedSettings: EmbedSettings.from_settings(settings),
        SourcesConfig: SourcesConfig.from_settings(settings, instance_path),
    }
    areas[SiteMovesMemo] = SiteMovesMemo.of(versions, store)
    publisher = publisher_for(settings, store)
    if publisher is not None:
        areas[WebSubPublisher] = publisher
    return AppState(settings=settings, store=store, render_cache=create_render_cache(settings),
                    versions=versions, change_notices=notices, fast_path=fast_path, areas=areas)


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


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The app, from the environment; `config` overrides settings (through the same
    parsers) and sets Flask's own keys (TESTING). SettingsError names a bad setting."""
    config = dict(config or {})
    app = StoryfeedFlask(__name__, instance_relative_config=True)
    settings = load_settings(config)
    if not settings["DATABASE_URL"]:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        config["DATABASE_URL"] = f"sqlite:///{Path(app.instance_path) / 'storyfeed.sqlite3'}"
        settings = load_settings(config)
    # Flask's own keys (TESTING...) and, for templates and extensions that read
    # app.config, the parsed settings; storyfeed's code reads them from the app state.
    app.config.update({key: value for key, value in config.items() if key not in settings})
    app.config.update(settings)
    logging.basicConfig(
        level=settings["LOG_LEVEL"],
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # Inside ProxyFix: the fast path needs the scheme and Host clients used.
    fast_path = fastpath.install(app) if settings["FAST_PATH"] else None
    if settings["PROXY_HOPS"]:
        hops = settings["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(request_guards.OnlyWebSchemes(app.wsgi_app),
                                x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
    create_state(settings, app.instance_path, fast_path).install(app)
    for part in PARTS:
        part.init_app(app)
    return app


def _app_or_exit() -> Flask:
    """The module's app; a setting (or sources file) that cannot be used ends the process
    with a message naming it (under flask and gunicorn alike), not a traceback."""
    try:
        return create_app()
    except StoryfeedError as exc:
        sys.exit(f"storyfeed cannot start: {exc}")


app = _app_or_exit()
