"""The `monitor` command: parses arguments, loads settings once, calls one function per command."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import cached_property

import click
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from monitor.core.config import DEFAULT_CONFIG, Settings, load_settings
from monitor.core.errors import MonitorError


@dataclass
class App:
    """What every command gets: the settings (loaded on first use) and the database."""

    config_path: str
    _engine: Engine | None = field(default=None, repr=False)

    @cached_property
    def settings(self) -> Settings:
        return load_settings(self.config_path)

    def engine(self, *, migrated: bool = True) -> Engine:
        """The database engine; by default refuses a database that is not migrated."""
        from monitor.core.db import check_connection, create_db_engine, require_migrated

        if self._engine is None:
            self._engine = create_db_engine(self.settings.database)
        if migrated:
            require_migrated(self._engine)
        else:
            check_connection(self._engine)
        return self._engine

    def sessions(self) -> sessionmaker[Session]:
        """A session factory on the migrated database."""
        from monitor.core.db import session_factory

        return session_factory(self.engine())


pass_app = click.make_pass_decorator(App)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--config",
    "config_path",
    envvar="MONITOR_CONFIG",
    default=DEFAULT_CONFIG,
    show_default=True,
    metavar="PATH",
    help="Settings file (TOML). Also MONITOR_CONFIG.",
)
@click.pass_context
def cli(ctx: click.Context, config_path: str) -> None:
    """school-monitor: find school violence and cyberbullying in public posts early."""
    ctx.obj = App(config_path)


def _register() -> None:
    # Each area of the CLI lives in its own module; importing it adds its commands to `cli`.
    from monitor.cli import (  # noqa: F401
        db,
        demo,
        digest,
        evaluate,
        ingest,
        match,
        media,
        model,
        queue,
        scrape,
        serve,
        sources,
        users,
        worker,
    )


def main(argv: list[str] | None = None) -> None:
    """Entry point: one line on stderr and exit code 2 for usage/config errors, 1 for others."""
    _register()
    try:
        cli.main(args=argv, prog_name="monitor", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.ClickException as e:
        e.show()
        sys.exit(2)
    except MonitorError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    except (sa.exc.DBAPIError, sa.exc.TimeoutError) as e:
        # A read-only or vanished database file, a full disk, a dropped connection: one line, exit 2.
        click.echo(f"error: database: {_first_line(getattr(e, 'orig', None) or e)}", err=True)
        sys.exit(2)
    except OSError as e:
        if isinstance(e, BrokenPipeError):
            sys.exit(0)
        where = f": {e.filename}" if e.filename else ""
        click.echo(f"error: {e.strerror or type(e).__name__}{where}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else type(exc).__name__
