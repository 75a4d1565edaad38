"""Sync: retrieve -> parse -> store, for one source, for all, or forever on their intervals.

A source's failure is reported and never stops the others. What was stored stays when
upstream fails. A document already stored (same digest: a 304, a stale copy, or the
same bytes again) is not parsed again, so a story edited through the ingest API is not
overwritten by an upstream that did not change.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Protocol

from stories.store import StoryStore

from .model import Interrupted, Outcome, ParseError, Retrieved, Source, SourceError, SyncReport
from .parsers import PARSERS, Parser, with_source_topics
from .state import SourceState, SourceStates

log = logging.getLogger(__name__)

MAX_WAIT = 60.0  # seconds the loop sleeps at most, so a stop request is seen soon


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def document_digest(source: Source, document: Retrieved) -> str:
    """Changes when the bytes change, or the settings that shape the records do."""
    settings = json.dumps([source.kind, list(source.topics)]).encode()
    return hashlib.sha256(settings + b"\0" + document.body).hexdigest()


class Retriever(Protocol):
    """What Syncer needs from a retriever (sources.fetch.HTTPRetriever)."""

    def retrieve(self, source: Source, accept: str, token: str = "") -> Retrieved: ...


def source_tokens(sources: Iterable[Source], environ: Mapping[str, str] = os.environ) -> list[str]:
    """The bearer tokens the sources' `token_env` variables hold: secrets for the logs to
    keep out, known here, where they are read."""
    return [environ[s.token_env] for s in sources if s.token_env and environ.get(s.token_env)]


class Syncer:
    def __init__(
        self,
        store: StoryStore,
        states: SourceStates,
        retriever: Retriever,
        parsers: Mapping[str, Parser] = PARSERS,
        environ: Mapping[str, str] = os.environ,
        clock: Callable[[], datetime] = utc_now,
    ):
        self.store = store
        self.states = states
        self.retriever = retriever
        self.parsers = parsers
        self.environ = environ
        self.clock = clock

    # -- one source ----------------------------------------------------------------

    def sync(self, source: Source) -> SyncReport:
        """Never raises for the source's own trouble; a bug is still reported as failed.
        Raises Interrupted when told to stop mid-pull, having recorded nothing."""
        try:
            return self._sync(source)
        except Interrupted:
            raise
        except Exception as exc:  # a bug or a store outage: this source fails, the rest go on
            log.exception("sync of source %s failed", source.name)
            return SyncReport(source.name, Outcome.FAILED, f"internal error: {type(exc).__name__}")

    def _sync(self, source: Source) -> SyncReport:
        started = self.clock()
        previous = self.states.get(source.name) or SourceState(source.name)
        parser = self.parsers[source.kind]
        try:
            document = self.retriever.retrieve(source, parser.accept, self._token(source))
        except SourceError as exc:
            return self._failed(previous, started, str(exc))

        digest = document_digest(source, document)
        if digest == previous.digest:
            self._save(previous, started, document, digest, previous.story_ids)
            return SyncReport(source.name, document.outcome, document.detail)

        try:
            batch = with_source_topics(source, parser.parse(source, document))
        except ParseError as exc:
            reason = str(exc)
            if document.outcome is Outcome.SERVED_STALE:
                reason = f"{document.detail}; the stale copy: {reason}"
            return self._failed(previous, started, reason)

        result = self.store.write(stories=batch.stories, topics=batch.topics)
        ids = frozenset(s.id for s in batch.stories)
        removed = self._remove_missing(source, previous, ids, bool(batch.problems))
        # After a pull with invalid records, the ids not seen may still be upstream:
        # remember them until a clean pull says otherwise.
        remembered = previous.story_ids | ids if batch.problems else ids
        self._save(previous, started, document, digest, remembered)
        return SyncReport(
            source.name,
            document.outcome,
            document.detail,
            added=len(result.added),
            updated=len(result.updated),
            unchanged=len(result.unchanged),
            invalid=_count_records(batch.problems),
            removed=removed,
            problems=tuple(str(p) for p in batch.problems),
            warnings=tuple(str(w) for w in batch.warnings),
        )

    def _token(self, source: Source) -> str:
        if not source.token_env:
            return ""
        token = self.environ.get(source.token_env, "")
        if not token:
            raise SourceError(f"environment variable {source.token_env} (token_env) is not set")
        return token

    def _remove_missing(
        self, source: Source, previous: SourceState, ids: frozenset[str], had_problems: bool
    ) -> int:
        # Only after a clean pull: an invalid record is still upstream, and an empty
        # document is more likely a broken upstream than a newsroom that deleted everything.
        if not source.remove_missing or had_problems or not ids:
            return 0
        claimed = set()
        for name, state in self.states.all().items():
            if name != source.name:
                claimed |= state.story_ids
        removed = 0
        for story_id in sorted(previous.story_ids - ids - claimed):
            removed += len(self.store.delete_story(story_id).deleted)
        return removed

    def _save(
        self,
        previous: SourceState,
        started: datetime,
        document: Retrieved,
        digest: str,
        ids: frozenset[str],
    ) -> None:
        self.states.save(
            dataclasses.replace(
                previous,
                last_attempt=started,
                last_success=started,
                outcome=document.outcome.value,
                message=document.detail,
                digest=digest,
                story_ids=ids,
            )
        )

    def _failed(self, previous: SourceState, started: datetime, reason: str) -> SyncReport:
        self.states.save(
            dataclasses.replace(
                previous, last_attempt=started, outcome=Outcome.FAILED.value, message=reason
            )
        )
        return SyncReport(previous.name, Outcome.FAILED, reason)

    # -- many sources ----------------------------------------------------------------

    def sync_all(self, sources: Iterable[Source]) -> list[SyncReport]:
        return [self.sync(source) for source in sources]

    def next_due(self, source: Source, state: SourceState | None) -> datetime:
        if state is None or state.last_attempt is None:
            return datetime.min
        return state.last_attempt + timedelta(seconds=source.interval)

    def run_forever(
        self, sources: Iterable[Source], stop: threading.Event, report: Callable[[SyncReport], None]
    ) -> None:
        """Sync each source when its interval has passed since its last attempt, until
        `stop` is set: while waiting, between two sources, or during a pull (when the
        retriever was given the same `stop`), which is then not recorded and is pulled
        again on the next run."""
        try:
            self._run_forever(list(sources), stop, report)
        except Interrupted:
            pass

    def _run_forever(
        self, sources: list[Source], stop: threading.Event, report: Callable[[SyncReport], None]
    ) -> None:
        while not stop.is_set():
            states = self.states.all()
            for source in sources:
                if stop.is_set():
                    return
                if self.next_due(source, states.get(source.name)) <= self.clock():
                    report(self.sync(source))
            states = self.states.all()
            now = self.clock()
            soonest = min(
                (self.next_due(s, states.get(s.name)) for s in sources),
                default=now + timedelta(seconds=MAX_WAIT),
            )
            stop.wait(min(max((soonest - now).total_seconds(), 0.05), MAX_WAIT))


def _count_records(problems) -> int:
    """Problems are per field; the report counts records."""
    return len({p.location for p in problems})
