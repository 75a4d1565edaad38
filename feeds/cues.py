"""Transcripts read into timed cues: WebVTT and SubRip (webvtt-py's cues, most files read
by a faster reader of their plain shape, see below) and the Podcast
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

from .content import _xml_text, xml_text

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
    # WebVTT escapes &, < and > in cue text as character references; SubRip has none,
    # but its text is not meant to hold any either.
    references = form == "vtt"
    # A file without a character XML forbids has none in its lines: only a reference can
    # bring one in (the cleaning cost some 2 µs a cue, a third of the whole read).
    clean = _xml_text(text) is text
    cues = []
    for start, end, lines in _captions(text, form):
        words = _cue_text(" ".join([_strip_tags(line) for line in lines]), references, clean)
        if words:
            voice = _voice(lines)
            cues.append(Cue(start / 1000, end / 1000, words, _cue_text(voice, references, clean) if voice else ""))
    return tuple(cues)


def _cue_text(text: str, references: bool, clean: bool) -> str:
    """`_plain` of the text with its character references decoded."""
    if references and "&" in text:
        return _plain(html.unescape(text))
    return " ".join((text if clean else _xml_text(text)).split())


# -- WebVTT and SubRip ---------------------------------------------------------------------
#
# webvtt-py reads any file as browsers and players do, at some 50 to 75 µs a cue (1,500 cues:
# 100 ms of a worker's CPU, on a page's first request). The plain shape nearly every file
# has (each cue a block of its own, timings written in full, no styles or regions) is read
# here in a few µs a cue; a file that steps outside it in any way is read by webvtt-py whole.
# The cues are the same either way (tests/test_cues.py compares them on the sample files
# and on generated ones): what these readers accept is a subset of what webvtt-py reads the
# same way, not a reading of our own.

TimedLines = tuple[int, int, list[str]]  # a cue's start and end in milliseconds, its text lines

_VTT_TIMINGS_RE = re.compile(
    r"(?:([0-9]{2}):)?([0-9]{2}):([0-9]{2})\.([0-9]{3}) --> (?:([0-9]{2}):)?([0-9]{2}):([0-9]{2})\.([0-9]{3})"
    # Cue settings change where a cue shows, not its times or words.
    r"(?:[ \t].*)?")
_SRT_TIMINGS_RE = re.compile(
    r"([0-9]{2}):([0-9]{2}):([0-9]{2}),([0-9]{3}) --> ([0-9]{2}):([0-9]{2}):([0-9]{2}),([0-9]{3})")
_SRT_INDEX_RE = re.compile(r"[0-9]+")
# A cue tag up to the first ">" after its "<" (webvtt-py's `<.*?>` on a line).
_CUE_TAG_RE = re.compile(r"<[^>]*>")
_VOICE_RE = webvtt.Caption.VOICE_SPAN_PATTERN


def _captions(text: str, form: str) -> list[TimedLines]:
    plain = _plain_text(text)
    simple = None
    if plain is not None:
        simple = _simple_vtt(plain) if form == "vtt" else _simple_srt(_lines(plain))
    if simple is not None:
        return simple
    try:
        captions = webvtt.WebVTT.from_buffer(io.StringIO(text), format=form).captions
    except (MalformedFileError, MalformedCaptionError) as exc:
        name = "WebVTT" if form == "vtt" else "SubRip"
        raise TranscriptUnreadable(f"is not {name}: {exc}") from None
    return [(c.start_time.in_milliseconds(), c.end_time.in_milliseconds(), c.lines) for c in captions]


def _plain_text(text: str) -> str | None:
    """The text with its lines ended by LF alone, or None for a text whose CRs alone end
    lines (webvtt-py ends a line at CR LF, CR or LF), or that starts with a second BOM."""
    text = text.replace("\r\n", "\n")
    if "\r" in text or text.startswith("\ufeff"):
        return None
    return text


def _lines(text: str) -> list[str]:
    """The lines as webvtt-py splits them: one empty last line dropped."""
    lines = text.split("\n")
    if not lines[-1]:
        lines.pop()
    return lines


def _milliseconds(hours: str | None, minutes: str, seconds: str, millis: str) -> int:
    return ((int(hours or 0) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + int(millis)


# The end of a WebVTT block: one empty line or more.
_VTT_BLOCK_END_RE = re.compile(r"\n\n+")


def _simple_vtt(text: str) -> list[TimedLines] | None:
    """The cues of a WebVTT file of blocks each a cue (an optional id, its timings, its
    text) or a NOTE; None for anything else. Split into blocks by one regex, not a loop
    over lines."""
    if not text.startswith("WEBVTT"):
        return None
    header, *blocks = _VTT_BLOCK_END_RE.split(text.rstrip("\n"))
    if "-->" in header:
        return None
    captions = []
    for block in blocks:
        timings, _, rest = block.partition("\n")
        if "-->" not in timings:
            if "-->" not in rest:
                if timings.startswith("NOTE"):
                    continue
                return None
            timings, _, rest = rest.partition("\n")  # after the cue's id
            if "-->" not in timings:
                return None
        match = _VTT_TIMINGS_RE.fullmatch(timings)
        if match is None or "-->" in rest:
            return None
        h1, m1, s1, ms1, h2, m2, s2, ms2 = match.groups()
        if m1 > "59" or s1 > "59" or m2 > "59" or s2 > "59":  # two digits each; webvtt-py drops the cue
            return None
        captions.append((_milliseconds(h1, m1, s1, ms1), _milliseconds(h2, m2, s2, ms2),
                         rest.split("\n") if rest else []))
    return captions


def _simple_srt(lines: list[str]) -> list[TimedLines] | None:
    """The cues of a SubRip file of blocks each a cue (its number, its timings, its text),
    from the first line on; None for anything else."""
    if len(lines) < 3 or not _SRT_INDEX_RE.fullmatch(lines[0]):  # webvtt-py's refusal
        return None
    count, i = len(lines), 0
    captions = []
    while i < count:
        if not lines[i].strip():
            i += 1
            continue
        end = i
        while end < count and lines[end].strip():
            end += 1
        block, i = lines[i:end], end
        if len(block) < 2 or not _SRT_INDEX_RE.fullmatch(block[0]):
            return None
        match = _SRT_TIMINGS_RE.fullmatch(block[1])
        text = block[2:]
        if match is None or any("-->" in line for line in text):
            return None
        h1, m1, s1, ms1, h2, m2, s2, ms2 = match.groups()
        captions.append((_milliseconds(h1, m1, s1, ms1), _milliseconds(h2, m2, s2, ms2), text))
    return captions


def _strip_tags(line: str) -> str:
    """A line of cue text without its tags, as webvtt-py's `Caption.text`: in linear time,
    as the regex only runs up to the last ">" (a "<" with no ">" after it is text)."""
    if "<" not in line:
        return line
    last = line.rfind(">")
    if last < 0:
        return line
    return _CUE_TAG_RE.sub("", line[:last + 1]) + line[last + 1:]


def _voice(lines: list[str]) -> str:
    """The speaker of a `<v Speaker>` span that opens the cue (webvtt-py's `Caption.voice`)."""
    if lines and lines[0].startswith("<v"):
        match = _VOICE_RE.match(lines[0])
        if match:
            return match.group(1)
    return ""


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
