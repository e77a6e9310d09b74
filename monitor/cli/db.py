"""`monitor db …`: migrations."""

from __future__ import annotations

import click

from monitor.cli import App, cli, pass_app
from monitor.core.config import mask_url


@cli.group()
def db() -> None:
    """Database schema management."""


@db.command()
@click.option("--revision", default="heads", show_default=True, help="Target revision.")
@pass_app
def upgrade(app: App, revision: str) -> None:
    """Create or migrate the database schema to the newest version."""
    from monitor.core.db import current_revisions
    from monitor.core.db import upgrade as run_upgrade

    engine = app.engine(migrated=False)
    run_upgrade(engine, revision)
    click.echo(f"database {mask_url(app.settings.database.url)} at {', '.join(sorted(current_revisions(engine)))}")
