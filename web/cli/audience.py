"""`flask --app app audience report [--topic SLUG] [--from DAY --to DAY] [--csv|--json]`."""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys

import click
from flask import Flask
from flask.cli import AppGroup

from audience.count import WINDOWS
from audience.report import Report
from serving.spreadsheets import spreadsheet_cell
from serving.state import app_state

from ..audience import report_for

audience_cli = AppGroup("audience", help="Audience: IAB downloads of the media served.")

DAY = click.DateTime(formats=["%Y-%m-%d"])


@audience_cli.command("report")
@click.option("--topic", "slug", metavar="SLUG", help="Only the files this topic's stories enclose.")
@click.option("--from", "start", type=DAY, help="First UTC day (default: the first recorded).")
@click.option("--to", "end", type=DAY, help="Last UTC day, included (default: the last recorded).")
@click.option("--csv", "as_csv", is_flag=True, help="CSV rows: section, key, ..., downloads.")
@click.option("--json", "as_json", is_flag=True, help="The JSON of GET /api/audience.")
def report_command(slug: str | None, start: dt.datetime | None, end: dt.datetime | None,
                   as_csv: bool, as_json: bool) -> None:
    """Downloads per UTC day, per episode (and its first 7, 30 and 90 days) and per app,
    counted again from the recorded fetches by the IAB v2.1 rules (docs/audience.md)."""
    if as_csv and as_json:
        raise click.UsageError("--csv or --json, not both")
    state = app_state()
    if slug is not None and state.store.get_topic(slug) is None:
        raise click.ClickException(f"no topic {slug!r}")
    first, last = (start.date() if start else None), (end.date() if end else None)
    if first is not None and last is not None and first > last:
        raise click.UsageError("--from is after --to")
    report = report_for(state, slug, first, last)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=1, ensure_ascii=False))
    elif as_csv:
        write_csv(report)
    else:
        write_text(report)


def write_csv(report: Report) -> None:
    # RFC 4180's line ends, as the desk's: with "\n" alone, the csv module left a cell
    # holding a carriage return unquoted, and a file name could split a row in two.
    out = csv.writer(sys.stdout, lineterminator="\r\n")
    out.writerow(["section", "key", "story_id", "title", "published", "downloads",
                  *[f"first_{days}_days" for days in WINDOWS]])
    # A file's name, a story's id and title are anyone's text: none reaches a spreadsheet
    # as a formula (the desk's CSVs are guarded the same way).
    for day in report.days:
        out.writerow(["day", day.day.isoformat(), "", "", "", day.downloads, *[""] * len(WINDOWS)])
    for row in report.episodes:
        firsts = dict(row.first_days) if row.first_days is not None else {}
        out.writerow(["episode", spreadsheet_cell(row.episode), spreadsheet_cell(row.story_id or ""),
                      spreadsheet_cell(row.title or ""),
                      row.published.isoformat() if row.published else "", row.downloads,
                      *[firsts.get(days, "") for days in WINDOWS]])
    for app in report.apps:
        out.writerow(["app", spreadsheet_cell(app.app), "", "", "", app.downloads, *[""] * len(WINDOWS)])


def write_text(report: Report) -> None:
    span = f"{report.start or 'first'} to {report.end or 'last'}"
    click.echo(f"{report.downloads} download(s), {span}" + (f", topic {report.topic}" if report.topic else ""))
    click.echo("\nper day (UTC)")
    for day in report.days:
        click.echo(f"  {day.day.isoformat()}  {day.downloads:>8}")
    click.echo("\nper episode" + "".join(f"  first {days} d" for days in WINDOWS))
    for row in report.episodes:
        firsts = "".join(f"  {n:>10}" for _days, n in row.first_days) if row.first_days else ""
        click.echo(f"  {row.episode}  {row.downloads:>8}{firsts}  {row.title or ''}")
    click.echo("\nper app")
    for app in report.apps:
        click.echo(f"  {app.app:<30} {app.downloads:>8}")
    click.echo("\nbots and apps named by")
    for version in report.lists:
        click.echo(f"  {version.source} at {version.commit[:12]} ({version.date})")


def init_app(app: Flask) -> None:
    app.cli.add_command(audience_cli)
