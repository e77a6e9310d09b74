"""The queue page's query: filters on queue_item's own columns, a stable sort, limit/offset, cheap counts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from monitor.core import tables
from monitor.core.errors import InputError
from monitor.core.tables import QueueItem
from monitor.core.vocab import CATEGORIES, PENDING_STATUSES, SEVERITIES, STATUSES
from monitor.review.queue import ItemFields, QueueFilter

# "updates": decided items with posts that joined after the decision (nothing hides in a decided item).
STATUS_CHOICES: tuple[str, ...] = ("open", "updates", *STATUSES, "all")
SORTS = {
    "severity": (col(QueueItem.severity_rank).desc(), col(QueueItem.created_at).desc(), col(QueueItem.id).desc()),
    "newest": (col(QueueItem.created_at).desc(), col(QueueItem.id).desc()),
    "oldest": (col(QueueItem.created_at).asc(), col(QueueItem.id).asc()),
    "score": (col(QueueItem.score).desc(), col(QueueItem.id).desc()),
}
TEXT_FILTERS = ("region", "district", "school", "platform", "language", "category")


@dataclass(frozen=True)
class QueueQuery(ItemFields):
    """What the moderator asked the queue page for (all optional, parsed from the query string)."""

    status: str = "open"
    date_from: date | None = None
    date_to: date | None = None
    sort: str = "severity"
    page: int = 1
    q: str | None = None
    assignee: int | None = None

    def to_filter(self, zone: ZoneInfo, *, with_status: bool = True) -> QueueFilter:
        """The core queue filter for this query: the page, its counts and claim next all use it."""
        status: tuple[str, ...] | None = None
        updates = with_status and self.status == "updates"
        if with_status and self.status not in ("all", "updates"):
            # "open" is everything that still needs someone: escalated items stay in the default view.
            status = PENDING_STATUSES if self.status == "open" else (self.status,)
        # Date range in local days of publication: the ministry thinks in Almaty dates, and asks
        # "what was posted last week", not "what did our collector see last week".
        since = datetime.combine(self.date_from, time(), zone) if self.date_from else None
        until = datetime.combine(self.date_to + timedelta(days=1), time(), zone) if self.date_to else None
        return QueueFilter(status=status, published_since=since, published_until=until, updates=updates,
                           search=self.q or None, assigned_to_id=self.assignee, **self.item_fields())

    def params(self, **changes: Any) -> dict[str, str]:
        """Query-string parameters for this query (with changes), without the defaults."""
        q = replace(self, **changes)
        out: dict[str, str] = {}
        for key in ("q", "assignee", "status", "severity", *TEXT_FILTERS, "date_from", "date_to", "has_video", "sort", "page"):
            value = getattr(q, key)
            default = getattr(QueueQuery, key, None)
            if value is None or value == default:
                continue
            out[key] = ("yes" if value else "no") if isinstance(value, bool) else str(value)
        return out


def _date(value: str, name: str) -> date:
    # The form shows dd.mm.yyyy (how the ministry writes dates); links and the API may use ISO.
    try:
        if "." in value:
            return datetime.strptime(value, "%d.%m.%Y").date()
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{name} must be a date like 31.01.2026") from None


def parse_query(args: Mapping[str, str]) -> QueueQuery:
    """A QueueQuery from query-string arguments; InputError naming a bad one."""
    get = {k: v.strip() for k, v in args.items() if isinstance(v, str) and v.strip()}
    status = get.get("status", "open")
    if status not in STATUS_CHOICES:
        raise InputError(f"status must be one of {', '.join(STATUS_CHOICES)}")
    severity = get.get("severity")
    if severity is not None and severity not in SEVERITIES:
        raise InputError(f"severity must be one of {', '.join(SEVERITIES)}")
    category = get.get("category")
    if category is not None and category not in CATEGORIES:
        raise InputError(f"category must be one of {', '.join(CATEGORIES)}")
    sort = get.get("sort", "severity")
    if sort not in SORTS:
        raise InputError(f"sort must be one of {', '.join(SORTS)}")
    has_video = {"yes": True, "no": False, None: None}.get(get.get("has_video"), "bad")
    if has_video == "bad":
        raise InputError("has_video must be yes or no")
    try:
        page = int(get.get("page", "1"))
    except ValueError:
        raise InputError("page must be a number") from None
    if not 1 <= page <= 100_000:
        raise InputError("page must be between 1 and 100000")
    date_from = _date(get["date_from"], "date_from") if "date_from" in get else None
    date_to = _date(get["date_to"], "date_to") if "date_to" in get else None
    if date_from and date_to and date_from > date_to:
        raise InputError("the date range is reversed: 'from' is after 'to'")
    try:
        assignee = int(get["assignee"]) if "assignee" in get else None
    except ValueError:
        raise InputError("assignee must be a user id") from None
    search = get.get("q")
    if search is not None and len(search) > 200:
        raise InputError("search must be at most 200 characters")
    return QueueQuery(
        q=search,
        assignee=assignee,
        status=status,
        severity=severity,
        category=category,
        region=get.get("region"),
        district=get.get("district"),
        school=get.get("school"),
        platform=get.get("platform"),
        language=get.get("language"),
        date_from=date_from,
        date_to=date_to,
        has_video=has_video if isinstance(has_video, bool) else None,
        sort=sort,
        page=page,
    )


@dataclass(frozen=True, slots=True)
class QueueRow:
    """One row of the queue page: the item plus a short preview of its main post."""

    item: QueueItem
    preview: str
    author: str | None
    claimed_by: str | None
    is_demo: bool = False
    published_at: datetime | None = None
    assigned_to: str | None = None


@dataclass(frozen=True, slots=True)
class QueuePage:
    """A page of the queue with its counts."""

    rows: list[QueueRow]
    total: int
    status_counts: dict[str, int]
    page: int
    pages: int


def queue_page(session: Session, q: QueueQuery, page_size: int, zone: ZoneInfo) -> QueuePage:
    """One page of queue items matching the query, newest severity first by default."""
    stmt = q.to_filter(zone).apply(select(QueueItem)).order_by(*SORTS[q.sort]).limit(page_size)
    stmt = stmt.offset((q.page - 1) * page_size)
    items = list(session.exec(stmt))
    # Counts per status under the other filters: one grouped index scan instead of one count each.
    counted = session.exec(
        q.to_filter(zone, with_status=False).apply(select(QueueItem.status, sa.func.count()))
        .group_by(QueueItem.status)
    ).all()
    status_counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
    status_counts.update({status: int(n) for status, n in counted})
    status_counts["open"] = sum(status_counts[s] for s in PENDING_STATUSES)
    status_counts["all"] = sum(status_counts[s] for s in STATUSES)
    status_counts["updates"] = int(session.exec(
        replace(q.to_filter(zone, with_status=False), updates=True).apply(select(sa.func.count()).select_from(QueueItem))
    ).one())
    total = status_counts[q.status]
    posts: dict[int, tables.Post] = {}
    users: dict[int, str] = {}
    if items:
        post_ids = {i.post_id for i in items}
        posts = {p.id: p for p in session.exec(select(tables.Post).where(col(tables.Post.id).in_(post_ids)))
                 if p.id is not None}
        user_ids = {u for i in items for u in (i.claimed_by_id, i.assigned_to_id) if u is not None}
        if user_ids:
            users = dict(session.exec(select(tables.User.id, tables.User.name)
                                      .where(col(tables.User.id).in_(user_ids))).all())  # type: ignore[arg-type]
    rows = []
    for item in items:
        post = posts.get(item.post_id)
        text = post.text if post else ""
        rows.append(QueueRow(item=item, preview=text[:280] + ("…" if len(text) > 280 else ""),
                             author=post.author if post else None,
                             claimed_by=users.get(item.claimed_by_id) if item.claimed_by_id else None,
                             is_demo=bool(post and post.external_id.startswith("demo-")),
                             published_at=post.published_at if post else None,
                             assigned_to=users.get(item.assigned_to_id) if item.assigned_to_id else None))
    pages = max(1, -(-total // page_size))
    return QueuePage(rows=rows, total=total, status_counts=status_counts, page=q.page, pages=pages)


def distinct_values(session: Session, column: str, limit: int = 500) -> list[str]:
    """The distinct non-empty values of a queue_item filter column (for the filter drop-downs)."""
    if column not in TEXT_FILTERS:
        raise ValueError(column)
    attr = getattr(QueueItem, column)
    rows = session.exec(select(attr).where(attr.is_not(None)).distinct().order_by(attr).limit(limit)).all()
    return [str(r) for r in rows if r]
