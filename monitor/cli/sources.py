"""`monitor sources …`: discovery of channels and accounts worth watching."""

from __future__ import annotations

import getpass
import json

import click

from monitor.cli import App, cli, pass_app


@cli.group()
def sources() -> None:
    """Sources: suggestions from flagged posts, and decisions on them."""


@sources.command("suggest")
@click.option("--days", type=click.IntRange(1, 3650), default=90, show_default=True,
              help="Read flagged posts published in the last DAYS days.")
@click.option("--limit", type=click.IntRange(1, 1000), default=30, show_default=True)
@click.option("--min-posts", type=click.IntRange(1), default=1, show_default=True,
              help="Only channels/accounts that at least this many flagged posts point at.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_app
def suggest(app: App, days: int, limit: int, min_posts: int, as_json: bool) -> None:
    """Channels and accounts that flagged posts were forwarded from, link to or mention, best first.

    Score = flagged posts + 0.5 x forwards + 0.5 x posts placed in a watched region + 1 when the name
    holds a watched town or district (zhest_taldykorgan). Sources already in
    config.toml and suggestions already added or dismissed are left out.
    """
    from monitor.core.places.gazetteer import Gazetteer
    from monitor.ingest.discovery import suggest as run

    found = run(app.sessions(), app.settings, days=days, limit=limit, min_posts=min_posts,
                places=Gazetteer.load(app.settings.places))
    for rank_no, c in enumerate(found, start=1):
        if as_json:
            click.echo(json.dumps({"rank": rank_no, "platform": c.platform, "handle": c.handle, "url": c.url,
                                   "score": c.score, "flagged_posts": c.flagged_posts, "forwarded": c.forwarded,
                                   "linked": c.linked, "mentioned": c.mentioned, "local_posts": c.local_posts,
                                   "place": c.place, "names": c.names, "post_ids": c.post_ids},
                                  ensure_ascii=False))
        else:
            click.echo(f"{rank_no:>3}  {c.score:>6.1f}  {c.platform:<9} {c.handle:<32} posts {c.flagged_posts}, "
                       f"forwarded {c.forwarded}, linked {c.linked}, mentioned {c.mentioned}, local {c.local_posts}"
                       + (f", place {c.place}" if c.place else ""))
    if not found:
        click.echo("no suggestions (no flagged posts point at unwatched channels or accounts)", err=True)


@sources.command("add")
@click.argument("platform", type=click.Choice(["telegram", "instagram", "tiktok"]))
@click.argument("handle")
@pass_app
def add(app: App, platform: str, handle: str) -> None:
    """Accept a suggestion: print its disabled [[sources]] entry for config.toml (audited)."""
    from monitor.ingest.discovery import config_entry, decide

    row = decide(app.sessions(), platform, handle, "added", actor=f"cli:{getpass.getuser()}")
    click.echo(config_entry(row.platform, row.handle), nl=False)


@sources.command("dismiss")
@click.argument("platform", type=click.Choice(["telegram", "instagram", "tiktok"]))
@click.argument("handle")
@pass_app
def dismiss(app: App, platform: str, handle: str) -> None:
    """Dismiss a suggestion so it is not suggested again (audited)."""
    from monitor.ingest.discovery import decide

    row = decide(app.sessions(), platform, handle, "dismissed", actor=f"cli:{getpass.getuser()}")
    click.echo(f"dismissed {row.platform} {row.handle}")


@sources.command("comments")
@click.option("--days", type=click.IntRange(1, 365), default=7, show_default=True,
              help="Flagged Telegram posts published in the last DAYS days.")
@click.option("--max-posts", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--limit", type=click.IntRange(1, 100), default=50, show_default=True, help="Comments per post.")
@click.option("--no-classify", is_flag=True, help="Store only; the scheduler classifies the backlog later.")
@pass_app
def comments(app: App, days: int, max_posts: int, limit: int, no_classify: bool) -> None:
    """Fetch the public comments under flagged Telegram channel posts (channels with a discussion group).

    Comments are stored as posts linked to their parent (extras.parent) and classified like any post.
    Exit status 1 when some posts could not be fetched (each is named on stderr).
    """
    import sys

    from monitor.ingest.comments import collect_comments
    from monitor.ingest.http import open_client
    from monitor.service.parts import build_pipeline

    sessions = app.sessions()
    pipeline = build_pipeline(app.settings, sessions, classify=not no_classify)
    http = open_client(app.settings.http)
    try:
        run = collect_comments(sessions, http, pipeline, days=days, max_posts=max_posts, limit=limit)
    finally:
        http.close()
    for error in run.errors:
        click.echo(error, err=True)
    click.echo(f"flagged posts {run.parents}, new comments {run.comments_new}, "
               f"without public comments {run.without_discussion}, errors {len(run.errors)}")
    sys.exit(1 if run.errors else 0)
