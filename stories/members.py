"""Members: listeners with a private feed secret each (docs/members.md).

A secret is 192 random bits, shown once when made and stored only as its SHA-256: a
secret that random needs no slow hash, and looking one up is an index lookup by the
hash, whose time says nothing about the secret. Rotating a member's secret keeps the
old one's hash, marked revoked, so that an app still polling the old URL is told it is
gone (410) instead of "no such thing" (404).

Sightings keep where a secret was used from, to find secrets shared beyond one
listener: a network prefix (/24, /64) or an app family, each only as an HMAC keyed by
the secret itself. The database holds no secret, so a copy of it cannot tell which
networks a member used, even by trying every /24.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import blinker
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from . import schema
from .errors import InvalidInput, NotFound

# Sent after a committed change to members (`member_id=`): what the memo of secret
# lookups listens to, and, with Redis, every other process through the change notices.
members_changed = blinker.Namespace().signal("members-changed")

SECRET_BYTES = 24  # 192 bits
# What `secrets.token_urlsafe(SECRET_BYTES)` makes: anything else is no secret of ours,
# refused before it costs a query.
SECRET_RE = re.compile(r"[A-Za-z0-9_-]{32}")

# Member feeds are rendered once for every member with this in place of the secret, and
# each member's secret is put in as the body is served. It is made of the characters no
# feed format escapes or percent-encodes, so it stands in every URL and text as written;
# records that hold it are refused (`stories.validate`), so it never comes from content.
SECRET_PLACEHOLDER = "storyfeed-member-secret-9f3c0a7e2b"

LIVE = "live"
LAPSED = "lapsed"  # expired: renewing brings the same URL back
REVOKED = "revoked"
MAX_NAME = 200

NETWORK = "network"
APP = "app"


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def sighting_hash(secret: str, value: str) -> str:
    """What a sighting keeps of a network prefix or app family: useless without the secret."""
    return hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class Member:
    id: int
    name: str
    created: datetime
    expires: datetime | None = None
    revoked: datetime | None = None

    def status(self, now: datetime | None = None) -> str:
        if self.revoked is not None:
            return REVOKED
        if self.expires is not None and self.expires <= (now or datetime.now(UTC)):
            return LAPSED
        return LIVE


@dataclass(frozen=True)
class SecretMatch:
    """A known secret: its member and whether this secret (not the member) was replaced."""

    member: Member
    replaced: bool

    def status(self, now: datetime | None = None) -> str:
        return REVOKED if self.replaced else self.member.status(now)


@dataclass(frozen=True)
class Sharing:
    """A member whose secret was used from more places than one listener's."""

    member: Member
    networks: int
    apps: int


MAX_ID = 2**31 - 1  # the column's range on every backend


def _check_id(member_id: int) -> None:
    """NotFound for an id no member can have: the database refuses those (a URL's
    99999999999999999999 is an OverflowError in SQLite, an error in PostgreSQL)."""
    if not 0 < member_id <= MAX_ID:
        raise NotFound(f"there is no member {member_id}")


def _naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None else None


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class MemberStore:
    """Members, their secrets' hashes and sightings, in the story store's database."""

    def __init__(self, engine: Engine):
        self.engine = engine

    # -- reading ---------------------------------------------------------------

    def _member(self, row: sa.Row) -> Member:  # type: ignore[type-arg]
        return Member(row.id, row.name, _aware(row.created) or datetime.now(UTC),
                      _aware(row.expires), _aware(row.revoked))

    def get(self, member_id: int) -> Member:
        _check_id(member_id)
        m = schema.members
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(m).where(m.c.id == member_id)).first()
        if row is None:
            raise NotFound(f"there is no member {member_id}")
        return self._member(row)

    def list_members(self) -> list[Member]:
        m = schema.members
        with self.engine.connect() as conn:
            return [self._member(row) for row in conn.execute(sa.select(m).order_by(m.c.id))]

    def lookup(self, secret: str) -> SecretMatch | None:
        """The member a secret is (or was) theirs; None for anything else."""
        if not SECRET_RE.fullmatch(secret):
            return None
        m, s = schema.members, schema.member_secrets
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(m, s.c.replaced).join(s, s.c.member_id == m.c.id)
                .where(s.c.hash == secret_hash(secret))
            ).first()
        if row is None:
            return None
        return SecretMatch(self._member(row), row.replaced is not None)

    # -- writing ---------------------------------------------------------------

    def _new_secret(self, conn: sa.Connection, member_id: int, now: datetime) -> str:
        secret = secrets.token_urlsafe(SECRET_BYTES)
        conn.execute(schema.member_secrets.insert().values(
            hash=secret_hash(secret), member_id=member_id, created=now))
        return secret

    def add(self, name: str, expires: datetime | None = None) -> tuple[Member, str]:
        """A new member and their secret, which is not kept: show it once."""
        name = name.strip()
        if not name or len(name) > MAX_NAME or not name.isprintable():
            raise InvalidInput(f"a member's name is 1 to {MAX_NAME} printable characters")
        now = _now()
        with self.engine.begin() as conn:
            member_id = conn.execute(schema.members.insert().values(
                name=name, created=now, expires=_naive(expires) if expires else None,
            ).returning(schema.members.c.id)).scalar_one()
            secret = self._new_secret(conn, member_id, now)
        members_changed.send(self, member_id=member_id)
        return self.get(member_id), secret

    def _change(self, member_id: int, **values: object) -> Member:
        _check_id(member_id)
        m = schema.members
        with self.engine.begin() as conn:
            done = conn.execute(m.update().where(m.c.id == member_id).values(**values)
                                .returning(m.c.id)).first()
        if done is None:
            raise NotFound(f"there is no member {member_id}")
        members_changed.send(self, member_id=member_id)
        return self.get(member_id)

    def rotate(self, member_id: int) -> str:
        """A new secret for the member; the old ones answer 410 from now on."""
        member = self.get(member_id)
        if member.revoked is not None:
            raise InvalidInput(f"member {member_id} is revoked")
        s, w = schema.member_secrets, schema.member_sightings
        now = _now()
        with self.engine.begin() as conn:
            conn.execute(s.update().where(s.c.member_id == member_id, s.c.replaced.is_(None))
                         .values(replaced=now))
            conn.execute(w.delete().where(w.c.member_id == member_id))  # a fresh start
            secret = self._new_secret(conn, member_id, now)
        members_changed.send(self, member_id=member_id)
        return secret

    def revoke(self, member_id: int) -> Member:
        return self._change(member_id, revoked=_now())

    def expire(self, member_id: int, at: datetime | None = None) -> Member:
        return self._change(member_id, expires=_naive(at) if at else _now())

    def renew(self, member_id: int, until: datetime | None = None) -> Member:
        return self._change(member_id, expires=_naive(until) if until else None)

    # -- sharing -------------------------------------------------------------

    def record_sightings(self, member_id: int, seen: Iterable[tuple[str, str]]) -> None:
        """Note (kind, hash) sightings of a member's secret as of now."""
        w = schema.member_sightings
        now = _now()
        rows = [{"member_id": member_id, "kind": kind, "value": value, "seen": now}
                for kind, value in seen]
        if not rows:
            return
        with self.engine.begin() as conn:
            for row in rows:
                updated = conn.execute(w.update().where(
                    w.c.member_id == member_id, w.c.kind == row["kind"], w.c.value == row["value"],
                ).values(seen=now)).rowcount
                if not updated:
                    conn.execute(w.insert().values(**row))

    def sharing(self, max_networks: int, max_apps: int, window: timedelta = timedelta(hours=24),
                now: datetime | None = None) -> list[Sharing]:
        """Members seen from more than `max_networks` networks or `max_apps` app families
        within `window`."""
        w, m = schema.member_sightings, schema.members
        since = _naive(now or datetime.now(UTC)) - window
        networks = sa.func.sum(sa.case((w.c.kind == NETWORK, 1), else_=0))
        apps = sa.func.sum(sa.case((w.c.kind == APP, 1), else_=0))
        query = (sa.select(m, networks.label("networks"), apps.label("apps"))
                 .join(w, w.c.member_id == m.c.id).where(w.c.seen >= since)
                 .group_by(*m.c).having((networks > max_networks) | (apps > max_apps))
                 .order_by(m.c.id))
        with self.engine.connect() as conn:
            return [Sharing(self._member(row), int(row.networks), int(row.apps))
                    for row in conn.execute(query)]
