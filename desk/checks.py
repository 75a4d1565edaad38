"""The last `feeds check` of each topic, kept so that the desk shows the linter's
findings without fetching anything again."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .schema import feed_checks


@dataclass(frozen=True)
class TopicCheck:
    topic: str
    checked_at: datetime  # naive UTC
    errors: int
    warnings: int
    problems: tuple[Mapping[str, str], ...]  # feeds.check.Problem.as_dict() of each


class FeedChecks:
    def __init__(self, engine: Engine):
        self.engine = engine

    def save(self, topics: Iterable[str], problems: Sequence[Mapping[str, str]]) -> None:
        """The result of one run over `topics`: each topic's problems replace its last."""
        now = datetime.now(UTC).replace(tzinfo=None)
        f = feed_checks
        with self.engine.begin() as conn:
            for topic in sorted(set(topics)):
                mine = [p for p in problems if p["topic"] == topic]
                errors = sum(p["severity"] == "error" for p in mine)
                conn.execute(f.delete().where(f.c.topic == topic))
                conn.execute(f.insert().values(topic=topic, checked_at=now, errors=errors,
                                               warnings=len(mine) - errors,
                                               problems=json.dumps(mine, ensure_ascii=False)))

    def all(self) -> dict[str, TopicCheck]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(feed_checks)).all()
        return {row.topic: _check(row) for row in rows}

    def get(self, topic: str) -> TopicCheck | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(feed_checks).where(feed_checks.c.topic == topic)).first()
        return _check(row) if row is not None else None


def _check(row: sa.Row[tuple[str, datetime, int, int, str]]) -> TopicCheck:
    return TopicCheck(row.topic, row.checked_at, row.errors, row.warnings, tuple(json.loads(row.problems)))
