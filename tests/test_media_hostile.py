"""/media/ serves regular files inside MEDIA_DIR and nothing else, answers every Range a
client may send, and its downloads are counted right in the access log."""

from __future__ import annotations

import json
import os

import pytest
import requests

from .conftest import make_app
from .servers import ROOT, Gunicorn, flask_cli, service_env

AUDIO = ROOT / "stories/sample/media/north-korean-defectors/1169825816.mp3"
SECRET = b"root:x:0:0:the secret outside the media folder\n"


@pytest.fixture
def media_dir(tmp_path):
    """A media folder with a file, and links planted towards what it must not serve."""
    media = tmp_path / "media"
    (media / "sub").mkdir(parents=True)
    (media / "a.mp3").write_bytes(b"0123456789")
    (media / "sub" / "b.mp3").write_bytes(b"abcdef")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd").write_bytes(SECRET)
    (media / "passwd.mp3").symlink_to(outside / "passwd")
    (media / "etc").symlink_to("/etc")
    (media / "outside").symlink_to(outside)
    (media / "same.mp3").symlink_to(media / "a.mp3")  # even a link to a file inside
    (media / "broken.mp3").symlink_to(tmp_path / "nothing")
    os.mkfifo(media / "fifo.mp3")
    return media


@pytest.fixture
def client(sqlite_url, media_dir):
    return make_app(sqlite_url, MEDIA_DIR=str(media_dir)).test_client()


@pytest.mark.parametrize("path", [
    "passwd.mp3", "etc/passwd", "etc/hostname", "outside/passwd", "same.mp3", "broken.mp3",
    "fifo.mp3", "sub", "sub/", "../outside/passwd", "sub/../../outside/passwd", "%2e%2e/outside/passwd",
    "nothing.mp3", "sub/..", ".",
])
def test_only_regular_files_inside_the_folder_are_served(client, path):
    response = client.get(f"/media/{path}")
    assert response.status_code == 404, path
    assert SECRET not in response.data and b"root:" not in response.data


def test_a_symlinked_media_folder_itself_is_fine(sqlite_url, media_dir, tmp_path):
    """Deployments often point MEDIA_DIR at a symlink (a release folder); that is the operator's."""
    link = tmp_path / "current-media"
    link.symlink_to(media_dir)
    client = make_app(sqlite_url, MEDIA_DIR=str(link)).test_client()
    assert client.get("/media/sub/b.mp3").data == b"abcdef"
    assert client.get("/media/passwd.mp3").status_code == 404


def test_regular_files_are_served_with_ranges(client):
    assert client.get("/media/a.mp3").data == b"0123456789"
    part = client.get("/media/a.mp3", headers={"Range": "bytes=2-4"})
    assert part.status_code == 206 and part.data == b"234"
    assert part.headers["Content-Range"] == "bytes 2-4/10"
    assert client.get("/media/a.mp3", headers={"Range": "bytes=20-30"}).status_code == 416


@pytest.mark.parametrize("ranges", ["bytes=0-1,2-3", "bytes=0-1, 4-5", "bytes=-2,0-0", "bytes=0-0,20-30"])
def test_a_list_of_ranges_gets_the_whole_file(client, ranges):
    response = client.get("/media/a.mp3", headers={"Range": ranges})
    assert response.status_code == 200
    assert response.data == b"0123456789"


# -- the access log under gunicorn --------------------------------------------------------

@pytest.fixture
def served(sqlite_url):
    env = service_env(DATABASE_URL=sqlite_url)
    assert flask_cli(env, "db", "upgrade").returncode == 0
    with Gunicorn(env, workers=1) as server:
        yield server


def test_the_access_log_counts_the_bytes_of_every_download(served):
    url = f"{served.base}/media/north-korean-defectors/{AUDIO.name}"
    size = AUDIO.stat().st_size
    whole = requests.get(url, timeout=10)
    assert whole.status_code == 200 and len(whole.content) == size
    assert requests.get(url, headers={"Range": "bytes=0-3"}, timeout=10).status_code == 206
    assert requests.head(url, timeout=10).status_code == 200
    etag = whole.headers["ETag"]
    assert requests.get(url, headers={"If-None-Match": etag}, timeout=10).status_code == 304
    assert requests.get(f"{served.base}/healthz", timeout=10).status_code == 200

    served.stop()
    lines = [json.loads(line) for line in served.log.read_text().splitlines() if line.startswith("{")]
    media = [(line["method"], line["status"], line["bytes"]) for line in lines
             if line["path"].startswith("/media/")]
    assert media == [("GET", 200, size), ("GET", 206, 4), ("HEAD", 200, 0), ("GET", 304, 0)]
    assert all(line["bytes"] > 0 for line in lines if line["path"] == "/healthz")


def test_the_static_export_copies_only_what_media_serves(sqlite_url, media_dir, tmp_path):
    from web.export import export_site

    app = make_app(sqlite_url, MEDIA_DIR=str(media_dir))
    target = tmp_path / "export"
    export_site(app, target)
    exported = sorted(p.relative_to(target / "media").as_posix()
                      for p in (target / "media").rglob("*") if p.is_file())
    assert exported == ["a.mp3", "sub/b.mp3"]
    manifest = json.loads((target / "manifest.json").read_text())["files"]
    assert sorted(p for p in manifest if p.startswith("media/")) == ["media/a.mp3", "media/sub/b.mp3"]
