"""What `sync` remembers about each source between runs, in the store's database: when
it last tried and succeeded, how it went, which document it last stored (a digest),
and that document's story ids."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .schema import source_state


@dataclass(frozen=True)
class SourceState:
    name: str
    last_attempt: datetime | None = None  # naive UTC, as the store keeps times
    last_success: datetime | None = None
    outcome: str = ""
    message: str = ""
    digest: str | None = None
    story_ids: frozenset[str] = field(default_factory=frozenset)


class SourceStates:
    def __init__(self, engine: Engine):
        self.engine = engine

    def all(self) -> dict[str, SourceState]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(source_state)).all()
        return {row.name: _from_row(row) for row in rows}

    def get(self, name: str) -> SourceState | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(source_state).where(source_state.c.name == name)).first()
        return _from_row(row) if row is not None else None

    def save(self, state: SourceState) -> None:
        values = {
            "last_attempt": state.last_attempt,
            "last_success": state.last_success,
            "outcome": state.outcome,
            "message": state.message,
            "digest": state.digest,
            "story_ids": json.dumps(sorted(state.story_ids)),
        }
        t = source_state
        with self.engine.begin() as conn:
            updated = conn.execute(
                t.update().where(t.c.name == state.name).values(**values)
            ).rowcount
            if not updated:
                conn.execute(t.insert().values(name=state.name, **values))


def _from_row(row) -> SourceState:
    return SourceState(
        name=row.name,
        last_attempt=row.last_attempt,
        last_success=row.last_success,
        outcome=row.outcome,
        message=row.message,
        digest=row.digest,
        story_ids=frozenset(json.loads(row.story_ids)),
    )
