"""Long commands show progress to a person at a terminal and nothing in a log or a pipe
(web/cli/progress.py): `stories import`, `stories export`, `export`, `sync`, `feeds check`."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

import pytest

from serving.state import app_state

from .conftest import ROOT, make_app
from .servers import service_env

pytestmark = pytest.mark.slow  # a new process, importing the app, per command


def run(args: list[str], env: dict[str, str], tmp_path, terminal: bool) -> tuple[int, str, str]:
    """(status, stdout, stderr) of `flask --app app ARGS`, stderr a terminal (a pty) or a pipe."""
    out_file = tmp_path / "stdout"
    with out_file.open("wb") as out:
        if not terminal:
            done = subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, env=env,
                                  stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.PIPE, timeout=120)
            return done.returncode, out_file.read_text(), done.stderr.decode()
        leader, follower = pty.openpty()
        process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, env=env,
                                   stdin=subprocess.DEVNULL, stdout=out, stderr=follower)
        os.close(follower)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the process closed its end
                break
            if not chunk:
                break
            seen += chunk
        os.close(leader)
        status = process.wait(timeout=120)
    return status, out_file.read_text(), seen.decode(errors="replace")


@pytest.fixture
def sample_env(sqlite_url, tmp_path):
    app = make_app(sqlite_url)
    assert app.test_cli_runner().invoke(args=["stories", "sample"]).exit_code == 0
    app_state(app).store.engine.dispose()
    return service_env(DATABASE_URL=sqlite_url, SITE_URL="https://news.example/")


def commands(tmp_path) -> dict[str, tuple[list[str], str]]:
    """Each long command, and the label of its progress."""
    records = tmp_path / "records.ndjson"
    sources = tmp_path / "sources.toml"
    sources.write_text('[[source]]\nname = "gone"\nurl = "http://127.0.0.1:1/gone.json"\n'
                       'kind = "records"\nallow_private = true\n')
    return {
        "stories export": (["stories", "export"], "exporting"),
        "stories import": (["stories", "import", str(records)], "reading"),
        "export": (["export", str(tmp_path / "site")], "exporting"),
        "sync": (["sync"], "syncing"),
    }


@pytest.mark.parametrize("command", ["stories export", "stories import", "export", "sync"])
def test_progress_on_a_terminal_and_none_in_a_log(sample_env, tmp_path, command):
    env = {**sample_env, "SOURCES_FILE": str(tmp_path / "sources.toml"), "SOURCES_RETRIES": "0",
           "SOURCES_CACHE_PATH": str(tmp_path / "cache.sqlite3")}
    args, label = commands(tmp_path)[command]
    exported = run(["stories", "export"], sample_env, tmp_path, terminal=False)[1]
    (tmp_path / "records.ndjson").write_text(exported)

    status, out, shown = run(args, env, tmp_path, terminal=True)
    assert status == (1 if command == "sync" else 0), shown  # the source is unreachable
    assert label in shown, shown
    assert label not in out, "progress never goes to stdout"

    status, quiet_out, logged = run(args, env, tmp_path, terminal=False)
    assert label not in logged and "%" not in logged, logged
    assert label not in quiet_out
    if command == "stories export":
        assert [json.loads(line) for line in out.splitlines()], "the records, unchanged"
