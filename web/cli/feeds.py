"""`flask --app app feeds check [--topic SLUG] [--json]`: the glue around `feeds.check`.
Each run's findings are kept per topic (`desk.checks`), for the desk to show."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click
from flask import Flask
from flask.cli import AppGroup

from desk.checks import FeedChecks
from serving.links import Links
from serving.state import AppState, app_state

from .embeds import DEFAULT_SITE_URL
from .progress import progress

if TYPE_CHECKING:
    from feeds.check import Problem

feeds_cli = AppGroup("feeds", help="Feeds: check them as podcast apps will.")


@dataclass(frozen=True)
class CheckRun:
    topics: int
    requests: int
    problems: list[Problem]

    @property
    def errors(self) -> int:
        return sum(p.severity == "error" for p in self.problems)

    def summary(self) -> str:
        return (f"{self.topics} topic(s), {self.requests} request(s): {self.errors} error(s), "
                f"{len(self.problems) - self.errors} warning(s)")


# Given the number of files to fetch, a context in which `step(file)` is called per file.
Steps = Callable[[int], AbstractContextManager[Callable[[object], None]]]


def check_feeds(state: AppState, slug: str | None, steps: Steps, max_requests: int = 5000) -> CheckRun:
    """Checks the topic's feeds (or every topic's) and keeps what was found, as the
    command and the desk's "run again" both do."""
    # Here, not at the top: Pillow and mutagen load only when the check runs.
    from feeds.check import GuardedFetcher, plan_store, run_checks

    store = state.store
    site_url, media_base_url = state.settings["SITE_URL"], state.settings["MEDIA_BASE_URL"]
    prefix = state.settings["ANALYTICS_PREFIX"]
    links = Links.build(site_url or DEFAULT_SITE_URL, media_base_url, prefix)
    plans = plan_store(store, links, state.settings["MEDIA_DIR"], slug)
    # Only hosts the operator named may be private: the default 127.0.0.1:8000 is
    # whatever happens to listen there on this machine, not necessarily storyfeed.
    # Enclosures behind ANALYTICS_PREFIX are followed through its redirects to the file.
    fetcher = GuardedFetcher.trusting([url for url in (site_url, media_base_url, prefix) if url],
                                      max_requests=max_requests)
    try:
        with steps(sum(len(plan.targets) for plan in plans)) as step:
            problems = run_checks(plans, fetcher, on_target=step)
    finally:
        fetcher.close()
    FeedChecks(store.engine).save([plan.topic.slug for plan in plans], [p.as_dict() for p in problems])
    return CheckRun(len(plans), fetcher.requests_made, problems)


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
    state = app_state()
    if slug is not None and state.store.get_topic(slug) is None:
        raise click.ClickException(f"no topic {slug!r}")
    if not state.settings["SITE_URL"]:
        click.echo(f"SITE_URL is not set: the feeds' own links are checked as {DEFAULT_SITE_URL}, "
                   "which is not trusted as a local host; set SITE_URL (to "
                   f"{DEFAULT_SITE_URL} for `make run`) to check the files it serves", err=True)
    run = check_feeds(state, slug, lambda total: progress(total, "checking"), max_requests)
    if as_json:
        click.echo(json.dumps([p.as_dict() for p in run.problems], indent=1, ensure_ascii=False))
    else:
        for problem in run.problems:
            click.echo(problem.line())
    click.echo(run.summary(), err=True)
    sys.exit(1 if run.errors else 0)


def init_app(app: Flask) -> None:
    app.cli.add_command(feeds_cli)
