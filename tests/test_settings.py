"""The settings table: parsed once at start-up, a bad value named, the README in step."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from app import create_app
from serving.settings import SETTINGS, load_settings, markdown_table
from serving.state import app_state
from stories.errors import SettingsError

from .conftest import ROOT, make_app
from .servers import free_port, procfile_command, service_env


def test_the_readme_configuration_table_is_the_settings_table():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert markdown_table() in readme, "regenerate it: python -m serving.settings"


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_the_default_the_readme_shows_is_the_default(setting):
    """A default shown as a value (not a description such as "unset") is the value."""
    literal = re.fullmatch(r"`([^`]*)`", setting.shown)
    # MEDIA_DIR is shown relative to the repository; None defaults are described.
    if literal and setting.default is not None and setting.name != "MEDIA_DIR":
        assert setting.parse(literal.group(1)) == setting.default


def test_every_setting_is_parsed_from_the_environment():
    settings = load_settings(environ={"FEED_MAX_AGE": "60", "VERSION_MEMO_SECONDS": "1.5",
                                      "INGEST_TOKENS": " a, ,b ", "TRUSTED_HOSTS": "Example.org"})
    assert settings["FEED_MAX_AGE"] == 60
    assert settings["VERSION_MEMO_SECONDS"] == 1.5
    assert settings["INGEST_TOKENS"] == ("a", "b")
    assert settings["TRUSTED_HOSTS"] == ("example.org",)
    assert settings["OEMBED_CACHE_AGE"] == 3600 and settings["SITE_URL"] is None
    assert "PORT" not in settings  # gunicorn's
    assert load_settings(environ={"PORT": "9000"}, gunicorn=True)["PORT"] == 9000


@pytest.mark.parametrize("name, value", [
    ("INGEST_MAX_BYTES", "10MB"),
    ("FEED_MAX_AGE", "-1"),
    ("OEMBED_CACHE_AGE", "soon"),
    ("SOURCES_READ_TIMEOUT", "nan"),
    ("SOURCES_FETCH_DEADLINE", "0"),
    ("SITE_URL", "javascript:alert(1)"),
    ("LOG_LEVEL", "loud"),
])
def test_a_bad_value_stops_create_app_naming_the_variable(sqlite_url, monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=f"^{name}="):
        create_app({"TESTING": True, "DATABASE_URL": sqlite_url})


def test_overrides_pass_the_same_parsers(sqlite_url):
    with pytest.raises(SettingsError, match="^INGEST_MAX_BYTES="):
        make_app(sqlite_url, INGEST_MAX_BYTES="10MB")
    app = make_app(sqlite_url, INGEST_MAX_BYTES="2000", TRUSTED_HOSTS="a.test,b.test")
    assert app_state(app).settings["INGEST_MAX_BYTES"] == 2000
    assert app.config["TRUSTED_HOSTS"] == ("a.test", "b.test")
    app_state(app).store.engine.dispose()


def test_the_limit_set_is_the_limit_enforced(sqlite_url):
    app = make_app(sqlite_url, INGEST_TOKENS="secret", INGEST_MAX_BYTES="100")
    response = app.test_client().post("/api/stories", data=b"[" + b" " * 200 + b"]",
                                      headers={"Authorization": "Bearer secret",
                                               "Content-Type": "application/json"})
    assert response.status_code == 413
    app_state(app).store.engine.dispose()


@pytest.mark.slow
def test_flask_stops_with_one_line_naming_the_variable(tmp_path):
    env = dict(os.environ, INGEST_MAX_BYTES="10MB",
               DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "stories", "list"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "INGEST_MAX_BYTES='10MB': must be a whole number" in result.stderr
    assert "Traceback" not in result.stderr


def test_gunicorn_reads_its_settings_through_the_table():
    """gunicorn.conf.py, run as gunicorn's master runs it: a bad PORT is named, not a traceback."""
    env = dict(os.environ, PORT="eighty")
    result = subprocess.run([sys.executable, "gunicorn.conf.py"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "PORT='eighty': must be a whole number" in result.stderr
    assert "Traceback" not in result.stderr


# URL settings the libraries that use them would refuse later, with a traceback (or never,
# leaving a process that cannot work): (name, value, what the one line says).
UNUSABLE_URLS = [
    ("DATABASE_URL", "postgress://editor:s3cret@db.example.org/news", "names no database"),
    ("DATABASE_URL", "not a url", "must be a database URL"),
    ("DATABASE_URL", "mysql://editor:s3cret@127.0.0.1/news", "names no database"),
    ("DATABASE_URL", "postgresql+psycopg2://127.0.0.1/news", "names a driver storyfeed does not use"),
    ("DATABASE_URL", "postgresql://127.0.0.1:port/news", "must be a database URL"),
    ("DATABASE_URL", "sqlite:////no/such/folder/storyfeed.sqlite3", "folder of the SQLite file"),
    ("REDIS_URL", "localhost:6379", "must be a redis://, rediss:// (TLS) or unix:// URL"),
    ("REDIS_URL", "redis://:s3cret@127.0.0.1:port/0", "Port could not be cast"),
    ("SITE_URL", "news.example.org", "absolute http(s) URL"),
    ("SITE_URL", "https://news.example.org/?edition=us", "without ? or #"),
    ("MEDIA_BASE_URL", "https://cdn.example.org:99999/media/", "absolute http(s) URL"),
    ("WEBSUB_HUB", "https://hub example.org/", "absolute http(s) URL"),
    ("OEMBED_PROVIDER_URL", "ftp://news.example.org/", "absolute http(s) URL"),
]


@pytest.mark.parametrize("name, value, says", UNUSABLE_URLS)
def test_an_unusable_url_stops_create_app_naming_it_without_its_password(
        sqlite_url, monkeypatch, name, value, says):
    monkeypatch.setenv(name, value)
    config = {"TESTING": True} if name == "DATABASE_URL" else {"TESTING": True, "DATABASE_URL": sqlite_url}
    with pytest.raises(SettingsError, match=f"^{name}=") as refused:
        create_app(config)
    assert says in str(refused.value)
    assert "s3cret" not in str(refused.value)


@pytest.mark.parametrize("value", [
    "postgres://editor:s3cret@db.example.org:5432/news",  # as Heroku hands it out
    "postgresql://127.0.0.1/news?sslmode=require",
    "postgresql+psycopg://127.0.0.1/news",
    "sqlite://",
])
def test_database_urls_storyfeed_uses_are_taken_as_they_are(value):
    assert load_settings(environ={"DATABASE_URL": value})["DATABASE_URL"] == value


@pytest.mark.parametrize("value", ["redis://127.0.0.1:6379/0", "rediss://:pw@redis.example.org:6380",
                                   "unix:///run/redis.sock?db=1"])
def test_redis_urls_redis_py_reads_are_taken(value):
    assert load_settings(environ={"REDIS_URL": value})["REDIS_URL"] == value


def _accepted(name: str, value: str) -> bool:
    try:
        load_settings(environ={name: value})
    except SettingsError:
        return False
    return True


@pytest.mark.parametrize("value", [
    "postgres://u:p@db.example.org/news", "postgresql://db.example.org:5432/news?sslmode=require",
    "postgresql+psycopg://db.example.org/news", "postgresql+psycopg2://db.example.org/news",
    "postgresql+asyncpg://db.example.org/news", "postgress://db.example.org/news",
    "mysql://db.example.org/news", "oracle://db.example.org/news", "not a url", "://db.example.org/x",
    "postgresql:/db.example.org/news", "postgresql://db.example.org:port/news",
    "postgresql://[::1/news", "postgresql://u:p@w@db.example.org/news", "sqlite://", "sqlite:///news.db",
    "sqlite+pysqlite:///news.db", "sqlite:///:memory:", "SQLite:///news.db",
])
def test_database_urls_are_read_as_sqlalchemy_and_the_store_read_them(value):
    """settings.py cannot import SQLAlchemy (gunicorn's master reads it before gevent
    patches ssl): its rules must give SQLAlchemy's answer, with the store's driver."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    from stories.store import database_url

    try:
        url = make_url(database_url(value))
        url.get_dialect().import_dbapi()
        usable = url.get_backend_name() in ("postgresql", "sqlite") and url.get_driver_name() in (
            "psycopg", "pysqlite")
    except (ArgumentError, ValueError, NoSuchModuleError, ImportError):
        usable = False
    assert _accepted("DATABASE_URL", value) == usable


@pytest.mark.parametrize("value", [
    "redis://127.0.0.1:6379/0", "rediss://:pw@redis.example.org:6380", "unix:///run/redis.sock?db=1",
    "REDIS://127.0.0.1", "redis://", "localhost:6379", "http://127.0.0.1:6379",
    "redis://127.0.0.1:port", "redis://127.0.0.1:99999", "redis://[::1", "127.0.0.1",
])
def test_redis_urls_are_read_as_redis_py_reads_them(value):
    import redis.connection

    try:
        redis.connection.parse_url(value)
        usable = True
    except ValueError:
        usable = False
    assert _accepted("REDIS_URL", value) == usable


def test_gunicorns_master_reads_the_settings_without_the_database_and_redis_libraries():
    """Imported before gevent patches the standard library, psycopg would wait on each
    query with the whole worker blocked, and redis-py would keep names of unpatched ssl."""
    env = dict(os.environ, DATABASE_URL="postgres://u:p@127.0.0.1/news", REDIS_URL="rediss://127.0.0.1:6380",
               PORT="8000")
    script = ("import runpy, sys; runpy.run_path('gunicorn.conf.py'); "
              "print(sorted(m for m in ('sqlalchemy', 'redis', 'psycopg') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def _one_line_refusal(result: subprocess.CompletedProcess, name: str, says: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    # Every line of a process is a JSON log line (serving/logs.py), this one too.
    line = json.loads(lines[0])
    assert line["level"] == "CRITICAL"
    assert line["message"].startswith(f"storyfeed cannot start: {name}=") and says in line["message"]
    assert "s3cret" not in result.stderr + result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("name, value, says", UNUSABLE_URLS)
def test_release_and_web_processes_stop_with_one_line_naming_an_unusable_url(tmp_path, name, value, says):
    """The Procfile's release command and web process, as a platform starts them."""
    env = service_env(**{"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", name: value})
    env.pop("GUNICORN_CMD_ARGS", None)
    release = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    _one_line_refusal(release, name, says)
    env.update(PORT=str(free_port()), HOST="127.0.0.1")
    web = subprocess.run(procfile_command("web"), cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    _one_line_refusal(web, name, says)
