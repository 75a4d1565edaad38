"""The Procfile's processes, started for real, serving over HTTP."""

from __future__ import annotations

import json

import pytest
import requests

from .servers import ROOT, Gunicorn, flask_cli, procfile_command, service_env

pytestmark = pytest.mark.slow


@pytest.fixture
def served(sqlite_url):
    env = service_env(DATABASE_URL=sqlite_url)
    release = procfile_command("release")
    assert release[:3] == ["flask", "--app", "app"]
    assert flask_cli(env, *release[3:]).returncode == 0
    assert flask_cli(env, "stories", "sample").returncode == 0
    with Gunicorn(env) as server:
        yield server


def test_procfile_web_process_serves_the_sample(served):
    base = served.base
    assert requests.get(f"{base}/", timeout=10).status_code == 200
    topic = requests.get(f"{base}/topics/north-korean-defectors", timeout=10)
    assert topic.status_code == 200 and topic.text.count('<article class="story"') == 7
    media = requests.get(f"{base}/media/north-korean-defectors/1169825816.mp3",
                         headers={"Range": "bytes=0-3"}, timeout=10)
    audio = ROOT / "stories/sample/media/north-korean-defectors/1169825816.mp3"
    assert media.status_code == 206 and media.content == audio.read_bytes()[:4]

    served.stop()
    lines = [json.loads(line) for line in served.log.read_text().splitlines() if line.startswith("{")]
    assert any(line["path"] == "/topics/north-korean-defectors" and line["status"] == 200
               for line in lines), "the access log is one JSON object per request"
