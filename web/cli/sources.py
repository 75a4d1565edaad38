"""`flask --app app sync [--source NAME] [--loop]`."""

from __future__ import annotations

import logging
import signal
import sys
import threading

import click
from flask import Flask
from flask.cli import with_appcontext

from serving.state import app_state
from sources.config import SourcesConfig
from sources.model import Outcome, Source, SyncReport
from sources.state import SourceStates
from sources.sync import Syncer

from .progress import progress

log = logging.getLogger(__name__)

NO_SOURCES_FILE = "SOURCES_FILE is not set: name a TOML file of [[source]] tables"


def echo_report(report: SyncReport) -> None:
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    for problem in report.problems:
        click.echo(f"error: {problem}", err=True)
    click.echo(report.line())


def log_report(report: SyncReport) -> None:
    """A report of the loop (the clock process): its lines are log lines, one JSON object
    each, like every other process's. Each line is its own message (no arguments): lines
    that differ are never taken for repeats of one another (serving.logs.RepeatsFilter)."""
    fields = {"source": report.source, "outcome": report.outcome.value}
    for warning in report.warnings:
        log.warning(warning, extra=fields)
    for problem in report.problems:
        log.error(problem, extra=fields)
    level = logging.WARNING if report.outcome is Outcome.FAILED else logging.INFO
    log.log(level, report.line(), extra=fields)


def selected_sources(names: tuple[str, ...]) -> list[Source]:
    # Loaded (and checked) by create_app: a broken file never gets this far.
    sources = app_state().area(SourcesConfig).sources
    if sources is None:
        raise click.ClickException(NO_SOURCES_FILE)
    if not names:
        return list(sources)
    known = {s.name: s for s in sources}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise click.ClickException(
            f"no source named {', '.join(unknown)} (known: {', '.join(known) or 'none'})"
        )
    return [known[n] for n in names]


@click.command("sync")
@with_appcontext
@click.option(
    "--source", "names", multiple=True, metavar="NAME", help="Only this source (may be repeated)."
)
@click.option(
    "--loop", is_flag=True, help="Run forever, pulling each source when its interval has passed."
)
def sync_command(names: tuple[str, ...], loop: bool) -> None:
    """Pull stories from the sources in SOURCES_FILE into the store.

    Without --loop, every selected source is pulled once, now. A failed source is
    reported and the others go on; the exit status is 1 when any source failed, or when
    SOURCES_FILE is not set.

    With --loop (the Procfile's clock process), SIGTERM or SIGINT stops it with status 0.
    Without SOURCES_FILE it says so once and waits for that signal: a process that
    exits would be restarted over and over by a platform, and would stop every other
    process of the Procfile under honcho or foreman.
    """
    if not loop:
        reports = sync_once(selected_sources(names))
        if any(r.outcome is Outcome.FAILED for r in reports):
            sys.exit(1)
        return
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if app_state().area(SourcesConfig).sources is None:
        log.warning("%s; nothing to sync, waiting for SIGTERM", NO_SOURCES_FILE)
        stop.wait()
        return
    sync_forever(selected_sources(names), stop)


def sync_once(sources: list[Source]) -> list[SyncReport]:
    state = app_state()
    retriever = state.area(SourcesConfig).retriever()
    try:
        syncer = Syncer(state.store, SourceStates(state.store.engine), retriever)
        with progress(len(sources), "syncing") as step:
            reports = []
            for source in sources:
                reports.append(syncer.sync(source))
                step(source)
    finally:
        retriever.close()
    for report in reports:
        echo_report(report)
    return reports


def sync_forever(sources: list[Source], stop: threading.Event) -> None:
    state = app_state()
    # SIGTERM ends the pull in flight too (a platform kills the process ~30 s after it,
    # and an upstream that stalls would hold the pull past that): it is pulled again on
    # the next run.
    retriever = state.area(SourcesConfig).retriever(stop)
    try:
        syncer = Syncer(state.store, SourceStates(state.store.engine), retriever)
        log.info("syncing %d source(s) on their intervals; SIGTERM stops", len(sources))
        syncer.run_forever(sources, stop, log_report)
    finally:
        retriever.close()


def init_app(app: Flask) -> None:
    app.cli.add_command(sync_command)
