"""/media/ under attack: traversal, symlinks out of MEDIA_DIR, hostile ranges and
conditional headers. Only regular files inside the folder are ever served."""

from __future__ import annotations

import os
import shutil
from urllib.parse import urlsplit

import pytest

from ..conftest import ROOT
from .conftest import build_app, dispose
from .payloads import SAMPLE_MEDIA, refused_status

ARTWORK = f"/media/{SAMPLE_MEDIA}"


@pytest.mark.parametrize("path", [
    "../app.py", "%2e%2e/app.py", "..%2fapp.py", "%2e%2e%2fapp.py", "..%5capp.py",
    "north-korean-defectors/../../app.py", "north-korean-defectors/%2e%2e/%2e%2e/app.py",
    "/etc/passwd", "//etc/passwd", "%2fetc%2fpasswd", "....//app.py", "..\\app.py",
    "%00", "north-korean-defectors/artwork.jpg%00", "north-korean-defectors/artwork.jpg%00.mp3",
    "north-korean-defectors", "north-korean-defectors/", "", "nope.mp3",
    "north-korean-defectors/artwork.jpg/..",
    "%E2%80%A8", "x" * 5000,
])
def test_nothing_outside_the_media_folder_is_served(client, path):
    # werkzeug redirects "//" to "/" (308, same site); where it lands must be a 404 too.
    response = client.get(f"/media/{path}", follow_redirects=True)
    assert response.status_code == refused_status(path)
    assert all(urlsplit(r.headers["Location"]).netloc in ("", "localhost")
               for r in response.history)


@pytest.fixture(scope="module")
def planted_app(tmp_path_factory):
    """A MEDIA_DIR holding a real file and symlinks planted to files and folders outside."""
    from ..conftest import migrated_sqlite

    media = tmp_path_factory.mktemp("media")
    secret = tmp_path_factory.mktemp("outside") / "secret.txt"
    secret.write_text("not for the public")
    (media / "real.mp3").write_bytes(b"ID3" + b"\0" * 100)
    os.symlink("/etc/passwd", media / "passwd.mp3")
    os.symlink(secret, media / "secret.mp3")
    os.symlink(secret.parent, media / "outside")
    os.symlink(ROOT, media / "project")
    db = tmp_path_factory.mktemp("db") / "p.sqlite3"
    url = migrated_sqlite(db)
    os.symlink(db, media / "database.mp3")
    inside = media / "sub"
    inside.mkdir()
    shutil.copy(media / "real.mp3", inside / "copy.mp3")
    app = build_app(url, MEDIA_DIR=str(media))
    yield app
    dispose(app)


@pytest.mark.parametrize("path", [
    "passwd.mp3", "secret.mp3", "outside/secret.txt", "project/app.py", "database.mp3",
])
def test_symlinks_out_of_the_media_folder_are_not_followed(planted_app, path):
    response = planted_app.test_client().get(f"/media/{path}")
    assert response.status_code == 404
    assert b"public" not in response.get_data() and b"root:" not in response.get_data()


@pytest.mark.parametrize("path", ["real.mp3", "sub/copy.mp3"])
def test_regular_files_inside_are_served(planted_app, path):
    assert planted_app.test_client().get(f"/media/{path}").status_code == 200


# (name, Range, status): several satisfiable ranges get the whole file (200) or a
# multipart answer (206), never 416; ranges that are not ranges are ignored (200).
RANGES = [
    ("one", "bytes=0-1", (206,)),
    ("suffix", "bytes=-2", (206,)),
    ("open-end", "bytes=10-", (206,)),
    ("two", "bytes=0-1,2-3", (200, 206)),
    ("overlapping", "bytes=0-10,5-15", (200, 206)),
    ("suffix-and-start", "bytes=0-0,-1", (200, 206)),
    ("many", "bytes=" + ",".join(f"{i}-{i}" for i in range(500)), (200, 206)),
    ("beyond-the-end", "bytes=99999999-", (416,)),
    ("empty-suffix", "bytes=-0", (416,)),
    # RFC 9110 14.2: an invalid ranges-specifier may be ignored (200) or refused (416)...
    ("reversed", "bytes=5-1", (200, 416)),
    ("not-a-number", "bytes=abc", (200, 416)),
    ("negative", "bytes=-5-1", (200, 416)),
    ("nul", "bytes=0-1\x00", (200, 206, 416)),
    # ...but a range unit the server does not know MUST be ignored.
    ("other-unit", "items=0-1", (200,)),
    ("huge-number", "bytes=0-" + "9" * 400, (200, 206)),
]


@pytest.mark.parametrize("name, value, statuses", RANGES, ids=[r[0] for r in RANGES])
def test_ranges(client, name, value, statuses):
    whole = client.get(ARTWORK).get_data()
    response = client.get(ARTWORK, headers={"Range": value})
    assert response.status_code in statuses
    if response.status_code == 200:
        assert response.get_data() == whole


ABSURD_DATES = ["Mon, 01 Jan 99999999999999999999 00:00:00 GMT",
                "Mon, 01 Jan 2024 99999999999:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT",
                "Mon, 01 Jan 0001 00:00:00 +0100", "garbage"]


@pytest.mark.parametrize("value", ABSURD_DATES)
def test_an_absurd_if_modified_since_is_ignored(client, value):
    assert client.get(ARTWORK, headers={"If-Modified-Since": value}).status_code == 200


@pytest.mark.parametrize("value", ABSURD_DATES)
def test_an_absurd_if_range_is_ignored(client, value):
    """If-Range that matches nothing sends the whole file; one that cannot be read is
    ignored, so the Range stands: 206 with the asked bytes, or 200 with all of them."""
    response = client.get(ARTWORK, headers={"Range": "bytes=0-1", "If-Range": value})
    assert response.status_code in (200, 206)
    if response.status_code == 206:
        assert len(response.get_data()) == 2


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_media_is_read_only(client, method):
    assert getattr(client, method)(ARTWORK).status_code == 405
