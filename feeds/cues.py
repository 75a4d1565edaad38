"""Transcripts read into timed cues: WebVTT and SubRip (through webvtt-py) and the Podcast
Index JSON transcript format, for the transcript page and the story's structured data.

Bytes in, cues out; nothing of files or HTTP. Cue text is plain text (tags dropped, WebVTT
character references decoded): whoever puts it into HTML or JSON escapes it there.
"""

from __future__ import annotations

import html
import io
import json
import math
import re
from dataclasses import dataclass
from typing import Any

import webvtt
from webvtt.errors import MalformedCaptionError, MalformedFileError

from .content import xml_text

# Types read into cues, and the form webvtt-py reads each in ("json" is ours).
CUE_FORMATS = {"text/vtt": "vtt", "application/x-subrip": "srt", "application/json": "json"}
# A transcript of several hours is a few hundred KB; anything far past that is not one.
MAX_TRANSCRIPT_BYTES = 5 * 1024 * 1024
# An hour of speech is about a thousand caption cues; past this many a transcript is not
# one to read as a page, and reading it (webvtt-py: some 60 µs a cue) and rendering it
# would hold a worker for seconds.
MAX_CUES = 5_000
# Podcast Index JSON may hold a segment per word, joined into cues by sentence.
MAX_SEGMENTS = 10 * MAX_CUES
# Where a Podcast Index JSON segment ends a sentence: the words of word-by-word segments
# are joined up to here, so that the page reads in sentences, not one word a line.
SENTENCE_END_RE = re.compile(r"""(?:[.!?\u2026]["'\u201d\u2019)\]]*|\n)\s*$""")


@dataclass(frozen=True)
class Cue:
    start: float  # seconds
    end: float | None
    text: str
    speaker: str = ""


class TranscriptUnreadable(ValueError):
    """A transcript file that cannot be read into cues; the message says why."""


def read_cues(data: bytes, type: str) -> tuple[Cue, ...]:
    """The cues of a transcript file of `type` (one of `CUE_FORMATS`).

    Raises `TranscriptUnreadable` naming the problem: too large, too many cues, not UTF-8,
    not the format.
    """
    form = CUE_FORMATS.get(type)
    if form is None:
        raise TranscriptUnreadable(f"{type} has no timings to read")
    if len(data) > MAX_TRANSCRIPT_BYTES:
        raise TranscriptUnreadable(f"is larger than {MAX_TRANSCRIPT_BYTES // (1024 * 1024)} MB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TranscriptUnreadable(f"is not UTF-8 (byte {exc.start})") from None
    if form == "json":
        return _json_cues(text)
    # Every cue has one timing line ("00:01.000 --> 00:02.000"): counted before the parse,
    # so a file of 40,000 cues costs a scan of its bytes, not the parse.
    if text.count("-->") > MAX_CUES:
        raise TranscriptUnreadable(f"has more than {MAX_CUES:,} cues")
    try:
        captions = webvtt.WebVTT.from_buffer(io.StringIO(text), format=form)
    except (MalformedFileError, MalformedCaptionError) as exc:
        name = "WebVTT" if form == "vtt" else "SubRip"
        raise TranscriptUnreadable(f"is not {name}: {exc}") from None
    cues = []
    for caption in captions.captions:
        # WebVTT escapes &, < and > in cue text as character references; SubRip has none,
        # but its text is not meant to hold any either.
        decode = html.unescape if form == "vtt" else str
        words = _plain(decode(caption.text))
        if words:
            cues.append(Cue(caption.start_time.in_milliseconds() / 1000,
                            caption.end_time.in_milliseconds() / 1000,
                            words, _plain(decode(caption.voice or ""))))
    return tuple(cues)


def _plain(text: str) -> str:
    """One line of text without XML-illegal characters: cue lines are caption lines, not
    paragraphs."""
    return " ".join(xml_text(text).split())


def _seconds(value: object, where: str) -> float:
    refusal = TranscriptUnreadable(f"{where} is not a time in seconds: {value!r}"[:200])
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise refusal
    try:
        # A JSON integer of 400 digits is a Python int that no float can hold.
        seconds = float(value)
    except OverflowError:
        raise refusal from None
    if not math.isfinite(seconds) or seconds < 0:
        raise refusal
    return seconds


def _json_cues(text: str) -> tuple[Cue, ...]:
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise TranscriptUnreadable(f"is not JSON: {exc}") from None
    except RecursionError:  # brackets nested deeper than the decoder follows
        raise TranscriptUnreadable("is not JSON that can be read: it is nested too deeply") from None
    segments = document.get("segments") if isinstance(document, dict) else None
    if not isinstance(segments, list):
        raise TranscriptUnreadable("is not a Podcast Index JSON transcript: it has no segments list")
    if len(segments) > MAX_SEGMENTS:
        raise TranscriptUnreadable(f"has more than {MAX_SEGMENTS:,} segments")
    cues: list[Cue] = []
    words: list[str] = []
    first: dict[str, Any] = {}
    last: dict[str, Any] = {}

    def flush() -> None:
        if words:
            end = last.get("endTime")
            cues.append(Cue(first["startTime"], end, " ".join(words), first.get("speaker", "")))
            words.clear()

    for number, segment in enumerate(segments):
        where = f"segments[{number}]"
        if not isinstance(segment, dict) or not isinstance(segment.get("body"), str):
            raise TranscriptUnreadable(f"{where} has no body text")
        speaker = segment.get("speaker", "")
        if not isinstance(speaker, str):
            raise TranscriptUnreadable(f"{where}.speaker is not text")
        current = {"startTime": _seconds(segment.get("startTime"), f"{where}.startTime"),
                   "speaker": _plain(speaker)}
        if segment.get("endTime") is not None:
            current["endTime"] = _seconds(segment["endTime"], f"{where}.endTime")
        if words and current["speaker"] != first.get("speaker", ""):
            flush()
        body = _plain(segment["body"])
        if not body:
            continue
        if not words:
            first = current
        words.append(body)
        last = current
        if SENTENCE_END_RE.search(segment["body"]):
            flush()
    flush()
    if len(cues) > MAX_CUES:
        raise TranscriptUnreadable(f"has more than {MAX_CUES:,} cues")
    return tuple(cues)


def cues_text(cues: tuple[Cue, ...]) -> str:
    """The words of a transcript as running text (schema.org's `transcript`)."""
    return " ".join(cue.text for cue in cues)
