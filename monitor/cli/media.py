"""`monitor media fetch [--limit N]`: fetch, archive and hash pending media now, then match and join."""

from __future__ import annotations

import json
import logging

import click

from monitor.cli import App, cli, pass_app


@cli.group()
def media() -> None:
    """Archived photos and videos of posts: fetch, hash, match reposts to incidents."""


@media.command("fetch")
@click.option("--limit", type=click.IntRange(1, 100_000), default=None,
              help="At most this many media files (default: [media] batch_size).")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as one JSON object.")
@pass_app
def fetch(app: App, limit: int | None, as_json: bool) -> None:
    """Fetch and hash pending media now, then apply matching (joins to incidents, queue updates)."""
    from monitor.ingest.media.archive import DiskArchive
    from monitor.ingest.media.job import open_fetcher, run_media

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = app.settings
    sessions = app.sessions()
    fetcher = open_fetcher(settings)
    try:
        report = run_media(sessions, settings, fetcher, DiskArchive(settings.media.dir), limit=limit)
    finally:
        fetcher.http.close()
    summary = report.summary()
    if as_json:
        click.echo(json.dumps(summary))
        return
    click.echo(", ".join(f"{k.replace('_', ' ')} {v}" for k, v in summary.items()))
    for j in report.joined:
        click.echo(f"post {j.post_id} joined queue item {j.queue_item_id} (incident {j.incident_id}): {j.reason}")
