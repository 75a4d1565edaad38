"""`flask --app app embeds convert`: a pasted player snippet on stdin, oEmbed JSON out."""

from __future__ import annotations

import json
import sys

import click
from flask import Flask
from flask.cli import AppGroup

from embeds.config import EmbedSettings
from embeds.oembed import oembed_for_snippet
from serving.links import Links
from serving.state import app_state
from stories.errors import StoryfeedError

# Without SITE_URL the CLI has no request to learn the site from: `make run`'s address.
DEFAULT_SITE_URL = "http://127.0.0.1:8000/"

embeds_cli = AppGroup("embeds", help="Player snippets and oEmbed.")


@embeds_cli.command("convert")
@click.option("--maxwidth", type=click.IntRange(min=1), help="The consumer's maximum width.")
@click.option("--maxheight", type=click.IntRange(min=1), help="The consumer's maximum height.")
@click.option("--site-url", help="Public URL of storyfeed (default: SITE_URL, else make run's).")
def convert(maxwidth: int | None, maxheight: int | None, site_url: str | None) -> None:
    """Read a player snippet (or player URL) from stdin; print its oEmbed JSON."""
    snippet = sys.stdin.read()
    state = app_state()
    settings = state.area(EmbedSettings)
    links = Links.build(site_url or state.settings["SITE_URL"] or DEFAULT_SITE_URL,
                        state.settings["MEDIA_BASE_URL"])
    try:
        response = oembed_for_snippet(
            snippet, state.store.get_story, registry=settings.registry(links), links=links,
            settings=settings.oembed(links), maxwidth=maxwidth, maxheight=maxheight,
        )
    except StoryfeedError as exc:
        status = f" ({exc.status})" if exc.status else ""
        raise click.ClickException(f"{exc}{status}") from None
    click.echo(json.dumps(response, indent=2, ensure_ascii=False))


def init_app(app: Flask) -> None:
    app.cli.add_command(embeds_cli)
