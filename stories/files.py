"""Reading and writing record files: JSON arrays, `{"topics", "stories"}` objects, NDJSON.

NDJSON lines are stories, except a line `{"topic": {...}}`, which is a topic: that is
the form `export` writes, so an export imports back unchanged. Lines end at "\n" only:
U+2028, U+2029 and U+0085 are ordinary characters inside JSON strings.

All JSON text from outside is read with `load_json`, which refuses what Python's json
module would accept but nothing else can hold (NaN, Infinity), what it would crash on
later (integers too long to print, nesting deeper than any record), and, given
`max_items`, a top-level array longer than that, before building the rest of it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .model import Story, Topic, story_to_record, topic_to_record
from .validate import (
    MAX_DEPTH,
    Problem,
    RecordInvalid,
    parse_story,
    parse_topic,
    record_location,
    too_deep,
)

# A file's records sit inside an array or a {"topics", "stories"} object.
MAX_FILE_DEPTH = MAX_DEPTH + 2
MAX_DIGITS = 100
# json.dumps(ensure_ascii=False) writes these raw; readers that split lines the way
# str.splitlines() does (and JavaScript's line readers) would cut a record in two.
_LINE_BREAKS_IN_STRINGS = re.compile("[\x85\u2028\u2029]")
_SPACE = re.compile(r"[ \t\n\r]*")


class JSONRefused(ValueError):
    """JSON text that is malformed, or holds what no record can (see `load_json`).

    Its message reads after "is", e.g. "not valid JSON: Expecting value: line 1 column 1".
    """


class TooManyItems(JSONRefused):
    def __init__(self, limit: int):
        self.limit = limit
        super().__init__(f"not accepted: more than {limit} items")


def _refuse_constant(name: str) -> Any:
    raise JSONRefused(f"not valid JSON: {name} is not a number")


def _whole_number(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        digits = len(text.lstrip("-"))
        raise JSONRefused(f"not accepted: a number has {digits} digits, at most {MAX_DIGITS} allowed")
    return int(text)


def _finite_number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 is Infinity to Python
        raise JSONRefused(f"not accepted: {text[:20]} is too large a number")
    return value


_DECODER = json.JSONDecoder(
    parse_constant=_refuse_constant, parse_int=_whole_number, parse_float=_finite_number
)


def load_json(text: str, max_items: int | None = None, max_depth: int = MAX_FILE_DEPTH) -> Any:
    """Parse JSON text; raises JSONRefused (TooManyItems past `max_items` array items)."""
    try:
        if max_items is not None and text.lstrip(" \t\n\r").startswith("["):
            value = _load_array(text, max_items)
        else:
            value = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise JSONRefused(f"not valid JSON: {exc}") from None
    except RecursionError:
        raise JSONRefused(f"nested more than {max_depth} levels deep") from None
    if too_deep(value, max_depth):
        raise JSONRefused(f"nested more than {max_depth} levels deep")
    return value


def _past_space(text: str, at: int = 0) -> int:
    """Where the JSON whitespace starting at `at` ends."""
    match = _SPACE.match(text, at)
    assert match is not None  # `*` matches the empty string too
    return match.end()


def _load_array(text: str, max_items: int) -> list[Any]:
    """A top-level array read an item at a time, so a million `{}` cost no more than
    `max_items` of them."""
    items: list[Any] = []
    at = _past_space(text) + 1  # past "["
    at = _past_space(text, at)
    if text.startswith("]", at):
        end = at + 1
    else:
        while True:
            if len(items) == max_items:
                raise TooManyItems(max_items)
            item, at = _DECODER.raw_decode(text, at)
            items.append(item)
            at = _past_space(text, at)
            if text.startswith(",", at):
                at = _past_space(text, at + 1)
            elif text.startswith("]", at):
                end = at + 1
                break
            else:
                raise json.JSONDecodeError("Expecting ',' delimiter", text, at)
    if _past_space(text, end) != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return items


@dataclass
class Batch:
    """What a file held: the valid records, and the problems of the others."""

    topics: list[Topic] = field(default_factory=list)
    stories: list[Story] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def extend(self, other: Batch) -> None:
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
        data = load_json(text)
    except JSONRefused as whole_error:
        if "\n" not in text.strip():
            batch.problems.append(Problem(source, "file", str(whole_error)))
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
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            raw = load_json(line, max_depth=MAX_DEPTH + 1)
        except JSONRefused as exc:
            batch.problems.append(Problem(f"{source}: line {number}", "record", str(exc)))
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
        yield _line({"topic": topic_to_record(topic)})
    for story in stories:
        yield _line(story_to_record(story))


def _line(record: dict[str, Any]) -> str:
    text = json.dumps(record, ensure_ascii=False)
    # Only inside strings can these occur, where an escape means the same character.
    return _LINE_BREAKS_IN_STRINGS.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n"
