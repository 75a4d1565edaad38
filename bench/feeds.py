"""Cold rendering: `python -m bench.feeds` (a few seconds).

A 50-item podcast feed and a whole first page of one (`PODCAST_PAGE_SIZE`, 1,000 items)
rendered in process, with nothing cached, against feedgen alone writing the same document
(`feedgen_alone`, with its podcast extension for the itunes: tags it writes right): every
value read back from our own render beforehand, so feedgen is handed ready text, and
checked to give the same bytes. `thinnest` (every extension element ready-built) is
printed beside it. What is left is what our own code
adds to a cold render: reading the records, making and checking URLs, escaping, the
items' HTML, ids, our extensions. Goal: at most 1.2x feedgen's time, for both.

A third case, beside the goal's, gives every story a body of its own (6.6 KB of HTML,
as NPR's records have): cleaning it again with nh3 (`stories.validate.clean_stored_body_html`)
costs several times what feedgen spends on the item, so a first render is far from
feedgen's time; a running process knows the bodies it has found clean before.
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple

from feedgen.entry import FeedEntry
from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.ext.podcast import PodcastExtension
from feedgen.ext.podcast_entry import PodcastEntryExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from feeds import PROCESS_MEMOS, Paging, render_podcast_feed
from feeds.extensions import ATOM_NS, ITUNES_NS
from feeds.urls import PODCAST_PAGE_SIZE
from serving.links import Links
from stories.files import read_records
from stories.model import Audio, Image, Story, Topic, TopicImage
from stories.sample import SAMPLE_FILE
from stories.store import StoryPage
from stories.validate import clean_body_html

from .common import load_average, print_table

TOPIC = "bench"
BASE = datetime(2015, 1, 1, tzinfo=UTC)
LINKS = Links.build("http://127.0.0.1/")
GOAL = 1.2


def bench_topic() -> Topic:
    sample = read_records(SAMPLE_FILE.read_text(encoding="utf-8"), SAMPLE_FILE.name).topics[0]
    return replace(sample, slug=TOPIC, title="Benchmark topic",
                   image=TopicImage("/media/north-korean-defectors/artwork.jpg", 1400, 1400))


def story_body(i: int) -> str:
    """Story i's body as validation leaves it: 40 paragraphs with links, 6.6 KB."""
    return clean_body_html("".join(
        f'<p>Paragraph {n} of story {i} with <a href="https://www.npr.org/{i}/{n}">a link</a>, '
        "<em>emphasis</em> and some words to fill the line out.</p>\n" for n in range(40)))


def make_story(i: int, body_html: str = "") -> Story:
    """A story shaped like the sample's: picture, teaser, one audio with a transcript."""
    when = BASE + timedelta(minutes=7 * i)
    return Story(
        id=f"{100000000 + i}",
        url=f"https://www.example.org/{when:%Y/%m/%d}/{100000000 + i}/a-story-about-something",
        title=f"Story {i}: what happened, and why it matters to the people it touched",
        published=when, updated=when,
        teaser="As the border reopens, people held in detention fear being sent back, "
               "and families on both sides wait for news.",
        body_html=body_html,
        bylines=("Ann Writer", "Bo Reporter"),
        topics=(TOPIC,),
        image=Image(f"/media/bench/{i}.jpg", 800, 450,
                    caption="Surveillance footage of the moment a soldier crosses the line.",
                    credit="Jung Yeon-Je/AFP via Getty Images"),
        audio=(Audio(f"{200000000 + i}", f"/media/bench/{200000000 + i}.mp3", "audio/mpeg",
                     29048 + i, 7 + i % 600, transcript_url=f"https://www.example.org/transcripts/{i}"),),
    )


def elapsed_ms(action) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"


@dataclass(frozen=True)
class Tag:
    """One element an extension writes: tag, attributes, text and children, as found."""

    tag: str
    attributes: tuple[tuple[str, str], ...]
    text: str | None
    children: tuple[Tag, ...]

    @classmethod
    def of(cls, element: etree._Element) -> Tag:
        # Children: the text is pretty-printing's white space, which lxml writes again.
        text = None if len(element) else element.text
        return cls(element.tag, tuple(element.attrib.items()), text,
                   tuple(cls.of(child) for child in element))

    def write(self, parent: etree._Element) -> None:
        element = etree.SubElement(parent, self.tag, dict(self.attributes))
        element.text = self.text
        for child in self.children:
            child.write(element)


class _Tags:
    """The thinnest extension feedgen's mechanism allows: it writes ready-made tags."""

    tags: tuple[Tag, ...] = ()
    namespaces: dict[str, str] = {}

    def extend_ns(self) -> dict[str, str]:
        return self.namespaces

    def extend_rss(self, element: etree._Element) -> etree._Element:
        parent = element[0] if element.tag == "rss" else element
        for tag in self.tags:
            tag.write(parent)
        return element


class TagsExtension(_Tags, BaseExtension):
    pass


class TagsEntryExtension(_Tags, BaseEntryExtension):
    pass


class ItemValues(NamedTuple):
    values: dict[str, Any]  # what feedgen's FeedEntry methods take
    tags: tuple[Tag, ...]  # every extension element, in the order found (for `thinnest`)
    itunes: dict[str, str]  # the itunes: values feedgen's podcast extension writes itself
    rest: tuple[Tag, ...]  # `tags` without those (for `feedgen_alone`)


@dataclass(frozen=True)
class FeedValues:
    """What feedgen is given to write a podcast feed: every value already made, each
    tag feedgen has no method for already built (`Tag`).

    Split here, once, for both baselines, so that the timed ones only write:
    `channel_tags` is every extension element in the order found (what `thinnest`
    writes); `channel_itunes` the `itunes:` values feedgen's podcast extension writes
    itself, `channel_links` and `channel_rest` the elements left around them (what
    `feedgen_alone` writes).
    """

    channel: dict[str, Any]
    channel_tags: tuple[Tag, ...]
    channel_itunes: dict[str, Any]
    channel_links: tuple[Tag, ...]
    channel_rest: tuple[Tag, ...]
    namespaces: dict[str, str]
    items: tuple[ItemValues, ...]


# Channel and item children feedgen writes itself, from its own methods; every other
# child is an extension's (feedgen writes its own first, then the extensions').
CHANNEL_OWN = {"title", "link", "description", "copyright", "docs", "generator", "image",
               "language", "lastBuildDate"}
ITEM_OWN = {"title", "link", "description", f"{{{CONTENT_NS}}}encoded", "guid", "enclosure",
            "pubDate"}
# The itunes: tags feedgen's own podcast extension (feedgen.ext.podcast) writes as Apple
# reads them. Not itunes:explicit (it writes yes/no/clean, Apple's current spec says
# true/false) nor itunes:image (it drops URLs that do not end in .jpg or .png): those
# are ready-built tags, like everything of the podcast: namespace.
ITUNES_CHANNEL = ("author", "category", "new-feed-url", "owner", "type")
ITUNES_ITEM = ("author", "duration", "season", "episode", "episodeType")


def _itunes_split(tags: tuple[Tag, ...], names: tuple[str, ...]) -> tuple[dict[str, Tag], tuple[Tag, ...]]:
    written = {f"{{{ITUNES_NS}}}{name}" for name in names}
    found = {tag.tag.removeprefix(f"{{{ITUNES_NS}}}"): tag for tag in tags if tag.tag in written}
    return found, tuple(tag for tag in tags if tag.tag not in written)


def _channel_itunes(found: dict[str, Tag]) -> dict[str, Any]:
    """The channel's itunes: values, as feedgen's podcast extension methods take them."""
    values: dict[str, Any] = {name: found[name].text for name in ("author", "new-feed-url", "type")
                              if name in found}
    if "category" in found:
        category = found["category"]
        values["category"] = {"cat": dict(category.attributes)["text"]}
        if category.children:
            values["category"]["sub"] = dict(category.children[0].attributes)["text"]
    if "owner" in found:
        values["owner"] = {child.tag.removeprefix(f"{{{ITUNES_NS}}}"): child.text
                           for child in found["owner"].children}
    return values


def feed_values(document: bytes) -> FeedValues:
    """The values and tags of a rendered podcast feed, read back from it."""
    channel = etree.fromstring(document)[0]

    def text(parent: etree._Element, tag: str) -> str | None:
        found = parent.find(tag)
        return None if found is None else found.text

    self_link = channel.find(f"{{{ATOM_NS}}}link[@rel='self']")
    image = channel.find("image")
    values = {
        "title": text(channel, "title"), "link": text(channel, "link"),
        "description": text(channel, "description"), "rights": text(channel, "copyright"),
        "language": text(channel, "language"),
        "updated": parsedate_to_datetime(text(channel, "lastBuildDate")),
        "self": dict(self_link.attrib),
        "image": {name: text(image, name) for name in ("url", "title", "link")},
    }
    extra = tuple(Tag.of(child) for child in channel if child.tag not in CHANNEL_OWN
                  and child.tag != "item" and child is not self_link)
    itunes, rest = _itunes_split(extra, ITUNES_CHANNEL)
    items = []
    for item in channel.iterfind("item"):
        enclosure = item.find("enclosure")
        tags = tuple(Tag.of(child) for child in item if child.tag not in ITEM_OWN)
        item_itunes, item_rest = _itunes_split(tags, ITUNES_ITEM)
        items.append(ItemValues({
            "title": text(item, "title"), "link": text(item, "link"),
            "description": text(item, "description"),
            "content": text(item, f"{{{CONTENT_NS}}}encoded"), "guid": text(item, "guid"),
            "enclosure": (enclosure.get("url"), enclosure.get("length"), enclosure.get("type")),
            "published": parsedate_to_datetime(text(item, "pubDate")),
        }, tags, {name: tag.text for name, tag in item_itunes.items()}, item_rest))
    namespaces = {prefix: uri for prefix, uri in channel.getparent().nsmap.items()
                  if uri != CONTENT_NS}
    link = f"{{{ATOM_NS}}}link"
    return FeedValues(values, extra, _channel_itunes(itunes), tuple(tag for tag in rest if tag.tag == link),
                      tuple(tag for tag in rest if tag.tag != link), namespaces, tuple(items))


def _channel_of(fg: FeedGenerator, channel: dict[str, Any]) -> None:
    fg.title(channel["title"])
    fg.link(href=channel["self"]["href"], rel="self", type=channel["self"].get("type"))
    fg.link(href=channel["link"], rel="alternate")
    fg.description(channel["description"])
    fg.language(channel["language"])
    if channel["rights"]:
        fg.rights(channel["rights"])
    fg.updated(channel["updated"])
    fg.image(channel["image"]["url"], title=channel["image"]["title"], link=channel["image"]["link"])


def _item_of(fe: FeedEntry, item: dict[str, Any]) -> None:
    fe.title(item["title"])
    fe.link(href=item["link"])
    fe.guid(item["guid"], permalink=False)
    fe.published(item["published"])
    fe.description(item["description"])
    fe.content(item["content"], type="CDATA")
    fe.enclosure(*item["enclosure"])


def feedgen_alone(values: FeedValues) -> bytes:
    """The same document written by feedgen from values at hand: its own methods for
    what it has (its podcast extension's for the `itunes:` tags it writes right), `Tag`s
    through thin extensions for the rest. What feedgen costs by itself for these items
    and tags, the goal's baseline; `render_times` checks the bytes match."""
    fg = FeedGenerator()
    # Registered in our render's order, so feedgen writes the channel's tags in it:
    # the paging links, feedgen's itunes: tags, then the rest.
    fg.register_extension("links", TagsExtension, atom=False, rss=True)
    fg.links.tags, fg.links.namespaces = values.channel_links, {"atom": ATOM_NS}
    fg.register_extension("itunes", PodcastExtension, PodcastEntryExtension, atom=False, rss=True)
    fg.register_extension("tags", TagsExtension, TagsEntryExtension, atom=False, rss=True)
    fg.tags.tags = values.channel_rest
    fg.tags.namespaces = {prefix: uri for prefix, uri in values.namespaces.items() if uri != ITUNES_NS}
    _channel_of(fg, values.channel)
    # Each method called by name, not looked up from a table of tags: this is the timed
    # baseline, and a lookup per tag would be counted as feedgen's time.
    itunes = values.channel_itunes
    if "author" in itunes:
        fg.itunes.itunes_author(itunes["author"])
    if "category" in itunes:
        fg.itunes.itunes_category(itunes["category"])
    if "new-feed-url" in itunes:
        fg.itunes.itunes_new_feed_url(itunes["new-feed-url"])
    if "owner" in itunes:
        fg.itunes.itunes_owner(**itunes["owner"])
    if "type" in itunes:
        fg.itunes.itunes_type(itunes["type"])
    for item in values.items:
        fe = fg.add_entry(order="append")
        fe.tags.tags = item.rest
        _item_of(fe, item.values)
        item_itunes = item.itunes
        if "author" in item_itunes:
            fe.itunes.itunes_author(item_itunes["author"])
        if "duration" in item_itunes:
            fe.itunes.itunes_duration(item_itunes["duration"])
        if "season" in item_itunes:
            fe.itunes.itunes_season(int(item_itunes["season"]))
        if "episode" in item_itunes:
            fe.itunes.itunes_episode(int(item_itunes["episode"]))
        if "episodeType" in item_itunes:
            fe.itunes.itunes_episode_type(item_itunes["episodeType"])
    return fg.rss_str(pretty=True, encoding="UTF-8")


def thinnest(values: FeedValues) -> bytes:
    """The same document with feedgen's `FeedGenerator` and `FeedEntry` methods alone,
    every other element (all of `itunes:` too) a ready-built `Tag` through one thin
    extension: less than feedgen by itself costs, printed beside the goal's figure."""
    fg = FeedGenerator()
    fg.register_extension("tags", TagsExtension, TagsEntryExtension, atom=False, rss=True)
    fg.tags.tags, fg.tags.namespaces = values.channel_tags, values.namespaces
    _channel_of(fg, values.channel)
    for item in values.items:
        fe = fg.add_entry(order="append")
        fe.tags.tags = item.tags
        _item_of(fe, item.values)
    return fg.rss_str(pretty=True, encoding="UTF-8")


def forget_memos() -> None:
    """What a new process starts with: none of the URLs checked, none of the ids made."""
    for memo in PROCESS_MEMOS:
        memo.cache_clear()


@dataclass
class Timing:
    case: str
    ours: list[float]  # ms, a process that has rendered these stories before (after a write)
    first: list[float]  # ms, the first render of these stories in a process
    feedgen: list[float]  # ms, feedgen alone writing the same bytes (the goal's baseline)
    thinnest: list[float]  # ms, feedgen's core with every extension element ready-built
    judged: bool = True  # one of the goal's cases


def render_times(quick: bool = False) -> list[Timing]:
    """Our render (as a running process does it, and as a new one does) and the two
    baselines, timed in turn, so that load that comes and goes weighs on all four."""
    topic = bench_topic()
    timings = []
    for count, bodies in ((50, False), (PODCAST_PAGE_SIZE, False), (50, True)):
        stories = tuple(make_story(i, story_body(i) if bodies else "") for i in range(count, 0, -1))
        page = StoryPage(stories, "next", None)

        def render(page: StoryPage = page, count: int = count) -> bytes:
            return render_podcast_feed(topic, page, LINKS, Paging(limit=count))

        ours = render()
        values = feed_values(ours)
        for baseline in (feedgen_alone, thinnest):
            if baseline(values) != ours:
                raise RuntimeError(f"{baseline.__name__} does not write the same {count}-item feed")
        size = f", {len(stories[0].body_html) / 1000:.1f} KB bodies" if bodies else ""
        timing = Timing(f"podcast feed, {count} items{size} ({len(ours) // 1024} KiB)", [], [], [], [],
                        judged=not bodies)
        for _ in range((40 if count == 50 else 8) // (4 if quick else 1)):
            timing.ours.append(elapsed_ms(render))
            forget_memos()
            timing.first.append(elapsed_ms(render))
            timing.feedgen.append(elapsed_ms(lambda values=values: feedgen_alone(values)))
            timing.thinnest.append(elapsed_ms(lambda values=values: thinnest(values)))
        timings.append(timing)
    return timings


def main(argv: list[str] | None = None) -> int:
    quick = "--quick" in (sys.argv[1:] if argv is None else argv)
    print(f"bench.feeds: {load_average()}", flush=True)
    rows, met = [], True
    for timing in render_times(quick):
        ours, first, theirs, thin = (statistics.median(t) for t in
                                     (timing.ours, timing.first, timing.feedgen, timing.thinnest))
        ok = ours / theirs <= GOAL
        if timing.judged:
            met &= ok
        rows.append((timing.case, f"{theirs:.2f}", f"{ours:.2f}", f"{ours / theirs:.2f}x",
                     f"<= {GOAL}x" if timing.judged else "(none)",
                     ("met" if ok else "NOT met") if timing.judged else "",
                     f"{first:.2f}", f"{first / theirs:.2f}x",
                     f"{thin:.2f}", f"{ours / thin:.2f}x"))
    print("\ncold render, in process, nothing in the render cache (medians):")
    print_table(("case", "feedgen alone ms", "storyfeed ms", "ratio", "goal", "",
                 "first render ms", "ratio", "thinnest ms", "storyfeed/thinnest"), rows)
    print("  storyfeed: as a running process renders a feed after a write (it has checked these\n"
          "  stories' URLs and bodies before); first render: a process that has not (its memos\n"
          "  emptied).\n"
          "  feedgen alone: feedgen's own methods, its podcast extension's for the itunes: tags it\n"
          "  writes right (the goal's baseline); thinnest: every extension element ready-built.")
    print(f"  ({load_average()})")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
