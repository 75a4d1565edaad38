"""Reports: downloads per day, per episode (with its first 7, 30 and 90 days) and per app,
counted again from the stored fetches each time, so every total is the recount's.

Plain functions returning frozen values: the CLI, the API and the editors' charts read
the same `Report`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import sqlalchemy as sa

from stories.store import StoryStore

from .agents import LIST_VERSIONS, Agents, ListVersion
from .count import AppCount, DayCount, Episode, EpisodeCount, count_downloads, per_app, per_day, per_episode
from .store import read_fetches

MEDIA_PREFIX = "/media/"


@dataclass(frozen=True)
class Report:
    topic: str | None
    start: dt.date | None
    end: dt.date | None
    downloads: int
    days: tuple[DayCount, ...]
    episodes: tuple[EpisodeCount, ...]
    apps: tuple[AppCount, ...]
    lists: tuple[ListVersion, ...] = LIST_VERSIONS  # the bots and apps lists counted with

    def as_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "from": self.start.isoformat() if self.start else None,
            "to": self.end.isoformat() if self.end else None,
            "downloads": self.downloads,
            "days": [{"day": d.day.isoformat(), "downloads": d.downloads} for d in self.days],
            "episodes": [{
                "file": e.episode, "story_id": e.story_id, "title": e.title,
                "published": e.published.isoformat() if e.published else None,
                "downloads": e.downloads,
                "first_days": {str(days): n for days, n in e.first_days} if e.first_days is not None else None,
            } for e in self.episodes],
            "apps": [{"app": a.app, "downloads": a.downloads} for a in self.apps],
            "lists": [{"source": v.source, "commit": v.commit, "date": v.date} for v in self.lists],
        }


def episodes_of(store: StoryStore, topic: str | None) -> dict[str, Episode]:
    """The media files the stories (of a topic) enclose, by their path under /media/."""
    found: dict[str, Episode] = {}
    for story in store.iter_stories(topic):
        for audio in story.audio:
            if audio.url.startswith(MEDIA_PREFIX):
                path = unquote(audio.url[len(MEDIA_PREFIX):])
                found.setdefault(path, Episode(path, story.id, story.title, story.published))
    return found


def build_report(engine: sa.Engine, agents: Agents, episodes: Mapping[str, Episode], *,
                 topic: str | None = None, start: dt.date | None = None, end: dt.date | None = None) -> Report:
    """The downloads of the UTC days start..end (both included); with `topic`, only those
    of files its stories enclose (`episodes` is then that topic's)."""
    downloads = count_downloads(read_fetches(engine, start, end), agents)
    if topic is not None:
        downloads = tuple(d for d in downloads if d.episode in episodes)
    return Report(topic=topic, start=start, end=end, downloads=len(downloads), days=per_day(downloads),
                  episodes=per_episode(downloads, episodes), apps=per_app(downloads))
