"""`monitor ingest FILE.jsonl`: posts collected by other tools (Instagram/TikTok exports, collectors)."""

from __future__ import annotations

import sys
from typing import BinaryIO

import click

from monitor.cli import App, cli, pass_app

BATCH = 500


@cli.command()
@click.argument("file", type=click.File("rb"))
@click.option("--no-classify", is_flag=True, help="Store only; the scheduler classifies the backlog later.")
@pass_app
def ingest(app: App, file: BinaryIO, no_classify: bool) -> None:
    """Import posts from a JSON-lines file; bad lines are reported as `line N: reason` and skipped.

    Each line: {"platform", "external_id", "url", "text", "published_at" (ISO 8601 with offset),
    optional "author", "media": [{"type": "photo"|"video", "url", "thumbnail_url"}]}.
    Exit status 0 when every line was good, 1 when some were skipped.
    """
    from monitor.core.posts import Post, read_jsonl
    from monitor.ingest.pipeline import IngestResult
    from monitor.service.parts import build_pipeline

    pipeline = build_pipeline(app.settings, app.sessions(), classify=not no_classify)
    total = IngestResult()
    batch: list[Post] = []
    bad = 0
    for line_no, item in read_jsonl(file):
        if isinstance(item, str):
            bad += 1
            click.echo(f"line {line_no}: {item}", err=True)
            continue
        batch.append(item)
        if len(batch) >= BATCH:
            total += pipeline.ingest(batch)
            batch = []
    if batch:
        total += pipeline.ingest(batch)
    click.echo(
        f"new {total.new}, updated {total.updated}, unchanged {total.unchanged}, linked {total.linked}, "
        f"classified {total.classified}, enqueued {total.enqueued}, skipped {bad}"
    )
    sys.exit(1 if bad else 0)
