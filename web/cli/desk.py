"""`flask --app app desk add-user|remove-user|set-password|users`: the desk's accounts.

Passwords are asked for at a prompt (twice, not echoed), or read from standard input
with --password-stdin for scripts: never from an argument, which `ps` and shell
histories show."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import AppGroup

from desk.accounts import Accounts
from serving.state import app_state
from stories.errors import InvalidInput, NotFound

desk_cli = AppGroup("desk", help="The editors' desk: its accounts.")

password_stdin = click.option("--password-stdin", is_flag=True,
                              help="Read the password from standard input (one line).")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


def _accounts() -> Accounts:
    return Accounts(app_state().store.engine)


@desk_cli.command("add-user")
@click.argument("name")
@password_stdin
def add_user(name: str, password_stdin: bool) -> None:
    """Make the account NAME, which may then sign in to /desk."""
    try:
        _accounts().add(name, _password(password_stdin))
    except InvalidInput as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"user {name} added")
    if not app_state().settings["DESK"]:
        click.echo("the desk is off: set DESK=on and SECRET_KEY to serve it at /desk", err=True)


@desk_cli.command("remove-user")
@click.argument("name")
def remove_user(name: str) -> None:
    """Remove the account NAME; its sessions end at their next request."""
    try:
        _accounts().remove(name)
    except NotFound as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"user {name} removed")


@desk_cli.command("set-password")
@click.argument("name")
@password_stdin
def set_password(name: str, password_stdin: bool) -> None:
    """Give NAME a new password; its sessions end at their next request."""
    try:
        _accounts().set_password(name, _password(password_stdin))
    except (InvalidInput, NotFound) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"password of {name} changed")


@desk_cli.command("users")
def users() -> None:
    """List the accounts."""
    for name in _accounts().names():
        click.echo(name)


def init_app(app: Flask) -> None:
    app.cli.add_command(desk_cli)
