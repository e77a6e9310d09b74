"""`monitor users …`: accounts."""

from __future__ import annotations

import sys

import click

from monitor.cli import App, cli, pass_app
from monitor.core.errors import InputError
from monitor.core.vocab import ROLES, values


@cli.group()
def users() -> None:
    """Accounts of moderators, viewers and admins."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(values(ROLES)), required=True, help="What the user may do.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_app
def add(app: App, name: str, role: str, password_stdin: bool) -> None:
    """Create a user (password from stdin, or prompted)."""
    from monitor.review.users import create_user

    user = create_user(app.sessions(), name, role, _read_password(password_stdin))
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
@click.argument("role", type=click.Choice(values(ROLES)))
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


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise InputError("empty password")
    return password


@users.command("set-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_app
def set_password_cmd(app: App, name: str, password_stdin: bool) -> None:
    """Reset NAME's password (ends their sessions and lifts a lockout)."""
    from monitor.review.users import set_password

    set_password(app.sessions(), name, _read_password(password_stdin), actor="cli")
    click.echo(f"password of {name} changed")


@users.command("deactivate")
@click.argument("name")
@pass_app
def deactivate(app: App, name: str) -> None:
    """Stop NAME from signing in (their sessions and API tokens stop working)."""
    from monitor.review.users import set_active

    set_active(app.sessions(), name, False, actor="cli")
    click.echo(f"{name} deactivated")


@users.command("activate")
@click.argument("name")
@pass_app
def activate(app: App, name: str) -> None:
    """Let a deactivated user sign in again."""
    from monitor.review.users import set_active

    set_active(app.sessions(), name, True, actor="cli")
    click.echo(f"{name} activated")


@users.command("unlock")
@click.argument("name")
@pass_app
def unlock_cmd(app: App, name: str) -> None:
    """Lift NAME's sign-in lockout now."""
    from monitor.review.users import unlock

    unlock(app.sessions(), name, actor="cli")
    click.echo(f"{name} unlocked")


@users.command("tokens")
@pass_app
def tokens(app: App) -> None:
    """List live API tokens (id, user, label, created)."""
    from monitor.review.users import list_tokens

    for token, name in list_tokens(app.sessions()):
        click.echo(f"{token.id}\t{name}\t{token.label}\t{token.created_at:%Y-%m-%d %H:%M}")


@users.command("revoke-token")
@click.argument("token_id", type=int)
@pass_app
def revoke_token_cmd(app: App, token_id: int) -> None:
    """Revoke the API token with this id."""
    from monitor.review.users import revoke_token

    revoke_token(app.sessions(), token_id, actor="cli")
    click.echo(f"token {token_id} revoked")
