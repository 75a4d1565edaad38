"""`flask --app app members add|list|rotate|revoke|expire|renew|sharing` (docs/members.md).

A secret is printed once, when made (`add`, `rotate`): storyfeed keeps only its hash.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask import Flask
from flask.cli import AppGroup

from serving.members import Members
from serving.state import app_state
from stories.errors import StoryfeedError
from stories.members import Member
from stories.model import format_datetime

from .embeds import DEFAULT_SITE_URL

members_cli = AppGroup("members", help="Members and their private feed URLs.")


def _area() -> Members:
    return app_state().area(Members)


def _when(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _line(member: Member) -> str:
    expires = format_datetime(member.expires) if member.expires else "-"
    return f"{member.id:>6}  {member.status():<8}  expires {expires:<20}  {member.name}"


def _echo_secret(secret: str) -> None:
    site = app_state().settings["SITE_URL"] or DEFAULT_SITE_URL
    click.echo(f"secret (shown once): {secret}")
    click.echo(f"feeds: {site.rstrip('/')}/m/{secret}/topics/<slug>/podcast.xml (and rss.xml, "
               "atom.xml, feed.json)")


def _run(action):  # type: ignore[no-untyped-def]
    try:
        return action()
    except StoryfeedError as exc:
        raise click.ClickException(str(exc)) from None


@members_cli.command("add")
@click.argument("name")
@click.option("--expires", type=click.DateTime(), help="When the membership lapses (UTC).")
def add_command(name: str, expires: datetime | None) -> None:
    """Add a member; print their secret and feed URL once."""
    member, secret = _run(lambda: _area().store.add(name, expires=_when(expires)))
    click.echo(_line(member))
    _echo_secret(secret)


@members_cli.command("list")
def list_command() -> None:
    """Every member: id, status, expiry, name (never a secret)."""
    for member in _area().store.list_members():
        click.echo(_line(member))


@members_cli.command("rotate")
@click.argument("member_id", type=int)
def rotate_command(member_id: int) -> None:
    """A new secret for the member; the old URLs answer 410 from now on."""
    secret = _run(lambda: _area().store.rotate(member_id))
    _echo_secret(secret)


@members_cli.command("revoke")
@click.argument("member_id", type=int)
def revoke_command(member_id: int) -> None:
    """End the membership: its feeds answer 410, its media nothing."""
    click.echo(_line(_run(lambda: _area().store.revoke(member_id))))


@members_cli.command("expire")
@click.argument("member_id", type=int)
@click.option("--at", type=click.DateTime(), help="When (UTC); now when left out.")
def expire_command(member_id: int, at: datetime | None) -> None:
    """Let the membership lapse: its feeds carry one item saying how to renew."""
    click.echo(_line(_run(lambda: _area().store.expire(member_id, _when(at)))))


@members_cli.command("renew")
@click.argument("member_id", type=int)
@click.option("--until", type=click.DateTime(), help="The new expiry (UTC); none when left out.")
def renew_command(member_id: int, until: datetime | None) -> None:
    """Bring a lapsed membership back: the same URLs work again."""
    click.echo(_line(_run(lambda: _area().store.renew(member_id, _when(until)))))


@members_cli.command("sharing")
def sharing_command() -> None:
    """Members whose secret was used from more networks or apps than one listener's
    within 24 h (MEMBER_SHARING_NETWORKS, MEMBER_SHARING_APPS): rotate theirs."""
    area = _area()
    for found in area.store.sharing(area.max_networks, area.max_apps):
        click.echo(f"{_line(found.member)}  networks {found.networks}  apps {found.apps}")


def init_app(app: Flask) -> None:
    app.cli.add_command(members_cli)
