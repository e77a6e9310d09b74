"""`monitor queue …`: look at the review queue from the shell."""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

import click
from sqlmodel import col, select

from monitor.cli import App, cli, pass_app
from monitor.core.errors import NotFound
from monitor.core.tables import AuditEvent, Post, QueueItem
from monitor.core.vocab import SEVERITIES, STATUSES, values
from monitor.review.queue import QueueFilter, count_items, list_items


@cli.group()
def queue() -> None:
    """The review queue."""


def _item_record(item: QueueItem) -> dict[str, Any]:
    return item.model_dump(mode="json")


@queue.command("list")
@click.option("--status", type=click.Choice(values(STATUSES)), multiple=True, help="Repeatable.")
@click.option("--severity", type=click.Choice(values(SEVERITIES)), help="At least this severity.")
@click.option("--category")
@click.option("--region")
@click.option("--district")
@click.option("--platform")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_app
def list_cmd(app: App, status: tuple[str, ...], severity: str | None, category: str | None,
             region: str | None, district: str | None, platform: str | None, limit: int, as_json: bool) -> None:
    """List queue items, most severe and oldest first."""
    flt = QueueFilter(status=status or None, severity=severity, category=category, region=region,
                      district=district, platform=platform)
    tz = ZoneInfo(app.settings.timezone)
    with app.sessions()() as session:
        items = list_items(session, flt, limit=limit)
        total = count_items(session, flt)
    for item in items:
        if as_json:
            click.echo(json.dumps(_item_record(item), ensure_ascii=False))
        else:
            where = " / ".join(p for p in (item.region, item.district, item.school) if p) or "-"
            created = item.created_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
            click.echo(f"#{item.id}\t{item.status}\t{item.severity}\t{item.score:.2f}\t{item.category or '-'}\t"
                       f"{where}\t{created}")
    if not as_json:
        click.echo(f"{len(items)} of {total} items", err=True)


@queue.command("show")
@click.argument("item_id", type=int)
@pass_app
def show(app: App, item_id: int) -> None:
    """Show one item with its posts and history."""
    tz = ZoneInfo(app.settings.timezone)
    with app.sessions()() as session:
        item = session.get(QueueItem, item_id)
        if item is None:
            raise NotFound(f"queue item {item_id} does not exist")
        posts = list(session.exec(select(Post).where(col(Post.incident_id) == item.incident_id).order_by(col(Post.id))))
        events = list(session.exec(select(AuditEvent).where(
            col(AuditEvent.entity_type) == "queue_item", col(AuditEvent.entity_id) == item_id).order_by(col(AuditEvent.id))))
    click.echo(f"item #{item.id}  status {item.status}  severity {item.severity}  score {item.score:.3f}  "
               f"model {item.model_version}")
    click.echo(f"place: {item.region or '-'} / {item.district or '-'} / {item.school or '-'}  "
               f"categories: {', '.join(item.categories) or '-'}")
    for post in posts:
        when = post.published_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        click.echo(f"\n[{post.platform}] {post.url}  {when}  lang {post.language}")
        click.echo(post.text)
    click.echo("\nhistory:")
    for event in events:
        click.echo(f"  {event.at.astimezone(tz):%Y-%m-%d %H:%M:%S}  {event.actor}  {event.action}  "
                   f"{json.dumps(event.detail, ensure_ascii=False)}")


@queue.command("rebuild")
@pass_app
def rebuild(app: App) -> None:
    """Enqueue stored posts that reach the current threshold (after lowering it; no re-scrape)."""
    from monitor.service.parts import build_pipeline

    click.echo(f"enqueued {build_pipeline(app.settings, app.sessions()).requeue()} items")


@queue.command("expire")
@pass_app
def expire(app: App) -> None:
    """Return items whose claim lease ran out to the queue."""
    from monitor.review.queue import expire_leases

    click.echo(f"released {expire_leases(app.sessions())} items")
