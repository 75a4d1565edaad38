"""The counting core (audience/count.py): IAB v2.1 downloads from raw fetches, and the
golden request log of tests/fixtures/audience counted exactly, and again identically."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace

import pytest

from audience.agents import shipped_agents
from audience.count import (
    Episode,
    Fetch,
    count_downloads,
    covers,
    merged,
    needed_bytes,
    per_app,
    per_day,
    per_episode,
)
from audience.files import audio_facts
from audience.listeners import listener_hash, network_of

from .audience_support import golden_answers, golden_fetches, make_media

APP = "Podcasts/1650.20 CFNetwork/1404.0.5 Darwin/22.3.0"
NOON = dt.datetime(2026, 3, 1, 12, 0)
SIZE = 1_000_000
RATE = 4000  # bytes a second: a minute is 240,000 bytes
LEADING = 1000


def fetch(first: int, last: int, *, at: dt.datetime = NOON, listener: str = "l1", agent: str = APP,
          method: str = "GET", status: int = 206, size: int = SIZE, rate: int | None = RATE,
          leading: int = LEADING, episode: str = "a.mp3") -> Fetch:
    return Fetch(at=at, listener=listener, user_agent=agent, episode=episode, method=method, status=status,
                 first=first, last=last, file_size=size, byte_rate=rate, leading=leading)


def count(*fetches: Fetch) -> int:
    return len(count_downloads(fetches, shipped_agents()))


MINUTE_END = LEADING + 60 * RATE - 1  # the last byte a download needs


def test_the_minute_counts_from_after_the_leading_tag():
    assert needed_bytes(SIZE, RATE, LEADING) == LEADING + 240_000
    assert count(fetch(0, MINUTE_END)) == 1
    assert count(fetch(0, MINUTE_END - 1)) == 0


def test_a_file_shorter_than_a_minute_counts_only_whole():
    assert needed_bytes(100_000, RATE, 0) == 100_000
    assert count(fetch(0, 99_999, size=100_000, status=200)) == 1
    assert count(fetch(0, 99_998, size=100_000)) == 0


def test_without_a_byte_rate_the_whole_file_is_needed():
    assert count(fetch(0, MINUTE_END, rate=None)) == 0
    assert count(fetch(0, SIZE - 1, rate=None, status=200)) == 1


def test_ranges_are_reassembled_in_any_order_and_overlap():
    assert count(fetch(100_000, MINUTE_END), fetch(0, 100_000, at=NOON + dt.timedelta(seconds=5))) == 1
    assert count(fetch(0, 150_000), fetch(120_000, MINUTE_END)) == 1
    # A gap of one byte is no minute.
    assert count(fetch(0, 99_999), fetch(100_001, MINUTE_END)) == 0
    # A part that does not start at the file's start is no minute, however long.
    assert count(fetch(1, SIZE - 1)) == 0


def test_head_304_and_the_probe_never_count():
    assert count(fetch(0, SIZE - 1, method="HEAD", status=200)) == 0
    assert count(fetch(0, SIZE - 1, status=304)) == 0
    assert count(fetch(0, SIZE - 1, status=416)) == 0
    # The probe is dropped: with it, the rest would reach the minute.
    assert count(fetch(0, 1), fetch(2, MINUTE_END)) == 0
    assert count(fetch(0, 1), fetch(0, MINUTE_END)) == 1


def test_one_listener_one_download_per_episode_and_utc_day():
    same_day = [fetch(0, MINUTE_END, at=NOON + dt.timedelta(hours=h)) for h in range(0, 11, 2)]
    assert count(*same_day) == 1
    assert count(fetch(0, MINUTE_END), fetch(0, MINUTE_END, episode="b.mp3")) == 2
    assert count(fetch(0, MINUTE_END), fetch(0, MINUTE_END, listener="l2")) == 2
    # The same address with another app is another listener (IAB: address and User-Agent).
    assert count(fetch(0, MINUTE_END), fetch(0, MINUTE_END, agent="Overcast/3.0 (+http://overcast.fm/)")) == 2
    before = dt.datetime(2026, 3, 1, 23, 59, 59)
    after = dt.datetime(2026, 3, 2, 0, 0, 1)
    assert [d.day for d in count_downloads([fetch(0, MINUTE_END, at=before), fetch(0, MINUTE_END, at=after)],
                                           shipped_agents())] == [before.date(), after.date()]
    # Parts on each side of midnight: neither day holds a minute.
    assert count(fetch(0, 100_000, at=before), fetch(100_001, MINUTE_END, at=after)) == 0


def test_bots_and_apple_watch_are_left_out():
    googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    assert count(fetch(0, MINUTE_END, agent=googlebot)) == 0
    assert count(fetch(0, MINUTE_END, agent="atc/1.0 watchOS/7.0 model/Watch5,4 hwp/t8006 build/18R5340d")) == 0
    assert count(fetch(0, MINUTE_END, agent="")) == 0


def test_ipv6_listeners_are_their_64():
    assert network_of("2001:db8:1:2::10") == network_of("2001:db8:1:2:ffff::99") == "2001:db8:1:2::/64"
    assert network_of("2001:db8:1:3::10") != network_of("2001:db8:1:2::10")
    assert network_of("::ffff:192.0.2.1") == "192.0.2.1"
    assert network_of("unix:/run/x.sock") is None
    salt = b"s"
    assert listener_hash("2001:db8:1:2::10", salt) == listener_hash("2001:db8:1:2::99", salt)
    assert listener_hash("192.0.2.1", salt) != listener_hash("192.0.2.1", b"another day")
    assert "192.0.2.1" not in (listener_hash("192.0.2.1", salt) or "")


def test_the_sums_agree():
    downloads = count_downloads([
        fetch(0, MINUTE_END, listener=f"l{n}", episode=f"{n % 3}.mp3", at=NOON + dt.timedelta(hours=n * 5))
        for n in range(20)], shipped_agents())
    episodes = {"0.mp3": Episode("0.mp3", "s0", "Zero", NOON - dt.timedelta(days=10))}
    total = len(downloads)
    assert total == 20
    assert sum(d.downloads for d in per_day(downloads)) == total
    assert sum(a.downloads for a in per_app(downloads)) == total
    rows = per_episode(downloads, episodes)
    assert sum(r.downloads for r in rows) == total
    [zero] = [r for r in rows if r.episode == "0.mp3"]
    assert zero.story_id == "s0"
    # Published 10 days before NOON: none in the first 7 days, all within 30.
    assert dict(zero.first_days or ()) == {7: 0, 30: zero.downloads, 90: zero.downloads}


def test_merging_and_covering():
    assert merged([(0, 9)], 10, 19) == [(0, 19)]
    assert merged([(0, 9), (20, 29)], 5, 25) == [(0, 29)]
    assert merged([(0, 9)], 11, 19) == [(0, 9), (11, 19)]
    assert covers([(0, 99)], 100) and not covers([(0, 98)], 100) and not covers([(1, 200)], 100)


def test_the_golden_files_are_what_the_answers_say(tmp_path):
    make_media(tmp_path)
    for name, facts in golden_answers()["files"].items():
        found = audio_facts(str(tmp_path / name), facts["size"], "made now")
        assert (found.byte_rate, found.leading) == (facts["byte_rate"], facts["leading"])
        assert (tmp_path / name).stat().st_size == facts["size"]


def answers_of(downloads) -> dict:
    return {
        "downloads": len(downloads),
        "days": {c.day.isoformat(): c.downloads for c in per_day(downloads)},
        "episodes": {c.episode: c.downloads for c in per_episode(downloads, {})},
        "apps": {c.app: c.downloads for c in per_app(downloads)},
    }


def test_the_golden_log_is_counted_exactly():
    expected = {key: value for key, value in golden_answers().items() if key != "files"}
    assert answers_of(count_downloads(golden_fetches(), shipped_agents())) == expected


@pytest.mark.parametrize("seed", range(5))
def test_a_recount_in_any_order_gives_the_same_downloads(seed):
    fetches = golden_fetches()
    first = count_downloads(fetches, shipped_agents())
    shuffled = list(fetches)
    random.Random(seed).shuffle(shuffled)
    assert count_downloads(shuffled, shipped_agents()) == first


def test_an_aware_time_is_its_utc_day():
    late = dt.datetime(2026, 3, 1, 20, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert replace(fetch(0, 1), at=late).day == dt.date(2026, 3, 2)
