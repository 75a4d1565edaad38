"""Cold rendering: `python -m bench.feeds` (about 15 s).

A 50- and a 500-item podcast feed rendered in process, with nothing cached, against
feedgen alone building the same items with the same tags (`feedgen_only_podcast`): what
our own code adds to a cold render. Goal: at most 1.2x feedgen's time, for both.
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from feedgen.feed import FeedGenerator

from feeds import Paging, render_podcast_feed
from serving.links import Links
from stories.files import read_records
from stories.model import Audio, Image, Story, Topic, TopicImage
from stories.sample import SAMPLE_FILE
from stories.store import StoryPage

from .common import load_average, print_table

TOPIC = "bench"
BASE = datetime(2015, 1, 1, tzinfo=UTC)
LINKS = Links.build("http://127.0.0.1/")
GOAL = 1.2


def bench_topic() -> Topic:
    sample = read_records(SAMPLE_FILE.read_text(encoding="utf-8"), SAMPLE_FILE.name).topics[0]
    return replace(sample, slug=TOPIC, title="Benchmark topic",
                   image=TopicImage("/media/north-korean-defectors/artwork.jpg", 1400, 1400))


def make_story(i: int) -> Story:
    """A story shaped like the sample's: picture, teaser, one audio with a transcript."""
    when = BASE + timedelta(minutes=7 * i)
    return Story(
        id=f"{100000000 + i}",
        url=f"https://www.example.org/{when:%Y/%m/%d}/{100000000 + i}/a-story-about-something",
        title=f"Story {i}: what happened, and why it matters to the people it touched",
        published=when, updated=when,
        teaser="As the border reopens, people held in detention fear being sent back, "
               "and families on both sides wait for news.",
        bylines=("Ann Writer", "Bo Reporter"),
        topics=(TOPIC,),
        image=Image(f"/media/bench/{i}.jpg", 800, 450,
                    caption="Surveillance footage of the moment a soldier crosses the line.",
                    credit="Jung Yeon-Je/AFP via Getty Images"),
        audio=(Audio(f"{200000000 + i}", f"/media/bench/{200000000 + i}.mp3", "audio/mpeg",
                     29048 + i, 7 + i % 600, transcript_url=f"https://www.example.org/transcripts/{i}"),),
    )


def median_ms(action, repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


def feedgen_only_podcast(topic: Topic, stories) -> bytes:
    """The same items through feedgen's own podcast extension, with nothing of ours:
    what feedgen costs by itself."""
    fg = FeedGenerator()
    fg.load_extension("podcast")
    fg.title(topic.title)
    fg.link(href=LINKS.absolute(f"topics/{topic.slug}/podcast.xml"), rel="self")
    fg.link(href=LINKS.topic(topic.slug), rel="alternate")
    fg.description(topic.description)
    fg.language(topic.language)
    fg.updated(max(s.updated for s in stories))
    fg.podcast.itunes_author(topic.author)
    fg.podcast.itunes_owner(name=topic.owner_name, email=topic.owner_email)
    fg.podcast.itunes_category(topic.category, topic.subcategory)
    fg.podcast.itunes_image(LINKS.media(topic.image.url))
    fg.podcast.itunes_explicit("no")
    fg.podcast.itunes_type(topic.type)
    for story in stories:
        audio = story.audio[0]
        fe = fg.add_entry(order="append")
        fe.title(story.title)
        fe.link(href=story.url)
        fe.guid(story.id, permalink=False)
        fe.published(story.published)
        fe.description(story.teaser)
        fe.content(f"<p>{story.teaser}</p>", type="CDATA")
        fe.enclosure(LINKS.media(audio.url), str(audio.length), audio.type)
        fe.podcast.itunes_duration(audio.duration)
        fe.podcast.itunes_explicit("no")
        fe.podcast.itunes_episode_type("full")
    return fg.rss_str(pretty=True)


def render_times(quick: bool = False) -> list[tuple[str, float, float]]:
    """(case, our median ms, feedgen's median ms), the two timed alternately."""
    topic = bench_topic()
    rows = []
    for count in (50, 500):
        stories = tuple(make_story(i) for i in range(count, 0, -1))
        page = StoryPage(stories, "next", None)
        repeat = (40 if count == 50 else 8) // (4 if quick else 1)
        ours, theirs = [], []
        for _ in range(repeat):  # alternately, so load that comes and goes hits both
            ours.append(median_ms(
                lambda page=page, count=count: render_podcast_feed(topic, page, LINKS, Paging(limit=count)), 1))
            theirs.append(median_ms(lambda stories=stories: feedgen_only_podcast(topic, stories), 1))
        rows.append((f"podcast feed, {count} items", statistics.median(ours), statistics.median(theirs)))
    return rows


def main(argv: list[str] | None = None) -> int:
    quick = "--quick" in (sys.argv[1:] if argv is None else argv)
    print(f"bench.feeds: {load_average()}", flush=True)
    rows, met = [], True
    for case, ours, theirs in render_times(quick):
        ok = ours / theirs <= GOAL
        met &= ok
        rows.append((case, f"{ours:.2f}", f"{theirs:.2f}", f"{ours / theirs:.2f}x",
                     f"<= {GOAL}x", "met" if ok else "NOT met"))
    print("\ncold render, in process, nothing cached (medians):")
    print_table(("case", "storyfeed ms", "feedgen alone ms", "ratio", "goal", ""), rows)
    print(f"  ({load_average()})")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())


