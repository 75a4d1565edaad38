"""storyfeed: the app factory, `create_app`, which `flask --app app` finds; gunicorn serves
the app wsgi.py builds (`gunicorn wsgi:app`). Importing this module builds nothing.

Layers, each importing only those below it (tests/test_layers.py): `stories/` (records,
store), `serving/` (links, render caches, request parameters, settings, app state), the
areas `feeds/`, `embeds/`, `sources/`, then `web/` (blueprints, commands) and this file.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Request
from werkzeug.exceptions import BadHost
from werkzeug.middleware.proxy_fix import ProxyFix

from audience.recorder import Recorder
from embeds.config import EmbedSettings
from feeds.websub import WebSubPublisher, publisher_for
from serving import fastpath, logs, request_guards, security_headers
from serving.health import Health, sqlite_on_platform
from serving.members import Members
from serving.metrics import audience_counted
from serving.redis_cache import RedisChangeNotices, RedisRenderCache
from serving.redis_clients import check_tls
from serving.rendered import MemoryRenderCache, RenderCache, VersionMemo
from serving.settings import Settings, load_settings, platform_sign, run_by_flask_cli
from serving.state import AppState
from sources.config import SourcesConfig
from sources.sync import source_tokens
from stories.errors import SettingsError, StoryfeedError
from stories.members import MemberStore, members_changed
from stories.postgres import Limits
from stories.store import StoryStore, stories_changed
from web import (
    api,
    audience,
    cors,
    desk,
    embeds,
    errors,
    feeds,
    health,
    ingest,
    media,
    members,
    metrics,
    moves,
    openapi,
    pages,
    transcripts,
)
from web.cli import audience as audience_cli
from web.cli import desk as desk_cli
from web.cli import embeds as embeds_cli
from web.cli import export as export_cli
from web.cli import feeds as feeds_cli
from web.cli import members as members_cli
from web.cli import sources as sources_cli
from web.cli import stories as stories_cli
from web.moves import SiteMovesMemo

log = logging.getLogger(__name__)

# Each module that hooks into the app, in the order its hooks must run: init_app(app).
PARTS = (
    request_guards, security_headers,
    health, moves, pages, api, audience, ingest, members, openapi, media, transcripts, feeds, embeds, cors,
    desk, errors, metrics,
    stories_cli, sources_cli, embeds_cli, export_cli, feeds_cli, audience_cli, members_cli, desk_cli,
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
        limits=Limits(connect_timeout=settings["DB_CONNECT_TIMEOUT"],
                      statement_timeout=settings["DB_STATEMENT_TIMEOUT"],
                      keepalive_idle=settings["DB_KEEPALIVE_IDLE"]),
    )


def create_render_cache(settings: Settings) -> RenderCache:
    in_memory = settings["RENDER_CACHE_MB"] * 1024 * 1024
    if settings["REDIS_URL"]:
        return RedisRenderCache.from_url(
            settings["REDIS_URL"], tls_verify=settings["REDIS_TLS_VERIFY"],
            prefix=settings["REDIS_PREFIX"], ttl=settings["RENDER_CACHE_TTL"], local_bytes=in_memory,
        )
    return MemoryRenderCache(max_bytes=in_memory)


def create_state(settings: Settings, instance_path: str,
                 fast_path: fastpath.FastPath | None = None) -> AppState:
    """Everything the app keeps for its life, built now: a bad setting or sources file
    stops start-up here, and no request has to build anything."""
    store = create_store(settings)
    render_cache = create_render_cache(settings)
    shared = render_cache if isinstance(render_cache, RedisRenderCache) else None
    versions = VersionMemo(store, ttl=settings["VERSION_MEMO_SECONDS"], shared=shared)
    member_area = Members.build(MemberStore(store.engine), settings)
    notices = None
    if settings["REDIS_URL"]:
        check_tls(settings["REDIS_URL"], settings["REDIS_TLS_VERIFY"])
        notices = RedisChangeNotices(settings["REDIS_URL"], settings["REDIS_PREFIX"] + "changes",
                                     tls_verify=settings["REDIS_TLS_VERIFY"])
        stories_changed.connect(notices.publish, sender=store)
        notices.subscribe(versions.forget)
        # A revocation anywhere reaches every process's remembered secrets at once.
        members_changed.connect(notices.publish, sender=member_area.store)
        notices.subscribe(member_area.secrets.forget)
    areas: dict[type, Any] = {
        EmbedSettings: EmbedSettings.from_settings(settings),
        SourcesConfig: SourcesConfig.from_settings(settings, instance_path),
        Members: member_area,
    }
    areas[SiteMovesMemo] = SiteMovesMemo.of(versions, store)
    if settings["AUDIENCE_COUNTING"]:
        areas[Recorder] = Recorder(store.engine, settings["AUDIENCE_FLUSH_SECONDS"],
                                   on_count=audience_counted)
    publisher = publisher_for(settings, store)
    if publisher is not None:
        areas[WebSubPublisher] = publisher
    platform = platform_sign(settings)
    if platform is not None and store.engine.dialect.name == "sqlite":
        log.warning("storyfeed: %s", sqlite_on_platform(platform))
    health = Health(store, redis_ping=render_cache.client.ping
                    if isinstance(render_cache, RedisRenderCache) else None, platform=platform)
    # Once at start: a store behind the migrations is one log line naming the command.
    # Not for a command: `db upgrade`, the release step, is the very command it would name.
    if not run_by_flask_cli():
        health.schema.check_quietly()
    return AppState(settings=settings, store=store, render_cache=render_cache,
                    versions=versions, health=health, change_notices=notices,
                    fast_path=fast_path, areas=areas)


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
    parsers) and sets Flask's own keys (TESTING). SettingsError names a bad setting.

    Called with no `config`, as a process starts it (wsgi.py under gunicorn, and Flask's
    CLI, which calls the factory so), a setting or sources file that cannot be used ends
    the process with one line naming it, not a traceback."""
    if config is None:
        try:
            return create_app({})
        except StoryfeedError as exc:
            logs.refuse_start(exc)
    config = dict(config)
    app = StoryfeedFlask(__name__, instance_relative_config=True)
    settings = load_settings(config)
    if not settings["DATABASE_URL"]:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        config["DATABASE_URL"] = f"sqlite:///{Path(app.instance_path) / 'storyfeed.sqlite3'}"
        settings = load_settings(config)
    if settings["DESK"] and not settings["SECRET_KEY"]:
        raise SettingsError("SECRET_KEY is not set: the desk (DESK=on) signs its sessions with it; "
                            "set it to 32 or more random characters, the same on every instance")
    # Flask's own keys (TESTING...) and, for templates and extensions that read
    # app.config, the parsed settings; storyfeed's code reads them from the app state.
    app.config.update({key: value for key, value in config.items() if key not in settings})
    app.config.update(settings)
    logs.configure(settings["LOG_LEVEL"], logs.secrets_of(settings))
    if settings["SENTRY_DSN"]:
        logs.init_error_tracking(settings["SENTRY_DSN"])
    app.wsgi_app = request_guards.ReadableBody(app.wsgi_app)
    if settings["TRUSTED_HOSTS"]:
        app.wsgi_app = request_guards.ProbesFromAnyHost(app.wsgi_app, settings["TRUSTED_HOSTS"][0])
    # Inside ProxyFix: the fast path needs the scheme and Host clients used.
    fast_path = fastpath.install(app) if settings["FAST_PATH"] else None
    if settings["PROXY_HOPS"]:
        hops = settings["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(request_guards.OnlyWebSchemes(app.wsgi_app),
                                x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
    # Outermost: every answer, the fast path's and ProxyFix's refusals included, has an id.
    app.wsgi_app = logs.RequestIds(app.wsgi_app)  # type: ignore[method-assign]
    state = create_state(settings, app.instance_path, fast_path)
    logs.add_secrets(source_tokens(state.area(SourcesConfig).sources or ()))
    state.install(app)
    for part in PARTS:
        part.init_app(app)
    return app


def settle_heap() -> None:
    """Leave what a process built at start (some 120,000 objects: the modules, the app)
    out of the garbage collector's passes, as the last step of starting a worker.

    A full pass walks every tracked object, some 20 to 50 ms here, and it runs in the
    request whose allocations set it off: a transcript page or a page of 100 feed items
    (thousands of objects) paid it, up to 200 ms in `bench.anonymous`. What start-up
    built lives as long as the process; frozen, it is never walked again. Only for a
    process that serves (wsgi.py): tests build many apps, whose cycles must be freed.
    """
    gc.collect()
    gc.freeze()
