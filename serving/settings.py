"""Every setting, declared once: its name, default, parser and help.

`load_settings` reads them from the environment (and from the overrides tests give
`create_app`), parses each, and stops at the first it cannot use with a `SettingsError`
naming the variable: a bad value stops start-up, never a request later. The areas get
typed values built from these in the factory; nothing else reads the environment.
The README's "Configuration" table is checked against this one (tests/test_settings.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping

from stories.errors import SettingsError
from stories.sample import SAMPLE_MEDIA

from .links import is_web_url

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    parse: Callable[[Any], Any]  # the raw value (text, or a typed override) -> the value
    help: str
    gunicorn: bool = False  # read by gunicorn.conf.py, not by the app


# -- parsers: each takes text (or an already typed override) and raises ValueError ------


def text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be text")
    return value


def optional_text(value: Any) -> str | None:
    return text(value).strip() or None if value is not None else None


def optional_web_url(value: Any) -> str | None:
    url = optional_text(value)
    if url is not None and not is_web_url(url):
        raise ValueError("must be an absolute http(s) URL")
    return url


def whole_number(minimum: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ValueError("must be a whole number")
        try:
            number = int(value)
        except ValueError:
            raise ValueError(f"must be a whole number, not {value!r}") from None
        if number < minimum:
            raise ValueError(f"must be at least {minimum}")
        return number

    parse.__doc__ = f"a whole number >= {minimum}"
    return parse


def seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError("must be a number of seconds")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"must be a number of seconds, not {value!r}") from None
    if not number >= 0 or number == float("inf"):
        raise ValueError("must be a number of seconds, at least 0")
    return number


def names(value: Any) -> tuple[str, ...]:
    """A comma-separated list (or a list): its items, trimmed, empty ones dropped."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not all(isinstance(item, str) for item in items):
        raise ValueError("must be a comma-separated list")
    return tuple(item.strip() for item in items if item.strip())


def host_names(value: Any) -> tuple[str, ...] | None:
    """TRUSTED_HOSTS as Flask takes it: names, or None for "any host"."""
    return tuple(name.lower() for name in names(value)) or None


def log_level(value: Any) -> str:
    level = text(value).strip().upper()
    if level not in LOG_LEVELS:
        raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
    return level


SETTINGS: tuple[Setting, ...] = (
    # -- the site ---------------------------------------------------------------------
    Setting("SITE_URL", None, optional_web_url,
            "Public base URL; absolute links are built from it. Unset: from the request's Host."),
    Setting("TRUSTED_HOSTS", None, host_names,
            "Comma-separated host names a request may name (`.example.org` takes subdomains); "
            "others get 400."),
    Setting("PROXY_HOPS", 0, whole_number(0),
            "Proxies in front that set X-Forwarded-*; 1 on a PaaS router."),
    Setting("MEDIA_BASE_URL", None, optional_web_url,
            "Where `/media/...` paths of records live (a CDN); unset: this site's `/media/`."),
    Setting("MEDIA_DIR", str(SAMPLE_MEDIA), text, "Folder `/media/` serves."),
    Setting("LOG_LEVEL", "INFO", log_level, "DEBUG, INFO, WARNING, ERROR or CRITICAL."),
    # -- the store --------------------------------------------------------------------
    Setting("DATABASE_URL", None, optional_text,
            "SQLAlchemy URL (`postgres://` works); unset: SQLite in `instance/`."),
    Setting("DB_POOL_SIZE", 5, whole_number(1), "PostgreSQL connections kept per process."),
    Setting("DB_MAX_OVERFLOW", 2, whole_number(0), "Extra connections a process may open."),
    Setting("DB_POOL_TIMEOUT", 10, whole_number(1), "Seconds to wait for a free connection."),
    Setting("DB_POOL_RECYCLE", 1800, whole_number(1), "Seconds before a connection is replaced."),
    # -- caches -----------------------------------------------------------------------
    Setting("REDIS_URL", None, optional_text,
            "Shared render cache, change notices and sources' HTTP cache; unset: per process."),
    Setting("REDIS_PREFIX", "storyfeed:", text, "Prefix of every Redis key storyfeed writes."),
    Setting("RENDER_CACHE_TTL", 3600, whole_number(1), "Seconds a rendered body stays in Redis."),
    Setting("VERSION_MEMO_SECONDS", 0.25, seconds,
            "How long a process trusts the store version it last read (without Redis)."),
    Setting("FEED_MAX_AGE", 300, whole_number(0), "Cache-Control max-age of feeds, in seconds."),
    # -- feeds and embeds -------------------------------------------------------------
    Setting("WEBSUB_HUB", None, optional_web_url,
            "WebSub hub announced in feeds and pinged after every write (needs SITE_URL)."),
    Setting("OEMBED_PROVIDER_NAME", "storyfeed", text, "provider_name of oEmbed answers."),
    Setting("OEMBED_PROVIDER_URL", None, optional_web_url,
            "provider_url of oEmbed answers; unset: the site URL."),
    Setting("OEMBED_CACHE_AGE", 3600, whole_number(0),
            "cache_age of oEmbed answers and their Cache-Control max-age, in seconds."),
    Setting("PLAYER_PROVIDERS", None, optional_text,
            "More player providers: a JSON list, or the path of a JSON file (docs/oembed.md)."),
    # -- sources and ingest -----------------------------------------------------------
    Setting("SOURCES_FILE", None, optional_text,
            "TOML file of upstream sources for `flask sync` (docs/sources.md); read at start."),
    Setting("SOURCES_CACHE_PATH", None, optional_text,
            "SQLite file of the sources' HTTP cache without Redis; unset: in `instance/`."),
    Setting("SOURCES_CONNECT_TIMEOUT", 5.0, seconds, "Seconds to connect to an upstream."),
    Setting("SOURCES_READ_TIMEOUT", 30.0, seconds, "Seconds to wait for an upstream's bytes."),
    Setting("SOURCES_RETRIES", 2, whole_number(0), "Retries of an upstream that fails (5xx)."),
    Setting("SOURCES_MAX_BYTES", 20_000_000, whole_number(0),
            "Largest upstream document read, in bytes."),
    Setting("INGEST_TOKENS", (), names,
            "Comma-separated bearer tokens of the write API; none: the write API is off."),
    Setting("INGEST_MAX_BYTES", 10_000_000, whole_number(1),
            "Largest ingest request body, in bytes."),
    # -- gunicorn (gunicorn.conf.py) --------------------------------------------------
    Setting("HOST", "0.0.0.0", text, "Address gunicorn binds.", gunicorn=True),
    Setting("PORT", 8000, whole_number(1), "Port gunicorn binds (a PaaS sets it).", gunicorn=True),
    Setting("WEB_CONCURRENCY", 2, whole_number(1), "gunicorn worker processes.", gunicorn=True),
    Setting("FORWARDED_ALLOW_IPS", "127.0.0.1", text,
            "Proxy addresses gunicorn takes X-Forwarded-* from (`*` behind a PaaS router).",
            gunicorn=True),
)

BY_NAME = {setting.name: setting for setting in SETTINGS}

Settings = Mapping[str, Any]


def parse_setting(setting: Setting, raw: Any) -> Any:
    if raw is None or (isinstance(raw, str) and raw == "" and setting.default is not None):
        return setting.default
    try:
        return setting.parse(raw)
    except ValueError as exc:
        shown = raw if not isinstance(raw, str) or len(raw) <= 80 else raw[:80] + "..."
        raise SettingsError(f"{setting.name}={shown!r}: {exc}") from None


def load_settings(overrides: Mapping[str, Any] | None = None,
                  environ: Mapping[str, str] | None = None, *, gunicorn: bool = False) -> Settings:
    """The app's settings (with `gunicorn`, gunicorn's as well: its master checks them
    all before any worker starts), each parsed; SettingsError names a bad one.

    A value in `overrides` wins over the environment and passes the same parser.
    """
    environ = os.environ if environ is None else environ
    overrides = overrides or {}
    values = {}
    for setting in SETTINGS:
        if setting.gunicorn and not gunicorn:
            continue
        raw = overrides.get(setting.name, environ.get(setting.name))
        values[setting.name] = parse_setting(setting, raw)
    return MappingProxyType(values)
