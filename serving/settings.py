"""Every setting, declared once: its name, default, parser and help.

`load_settings` reads them from the environment (and from the overrides tests give
`create_app`), parses each, and stops at the first it cannot use with a `SettingsError`
naming the variable: a bad value stops start-up, never a request later. The areas get
typed values built from these in the factory; nothing else reads the environment.
The README's "Configuration" table is checked against this one (tests/test_settings.py).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

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
    if url is None:
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises for a port that is no number, or out of range)
    except ValueError:
        parts = None
    if parts is None or not is_web_url(url) or not parts.hostname or any(c.isspace() for c in url):
        raise ValueError("must be an absolute http(s) URL")
    return url


def sentry_dsn(value: Any) -> str | None:
    """A DSN as Sentry gives it: https://KEY@HOST/PROJECT. Never echoed: it holds a key."""
    dsn = optional_text(value)
    if dsn is None:
        return None
    try:
        parts = urlsplit(dsn)
        valid = is_web_url(dsn) and bool(parts.username) and parts.path.strip("/") != ""
    except ValueError:
        valid = False
    if not valid:
        raise ValueError("must be a Sentry DSN: https://KEY@HOST/PROJECT")
    return dsn


def optional_base_url(value: Any) -> str | None:
    """A web URL that paths are appended to: a query or fragment would end up inside them."""
    url = optional_web_url(value)
    if url is not None and ("?" in url or "#" in url):
        raise ValueError("must be an absolute http(s) URL without ? or #")
    return url


# The URL settings below are read with the standard library, by the rules of the libraries
# that use them (tests/test_settings.py holds the two to the same answers): gunicorn's
# master checks every setting before its gevent workers patch the standard library:
# psycopg imported there picks a wait function that blocks a worker's whole event loop on
# each query, and redis-py's names taken from `ssl` stay unpatched.

# The store's SQL is PostgreSQL's (through psycopg 3) and SQLite's: SQLAlchemy's dialect
# and driver names of each ("" is the dialect's default driver).
STORE_DRIVERS = {"postgresql": ("", "psycopg"), "postgres": ("",), "sqlite": ("", "pysqlite")}
DATABASE_URL_FORM = "postgresql://USER@HOST:5432/NAME (a password after USER:) or sqlite:///PATH"


def optional_database_url(value: Any) -> str | None:
    """A URL SQLAlchemy reads (`dialect[+driver]://...`), of a backend and driver the store
    uses; for a SQLite file, in a folder that exists."""
    url = optional_text(value)
    if url is None:
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises for a port that is no number, or out of range)
    except ValueError:
        raise ValueError(f"must be a database URL: {DATABASE_URL_FORM}") from None
    if not re.fullmatch(r"[\w+]+", parts.scheme) or not url.startswith(parts.scheme + "://"):
        raise ValueError(f"must be a database URL: {DATABASE_URL_FORM}")
    backend, _, driver = parts.scheme.partition("+")
    if backend not in STORE_DRIVERS:
        raise ValueError(f"names no database storyfeed can use ({parts.scheme!r}): "
                         f"use {DATABASE_URL_FORM}")
    if driver not in STORE_DRIVERS[backend]:
        raise ValueError(f"names a driver storyfeed does not use ({driver!r}): "
                         f"postgresql:// uses psycopg 3, sqlite:/// Python's sqlite3")
    database = parts.path[1:]  # "sqlite:///rel.db" is relative, "sqlite:////abs.db" absolute
    if backend == "sqlite" and database not in ("", ":memory:") and "uri=true" not in parts.query:
        folder = Path(database).parent
        if not folder.is_dir():
            raise ValueError(f"the folder of the SQLite file does not exist: {folder}")
    return url


def optional_redis_url(value: Any) -> str | None:
    """What redis-py reads: redis://, rediss:// (TLS) or unix://, with a port that is one."""
    url = optional_text(value)
    if url is None:
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises for a port that is no number, or out of range)
    except ValueError as exc:
        raise ValueError(f"must be a Redis URL: {exc}") from None
    if parts.scheme not in ("redis", "rediss", "unix") or not url.startswith(parts.scheme + ":"):
        raise ValueError("must be a redis://, rediss:// (TLS) or unix:// URL")
    if parts.scheme == "unix" and not parts.path:
        raise ValueError("must name the socket's path: unix:///path/to/redis.sock")
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


def positive_seconds(value: Any) -> float:
    number = seconds(value)
    if number == 0:
        raise ValueError("must be a number of seconds above 0")
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


def analytics_prefix(value: Any) -> str | None:
    """A redirecting service's prefix: the enclosure URL, without its scheme, is appended."""
    url = optional_base_url(value)
    if url is not None and not url.endswith("/"):
        raise ValueError("must end with / (the enclosure's host and path follow it)")
    return url


def secret_key(value: Any) -> str | None:
    key = optional_text(value)
    if key is not None and len(key) < 32:
        raise ValueError("must be at least 32 characters: python -c 'import secrets; print(secrets.token_hex())'")
    return key


def log_level(value: Any) -> str:
    level = text(value).strip().upper()
    if level not in LOG_LEVELS:
        raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
    return level


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "DATABASE_URL", None, optional_database_url,
        "SQLAlchemy URL; `postgres://` and `postgresql://` URLs use psycopg 3",
        shown="SQLite file `instance/storyfeed.sqlite3`",
    ),
    Setting(
        "SITE_URL", None, optional_base_url,
        "public base URL of absolute links in feeds, embeds and pages; set it in production",
        shown="the request's own host",
    ),
    Setting(
        "TRUSTED_HOSTS", None, host_names,
        "comma-separated `Host` values to answer; any other is a 400 (see Security)",
        shown="unset",
    ),
    Setting(
        "MEDIA_BASE_URL", None, optional_base_url,
        "where `/media/...` record URLs point, e.g. a CDN",
        shown="`SITE_URL` + `/media/`",
    ),
    Setting(
        "MEDIA_DIR", str(SAMPLE_MEDIA), text,
        "folder served under `/media/`",
        shown="`stories/sample/media`",
    ),
    Setting(
        "AUDIENCE_COUNTING", True, switch,
        "`off` counts no downloads; on, each process keeps the audio fetches of `/media/` "
        "(listeners as salted hashes, never addresses) and writes them in batches "
        "([audience](docs/audience.md))",
        shown="`on`",
    ),
    Setting(
        "AUDIENCE_FLUSH_SECONDS", 10.0, positive_seconds,
        "seconds between the batches of fetches each process writes: what a crash may lose",
        shown="`10`",
    ),
    Setting(
        "ANALYTICS_PREFIX", None, analytics_prefix,
        "a measurement service's prefix put in front of every podcast enclosure, e.g. "
        "`https://op3.dev/e/` or `https://dts.podtrac.com/redirect.mp3/` "
        "([audience](docs/audience.md#prefixes))",
        shown="unset",
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
        "SENTRY_DSN", None, sentry_dsn,
        "Sentry DSN: unhandled errors go there, without tokens or personal data "
        "([operations](docs/operations.md#errors))",
        shown="unset (errors only logged)",
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
        "REDIS_URL", None, optional_redis_url,
        "Redis for the shared render cache, the change notices and the HTTP cache of `sync`; "
        "unset: a render cache per process and a SQLite HTTP cache",
        shown="unset",
    ),
    Setting(
        "REDIS_TLS_VERIFY", True, switch,
        "`off` accepts a `rediss://` server whose TLS certificate does not verify, as Heroku "
        "Redis's self-signed one; on, such a server stops start-up with a message saying so",
        shown="`on`",
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
        "DB_POOL_TIMEOUT", 5, whole_number(1),
        "seconds to wait for a pooled connection; then 503 with `Retry-After`",
        shown="`5`",
    ),
    Setting(
        "DB_POOL_RECYCLE", 1800, whole_number(1),
        "age in seconds at which a pooled connection is replaced",
        shown="`1800`",
    ),
    Setting(
        "DB_CONNECT_TIMEOUT", 3, whole_number(0),
        "seconds a new PostgreSQL connection may take (`0`: no limit) "
        "([failures](docs/scaling.md#failures))",
        shown="`3`",
    ),
    Setting(
        "DB_STATEMENT_TIMEOUT", 5.0, seconds,
        "seconds a PostgreSQL statement may run before the server cancels it; a server "
        "silent one second longer is given up (`0`: no limit; migrations have none)",
        shown="`5`",
    ),
    Setting(
        "DB_KEEPALIVE_IDLE", 5, whole_number(0),
        "seconds a PostgreSQL connection may be idle before TCP keepalive probes (a second"
        " apart, three missed: dropped) check its peer (`0`: off)",
        shown="`5`",
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
        "SOURCES_FETCH_DEADLINE", 60.0, positive_seconds,
        "seconds a whole upstream fetch may take, retries and a trickling body included; a"
        " source's `deadline` overrides it ([sources](docs/sources.md#deadlines-and-stopping))",
        shown="`60`",
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
        "DESK", False, switch,
        "`on` serves the editors' desk at `/desk` to the accounts of `flask desk add-user`; "
        "needs `SECRET_KEY` ([desk](docs/desk.md))",
        shown="`off`",
    ),
    Setting(
        "SECRET_KEY", None, secret_key,
        "at least 32 random characters signing the desk's session cookies; required when "
        "`DESK` is on, and the same on every instance",
        shown="unset",
    ),
    Setting(
        "DESK_SESSION_MINUTES", 480, whole_number(1),
        "minutes a desk sign-in lasts; then the editor signs in again",
        shown="`480`",
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
    Setting(
        "MEMBER_MEMO_SECONDS", 5.0, seconds,
        "how long a process trusts a member secret it looked up; with Redis, a revocation "
        "anywhere is seen at once ([members](docs/members.md))",
        shown="`5`",
    ),
    Setting(
        "MEMBER_MEDIA_KEY", None, optional_text,
        "key signing the short-lived URLs a member's media redirect to when `MEDIA_BASE_URL` "
        "is another host; the same on every instance ([members](docs/members.md#media))",
        shown="unset (member media served by the app itself)",
    ),
    Setting(
        "MEMBER_MEDIA_URL_SECONDS", 300, whole_number(1),
        "seconds a signed member media URL stays valid",
        shown="`300`",
    ),
    Setting(
        "MEMBER_SHARING_NETWORKS", 4, whole_number(1),
        "a member secret used from more networks (/24, /64) than this within 24 h is flagged as shared",
        shown="`4`",
    ),
    Setting(
        "MEMBER_SHARING_APPS", 3, whole_number(1),
        "a member secret used by more app families than this within 24 h is flagged as shared",
        shown="`3`",
    ),
)

# Settings that hold secrets (for URLs: their passwords; a DSN's key is its user name):
# never shown in a message, and redacted from every log line (serving/logs.py).
SECRET_SETTINGS = ("INGEST_TOKENS", "METRICS_TOKEN", "SENTRY_DSN", "DATABASE_URL", "REDIS_URL",
                   "SECRET_KEY", "MEMBER_MEDIA_KEY")

BY_NAME = {setting.name: setting for setting in SETTINGS}

Settings = Mapping[str, Any]


def without_password(value: str) -> str:
    """`value` with the password of any `scheme://user:password@` in it hidden: a URL
    refused at start-up is named in the log, its secret is not."""
    return _URL_PASSWORD.sub(r"\1***@", value)


_URL_PASSWORD = re.compile(r"(://[^/@:\s]*:)\S*@")  # greedy: a stray @ in it hides more


def parse_setting(setting: Setting, raw: Any) -> Any:
    if raw is None or (isinstance(raw, str) and raw == "" and setting.default is not None):
        return setting.default
    try:
        return setting.parse(raw)
    except ValueError as exc:
        # Tokens are never shown; a URL's only secret is its password, hidden.
        if setting.name in SECRET_SETTINGS and setting.name not in ("DATABASE_URL", "REDIS_URL"):
            raise SettingsError(f"{setting.name} (value not shown: it holds a secret): {exc}") from None
        shown = raw if not isinstance(raw, str) else without_password(raw)
        shown = shown if not isinstance(shown, str) or len(shown) <= 80 else shown[:80] + "..."
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


# Variables hosting platforms set in every process they run (Heroku and Dokku, Render,
# Fly, Railway): there, a SQLite file lives on a disk that each deploy or restart replaces.
PLATFORM_VARIABLES = ("DYNO", "RENDER", "FLY_APP_NAME", "RAILWAY_ENVIRONMENT")


def platform_sign(settings: Settings, environ: Mapping[str, str] | None = None) -> str | None:
    """What says this process serves the public from a hosting platform (a set platform
    variable, or an https SITE_URL), or None on a laptop."""
    environ = os.environ if environ is None else environ
    named = next((name for name in PLATFORM_VARIABLES if environ.get(name)), None)
    if named is not None:
        return f"{named} is set"
    if (settings["SITE_URL"] or "").lower().startswith("https:"):
        return "SITE_URL is https"
    return None


def run_by_flask_cli(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process is a `flask` command: Flask's CLI sets FLASK_RUN_FROM_CLI."""
    return bool((os.environ if environ is None else environ).get("FLASK_RUN_FROM_CLI"))


def markdown_table() -> str:
    """The README's "Configuration" table, made from this one (tests/test_settings.py
    checks that the README holds exactly this)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    rows += [f"| `{s.name}` | {s.shown} | {s.help} |" for s in SETTINGS]
    return "\n".join(rows) + "\n"


if __name__ == "__main__":  # `python -m serving.settings` prints the README's table
    print(markdown_table(), end="")
