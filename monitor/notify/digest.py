"""The daily digest: collect (queries) -> render (pure, Jinja2, ru/kk/en) -> send (monitor.notify.mail).

The sending side (`monitor.notify.digest_runs.run_digests`, the scheduled job and the CLI's `--send`) sends one email per recipient list per local
day, recorded in `digest_run` so a restart or a second call that day sends nothing more.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlmodel import Session, col, select

from monitor.core.boundary import in_zone
from monitor.core.config import Settings
from monitor.core.tables import Post, QueueItem, Source
from monitor.core.vocab import PENDING_STATUSES, SEVERITIES

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class RecipientList:
    """Who gets one digest email, in which language."""

    name: str
    recipients: tuple[str, ...]
    language: str

    @property
    def key(self) -> str:
        """A stable key for the list: sha256 of its sorted, lower-cased addresses."""
        joined = "\n".join(sorted({r.strip().lower() for r in self.recipients}))
        return hashlib.sha256(joined.encode()).hexdigest()


def recipient_lists(settings: Settings) -> list[RecipientList]:
    """`[digest] recipients` (as list "default") and every `[[digest.lists]]`; empty lists left out."""
    lists = []
    if settings.digest.recipients:
        lists.append(RecipientList("default", tuple(settings.digest.recipients), settings.digest.language))
    lists.extend(RecipientList(x.name, tuple(x.recipients), x.language) for x in settings.digest.lists)
    return lists


def pseudonym(author: str | None, key: bytes) -> str | None:
    """A keyed hash of an author handle, e.g. 'author-3f2a9c': stable for one key, not reversible."""
    if not author:
        return None
    digest = hmac.new(key, author.strip().lower().encode(), hashlib.sha256).hexdigest()
    return f"author-{digest[:6]}"


def pseudonym_key(settings: Settings) -> bytes:
    """`[digest] pseudonym_key` when set, else a random key (pseudonyms then differ between digests)."""
    if settings.digest.pseudonym_key is not None:
        return settings.digest.pseudonym_key.get_secret_value().encode()
    return secrets.token_bytes(32)


@dataclass(frozen=True)
class ItemLine:
    """One queue item as the digest shows it (no post text: the link leads to the evidence)."""

    item_id: int
    link: str
    region: str | None
    district: str | None
    school: str | None
    category: str | None
    severity: str
    platform: str | None
    author: str | None
    post_count: int
    at: datetime


@dataclass(frozen=True)
class DistrictGroup:
    """Confirmed items of one district."""

    district: str | None
    items: tuple[ItemLine, ...]


@dataclass(frozen=True)
class RegionGroup:
    """Confirmed items of one region, by district."""

    region: str | None
    districts: tuple[DistrictGroup, ...]


@dataclass(frozen=True)
class FailingSource:
    """A source whose last runs failed."""

    name: str
    platform: str
    failures: int
    last_error: str | None
    last_error_at: datetime | None


@dataclass(frozen=True)
class DigestData:
    """Everything one digest shows; built by `collect`, rendered by `render`."""

    period_start_at: datetime
    period_end_at: datetime
    confirmed: tuple[RegionGroup, ...]
    confirmed_count: int
    pending: dict[str, dict[str | None, int]]
    pending_count: int
    oldest: tuple[ItemLine, ...]
    failing_sources: tuple[FailingSource, ...]
    extra: dict[str, Any] = field(default_factory=dict)


def item_link(base_url: str, item_id: int) -> str:
    """The web app's page for a queue item."""
    return f"{base_url.rstrip('/')}/items/{item_id}"


def _line(item: QueueItem, author: str | None, base_url: str, key: bytes, at: datetime) -> ItemLine:
    assert item.id is not None
    return ItemLine(
        item_id=item.id,
        link=item_link(base_url, item.id),
        region=item.region,
        district=item.district,
        school=item.school,
        category=item.category,
        severity=item.severity,
        platform=item.platform,
        author=pseudonym(author, key),
        post_count=item.post_count,
        at=at,
    )


def _group(lines: Sequence[ItemLine]) -> tuple[RegionGroup, ...]:
    regions: dict[str | None, dict[str | None, list[ItemLine]]] = {}
    for line in lines:
        regions.setdefault(line.region, {}).setdefault(line.district, []).append(line)

    def order(name: str | None) -> tuple[bool, str]:
        return (name is None, name or "")

    return tuple(
        RegionGroup(
            region,
            tuple(
                DistrictGroup(d, tuple(items)) for d, items in sorted(ds.items(), key=lambda x: order(x[0]))
            ),
        )
        for region, ds in sorted(regions.items(), key=lambda x: order(x[0]))
    )


def collect(
    session: Session, settings: Settings, period_start_at: datetime, period_end_at: datetime, key: bytes
) -> DigestData:
    """Query the digest's content for a period (confirmed in [start, end); pending and sources as of now)."""
    base_url = settings.web.base_url
    limit = settings.digest.max_items
    confirmed_rows = session.exec(
        select(QueueItem, col(Post.author))
        .join(Post, col(Post.id) == col(QueueItem.post_id))
        .where(col(QueueItem.status) == "confirmed")
        .where(sa.or_(
            sa.and_(col(QueueItem.decided_at) >= period_start_at, col(QueueItem.decided_at) < period_end_at),
            # A confirmed incident with new posts since the decision is news again (issue 12).
            sa.and_(col(QueueItem.updates_since_decision) > 0, col(QueueItem.last_update_at) >= period_start_at,
                    col(QueueItem.last_update_at) < period_end_at),
        ))
        .order_by(col(QueueItem.severity_rank).desc(), col(QueueItem.decided_at))
    ).all()
    confirmed = [
        _line(item, author, base_url, key, item.decided_at or item.updated_at)
        for item, author in confirmed_rows
    ]
    updated = sum(1 for item, _ in confirmed_rows if item.updates_since_decision)

    pending: dict[str, dict[str | None, int]] = {}
    counts = session.exec(
        select(col(QueueItem.severity), col(QueueItem.district), sa.func.count())
        .where(col(QueueItem.status).in_(PENDING_STATUSES))
        .group_by(col(QueueItem.severity), col(QueueItem.district))
    ).all()
    for severity, district, count in counts:
        pending.setdefault(severity, {})[district] = int(count)
    ordered: dict[str, dict[str | None, int]] = {
        s: dict(sorted(pending[s].items(), key=lambda x: (-x[1], x[0] or "")))
        for s in reversed(SEVERITIES)
        if s in pending
    }

    oldest_rows = session.exec(
        select(QueueItem, col(Post.author))
        .join(Post, col(Post.id) == col(QueueItem.post_id))
        .where(col(QueueItem.status).in_(PENDING_STATUSES))
        .order_by(col(QueueItem.created_at), col(QueueItem.id))
        .limit(min(limit, 10))
    ).all()
    oldest = [_line(item, author, base_url, key, item.created_at) for item, author in oldest_rows]

    sources = session.exec(
        select(Source)
        .where(col(Source.consecutive_failures) > 0)
        .order_by(col(Source.consecutive_failures).desc(), col(Source.name))
    ).all()
    failing = tuple(
        FailingSource(
            s.name, s.platform, s.consecutive_failures, (s.last_error or "")[:200] or None, s.last_error_at
        )
        for s in sources
    )
    return DigestData(
        period_start_at=period_start_at,
        period_end_at=period_end_at,
        confirmed=_group(confirmed[:limit]),
        confirmed_count=len(confirmed),
        pending=ordered,
        pending_count=sum(sum(d.values()) for d in ordered.values()),
        oldest=tuple(oldest),
        failing_sources=failing,
        extra={"confirmed_shown": min(len(confirmed), limit), "updated_since_decision": updated},
    )


@dataclass(frozen=True)
class Rendered:
    """A rendered email: subject, plain text and HTML."""

    subject: str
    text: str
    html: str


@lru_cache(maxsize=1)
def _strings() -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = json.loads((TEMPLATES / "digest" / "strings.json").read_text("utf-8"))
    return data


def strings(language: str) -> dict[str, Any]:
    """The UI strings of one language (ru, kk, en)."""
    return _strings()[language]


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["local"] = lambda value, tz, fmt="%d.%m.%Y %H:%M": in_zone(value, ZoneInfo(tz)).strftime(
        fmt
    )
    return env


def render_template(name: str, **context: Any) -> str:
    """Render one template under monitor/notify/templates."""
    return _environment().get_template(name).render(**context)


def render(data: DigestData, language: str, timezone: str, now: datetime) -> Rendered:
    """The digest as subject, text and HTML (pure: the same data gives the same email)."""
    t = strings(language)
    local_now = now.astimezone(ZoneInfo(timezone))
    subject = t["subject"].format(
        date=local_now.strftime("%d.%m.%Y"), confirmed=data.confirmed_count, pending=data.pending_count
    )
    context = {
        "d": data,
        "t": t,
        "tz": timezone,
        "now": now,
        "subject": subject,
        "hours": lambda at: max(0, int((now - at).total_seconds() // 3600)),
    }
    return Rendered(
        subject=subject,
        text=render_template("digest/digest.txt.j2", **context),
        html=render_template("digest/digest.html.j2", **context),
    )


def default_period_start(now: datetime) -> datetime:
    """Where the first digest of a list starts: 24 hours back."""
    return now - timedelta(days=1)
