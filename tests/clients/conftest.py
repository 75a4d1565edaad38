"""Fixtures of the consumer suite: storyfeed served by gunicorn as the Procfile says, with
the sample topic, and the real clients that read it (Debian's WordPress and Chromium).

Each is started once per session: WordPress's install and gunicorn's start are most of
the suite's time. A client that is not installed skips its tests; CI installs them all
(.ci/run) and says TEST_REQUIRE="... clients", under which a skip fails.
"""

from __future__ import annotations

import pytest

from ..conftest import migrated_sqlite
from ..embeds_support import SAMPLE_STORY
from ..servers import Gunicorn, flask_cli, service_env
from .wordpress import WordPress
from .wordpress import installed as wordpress_installed


@pytest.fixture(scope="session")
def storyfeed(tmp_path_factory):
    """The Procfile's web process on the sample topic; SITE_URL is its own address, so the
    links it hands out are the ones a client can follow."""
    url = migrated_sqlite(tmp_path_factory.mktemp("clients") / "storyfeed.sqlite3")
    env = service_env(DATABASE_URL=url)
    loaded = flask_cli(env, "stories", "sample")
    assert loaded.returncode == 0, loaded.stderr
    server = Gunicorn(env)
    server.env["SITE_URL"] = f"{server.base}/"
    with server:
        yield server


def embed_block(url: str) -> str:
    """An embed block as WordPress's block editor saves it for a URL it could embed."""
    return (f'<!-- wp:embed {{"url":"{url}","type":"rich","providerNameSlug":"storyfeed"}} -->'
            '<figure class="wp-block-embed is-type-rich is-provider-storyfeed wp-block-embed-storyfeed">'
            f'<div class="wp-block-embed__wrapper">\n{url}\n</div></figure><!-- /wp:embed -->')


@pytest.fixture(scope="session")
def wordpress(storyfeed):
    """Debian's WordPress with two published posts embedding the sample story: "classic"
    (the URL on a line of its own, as the classic editor saves it) and "block"."""
    if not wordpress_installed():
        pytest.skip("WordPress is not installed (Debian packages wordpress, php-cli, php-mysql)")
    story = f"{storyfeed.base}/stories/{SAMPLE_STORY}"
    posts = {
        "classic": ("A classic post", f"Before the player.\n\n{story}\n\nAfter the player."),
        "block": ("A block-editor post", f"<!-- wp:paragraph --><p>Before the player.</p><!-- /wp:paragraph -->"
                                         f"{embed_block(story)}"
                                         "<!-- wp:paragraph --><p>After the player.</p><!-- /wp:paragraph -->"),
    }
    with WordPress(posts) as site:
        yield site
