"""Sync and ingest benchmark: what a pull costs when upstream changed, when it did not
(a 304), and when it sent the same bytes again; and what a CMS batch costs.

    python -m bench.sources

A podcast feed of 500 NPR-shaped items is served from 127.0.0.1. Every number is the
median of several runs, printed with its ratio to the first (full) pull measured in this
same run: the 304 and same-bytes pulls should stay a small fraction of it, since neither
parses nor writes.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

from requests_cache.backends import SQLiteCache

from app import create_app
from serving.state import app_state
from sources.fetch import FetchSettings, HTTPRetriever
from sources.model import Source
from sources.state import SourceStates
from sources.sync import Syncer
from stories import migrate
from stories.store import StoryStore, create_engine
from tests.upstream import Upstream

ITEMS = 500
RUNS = 5

ITEM = """<item>
  <title>Story {i}: North Korean defectors and the long road south</title>
  <description>A teaser of some length, as NPR's are, about story {i}.</description>
  <pubDate>Thu, 06 Apr 2023 05:00:00 -0400</pubDate>
  <link>https://www.npr.org/2023/04/06/{id}/story-{i}</link>
  <guid isPermaLink="false">{id}-guid</guid>
  <dc:creator>Anthony Kuhn</dc:creator>
  <category>North Korea</category>
  <itunes:duration>00:03:41</itunes:duration>
  <media:content url="https://media.npr.org/assets/img/{id}_wide.jpg?s=1400" type="image/jpeg"
    medium="image" width="1400" height="788"><media:credit>Jung Yeon-Je/AFP via Getty Images</media:credit>
    <media:description>A caption for story {i}.</media:description></media:content>
  <content:encoded><![CDATA[<p>Body of story {i}.</p><p>(Image credit: Jung Yeon-Je/AFP via Getty Images)</p>]]></content:encoded>
  <enclosure url="https://ondemand.npr.org/anon.npr-mp3/npr/me/{id}.mp3?d=221&amp;size=3536000"
    length="3536000" type="audio/mpeg"/>
  <podcast:transcript url="https://www.npr.org/transcripts/{id}" type="text/html"/>
</item>"""


def make_feed(version: int) -> str:
    items = "\n".join(
        ITEM.format(i=i, id=1_100_000_000 + i).replace("Story 0:", f"Story 0 (v{version}):")
        for i in range(ITEMS)
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"
  xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/"
  xmlns:media="http://search.yahoo.com/mrss/" xmlns:podcast="https://podcastindex.org/namespace/1.0">
<channel><title>Bench</title><link>https://www.npr.org/</link><description>Bench</description>
{items}
</channel></rss>"""


def fresh_store(folder: Path, name: str) -> StoryStore:
    url = f"sqlite:///{folder / name}"
    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return StoryStore.from_url(url)


def timed(action) -> float:
    t0 = time.perf_counter()
    action()
    return time.perf_counter() - t0


def main() -> None:
    upstream = Upstream()
    folder = Path(tempfile.mkdtemp(prefix="bench-sources-"))
    settings = FetchSettings(read_timeout=10, retries=0)
    results: dict[str, list[float]] = {}
    try:
        for run in range(RUNS):
            store = fresh_store(folder, f"store-{run}.sqlite3")
            retriever = HTTPRetriever(
                SQLiteCache(db_path=str(folder / f"c-{run}.sqlite3")), settings
            )
            syncer = Syncer(store, SourceStates(store.engine), retriever)
            source = Source(
                name="bench", url=upstream.url("/feed.xml"), kind="feed", allow_private=True
            )
            plain = Source(
                name="plain", url=upstream.url("/plain.xml"), kind="feed", allow_private=True
            )
            upstream.serve("/feed.xml", make_feed(0), content_type="application/rss+xml")
            upstream.serve(
                "/plain.xml", make_feed(0), content_type="application/rss+xml", validators=False
            )

            def pull(src=source, syncer=syncer):
                return syncer.sync(src)

            results.setdefault("first pull (fetch, parse, store 500)", []).append(timed(pull))
            results.setdefault("not modified (304)", []).append(timed(pull))
            syncer.sync(plain)
            results.setdefault("same bytes, no validators", []).append(
                timed(lambda syncer=syncer, plain=plain: syncer.sync(plain))
            )
            upstream.serve("/feed.xml", make_feed(run + 1), content_type="application/rss+xml")
            results.setdefault("one item changed (parse, upsert)", []).append(timed(pull))
            retriever.close()
            store.engine.dispose()

            app_store = fresh_store(folder, f"ingest-{run}.sqlite3")
            app = create_app(
                {
                    "DATABASE_URL": str(app_store.engine.url),
                    "INGEST_TOKENS": "bench",
                    "SITE_URL": "http://x/",
                }
            )
            client = app.test_client()
            batch = [
                {
                    "id": str(1_200_000_000 + i),
                    "url": f"https://news.example.org/{i}",
                    "title": f"Pushed story {i}",
                    "published": "2024-01-02T10:00:00Z",
                    "topics": ["world"],
                }
                for i in range(ITEMS)
            ]
            body = json.dumps(batch)
            headers = {"Authorization": "Bearer bench"}

            def push(client=client, body=body, headers=headers):
                response = client.post(
                    "/api/stories", data=body, content_type="application/json", headers=headers
                )
                assert response.status_code == 200, response.get_data(as_text=True)

            results.setdefault("ingest POST of 500 (new)", []).append(timed(push))
            results.setdefault("ingest POST of 500 (repeat)", []).append(timed(push))
            app_state(app).store.engine.dispose()
            app_store.engine.dispose()
    finally:
        upstream.close()

    baseline = statistics.median(results["first pull (fetch, parse, store 500)"])
    print(f"{'case':<40} {'median ms':>10} {'x first pull':>13}")
    for case, samples in results.items():
        median = statistics.median(samples)
        print(f"{case:<40} {median * 1000:>10.1f} {median / baseline:>13.3f}")


if __name__ == "__main__":
    main()
