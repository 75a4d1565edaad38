"""`flask --app app feeds check [--topic SLUG] [--json]`: the glue around `feeds.check`."""

from __future__ import annotations

import json
import sys

import click
from flask import Flask
from flask.cli import AppGroup

from serving.links import Links
from serving.state import app_state

from .embeds import DEFAULT_SITE_URL
from .progress import progress

feeds_cli = AppGroup("feeds", help="Feeds: check them as podcast apps will.")


@feeds_cli.command("check")
@click.option("--topic", "slug", metavar="SLUG", help="Only this topic (default: every topic).")
@click.option("--json", "as_json", is_flag=True, help="A JSON list of problem objects.")
@click.option("--max-requests", type=click.IntRange(min=1), default=5000, show_default=True,
              help="Stop fetching after this many requests.")
def check_command(slug: str | None, as_json: bool, max_requests: int) -> None:
    """Fetch every enclosure, alternate, transcript, chapters file and artwork the feeds
    point at, and report what Apple Podcasts, Spotify and podcast indexes would refuse.

    One line per problem; the exit status is 1 when any is an error.
    """
    # Here, not at the top: Pillow and mutagen load only when the check runs.
    from feeds.check import GuardedFetcher, Severity, plan_store, run_checks

    state = app_state()
    store = state.store
    if slug is not None and store.get_topic(slug) is None:
        raise click.ClickException(f"no topic {slug!r}")
    site_url, media_base_url = state.settings["SITE_URL"], state.settings["MEDIA_BASE_URL"]
    prefix = state.settings["ANALYTICS_PREFIX"]
    links = Links.build(site_url or DEFAULT_SITE_URL, media_base_url, prefix)
    plans = plan_store(store, links, state.settings["MEDIA_DIR"], slug)
    # Only hosts the operator named may be private: the default 127.0.0.1:8000 is
    # whatever happens to listen there on this machine, not necessarily storyfeed.
    # Enclosures behind ANALYTICS_PREFIX are followed through its redirects to the file.
    fetcher = GuardedFetcher.trusting([url for url in (site_url, media_base_url, prefix) if url],
                                      max_requests=max_requests)
    if not site_url:
        click.echo(f"SITE_URL is not set: the feeds' own links are checked as {DEFAULT_SITE_URL}, "
                   "which is not trusted as a local host; set SITE_URL (to "
                   f"{DEFAULT_SITE_URL} for `make run`) to check the files it serves", err=True)
    try:
        with progress(sum(len(plan.targets) for plan in plans), "checking") as step:
            problems = run_checks(plans, fetcher, on_target=step)
    finally:
        fetcher.close()
    if as_json:
        click.echo(json.dumps([p.as_dict() for p in problems], indent=1, ensure_ascii=False))
    else:
        for problem in problems:
            click.echo(problem.line())
    errors = sum(p.severity is Severity.ERROR for p in problems)
    click.echo(f"{len(plans)} topic(s), {fetcher.requests_made} request(s): {errors} error(s), "
               f"{len(problems) - errors} warning(s)", err=True)
    sys.exit(1 if errors else 0)


def init_app(app: Flask) -> None:
    app.cli.add_command(feeds_cli)
