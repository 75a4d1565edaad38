"""The Procfile's web command, started for real, serving over HTTP."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from .conftest import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def procfile_command(process: str) -> list[str]:
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process:
            return shlex.split(command)
    raise AssertionError(f"no {process} process in the Procfile")


@pytest.fixture
def served(sqlite_url):
    """gunicorn started exactly as the Procfile says, on a free port."""
    bin_dir = Path(sys.executable).parent
    port = free_port()
    env = {**os.environ, "DATABASE_URL": sqlite_url, "PORT": str(port), "HOST": "127.0.0.1",
           "WEB_CONCURRENCY": "2", "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    release = procfile_command("release")
    subprocess.run(release, cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
    subprocess.run([*release[:3], "stories", "sample"], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=120)
    server = subprocess.Popen(procfile_command("web"), cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(f"{base}/healthz", timeout=1)
            break
        except requests.ConnectionError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise AssertionError(server.stdout.read().decode())
            time.sleep(0.2)
    yield base
    server.terminate()
    server.wait(timeout=30)


def test_procfile_web_process_serves_the_sample(served):
    assert requests.get(f"{served}/", timeout=10).status_code == 200
    topic = requests.get(f"{served}/topics/north-korean-defectors", timeout=10)
    assert topic.status_code == 200 and topic.text.count('<article class="story"') == 7
    media = requests.get(f"{served}/media/north-korean-defectors/1169825816.mp3",
                         headers={"Range": "bytes=0-3"}, timeout=10)
    audio = ROOT / "stories/sample/media/north-korean-defectors/1169825816.mp3"
    assert media.status_code == 206 and media.content == audio.read_bytes()[:4]
