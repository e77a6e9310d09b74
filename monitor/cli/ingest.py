"""`monitor ingest [--format F] FILE_OR_DIR`: posts collected by other tools (our JSONL, instaloader, yt-dlp)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import click

from monitor.cli import App, cli, pass_app

BATCH = 500


@cli.command()
@click.argument("path", metavar="FILE_OR_DIR", type=click.Path(exists=True, allow_dash=True, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["jsonl", "instaloader", "yt-dlp"]), default="jsonl",
              show_default=True, help="jsonl: our format; instaloader: its saved *.json(.xz); yt-dlp: *.info.json.")
@click.option("--no-classify", is_flag=True, help="Store only; the scheduler classifies the backlog later.")
@pass_app
def ingest(app: App, path: Path, fmt: str, no_classify: bool) -> None:
    """Import posts from a file or a directory; bad records are reported as `FILE:line N: reason` and skipped.

    jsonl, one post per line: {"platform", "external_id", "url", "text", "published_at" (ISO 8601 with
    offset), optional "author", "media": [{"type": "photo"|"video", "url", "thumbnail_url"}]} ("-" reads stdin).
    instaloader: the `*.json` / `*.json.xz` files it saves beside each post (`--format instaloader DIR`).
    yt-dlp: `*.info.json` files (`--write-info-json`) or the JSON lines of `yt-dlp -j`.
    Exit status 0 when every record was good, 1 when some were skipped.
    """
    from monitor.core.posts import Post, read_jsonl
    from monitor.ingest.imports import Item, read_posts
    from monitor.ingest.pipeline import IngestResult
    from monitor.service.parts import build_pipeline

    items: Iterator[Item]
    if str(path) == "-":
        if fmt != "jsonl":
            raise click.BadParameter("stdin is read as jsonl only", param_hint="FILE_OR_DIR")
        stdin = sys.stdin.buffer
        items = ((f"<stdin>:line {n}", item) for n, item in read_jsonl(stdin))
    else:
        items = read_posts(path, fmt)
    pipeline = build_pipeline(app.settings, app.sessions(), classify=not no_classify)
    total = IngestResult()
    batch: list[Post] = []
    bad = 0
    seen = 0
    for where, item in items:
        seen += 1
        if isinstance(item, str):
            bad += 1
            click.echo(f"{where}: {item}", err=True)
            continue
        batch.append(item)
        if len(batch) >= BATCH:
            total += pipeline.ingest(batch)
            batch = []
    if batch:
        total += pipeline.ingest(batch)
    if seen == 0:
        click.echo(f"{path}: no {fmt} files or records found", err=True)
    click.echo(
        f"new {total.new}, updated {total.updated}, unchanged {total.unchanged}, linked {total.linked}, "
        f"classified {total.classified}, enqueued {total.enqueued}, skipped {bad}"
    )
    sys.exit(1 if bad else 0)
