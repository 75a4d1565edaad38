"""Starting as a platform starts the service: what the Procfile names, app.json, the
deploy guide's commands, the Python version. (The runtime-only install and the processes
themselves are started for real by .ci/platform-smoke, before the tests.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from .conftest import ROOT
from .servers import procfile_command


def source_files() -> list[str]:
    """The checkout's files, as a clone would have them (new ones too, ignored ones not)."""
    return subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                          cwd=ROOT, capture_output=True, text=True, check=True).stdout.split("\0")[:-1]


def python_in_copy(tmp_path, code: str, **environ: str) -> subprocess.CompletedProcess:
    """`code` run by this Python in a copy of the checkout, with `environ` over this
    environment: what appears beside app.py (Flask's instance folder) is seen there."""
    for relative in source_files():
        if not (ROOT / relative).is_file():
            continue  # deleted, not yet committed
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / relative, tmp_path / relative)
    env = {name: value for name, value in os.environ.items() if name != "DATABASE_URL"}
    env.update(environ)
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_importing_app_builds_no_app(tmp_path):
    # A bad LOG_LEVEL would stop create_app: importing must not call it.
    result = python_in_copy(
        tmp_path,
        "import flask, app\n"
        "assert [name for name, value in vars(app).items() if isinstance(value, flask.Flask)] == []\n"
        "assert callable(app.create_app)\n",
        LOG_LEVEL="loud",
    )
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "instance").exists()


@pytest.mark.slow
def test_wsgi_builds_the_app_or_stops_with_one_line(tmp_path):
    built = python_in_copy(tmp_path, "import wsgi; print(type(wsgi.app).__name__)")
    assert built.returncode == 0, built.stderr
    assert built.stdout.strip() == "StoryfeedFlask"

    refused = python_in_copy(tmp_path, "import wsgi", INGEST_MAX_BYTES="10MB")
    assert refused.returncode == 1
    assert refused.stderr.startswith("storyfeed cannot start: INGEST_MAX_BYTES='10MB'")
    assert "Traceback" not in refused.stderr


def test_the_procfile_web_process_serves_wsgi_app():
    assert procfile_command("web") == ["gunicorn", "wsgi:app"]
