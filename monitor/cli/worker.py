"""`monitor worker` (the scheduler without the web app), `monitor jobs`, `monitor retention`."""

from __future__ import annotations

import json
import logging

import click

from monitor.cli import App, cli, pass_app
from monitor.core.errors import ConfigError


@cli.command()
@click.option(
    "--no-classify",
    is_flag=True,
    help="Do not load the classifier (no classify-backlog job; scraped posts are stored unclassified).",
)
@pass_app
def worker(app: App, no_classify: bool) -> None:
    """Run the scheduled jobs only (no web app); several workers may share one PostgreSQL database."""
    from monitor.service.parts import build_pipeline
    from monitor.service.scheduler import build_scheduler, serve_until_signalled

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = app.settings
    if not settings.scheduler.enabled:
        raise ConfigError("[scheduler] enabled is false: nothing for a worker to run")
    sessions = app.sessions()
    pipeline = build_pipeline(settings, sessions, classify=not no_classify)
    serve_until_signalled(build_scheduler(settings, sessions, pipeline))


@cli.command()
@click.option("--limit", default=30, show_default=True, type=click.IntRange(1, 1000))
@pass_app
def jobs(app: App, limit: int) -> None:
    """The latest scheduled job runs (which process ran which slot, and how it ended)."""
    from sqlmodel import col, select

    from monitor.core.tables import JobRun

    with app.sessions()() as session:
        rows = session.exec(select(JobRun).order_by(col(JobRun.started_at).desc()).limit(limit)).all()
        for r in rows:
            took = f"{(r.finished_at - r.started_at).total_seconds():.1f}s" if r.finished_at else "-"
            click.echo(
                f"{r.started_at.isoformat(timespec='seconds')} {r.job:<28} slot={r.slot_at.isoformat()} "
                f"{r.status:<8} {took:>7} {r.holder}" + (f" {r.error}" if r.error else "")
            )


@cli.command()
@click.option("--purge", is_flag=True, help="Delete what is past its retention age now.")
@pass_app
def retention(app: App, purge: bool) -> None:
    """Show the retention rules; with --purge apply them (the service does this daily)."""
    from monitor.service.retention import purge as run_purge

    r = app.settings.retention
    if not purge:
        click.echo(json.dumps(r.model_dump(), indent=2))
        click.echo("run with --purge to apply now", err=True)
        return
    report = run_purge(app.sessions(), app.settings)
    click.echo(json.dumps(report.counts, sort_keys=True))
