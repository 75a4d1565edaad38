"""`flask --app app embeds convert`: a pasted player snippet on stdin, oEmbed JSON out."""

from __future__ import annotations

import json
import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from web.links import Links

from .config import oembed_settings, site_registry
from .oembed import OEmbedError, oembed_for_snippet
from .snippets import SnippetRefused

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
    links = Links.build(site_url or current_app.config.get("SITE_URL") or DEFAULT_SITE_URL,
                        current_app.config.get("MEDIA_BASE_URL"))
    try:
        response = oembed_for_snippet(
            snippet, current_app.extensions["storyfeed.store"].get_story,
            registry=site_registry(links), links=links,
            settings=oembed_settings(current_app.config, links),
            maxwidth=maxwidth, maxheight=maxheight,
        )
    except SnippetRefused as exc:
        raise click.ClickException(str(exc)) from None
    except OEmbedError as exc:
        raise click.ClickException(f"{exc.message} ({exc.status})") from None
    click.echo(json.dumps(response, indent=2, ensure_ascii=False))


def register(app: Flask) -> None:
    app.cli.add_command(embeds_cli)
