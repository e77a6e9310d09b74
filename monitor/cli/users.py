"""`monitor users …`: accounts."""

from __future__ import annotations

import sys

import click

from monitor.cli import App, cli, pass_app
from monitor.core.errors import InputError
from monitor.core.tables import ROLES


@cli.group()
def users() -> None:
    """Accounts of moderators, viewers and admins."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the user may do.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_app
def add(app: App, name: str, role: str, password_stdin: bool) -> None:
    """Create a user (password from stdin, or prompted)."""
    from monitor.review.users import create_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise InputError("empty password")
    user = create_user(app.sessions(), name, role, password)
    click.echo(f"created {user.role} {user.name}")


@users.command("list")
@pass_app
def list_(app: App) -> None:
    """List users and their roles."""
    from monitor.review.users import list_users

    for user in list_users(app.sessions()):
        state = "" if user.is_active else " (disabled)"
        click.echo(f"{user.name}\t{user.role}{state}")


@users.command("set-role")
@click.argument("name")
@click.argument("role", type=click.Choice(ROLES))
@pass_app
def set_role_cmd(app: App, name: str, role: str) -> None:
    """Change a user's role."""
    from monitor.review.users import set_role

    user = set_role(app.sessions(), name, role)
    click.echo(f"{user.name} is now {user.role}")


@users.command("token")
@click.argument("name")
@click.option("--label", default="", help="What the token is for.")
@pass_app
def token(app: App, name: str, label: str) -> None:
    """Create an API token for NAME (printed once; only its hash is stored)."""
    from monitor.review.users import create_api_token

    click.echo(create_api_token(app.sessions(), name, label))
