"""`flask --app app export DIRECTORY`: the static export (`web.export`)."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from serving.state import app_state
from stories.errors import StoryfeedError

from ..export import export_site
from .progress import progress


@click.command("export")
@with_appcontext
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--site-url", help="Public base URL of the exported files (default: SITE_URL).")
def export_command(directory: Path, site_url: str | None) -> None:
    """Write feeds, OPML, oEmbed answers, transcripts, chapters and media under DIRECTORY,
    as the live paths."""
    app = current_app._get_current_object()
    try:
        if site_url:
            app_state(app).with_settings(SITE_URL=site_url).install(app)
        with progress(None, "exporting") as step:
            report = export_site(app, directory, on_file=step)
    except StoryfeedError as exc:  # no SITE_URL, a --site-url that is not one, a failed page
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"exported {report.files} files to {directory}: {len(report.written)} written, "
        f"{len(report.unchanged)} unchanged, {len(report.removed)} removed"
    )


def init_app(app: Flask) -> None:
    app.cli.add_command(export_command)
