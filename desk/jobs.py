"""Background jobs the desk starts (a linter run, a source's sync): a row each, which the
job moves as it goes and pages read. The job runs in a thread of the process that
started it (a greenlet under gunicorn's gevent workers), never in the request."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .schema import desk_jobs

log = logging.getLogger(__name__)

RUNNING, DONE, FAILED = "running", "done", "failed"
# A job still "running" after this long died with its process (a deploy, a crash): a new
# one may start.
ABANDONED_AFTER = timedelta(hours=1)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    target: str
    status: str
    done: int
    total: int
    started_at: datetime
    finished_at: datetime | None
    message: str
    started_by: str

    @property
    def running(self) -> bool:
        return self.status == RUNNING


class Progress:
    """What a running job is handed to say how far it is."""

    def __init__(self, jobs: Jobs, job_id: int):
        self.jobs, self.job_id = jobs, job_id
        self.done = 0

    def total(self, total: int) -> None:
        self.jobs._update(self.job_id, total=total)

    def step(self, *_: object) -> None:
        self.done += 1
        self.jobs._update(self.job_id, done=self.done)


# The work: given its progress, it returns the message the job ends with; an exception
# ends it as failed.
Work = Callable[[Progress], str]


class Jobs:
    def __init__(self, engine: Engine):
        self.engine = engine

    def start(self, kind: str, target: str, started_by: str, work: Work) -> Job:
        """A new job, already running in a thread; or the one of this kind and target that
        is still running (a second click does not start a second run)."""
        with self.engine.begin() as conn:
            running = self._latest(conn, kind, target)
            if running is not None and running.running and running.started_at > _now() - ABANDONED_AFTER:
                return running
            job_id = conn.execute(desk_jobs.insert().values(
                kind=kind, target=target, status=RUNNING, done=0, total=0, started_at=_now(),
                message="", started_by=started_by).returning(desk_jobs.c.id)).scalar_one()
        thread = threading.Thread(target=self._run, args=(job_id, work), daemon=True,
                                  name=f"desk-job-{job_id}")
        thread.start()
        found = self.get(job_id)
        assert found is not None
        return found

    def _run(self, job_id: int, work: Work) -> None:
        try:
            message = work(Progress(self, job_id))
        except Exception as exc:  # the job fails, the process goes on; the page says why
            log.exception("desk job %d failed", job_id)
            self._update(job_id, status=FAILED, finished_at=_now(), message=f"{type(exc).__name__}: {exc}")
        else:
            self._update(job_id, status=DONE, finished_at=_now(), message=message)

    def _update(self, job_id: int, **values: object) -> None:
        with self.engine.begin() as conn:
            conn.execute(desk_jobs.update().where(desk_jobs.c.id == job_id).values(**values))

    def get(self, job_id: int) -> Job | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(desk_jobs).where(desk_jobs.c.id == job_id)).first()
        return Job(**row._mapping) if row is not None else None

    def latest(self, kind: str, target: str) -> Job | None:
        with self.engine.connect() as conn:
            return self._latest(conn, kind, target)

    @staticmethod
    def _latest(conn: sa.Connection, kind: str, target: str) -> Job | None:
        j = desk_jobs
        row = conn.execute(sa.select(j).where(j.c.kind == kind, j.c.target == target)
                           .order_by(j.c.id.desc()).limit(1)).first()
        return Job(**row._mapping) if row is not None else None
