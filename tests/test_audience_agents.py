"""The user-agent lists shipped in audience/data: their versions and licences are there,
each pattern compiles, bots are left out and the apps named as the lists name them."""

from __future__ import annotations

import pytest

from audience.agents import DATA, LIST_VERSIONS, OPAWG_FILES, shipped_agents


def test_each_list_ships_with_its_licence_and_version():
    version = (DATA / "VERSION").read_text()
    for name in [name for name, _kind in OPAWG_FILES] + ["crawler-user-agents.json"]:
        assert (DATA / name).is_file() and name in version
    assert "MIT License" in (DATA / "opawg.LICENSE").read_text()
    assert "MIT License" in (DATA / "crawler-user-agents.LICENSE").read_text()
    # Each source named with the commit it was copied at, and the reports say the same.
    for listed in LIST_VERSIONS:
        assert listed.source in version
        assert f"{listed.commit} ({listed.date}" in version


@pytest.mark.parametrize("agent, name", [
    ("Podcasts/1650.20 CFNetwork/1404.0.5 Darwin/22.3.0", "Apple Podcasts"),
    ("AppleCoreMedia/1.0.0.20E252 (iPhone; U; CPU OS 16_4 like Mac OS X; en_us)", "AppleCoreMedia"),
    ("Overcast/3.0 (+http://overcast.fm/; iOS podcast app)", "Overcast"),
    ("Spotify/8.7.10 iOS/15.3.1 (iPhone13,2)", "Spotify"),
    ("Pocket Casts", "Pocket Casts"),
    ("Pocket%20Casts/7.96.0.4 CFNetwork/3826.600.41 Darwin/24.6.0", "Pocket Casts"),
    ("PodcastAddict/v5 ( https://podcastaddict.com/; Android podcast app)", "Podcast Addict"),
])
def test_known_apps_are_named(agent, name):
    found = shipped_agents().classify(agent)
    assert found.name == name and found.counted


@pytest.mark.parametrize("agent", [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "",
])
def test_bots_are_not_counted(agent):
    assert shipped_agents().classify(agent).kind == "bot"


@pytest.mark.parametrize("agent", [
    "atc/1.0 watchOS/7.0 model/Watch5,4 hwp/t8006 build/18R5340d (6; dt:204)",
    "(null)/(null) watchOS/7.0 model/Watch5,1 hwp/t8004 build/18R5340d (6; dt:199)",
])
def test_apple_watch_duplicates_are_not_counted(agent):
    """IAB's watchOS guidance: Apple Podcasts' downloads to a watch are left out."""
    found = shipped_agents().classify(agent)
    assert found.kind == "watch" and not found.counted


def test_overcast_on_a_watch_is_a_listener():
    """Only Apple Podcasts' watch downloads duplicate the phone's."""
    assert shipped_agents().classify("Overcast (+http://overcast.fm/; Apple Watch podcast app)").counted


def test_an_app_the_crawler_list_also_matches_is_the_app():
    """The crawler list matches Overcast's downloader too: OPAWG's apps are tried first."""
    agent = "Overcast/3.0 (+http://overcast.fm/; iOS podcast app)"
    agents = shipped_agents()
    assert agents.crawlers.search(agent)
    assert agents.classify(agent).kind == "app"


def test_the_lists_are_compiled_once():
    assert shipped_agents() is shipped_agents()
    agents = shipped_agents()
    agents.classify("Pocket Casts")
    before = agents.classify.cache_info().hits  # type: ignore[attr-defined]
    agents.classify("Pocket Casts")
    assert agents.classify.cache_info().hits == before + 1  # type: ignore[attr-defined]
