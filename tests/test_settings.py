"""The settings table: parsed once at start-up, a bad value named, the README in step."""

from __future__ import annotations

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
