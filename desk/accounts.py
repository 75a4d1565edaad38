"""Editor accounts and the login throttle.

Passwords are hashed with werkzeug's scrypt (Flask's own library: no new dependency), a
memory-hard algorithm; a hash carries its method and parameters, so a later change of
them still verifies the old ones. A failed sign-in is counted against the account and
against the address it came from, in the database, so every instance and process of the
desk sees the same counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from werkzeug.security import check_password_hash, generate_password_hash

from stories.errors import InvalidInput, NotFound

from .schema import desk_login_failures, desk_users

HASH_METHOD = "scrypt"
NAME_RE = re.compile(r"[a-z0-9][a-z0-9._@-]{0,99}")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # scrypt reads all of it: a megabyte "password" is a cost, not a secret
# Verified against for names that have no account, so that a sign-in takes as long
# whether or not the name exists.
_NO_ACCOUNT_HASH = generate_password_hash("no account has this password", method=HASH_METHOD)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Editor:
    name: str
    generation: int  # moves with each password change: older sessions end


def check_name(name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise InvalidInput("a user name is 1 to 100 of a-z 0-9 . _ @ -, starting with a letter or digit")
    return name


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return password


class Accounts:
    def __init__(self, engine: Engine):
        self.engine = engine

    def add(self, name: str, password: str) -> Editor:
        check_name(name)
        row = {"name": name, "password_hash": generate_password_hash(check_password(password),
                                                                     method=HASH_METHOD),
               "generation": 1, "created_at": _now()}
        with self.engine.begin() as conn:
            if conn.execute(sa.select(desk_users.c.name).where(desk_users.c.name == name)).first():
                raise InvalidInput(f"there is a user {name!r} already (set-password changes a password)")
            conn.execute(desk_users.insert().values(**row))
        return Editor(name, 1)

    def remove(self, name: str) -> None:
        with self.engine.begin() as conn:
            if not conn.execute(desk_users.delete().where(desk_users.c.name == name)).rowcount:
                raise NotFound(f"there is no user {name!r}")

    def set_password(self, name: str, password: str) -> Editor:
        hashed = generate_password_hash(check_password(password), method=HASH_METHOD)
        u = desk_users
        with self.engine.begin() as conn:
            generation = conn.execute(
                u.update().where(u.c.name == name)
                .values(password_hash=hashed, generation=u.c.generation + 1)
                .returning(u.c.generation)).scalar()
        if generation is None:
            raise NotFound(f"there is no user {name!r}")
        return Editor(name, generation)

    def get(self, name: str) -> Editor | None:
        u = desk_users
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(u.c.name, u.c.generation).where(u.c.name == name)).first()
        return Editor(row.name, row.generation) if row is not None else None

    def names(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(desk_users.c.name).order_by(desk_users.c.name)).scalars())

    def any(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(desk_users.c.name).limit(1)).first() is not None

    def verify(self, name: str, password: str) -> Editor | None:
        """The editor whose name and password these are, or None."""
        u = desk_users
        row = None
        if NAME_RE.fullmatch(name) and len(password) <= MAX_PASSWORD:
            with self.engine.connect() as conn:
                row = conn.execute(sa.select(u.c.name, u.c.generation, u.c.password_hash)
                                   .where(u.c.name == name)).first()
        hashed = row.password_hash if row is not None else _NO_ACCOUNT_HASH
        matches = check_password_hash(hashed, password[:MAX_PASSWORD])
        return Editor(row.name, row.generation) if row is not None and matches else None


@dataclass(frozen=True)
class LoginThrottle:
    """At most `per_account` failed sign-ins to one account and `per_address` from one
    address within `window`; past either, sign-ins are refused without checking the
    password until the window ends."""

    engine: Engine
    per_account: int = 5
    per_address: int = 20
    window: timedelta = timedelta(minutes=15)

    @staticmethod
    def keys(name: str, address: str) -> tuple[str, str]:
        return f"user:{name[:100]}", f"addr:{address[:100]}"

    def retry_after(self, name: str, address: str) -> int:
        """Seconds until a sign-in may be tried again; 0: it may now."""
        account, addr = self.keys(name, address)
        f = desk_login_failures
        since = _now() - self.window
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(f.c.key, f.c.window_start, f.c.failures)
                                .where(f.c.key.in_((account, addr)), f.c.window_start > since)).all()
        waits = [row.window_start + self.window - _now() for row in rows
                 if row.failures >= (self.per_account if row.key == account else self.per_address)]
        return max((max(1, int(wait.total_seconds()) + 1) for wait in waits), default=0)

    def failed(self, name: str, address: str) -> None:
        now = _now()
        f = desk_login_failures
        with self.engine.begin() as conn:
            conn.execute(f.delete().where(f.c.window_start <= now - self.window))
            # An upsert: two failures at once must both count, neither meet the other's key.
            insert = (postgresql.insert(f) if conn.dialect.name == "postgresql" else sqlite.insert(f))
            for key in self.keys(name, address):
                conn.execute(insert.values(key=key, window_start=now, failures=1).on_conflict_do_update(
                    index_elements=[f.c.key], set_={"failures": f.c.failures + 1}))

    def succeeded(self, name: str) -> None:
        """The account's count starts again (the address's stays: one address that knows
        one password must not clear its tries at every other account)."""
        f = desk_login_failures
        with self.engine.begin() as conn:
            conn.execute(f.delete().where(f.c.key == self.keys(name, "")[0]))
