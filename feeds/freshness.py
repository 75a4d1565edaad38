"""The store's versions as feed cache keys use them: asked at most every few tenths of
a second per topic and process.

A warm feed request would otherwise wait on the database every time (on PostgreSQL a
network round trip, three times what the rest of the answer costs). Writes made in this
process reset what was seen at once (`stories_changed`); writes made by another process
(the CLI, a sync run, another instance) show within `interval`, far inside the
`Cache-Control: max-age` clients are told anyway.
"""

from __future__ import annotations

import time

from stories.store import StoryStore, stories_changed

# At a few hundred requests a second per worker, one read of the store serves them all;
# at a request a second, every request still reads the store.
DEFAULT_INTERVAL = 0.25


class StoreVersions:
    def __init__(self, store: StoryStore, interval: float = DEFAULT_INTERVAL):
        self.store = store
        self.interval = interval
        self._seen: dict[str | None, tuple[int, float]] = {}
        # blinker holds receivers weakly: whoever keeps this object keeps the link.
        stories_changed.connect(self._forget, sender=store)

    def version(self, topic: str | None = None) -> int:
        now = time.monotonic()
        seen = self._seen.get(topic)
        if seen is not None and now - seen[1] < self.interval:
            return seen[0]
        value = self.store.version(topic)
        if value:  # an unknown topic (0) is not remembered: clients choose the slugs
            self._seen[topic] = (value, now)
        return value

    def _forget(self, sender, **_) -> None:
        self._seen.clear()
