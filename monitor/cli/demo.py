"""`monitor demo`: load (or remove) the synthetic demo dataset for a first look at the web app."""

from __future__ import annotations

import click

from monitor.cli import App, cli, pass_app


@cli.command()
@click.option("--remove", is_flag=True, help="Delete the demo posts, their queue items and the demo user.")
@pass_app
def demo(app: App, remove: bool) -> None:
    """Load a clearly marked synthetic demo dataset (ru/kk/en) through the real pipeline.

    Creates a moderator named `demo` and prints its password once. Demo posts have external ids
    starting with `demo-` and show a DEMO badge; `monitor demo --remove` deletes them again.
    """
    from monitor.service.demo import load_demo, remove_demo

    if remove:
        removed = remove_demo(app.sessions())
        click.echo(f"removed {removed} demo posts and their queue items; the demo user is gone")
        return
    from monitor.service.parts import build_pipeline

    sessions = app.sessions()
    result = load_demo(build_pipeline(app.settings, sessions), sessions)
    r = result.ingest
    click.echo(f"demo posts: new {r.new}, updated {r.updated}, unchanged {r.unchanged}, "
               f"enqueued {r.enqueued}; demo decisions {result.decided}")
    if result.password:
        click.echo(f"sign in at {app.settings.web.base_url}/login as {result.user} with password: {result.password}")
    else:
        click.echo(f"user {result.user} already exists (its password is unchanged)")
