"""Reading and writing record files: JSON arrays, `{"topics", "stories"}` objects, NDJSON.

NDJSON lines are stories, except a line `{"topic": {...}}`, which is a topic: that is
the form `export` writes, so an export imports back unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from .model import Story, Topic, story_to_record, topic_to_record
from .validate import Problem, RecordInvalid, parse_story, parse_topic, record_location


@dataclass
class Batch:
    """What a file held: the valid records, and the problems of the others."""

    topics: list[Topic] = field(default_factory=list)
    stories: list[Story] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def extend(self, other: "Batch") -> None:
        self.topics += other.topics
        self.stories += other.stories
        self.problems += other.problems
        self.warnings += other.warnings

    def add_story(self, raw: Any, location: str) -> None:
        try:
            story, warnings = parse_story(raw, location)
        except RecordInvalid as exc:
            self.problems += exc.problems
        else:
            self.stories.append(story)
            self.warnings += warnings

    def add_topic(self, raw: Any, location: str) -> None:
        try:
            topic, warnings = parse_topic(raw, location)
        except RecordInvalid as exc:
            self.problems += exc.problems
        else:
            self.topics.append(topic)
            self.warnings += warnings


def _ident(raw: Any, key: str) -> Any:
    return raw.get(key) if isinstance(raw, dict) else None


def read_records(text: str, source: str) -> Batch:
    """Parse and validate a file's text. `source` names it in messages."""
    batch = Batch()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as whole_error:
        if "\n" not in text.strip():
            batch.problems.append(Problem(source, "file", f"not valid JSON: {whole_error}"))
            return batch
        data = None
    if isinstance(data, list):
        for i, raw in enumerate(data, 1):
            batch.add_story(raw, record_location(source, "record", i, _ident(raw, "id")))
    elif isinstance(data, dict) and data and set(data) <= {"topics", "stories"}:
        for key, kind in (("topics", "topic"), ("stories", "record")):
            items = data.get(key, [])
            if not isinstance(items, list):
                batch.problems.append(Problem(source, key, "must be a list"))
                continue
            for i, raw in enumerate(items, 1):
                if kind == "topic":
                    batch.add_topic(raw, record_location(source, kind, i, _ident(raw, "slug"), "slug"))
                else:
                    batch.add_story(raw, record_location(source, kind, i, _ident(raw, "id")))
    else:
        _read_ndjson(text, source, batch)
    return batch


def _read_ndjson(text: str, source: str, batch: Batch) -> None:
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            batch.problems.append(Problem(f"{source}: line {number}", "record", f"not valid JSON: {exc}"))
            continue
        if isinstance(raw, dict) and set(raw) == {"topic"}:
            topic = raw["topic"]
            batch.add_topic(
                topic, record_location(source, "line", number, _ident(topic, "slug"), "slug")
            )
        else:
            batch.add_story(raw, record_location(source, "line", number, _ident(raw, "id")))


def write_ndjson(topics: Iterable[Topic], stories: Iterable[Story]) -> Iterator[str]:
    """Lines (with their newline) that `read_records` reads back unchanged."""
    for topic in topics:
        yield json.dumps({"topic": topic_to_record(topic)}, ensure_ascii=False) + "\n"
    for story in stories:
        yield json.dumps(story_to_record(story), ensure_ascii=False) + "\n"
