"""The desk in tests: an app with the desk on, an editor, and a signed-in test client."""

from __future__ import annotations

import re
import time

from serving.state import app_state

from .conftest import make_app

SECRET = "a test secret key of at least thirty-two characters"
EDITOR, PASSWORD = "ann", "correct horse battery"
SAMPLE_TOPIC = "north-korean-defectors"

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def desk_app(database_url: str, **config):
    return make_app(database_url, DESK="on", SECRET_KEY=SECRET, **config)


def add_editor(app, name: str = EDITOR, password: str = PASSWORD) -> None:
    result = app.test_cli_runner().invoke(args=["desk", "add-user", name, "--password-stdin"],
                                          input=password + "\n")
    assert result.exit_code == 0, result.output


def csrf_of(html: str) -> str:
    found = CSRF_RE.search(html)
    assert found, html
    return found.group(1)


def sign_in(client, name: str = EDITOR, password: str = PASSWORD, next: str = ""):
    token = csrf_of(client.get("/desk/login").get_data(as_text=True))
    return client.post("/desk/login", data={"csrf_token": token, "name": name,
                                            "password": password, "next": next})


def signed_in(app):
    """A test client of `app` signed in as the editor."""
    client = app.test_client()
    assert sign_in(client).status_code == 303
    return client


def token(client, path: str = "/desk/") -> str:
    """The CSRF token of the signed-in session, read from a page as a browser would."""
    return csrf_of(client.get(path).get_data(as_text=True))


def wait_for_job(app, kind: str, target: str, timeout: float = 60):
    from desk.jobs import Jobs

    jobs = Jobs(app_state(app).store.engine)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = jobs.latest(kind, target)
        if job is not None and not job.running:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {kind} {target} still running after {timeout} s")
