"""The store failing in the ways PostgreSQL fails in production: no connection to spare in
the pool, a server that freezes (SIGSTOP: it accepts, acknowledges and says nothing),
a server that stops. Requests answer 503 with Retry-After within seconds, and what was
already rendered is still served, stale, with its validators."""

from __future__ import annotations

import time

import pytest

from serving.state import app_state

from .conftest import make_app


@pytest.fixture
def postgres_url(postgres_databases):
    url, name = postgres_databases.create()
    yield url
    postgres_databases.drop(name)


def test_pool_exhausted_is_503_with_retry_after(postgres_url):
    app = make_app(postgres_url, DB_POOL_SIZE=1, DB_MAX_OVERFLOW=0, DB_POOL_TIMEOUT=1)
    engine = app_state(app).store.engine
    try:
        with engine.connect():  # the pool's one connection, held
            started = time.monotonic()
            for path in ("/api/stories/1001", "/topics/world"):
                answer = app.test_client().get(path)
                assert answer.status_code == 503, path
                assert int(answer.headers["Retry-After"]) > 0
                assert b"Traceback" not in answer.data and b"QueuePool" not in answer.data
            assert time.monotonic() - started < 5
    finally:
        engine.dispose()
