"""The types of the retrieve -> parse -> store pipeline: frozen dataclasses, and the
few errors that every foreign exception (requests, urllib3, feedparser, json) is
turned into before it leaves `sources/`."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from stories.errors import StoryfeedError, UpstreamError

KINDS = ("records", "feed", "npr-cds")


@dataclass(frozen=True)
class Source:
    """One `[[source]]` table of the sources file."""

    name: str
    url: str
    kind: str
    topics: tuple[str, ...] = ()
    interval: int = 900
    allow_private: bool = False
    # Name of the environment variable holding a bearer token (NPR CDS, private APIs).
    token_env: str = ""
    # Delete stories that were in the previous document and are gone from this one.
    remove_missing: bool = False
    # Seconds the whole fetch may take (retries and a trickling body included); None:
    # SOURCES_FETCH_DEADLINE.
    deadline: float | None = None


class Outcome(enum.Enum):
    FETCHED = "fetched"
    NOT_MODIFIED = "not modified"
    SERVED_STALE = "served stale"
    FAILED = "failed"


@dataclass(frozen=True)
class Retrieved:
    """An upstream document as the retriever got it."""

    body: bytes
    content_type: str  # the media type without parameters, "" when not sent
    url: str  # after redirects
    outcome: Outcome  # FETCHED, NOT_MODIFIED or SERVED_STALE
    headers: dict[str, str] = field(default_factory=dict)
    # For SERVED_STALE: what went wrong upstream; for the others, "".
    detail: str = ""


class SourceError(UpstreamError):
    """Something that stops one source's update; its message is for people."""


class RetrieveError(SourceError):
    """The document could not be had: network, HTTP status, policy, size."""


class DeadlinePassed(RetrieveError):
    """No complete answer within the fetch's deadline (an upstream that stalls, or
    trickles its body a byte at a time, stays within every read timeout)."""


class Interrupted(StoryfeedError):
    """The pull was stopped (SIGTERM) before its document arrived. Not the source's
    failure: nothing about the pull is recorded, so the next run pulls it again."""


class ParseError(SourceError):
    """The document came, but is not what its kind promises."""


@dataclass(frozen=True)
class SyncReport:
    """One source's line in the `sync` report."""

    source: str
    outcome: Outcome
    detail: str = ""
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    invalid: int = 0
    removed: int = 0
    problems: tuple[str, ...] = ()  # one line per invalid record, naming source, record, field
    warnings: tuple[str, ...] = ()

    def line(self) -> str:
        status = self.outcome.value
        if self.detail:
            status += f" ({self.detail})"
        counts = (
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.invalid} invalid"
        )
        if self.removed:
            counts += f", {self.removed} removed"
        return f"{self.source}: {status}; {counts}"
