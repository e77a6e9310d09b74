"""`monitor scrape [SOURCE...]` and `monitor parse PLATFORM FILE`: run scrapers now, debug a saved page."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import click

from monitor.cli import App, cli, pass_app
from monitor.core.errors import InputError, ScrapeError
from monitor.core.posts import post_to_json


@cli.command()
@click.argument("names", nargs=-1, metavar="[SOURCE]...")
@click.option("--no-classify", is_flag=True, help="Store only; the scheduler classifies the backlog later.")
@pass_app
def scrape(app: App, names: tuple[str, ...], no_classify: bool) -> None:
    """Scrape the named sources now (default: every enabled source) and print a summary table.

    Exit status 0 when every source succeeded, 1 when any failed (its error is recorded and shown).
    """
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from monitor.ingest.http import open_client
    from monitor.ingest.scrape import RunSummary, run_sources, select_sources
    from monitor.service.parts import build_pipeline

    sources = select_sources(app.settings, names)
    if not sources:
        click.echo("no enabled sources in the configuration", err=True)
        return
    sessions = app.sessions()
    pipeline = build_pipeline(app.settings, sessions, classify=not no_classify)
    console = Console(stderr=True)
    http = open_client(app.settings.http)
    try:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                      TextColumn("{task.completed}/{task.total} sources"), TimeElapsedColumn(),
                      console=console, transient=True) as progress:
            task = progress.add_task("scraping", total=len(sources))

            def page_done(source: object, page: object) -> None:
                progress.update(task, description=f"{getattr(source, 'name', '')}: {getattr(page, 'url', '')}"[:80])

            def source_done(summary: RunSummary) -> None:
                progress.advance(task)

            summaries = run_sources(sources, sessions=sessions, http=http, settings=app.settings.http,
                                    pipeline=pipeline, on_page=page_done, on_done=source_done)
    finally:
        http.close()
    table = Table(title="scrape")
    for column in ("source", "platform", "status", "pages", "new", "updated", "seconds", "error"):
        table.add_column(column, overflow="fold")
    for s in summaries:
        status = "[green]ok[/]" if s.status == "ok" else "[red]error[/]"
        table.add_row(s.source, s.platform, status, str(s.pages), str(s.posts_new), str(s.posts_updated),
                      f"{s.duration_s:.1f}", s.error or "")
    Console().print(table)
    sys.exit(1 if any(s.status != "ok" for s in summaries) else 0)


@cli.command()
@click.argument("platform")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--url", default=None, help="The URL the page was fetched from (links are resolved against it).")
@click.option("--source", "source_name", default=None, metavar="NAME",
              help="generic: take the CSS selectors from this configured source (default: <article> items).")
@pass_app
def parse(app: App, platform: str, file: Path, url: str | None, source_name: str | None) -> None:
    """Print the posts in a saved page or API answer as JSON lines in the ingest format."""
    from scrapers import PLATFORMS, generic

    known = PLATFORMS.get(platform.lower())
    parser = known.parse if known else None
    if parser is None:
        raise InputError(f"unknown platform {platform!r} (known: {', '.join(sorted(PLATFORMS))})")
    if source_name is not None:
        from monitor.ingest.scrape import select_sources

        [source] = select_sources(app.settings, [source_name])
        if source.platform != "generic" or platform.lower() != "generic":
            raise InputError("--source applies to generic pages only")
        selectors = {k: str(v) for k, v in source.options.items() if k in ("item", "text", "date", "link", "author")}
        parser = partial(generic.parse, selectors=selectors)
    try:
        body = file.read_bytes()
    except OSError as e:
        raise InputError(f"{file}: cannot read: {e.strerror}") from None
    try:
        posts, next_cursor = parser(body, url or file.resolve().as_uri())
    except ScrapeError as e:
        raise InputError(f"{file}: {e}") from None
    for post in posts:
        click.echo(post_to_json(post))
    click.echo(f"{len(posts)} posts" + (f", next page cursor {next_cursor}" if next_cursor else ""), err=True)
