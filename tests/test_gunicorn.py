"""The Procfile's processes, started for real, serving over HTTP."""

from __future__ import annotations

import json
import time

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


def answering_control_sockets(folder) -> dict[str, list[str]]:
    """Each control socket in `folder` that answers: the addresses its gunicorn listens on."""
    from gunicorn.ctl.client import ControlClient, ControlClientError

    found = {}
    for path in folder.glob("*.ctl"):
        try:
            with ControlClient(str(path), timeout=5) as client:
                listeners = client.send_command("show listeners")["listeners"]
        except (ControlClientError, OSError):
            continue
        found[path.name] = [listener["address"] for listener in listeners]
    return found


def test_each_instance_keeps_its_own_control_socket(sqlite_url, tmp_path):
    # gunicorn puts its control socket under XDG_RUNTIME_DIR: here, a folder of the test's own.
    env = service_env(DATABASE_URL=sqlite_url, XDG_RUNTIME_DIR=str(tmp_path))
    with Gunicorn(env, control_socket=True) as a, Gunicorn(env, control_socket=True) as b:
        deadline = time.monotonic() + 10  # the socket opens once the workers are spawned
        while len(answering_control_sockets(tmp_path)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sorted(answering_control_sockets(tmp_path).values()) == sorted(
            [[f"http://127.0.0.1:{a.port}"], [f"http://127.0.0.1:{b.port}"]]
        )

        a.stop()
        assert list(answering_control_sockets(tmp_path).values()) == [[f"http://127.0.0.1:{b.port}"]]
