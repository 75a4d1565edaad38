"""Who fetched a file, from its User-Agent: a bot (not counted), or a named app.

The lists are data shipped in audience/data (VERSION says where each comes from, at
which commit, under which licence), read and compiled once per process. The order is the
Open Podcast Analytics Working Group's (user-agents-v2's README): its bots, then its
apps, libraries and browsers, the first entry whose pattern matches naming the agent.
Only then the broader crawler list of monperrus/crawler-user-agents: it also matches
some podcast apps' downloaders ("Overcast/3.0 (+http://overcast.fm/...)"), which OPAWG
names first as the apps they are.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"

# The OPAWG files, in the order its README says to try them, and the kind each gives.
OPAWG_FILES = (("opawg-bots.json", "bot"), ("opawg-apps.json", "app"),
               ("opawg-libraries.json", "library"), ("opawg-browsers.json", "browser"))
CRAWLERS_FILE = "crawler-user-agents.json"
UNKNOWN = "Unknown"


@dataclass(frozen=True)
class ListVersion:
    source: str  # the repository the files were copied from
    commit: str
    date: str  # the commit's date, YYYY-MM-DD: how old the list is


# As audience/data/VERSION says (tests/test_audience_agents.py holds the two to the same):
# every report names them, so a sponsor sees which lists filtered its numbers and when
# they were last brought up to date.
LIST_VERSIONS = (
    ListVersion("github.com/opawg/user-agents-v2", "8008a31b7d348cd5722656c9d3e2d0c1cd6af212", "2026-08-06"),
    ListVersion("github.com/monperrus/crawler-user-agents", "7c7f9f254f16fcbc7d0fcb60d0a188897c00b050",
                "2026-07-02"),
)

# IAB Tech Lab's watchOS guidance (October 2020, part of v2.1 of the guidelines): the
# Apple Watch downloads of Apple's Podcasts app duplicate the paired iPhone's and are
# filtered out altogether. OPAWG's bots list holds the user agents that guidance names
# ("atc/1.0 watchOS/...", "(null)/(null) watchOS/...") under this entry.
APPLE_WATCH = "Apple Podcasts (Watch)"


@dataclass(frozen=True)
class Agent:
    kind: str  # "bot", "app", "library", "browser", "watch" or "unknown"
    name: str  # the list's name for it ("Apple Podcasts", "Overcast"), or "Unknown"

    @property
    def counted(self) -> bool:
        return self.kind not in ("bot", "watch")


@dataclass(frozen=True)
class Pattern:
    kind: str
    name: str
    regex: re.Pattern[str]


def _entries(name: str) -> list[dict[str, str]]:
    entries: list[dict[str, str]] = json.loads((DATA / name).read_text(encoding="utf-8"))["entries"]
    return entries


class Agents:
    """The compiled lists. `classify` is memoised: a day's user agents are few."""

    def __init__(self) -> None:
        self.patterns: tuple[Pattern, ...] = tuple(
            Pattern(kind, entry["name"], re.compile(entry["pattern"]))
            for name, kind in OPAWG_FILES for entry in _entries(name)
        )
        crawlers = json.loads((DATA / CRAWLERS_FILE).read_text(encoding="utf-8"))
        # One alternation: some 600 patterns searched in one pass of the regex engine.
        self.crawlers = re.compile("|".join(f"(?:{entry['pattern']})" for entry in crawlers))
        self.classify = lru_cache(maxsize=4096)(self._classify)

    def _classify(self, user_agent: str) -> Agent:
        # Newlines never come from a real client (OPAWG's README: remove them first).
        user_agent = user_agent.replace("\n", " ").replace("\r", " ")
        for pattern in self.patterns:
            if pattern.regex.search(user_agent):
                return Agent("watch" if pattern.name == APPLE_WATCH else pattern.kind, pattern.name)
        if not user_agent.strip() or self.crawlers.search(user_agent):
            # No User-Agent at all: no app sends none, and nothing tells a listener
            # from a script (our choice; docs/audience.md says so).
            return Agent("bot", "Crawler" if user_agent.strip() else "No user agent")
        return Agent("unknown", UNKNOWN)


@lru_cache(maxsize=1)
def shipped_agents() -> Agents:
    """The lists in audience/data, compiled once per process."""
    return Agents()
