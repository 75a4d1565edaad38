"""Every setting, declared once: its name, default, parser and help.

`load_settings` reads them from the environment (and from the overrides tests give
`create_app`), parses each, and stops at the first it cannot use with a `SettingsError`
naming the variable: a bad value stops start-up, never a request later. The areas get
typed values built from these in the factory; nothing else reads the environment.
The README's "Configuration" table is checked against this one (tests/test_settings.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

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
    shown: str  # the default as the README says it ("SQLite file ...", "unset")
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
        refusal = ValueError(f"must be a whole number of at least {minimum}")
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise refusal
        try:
            number = int(value)
        except ValueError:
            raise refusal from None
        if number < minimum:
            raise refusal
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


def switch(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = text(value).strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be on or off")


def log_level(value: Any) -> str:
    level = text(value).strip().upper()
    if level not in LOG_LEVELS:
        raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
    return level


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "DATABASE_URL", None, optional_text,
        "SQLAlchemy URL; `postgres://` and `postgresql://` URLs use psycopg 3",
        shown="SQLite file `instance/storyfeed.sqlite3`",
    ),
    Setting(
        "SITE_URL", None, optional_web_url,
        "public base URL of absolute links in feeds, embeds and pages; set it in production",
        shown="the request's own host",
    ),
    Setting(
        "TRUSTED_HOSTS", None, host_names,
        "comma-separated `Host` values to answer; any other is a 400 (see Security)",
        shown="unset",
    ),
    Setting(
        "MEDIA_BASE_URL", None, optional_web_url,
        "where `/media/...` record URLs point, e.g. a CDN",
        shown="`SITE_URL` + `/media/`",
    ),
    Setting(
        "MEDIA_DIR", str(SAMPLE_MEDIA), text,
        "folder served under `/media/`",
        shown="`stories/sample/media`",
    ),
    Setting(
        "HOST", "0.0.0.0", text,
        "address gunicorn binds (`make run` uses `127.0.0.1`)",
        shown="`0.0.0.0`",
        gunicorn=True,
    ),
    Setting(
        "PORT", 8000, whole_number(1),
        "port gunicorn listens on (`gunicorn.conf.py`)",
        shown="`8000`",
        gunicorn=True,
    ),
    Setting(
        "WEB_CONCURRENCY", 2, whole_number(1),
        "gunicorn worker processes",
        shown="`2`",
        gunicorn=True,
    ),
    Setting(
        "LOG_LEVEL", "INFO", log_level,
        "log level of the app and gunicorn",
        shown="`INFO`",
    ),
    Setting(
        "PROXY_HOPS", 0, whole_number(0),
        "how many proxies (a PaaS router) set `X-Forwarded-*`; trusted by Werkzeug's `ProxyFix`",
        shown="`0`",
    ),
    Setting(
        "FORWARDED_ALLOW_IPS", "127.0.0.1", text,
        "addresses gunicorn trusts to set `X-Forwarded-*`",
        shown="`127.0.0.1`",
        gunicorn=True,
    ),
    Setting(
        "REDIS_URL", None, optional_text,
        "Redis for the shared render cache, the change notices and the HTTP cache of `sync`; "
        "unset: a render cache per process and a SQLite HTTP cache",
        shown="unset",
    ),
    Setting(
        "REDIS_PREFIX", "storyfeed:", text,
        "prefix of every key storyfeed writes in Redis",
        shown="`storyfeed:`",
    ),
    Setting(
        "RENDER_CACHE_TTL", 3600, whole_number(1),
        "seconds a rendered body stays in Redis",
        shown="`3600`",
    ),
    Setting(
        "RENDER_CACHE_MB", 32, whole_number(1),
        "megabytes of rendered bodies each process keeps in memory: the whole render cache "
        "without Redis, its most used entries with it",
        shown="`32`",
    ),
    Setting(
        "VERSION_MEMO_SECONDS", 0.25, seconds,
        "how long a process trusts its remembered store version; with Redis, writes anywhere "
        "are announced and seen at once",
        shown="`0.25`",
    ),
    Setting(
        "DB_POOL_SIZE", 5, whole_number(1),
        "PostgreSQL connections kept per process ([scaling](docs/scaling.md))",
        shown="`5`",
    ),
    Setting(
        "DB_MAX_OVERFLOW", 2, whole_number(0),
        "extra PostgreSQL connections per process in bursts",
        shown="`2`",
    ),
    Setting(
        "DB_POOL_TIMEOUT", 10, whole_number(1),
        "seconds to wait for a pooled connection",
        shown="`10`",
    ),
    Setting(
        "DB_POOL_RECYCLE", 1800, whole_number(1),
        "age in seconds at which a pooled connection is replaced",
        shown="`1800`",
    ),
    Setting(
        "FEED_MAX_AGE", 300, whole_number(0),
        "seconds in the feeds' `Cache-Control: public, max-age=N`",
        shown="`300`",
    ),
    Setting(
        "FAST_PATH", True, switch,
        "`off` sends every request through Flask; on, a warm or conditional request for a "
        "feed or oEmbed URL already answered is answered from the render cache before "
        "Flask, with the same headers (`serving/fastpath.py`)",
        shown="`on`",
    ),
    Setting(
        "WEBSUB_HUB", None, optional_web_url,
        'WebSub hub URL: feeds name it (`rel="hub"`) and writes ping it; needs `SITE_URL`',
        shown="unset",
    ),
    Setting(
        "OEMBED_PROVIDER_NAME", "storyfeed", text,
        "`provider_name` of oEmbed answers and of `/oembed/providers.json`",
        shown="`storyfeed`",
    ),
    Setting(
        "OEMBED_PROVIDER_URL", None, optional_web_url,
        "`provider_url` of oEmbed answers",
        shown="`SITE_URL`",
    ),
    Setting(
        "OEMBED_CACHE_AGE", 3600, whole_number(0),
        "seconds: oEmbed `cache_age` and the `Cache-Control` max-age of oEmbed answers",
        shown="`3600`",
    ),
    Setting(
        "PLAYER_PROVIDERS", None, optional_text,
        "more audio players to accept: a JSON list, or the path of a JSON file holding one "
        "([oEmbed](docs/oembed.md#player-providers))",
        shown="unset",
    ),
    Setting(
        "SOURCES_FILE", None, optional_text,
        "TOML file of `[[source]]` tables, checked at start-up ([sources](docs/sources.md))",
        shown="unset (no sources)",
    ),
    Setting(
        "SOURCES_CACHE_PATH", None, optional_text,
        "the SQLite HTTP cache of `sync`, when `REDIS_URL` is unset",
        shown="`instance/http-cache.sqlite3`",
    ),
    Setting(
        "SOURCES_CONNECT_TIMEOUT", 5.0, seconds,
        "seconds to connect, per upstream request",
        shown="`5`",
    ),
    Setting(
        "SOURCES_READ_TIMEOUT", 30.0, seconds,
        "seconds to read, per upstream request",
        shown="`30`",
    ),
    Setting(
        "SOURCES_RETRIES", 2, whole_number(0),
        "retries on connection errors, timeouts and 5xx: the first at once, then after 1 s, 2"
        " s, ...",
        shown="`2`",
    ),
    Setting(
        "SOURCES_MAX_BYTES", 20_000_000, whole_number(0),
        "largest upstream document accepted (after decompression)",
        shown="`20000000`",
    ),
    Setting(
        "INGEST_TOKENS", (), names,
        "comma-separated bearer tokens of the [ingest API](docs/ingest.md)",
        shown="unset (write API off)",
    ),
    Setting(
        "INGEST_MAX_BYTES", 10_000_000, whole_number(1),
        "largest ingest request body",
        shown="`10000000`",
    ),
    Setting(
        "INGEST_MAX_RECORDS", 1_000, whole_number(1),
        "most records in one ingest request (413 above)",
        shown="`1000`",
    ),
    Setting(
        "METRICS_TOKEN", None, optional_text,
        "bearer token Prometheus sends to read `/metrics` ([operations](docs/operations.md#metrics))",
        shown="unset (`/metrics` answers 404)",
    ),
    Setting(
        "METRICS_DIR", None, optional_text,
        "folder where gunicorn's workers keep their metrics for `/metrics` to sum; emptied "
        "when gunicorn starts, so one per instance",
        shown="`storyfeed-metrics-HOST-PORT` in the temporary folder",
        gunicorn=True,
    ),
    Setting(
        "SOURCE_VERSION", None, optional_text,
        "the commit or release being run, shown in `/metrics` (`storyfeed_build_info`)",
        shown="unset",
    ),
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


def markdown_table() -> str:
    """The README's "Configuration" table, made from this one (tests/test_settings.py
    checks that the README holds exactly this)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    rows += [f"| `{s.name}` | {s.shown} | {s.help} |" for s in SETTINGS]
    return "\n".join(rows) + "\n"


if __name__ == "__main__":  # `python -m serving.settings` prints the README's table
    print(markdown_table(), end="")
