"""Progress of a long command, for a person at a terminal, never in a log."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

import click


@contextlib.contextmanager
def progress(total: int | None, label: str) -> Iterator[Callable[[object], None]]:
    """`step(item)` once per item done: a bar on stderr (a count when the total is not
    known ahead) while a terminal watches; nothing when stderr is a log or a pipe, where
    a line per step would be noise (and stdout is the command's output: never there)."""
    if not sys.stderr.isatty():
        yield lambda _done: None
        return
    if total is None:
        done = 0

        def count(_done: object) -> None:
            nonlocal done
            done += 1
            if done % 10 == 0:
                click.echo(f"\r{label}: {done}", nl=False, err=True)

        try:
            yield count
        finally:
            click.echo(f"\r{label}: {done}", err=True)
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield lambda _done: bar.update(1)
