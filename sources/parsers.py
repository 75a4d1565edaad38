"""Parsers: one per source kind, each turning a retrieved document into a `Batch` of
validated records (`stories.files.Batch`), with every invalid record reported by
source, record and field and never blocking the others.

A parser raises `ParseError` only when the document as a whole is unusable (not JSON,
not a feed): then nothing of it is stored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from stories.files import Batch, read_records

from . import feed, npr_cds
from .mapping import decode_json_text
from .model import ParseError, Retrieved, Source

JSON_ACCEPT = "application/json, application/x-ndjson;q=0.9, */*;q=0.1"


@dataclasses.dataclass(frozen=True)
class Parser:
    accept: str  # the Accept header to send for this kind
    parse: Callable[[Source, Retrieved], Batch]


def parse_records(source: Source, document: Retrieved) -> Batch:
    """storyfeed's own format: a JSON array, {"topics", "stories"}, or NDJSON."""
    batch = read_records(decode_json_text(document), source.name)
    whole = [p for p in batch.problems if p.field == "file"]
    if whole:
        raise ParseError(whole[0].reason)
    return batch


PARSERS: dict[str, Parser] = {
    "records": Parser(JSON_ACCEPT, parse_records),
    "feed": Parser(feed.ACCEPT, feed.parse_feed),
    "npr-cds": Parser(JSON_ACCEPT, npr_cds.parse_npr_cds),
}


def with_source_topics(source: Source, batch: Batch) -> Batch:
    """Every story of a source carries the source's topics (after its own)."""
    if source.topics:
        batch.stories = [
            dataclasses.replace(s, topics=tuple(dict.fromkeys(s.topics + source.topics)))
            for s in batch.stories
        ]
    return batch
