"""`monitor queue …`: look at the review queue from the shell."""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

import click
from sqlmodel import col, select

from monitor.cli import App, cli, pass_app
from monitor.core.errors import NotFound
from monitor.core.tables import AuditEvent, Post, QueueItem, User
from monitor.core.vocab import CATEGORIES, SEVERITIES, STATUSES, values
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
@click.option("--updates", is_flag=True, help="Only decided items with posts that joined after the decision.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_app
def list_cmd(app: App, status: tuple[str, ...], severity: str | None, category: str | None,
             region: str | None, district: str | None, platform: str | None, updates: bool, limit: int,
             as_json: bool) -> None:
    """List queue items, most severe and oldest first."""
    flt = QueueFilter(status=status or None, severity=severity, category=category, region=region,
                      district=district, platform=platform, updates=updates)
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
            new_posts = f"\t+{item.updates_since_decision} new since decision" if item.updates_since_decision else ""
            click.echo(f"#{item.id}\t{item.status}\t{item.severity}\t{item.score:.2f}\t{item.category or '-'}\t"
                       f"{where}\t{created}{new_posts}")
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
    if item.category_corrected_by:
        at = item.category_corrected_at
        when = f" at {at.astimezone(tz):%Y-%m-%d %H:%M}" if at else ""
        click.echo(f"categories corrected by {item.category_corrected_by}{when}")
    if item.updates_since_decision:
        click.echo(f"{item.updates_since_decision} new post(s) since decision")
    if item.merged_into_id:
        click.echo(f"merged into item #{item.merged_into_id}")
    for post in posts:
        when = post.published_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        click.echo(f"\n[{post.platform}] {post.url}  {when}  lang {post.language}")
        if post.join_detail:
            click.echo(f"joined because {post.join_detail}")
        click.echo(post.text)
    click.echo("\nhistory:")
    for event in events:
        click.echo(f"  {event.at.astimezone(tz):%Y-%m-%d %H:%M:%S}  {event.actor}  {event.action}  "
                   f"{json.dumps(event.detail, ensure_ascii=False)}")


@queue.command("rebuild")
@pass_app
def rebuild(app: App) -> None:
    """Give every flagged post a live item (after lowering the threshold, demo removal, a crash); no re-scrape."""
    from monitor.service.parts import build_pipeline

    click.echo(f"enqueued {build_pipeline(app.settings, app.sessions()).requeue()} items")


def _moderator(app: App, name: str) -> User:
    with app.sessions()() as session:
        user = session.exec(select(User).where(User.name == name)).first()
    if user is None or not user.is_active:
        raise NotFound(f"no active user {name!r}")
    return user


@queue.command("merge")
@click.argument("item_id", type=int)
@click.argument("other_ids", type=int, nargs=-1, required=True)
@click.option("--as", "as_user", required=True, help="The moderator or admin doing it (audited).")
@pass_app
def merge(app: App, item_id: int, other_ids: tuple[int, ...], as_user: str) -> None:
    """Merge the other items' posts into ITEM_ID (one event reported several times); audited."""
    from monitor.ingest.incidents.corrections import merge_items

    target = merge_items(app.sessions(), _moderator(app, as_user), item_id, list(other_ids))
    click.echo(f"item {target.id} now has {target.post_count} posts; merged {', '.join(map(str, other_ids))}")


@queue.command("reopen")
@click.argument("item_id", type=int)
@click.option("--as", "as_user", required=True, help="The moderator or admin doing it (audited).")
@click.option("--note", default=None)
@pass_app
def reopen_cmd(app: App, item_id: int, as_user: str, note: str | None) -> None:
    """Put a decided item back in the open queue as new; audited."""
    from monitor.review.queue import reopen

    item = reopen(app.sessions(), _moderator(app, as_user), item_id, note=note)
    click.echo(f"item {item.id} reopened ({item.status})")


@queue.command("set-category")
@click.argument("item_id", type=int)
@click.argument("categories", type=click.Choice(values(CATEGORIES)), nargs=-1, required=True)
@click.option("--as", "as_user", required=True, help="The moderator or admin doing it (audited).")
@pass_app
def set_category(app: App, item_id: int, categories: tuple[str, ...], as_user: str) -> None:
    """Correct the categories that apply to ITEM_ID; its category becomes the most specific (audited, kept)."""
    from monitor.review.categories import correct_categories

    item = correct_categories(app.sessions(), _moderator(app, as_user), item_id, categories)
    click.echo(f"item {item.id}: category {item.category} (categories: {', '.join(item.categories)}), "
               f"corrected by {item.category_corrected_by}")


@queue.command("expire")
@pass_app
def expire(app: App) -> None:
    """Return items whose claim lease ran out to the queue."""
    from monitor.review.claims import expire_leases

    click.echo(f"released {expire_leases(app.sessions())} items")
