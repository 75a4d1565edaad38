"""IAB downloads from raw fetches: pure functions over frozen values, no I/O.

The rules are those of the IAB Tech Lab Podcast Measurement Technical Guidelines v2.1
(docs/audience.md cites each section):

- only GET answered with the file or a part of it (200, 206) fetches bytes: HEAD and
  304 never count, nor the `Range: bytes=0-1` probe players send before playing;
- a download is the bytes one listener fetched of a file covering its first minute of
  audio (60 s at its byte rate, after its leading ID3 tag), or the whole file when it
  is shorter; the ranges of several requests are reassembled;
- one listener is the client's address (an IPv6 one by its /64) with the User-Agent,
  counted once per episode and UTC day (a fixed day, not a rolling 24 hours: the same
  listener fetching again after midnight is a download of the new day);
- bots and Apple Watch duplicates are left out (audience/agents.py).

`count_downloads` gives each download once; `per_day`, `per_episode` and `per_app` add
them up, so each total is the same number.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .agents import Agents

ONE_MINUTE = 60  # seconds of audio the guidelines ask for
PROBE = (0, 1)  # Range: bytes=0-1, a player asking what the file is
COUNTED_METHODS = ("GET",)
COUNTED_STATUSES = (200, 206)
WINDOWS = (7, 30, 90)  # days after publishing, as sponsors ask


@dataclass(frozen=True)
class Fetch:
    """One answered request for a media file, as recorded: no address, its hash."""

    at: dt.datetime  # UTC
    listener: str  # keyed hash of the client's address (IPv6: its /64) with that day's salt
    user_agent: str
    episode: str  # the file's path under /media/
    method: str
    status: int
    first: int  # first byte sent
    last: int  # last byte sent (inclusive); first > last: none
    file_size: int
    byte_rate: int | None = None  # audio bytes per second; None: unknown, the whole file counts
    leading: int = 0  # bytes before the audio (an ID3v2 tag)

    @property
    def day(self) -> dt.date:
        at = self.at if self.at.tzinfo is None else self.at.astimezone(dt.UTC)
        return at.date()


@dataclass(frozen=True)
class Download:
    day: dt.date
    episode: str
    app: str
    at: dt.datetime  # when the bytes fetched first covered the minute


def needed_bytes(file_size: int, byte_rate: int | None, leading: int = 0) -> int:
    """How many bytes from the start make a download: the leading tag and a minute of
    audio, or the whole file when it is shorter (or its byte rate unknown)."""
    if byte_rate is None or byte_rate <= 0:
        return file_size
    return min(file_size, leading + ONE_MINUTE * byte_rate)


def merged(ranges: list[tuple[int, int]], first: int, last: int) -> list[tuple[int, int]]:
    """`ranges` (sorted, disjoint, inclusive) with [first, last] added."""
    out: list[tuple[int, int]] = []
    for start, end in sorted([*ranges, (first, last)]):
        if out and start <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def covers(ranges: list[tuple[int, int]], needed: int) -> bool:
    """Whether the ranges hold every byte of [0, needed)."""
    return needed <= 0 or bool(ranges) and ranges[0][0] == 0 and ranges[0][1] >= needed - 1


def fetched_bytes(fetch: Fetch) -> bool:
    """Whether the fetch sent bytes that can make a download."""
    return (fetch.method in COUNTED_METHODS and fetch.status in COUNTED_STATUSES
            and (fetch.first, fetch.last) != PROBE and fetch.first <= fetch.last)


def count_downloads(fetches: Iterable[Fetch], agents: Agents) -> tuple[Download, ...]:
    """Every download in `fetches` (any order), in the order they completed."""
    pieces: dict[tuple[dt.date, str, str, str], list[tuple[int, int]]] = {}
    counted: set[tuple[dt.date, str, str, str]] = set()
    downloads = []
    for fetch in sorted(fetches, key=lambda f: (f.at, f.first, f.last)):
        if not fetched_bytes(fetch):
            continue
        agent = agents.classify(fetch.user_agent)
        if not agent.counted:
            continue
        key = (fetch.day, fetch.episode, fetch.listener, fetch.user_agent)
        if key in counted:
            continue
        pieces[key] = merged(pieces.get(key, []), fetch.first, min(fetch.last, fetch.file_size - 1))
        if covers(pieces[key], needed_bytes(fetch.file_size, fetch.byte_rate, fetch.leading)):
            counted.add(key)
            del pieces[key]
            downloads.append(Download(fetch.day, fetch.episode, agent.name, fetch.at))
    return tuple(downloads)


@dataclass(frozen=True)
class DayCount:
    day: dt.date
    downloads: int


@dataclass(frozen=True)
class AppCount:
    app: str
    downloads: int


@dataclass(frozen=True)
class Episode:
    """What a report knows of the story a media file belongs to."""

    episode: str  # the file's path under /media/
    story_id: str
    title: str
    published: dt.datetime  # UTC


@dataclass(frozen=True)
class EpisodeCount:
    episode: str
    story_id: str | None  # None: a file no story of the report names
    title: str | None
    published: dt.datetime | None
    downloads: int  # all, in the report's days
    # Downloads within 7, 30 and 90 days of publishing (WINDOWS), by when each completed;
    # None for a file without a story.
    first_days: tuple[tuple[int, int], ...] | None


def per_day(downloads: Iterable[Download]) -> tuple[DayCount, ...]:
    counts = Counter(d.day for d in downloads)
    return tuple(DayCount(day, n) for day, n in sorted(counts.items()))


def per_app(downloads: Iterable[Download]) -> tuple[AppCount, ...]:
    counts = Counter(d.app for d in downloads)
    return tuple(AppCount(app, n) for app, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def per_episode(downloads: Iterable[Download], episodes: Mapping[str, Episode]) -> tuple[EpisodeCount, ...]:
    """Each file's downloads, most first; with its story's, the first 7, 30 and 90 days."""
    by_file: dict[str, list[Download]] = {}
    for download in downloads:
        by_file.setdefault(download.episode, []).append(download)
    rows = []
    for path, found in by_file.items():
        story = episodes.get(path)
        if story is None:
            rows.append(EpisodeCount(path, None, None, None, len(found), None))
            continue
        published = _naive_utc(story.published)
        windows = tuple(
            (days, sum(_naive_utc(d.at) < published + dt.timedelta(days=days) for d in found))
            for days in WINDOWS
        )
        rows.append(EpisodeCount(path, story.story_id, story.title, story.published, len(found), windows))
    return tuple(sorted(rows, key=lambda row: (-row.downloads, row.episode)))


def _naive_utc(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo is None else at.astimezone(dt.UTC).replace(tzinfo=None)
