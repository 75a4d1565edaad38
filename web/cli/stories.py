"""`flask --app app db ...` and `flask --app app stories ...`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from serving.state import app_state
from stories import migrate
from stories.files import Batch, read_records, write_ndjson
from stories.model import MEMBERS
from stories.sample import SAMPLE_FILE
from stories.store import StoryStore
from stories.validate import printable

from .progress import progress

db_cli = AppGroup("db", help="Database schema.")
stories_cli = AppGroup("stories", help="Story records: import, export, list, sample.")


def _store() -> StoryStore:
    return app_state().store


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    migrate.upgrade(_store().engine, revision)
    click.echo(f"database at {revision}")


def read_paths(paths: tuple[str, ...], on_file: Callable[[str], None] = lambda _path: None) -> Batch:
    batch = Batch()
    for path in paths:
        # A file's name is a stranger's text too: terminal escapes in it are shown, not run.
        source = "<stdin>" if path == "-" else printable(Path(path).name)
        try:
            data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
            text = data.decode("utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            shown = "<stdin>" if path == "-" else printable(path)
            raise click.ClickException(f"{shown}: cannot read: {printable(str(exc))}") from exc
        batch.extend(read_records(text, source))
        on_file(path)
    return batch


def import_batch(batch: Batch, skip_invalid: bool) -> None:
    for warning in batch.warnings:
        click.echo(f"warning: {warning}", err=True)
    for problem in batch.problems:
        click.echo(f"error: {problem}", err=True)
    if batch.problems and not skip_invalid:
        raise click.ClickException(
            f"{len(batch.problems)} problem(s) found; nothing was imported "
            "(--skip-invalid imports the valid records)"
        )
    result = _store().write(stories=batch.stories, topics=batch.topics)
    for notice in result.notices:
        click.echo(f"warning: {notice}", err=True)
    click.echo(
        f"imported {len(batch.topics)} topic(s), {len(batch.stories)} story(ies): "
        f"{len(result.added)} added, {len(result.updated)} updated, "
        f"{len(result.unchanged)} unchanged"
        + (f"; {len(batch.problems)} invalid skipped" if batch.problems else "")
    )


@stories_cli.command("import")
@click.argument("paths", nargs=-1, required=True)
@click.option("--skip-invalid", is_flag=True, help="Import the valid records, report the rest.")
def import_command(paths: tuple[str, ...], skip_invalid: bool) -> None:
    """Import JSON, {"topics","stories"} or NDJSON files ("-" reads stdin), in one transaction."""
    # Reading and checking the files is the long part; the write is one transaction.
    with progress(len(paths), "reading") as step:
        batch = read_paths(paths, on_file=step)
    import_batch(batch, skip_invalid)


@stories_cli.command("export")
@click.option("--topic", help="Only this topic's stories (and the topic).")
def export_command(topic: str | None) -> None:
    """Write NDJSON to stdout that `stories import` reads back unchanged."""
    store = _store()
    if topic is not None:
        found = store.get_topic(topic, members=True)
        if found is None:
            raise click.ClickException(f"no topic {topic!r}")
        topics = [found]
    else:
        topics = store.list_topics(members=True)
    # Members' records too: this is the editors' copy, read back by `stories import`.
    with progress(len(topics) + store.count_stories(topic), "exporting") as step:
        for line in write_ndjson(topics, store.iter_stories(topic, members=True)):
            sys.stdout.write(line)
            step(line)


@stories_cli.command("list")
@click.option("--topic", help="Only this topic's stories.")
def list_command(topic: str | None) -> None:
    """One line per story, newest first: date, id, title."""
    for story in _store().iter_stories(topic, members=True):
        access = "  (members)" if story.access == MEMBERS else ""
        click.echo(f"{story.published:%Y-%m-%d}  {story.id:<14}  {story.title}{access}")


@stories_cli.command("sample")
@click.option("--if-empty", is_flag=True, help="Only when the store holds no story yet.")
def sample_command(if_empty: bool) -> None:
    """Load the bundled sample topic (north-korean-defectors)."""
    if if_empty and _store().count_stories() > 0:
        click.echo("store is not empty; sample not loaded")
        return
    import_batch(read_records(SAMPLE_FILE.read_text(encoding="utf-8"), SAMPLE_FILE.name), False)


def init_app(app: Flask) -> None:
    app.cli.add_command(db_cli)
    app.cli.add_command(stories_cli)
