"""PostgreSQL connections that give up instead of hanging.

A PostgreSQL server that stops answering (a frozen process, a paused VM, a network path
gone) is not noticed by a client on its own: a query waits for its answer for ever, and
every request behind it in the pool with it. Each bound here ends one kind of wait:

- `connect_timeout`: a new connection, whose server must answer the start-up packet;
- TCP keepalives: an idle pooled connection to a host that is gone is dropped by the
  kernel within seconds, not the system's two hours;
- `statement_timeout`: the server cancels a statement that runs too long (a lock wait,
  a scan), which then fails like any other;
- an answer deadline, the statement timeout and a second more: a server that says
  nothing at all, not even that cancellation. A frozen server's kernel still
  acknowledges every packet, so neither keepalives nor TCP's own timeouts see it; only
  the client's clock does.

A connection that misses its deadline is closed: SQLAlchemy sees a disconnect, drops it
and the pool's older connections, and the caller gets an OperationalError (a 503). Then,
for a few seconds, no new connection is tried (`Silence`): every request would wait
the whole connect timeout of a server that has just shown it does not answer.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg.abc import PQGen
from psycopg.errors import _WaitTimeout  # what psycopg's own `wait(timeout=)` raises
from sqlalchemy.engine import Connection, Engine

# How long after `statement_timeout` a silent server is given up: the server's own
# cancellation arrives well within it.
ANSWER_GRACE = 1.0
# Keepalive probes once a connection has been idle: one a second, three unanswered and
# the connection is dead.
KEEPALIVE_INTERVAL = 1
KEEPALIVE_COUNT = 3
# How long a server that did not answer is left alone before a connection is tried again.
SILENCE_PAUSE = 5.0
# A failed connection attempt that took this long timed out: the server is silent. One
# refused at once (a server stopped or restarting) is tried again by the next request.
SLOW_FAILURE = 1.0


@dataclass(frozen=True)
class Limits:
    """How long a PostgreSQL connection may wait, each in seconds; 0 turns one off."""

    connect_timeout: float = 3
    statement_timeout: float = 5
    keepalive_idle: int = 5

    @property
    def answer_deadline(self) -> float | None:
        return self.statement_timeout + ANSWER_GRACE if self.statement_timeout else None

    def connect_params(self) -> dict[str, Any]:
        """libpq parameters; the URL's own (`?connect_timeout=...`) win over these."""
        params: dict[str, Any] = {}
        if self.connect_timeout:
            # libpq takes whole seconds, and 1 at least.
            params["connect_timeout"] = max(1, round(self.connect_timeout))
        if self.keepalive_idle:
            params.update(keepalives=1, keepalives_idle=self.keepalive_idle,
                          keepalives_interval=KEEPALIVE_INTERVAL, keepalives_count=KEEPALIVE_COUNT)
        if self.answer_deadline:
            # Data sent and never acknowledged (the host is gone mid-query) ends the
            # connection as soon as the answer would be given up anyway.
            params["tcp_user_timeout"] = int(self.answer_deadline * 1000)
        return params


class Silence:
    """When an engine's server was last found silent: until `SILENCE_PAUSE` seconds
    after, a new connection fails at once instead of waiting the connect timeout."""

    def __init__(self) -> None:
        self.until = 0.0

    def noticed(self) -> None:
        self.until = time.monotonic() + SILENCE_PAUSE

    def check(self) -> None:
        if time.monotonic() < self.until:
            raise psycopg.OperationalError(
                "the database did not answer a moment ago; not tried again yet"
            )


class BoundedConnection(psycopg.Connection[Any]):
    """A psycopg connection whose every exchange with the server (a query, a commit, a
    ping) ends by `answer_deadline` seconds."""

    answer_deadline: float | None = None
    silence: Silence | None = None

    def wait(self, gen: PQGen[Any], interval: float = 0.1, timeout: float | None = None) -> Any:
        deadline = self.answer_deadline if timeout is None else None
        try:
            return super().wait(gen, interval, timeout if deadline is None else deadline)
        except _WaitTimeout:
            if deadline is None:
                raise  # a timeout the caller asked for: theirs to handle
            # Abandoned in mid-exchange, the connection cannot be used again; closed, it
            # is one SQLAlchemy recognises as lost.
            self.pgconn.finish()
            if self.silence is not None:
                self.silence.noticed()
            raise psycopg.OperationalError(
                f"the database did not answer within {deadline:g} s"
            ) from None


def bound(engine: Engine, limits: Limits) -> None:
    """Every new connection of `engine` (PostgreSQL, psycopg) made within `limits`."""
    silence = Silence()

    @sa.event.listens_for(engine, "do_connect")
    def _connect(_dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]) -> BoundedConnection:
        silence.check()
        for name, value in limits.connect_params().items():
            cparams.setdefault(name, value)
        started = time.monotonic()
        try:
            conn = BoundedConnection.connect(*cargs, **cparams)
        except psycopg.OperationalError:
            if time.monotonic() - started >= SLOW_FAILURE:
                silence.noticed()
            raise
        conn.answer_deadline = limits.answer_deadline
        conn.silence = silence
        if limits.statement_timeout:
            # A SET rather than a start-up `options`: connection poolers (PgBouncer)
            # refuse unknown start-up parameters.
            conn.autocommit = True
            conn.execute(f"SET statement_timeout = {int(limits.statement_timeout * 1000)}")
            conn.autocommit = False
        return conn


@contextlib.contextmanager
def unbounded(conn: Connection) -> Iterator[None]:
    """No statement timeout nor answer deadline for what runs in `conn`'s transaction:
    a migration may rightly take minutes. Must be called inside a transaction."""
    if conn.dialect.name != "postgresql":
        yield
        return
    dbapi = conn.connection.dbapi_connection
    deadline = getattr(dbapi, "answer_deadline", None)
    conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
    if deadline is not None:
        dbapi.answer_deadline = None  # type: ignore[union-attr]
    try:
        yield
    finally:
        if deadline is not None:
            dbapi.answer_deadline = deadline  # type: ignore[union-attr]
