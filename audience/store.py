"""The audience's rows: the day's salt, batches of fetches written, fetches read back."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator, Sequence

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from .count import Fetch
from .schema import audience_fetches, audience_salts

READ_BATCH = 5000


def salt_for(engine: sa.Engine, day: dt.date) -> bytes:
    """The salt of `day`, made by the first process that asks; every older one deleted,
    so that no hash of a past day can be matched to an address again."""
    with engine.begin() as conn:
        row = conn.execute(sa.select(audience_salts.c.salt).where(audience_salts.c.day == day)).first()
        if row is not None:
            return bytes.fromhex(row[0])
    try:
        with engine.begin() as conn:
            conn.execute(audience_salts.insert().values(day=day, salt=secrets.token_hex(32)))
            conn.execute(audience_salts.delete().where(audience_salts.c.day < day))
    except IntegrityError:
        pass  # another process made it first: read theirs
    with engine.begin() as conn:
        return bytes.fromhex(conn.execute(
            sa.select(audience_salts.c.salt).where(audience_salts.c.day == day)).scalar_one())


def _row(fetch: Fetch) -> dict[str, object]:
    at = fetch.at if fetch.at.tzinfo is None else fetch.at.astimezone(dt.UTC).replace(tzinfo=None)
    return {"at": at, "listener": fetch.listener, "user_agent": fetch.user_agent[:500],
            "episode": fetch.episode[:1000], "method": fetch.method[:10], "status": fetch.status,
            "first_byte": fetch.first, "last_byte": fetch.last, "file_size": fetch.file_size,
            "byte_rate": fetch.byte_rate, "leading": fetch.leading}


def write_fetches(engine: sa.Engine, fetches: Sequence[Fetch]) -> None:
    """One batch, one transaction: all of it is stored or none."""
    if fetches:
        with engine.begin() as conn:
            conn.execute(audience_fetches.insert(), [_row(f) for f in fetches])


def read_fetches(engine: sa.Engine, start: dt.date | None = None, end: dt.date | None = None) -> Iterator[Fetch]:
    """The stored fetches of the UTC days start..end (both included; None: no bound)."""
    query = sa.select(audience_fetches).order_by(audience_fetches.c.id)
    if start is not None:
        query = query.where(audience_fetches.c.at >= dt.datetime.combine(start, dt.time()))
    if end is not None:
        query = query.where(audience_fetches.c.at < dt.datetime.combine(end + dt.timedelta(days=1), dt.time()))
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=READ_BATCH).execute(query)
        for row in result:
            yield Fetch(at=row.at, listener=row.listener, user_agent=row.user_agent, episode=row.episode,
                        method=row.method, status=row.status, first=row.first_byte, last=row.last_byte,
                        file_size=row.file_size, byte_rate=row.byte_rate, leading=row.leading)


def count_stored(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(audience_fetches)).scalar_one())
