"""The daily digest: collect (queries) -> render (pure, Jinja2, ru/kk/en) -> send (monitor.notify.mail).

The sending side (`monitor.notify.digest_runs.run_digests`, the scheduled job and the CLI's `--send`) sends one email per recipient list per local
day, recorded in `digest_run` so a restart or a second call that day sends nothing more.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from monitor.core.config import Settings
from monitor.core.excerpt import Segment, excerpt
from monitor.core.i18n import N_, translator
from monitor.core.tables import Classification, Post, QueueItem, Source
from monitor.core.vocab import FINAL_STATUSES, OPEN_STATUSES, PENDING_STATUSES, SEVERITIES, Severity, Status
from monitor.notify.render import item_link, render_template, where


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
class IncidentLine:
    """One incident as the digest shows it: what happened (an excerpt of the lead post, evidence
    marked), where, when it was published, how many posts and sources, its status and a link."""

    item_id: int
    link: str
    severity: str
    status: str
    category: str | None
    region: str | None
    district: str | None
    town: str | None
    school: str | None
    excerpt: tuple[Segment, ...]
    published_at: datetime
    flagged_at: datetime
    decided_at: datetime | None
    post_count: int
    source_count: int
    new_posts: int = 0
    score: float | None = None  # the classifier's calibrated score, shown as a confidence band while undecided


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
    urgent: tuple[IncidentLine, ...]
    confirmed: tuple[IncidentLine, ...]
    confirmed_count: int
    updates: tuple[IncidentLine, ...]
    pending: dict[str, dict[str | None, int]]
    pending_count: int
    oldest: tuple[IncidentLine, ...]
    failing_sources: tuple[FailingSource, ...]
    extra: dict[str, Any] = field(default_factory=dict)


def _lines(session: Session, items: Sequence[QueueItem], base_url: str,
           new_posts: dict[int, int] | None = None) -> list[IncidentLine]:
    """IncidentLines for queue items: lead post, its evidence, posts and sources per incident (3 queries)."""
    if not items:
        return []
    posts = {p.id: p for p in session.exec(select(Post).where(col(Post.id).in_({i.post_id for i in items})))}
    # The verdict of the item's own model version, else the newest one: one query for all lead posts.
    versions = {i.post_id: i.model_version for i in items}
    verdicts: dict[int, Classification] = {}
    for c in session.exec(select(Classification).where(col(Classification.post_id).in_(set(posts)))
                          .order_by(col(Classification.created_at), col(Classification.id))):
        kept = verdicts.get(c.post_id)
        if kept is None or kept.model_version != versions.get(c.post_id) or c.model_version == versions.get(c.post_id):
            verdicts[c.post_id] = c
    counts = _counts(session, {i.incident_id for i in items})
    out = []
    for item in items:
        assert item.id is not None
        post = posts.get(item.post_id)
        verdict = verdicts.get(item.post_id)
        n, sources = counts.get(item.incident_id, (item.post_count, 1))
        out.append(IncidentLine(
            item_id=item.id, link=item_link(base_url, item.id), severity=item.severity, status=item.status,
            category=item.category, region=item.region, district=item.district,
            town=post.town if post else None, school=item.school,
            excerpt=tuple(excerpt(post.text, verdict.evidence if verdict else None)) if post else (),
            published_at=post.published_at if post else item.created_at, flagged_at=item.created_at,
            decided_at=item.decided_at, post_count=max(n, item.post_count), source_count=sources,
            new_posts=(new_posts or {}).get(item.id, 0), score=item.score,
        ))
    return out


def _counts(session: Session, incident_ids: set[int]) -> dict[int, tuple[int, int]]:
    """Posts and distinct sources (a configured source, else the platform) per incident."""
    rows = session.exec(
        select(col(Post.incident_id), col(Post.source_id), col(Post.platform))
        .where(col(Post.incident_id).in_(incident_ids))
    ).all()
    posts: dict[int, int] = {}
    sources: dict[int, set[str]] = {}
    for incident, source_id, platform in rows:
        if incident is None:
            continue
        posts[incident] = posts.get(incident, 0) + 1
        sources.setdefault(incident, set()).add(f"s{source_id}" if source_id is not None else f"p{platform}")
    return {i: (posts[i], len(sources[i])) for i in posts}


def collect(
    session: Session, settings: Settings, period_start_at: datetime, period_end_at: datetime, key: bytes
) -> DigestData:
    """Query the digest's content for a period (confirmed and updates in [start, end); the rest as of now).

    `key` is the pseudonym key: kept in the signature for callers, authors are no longer shown."""
    base_url = settings.web.base_url
    limit = settings.digest.max_items
    # Critical and escalated first: what still needs someone, most severe first.
    urgent = session.exec(
        select(QueueItem)
        .where(sa.or_(col(QueueItem.status) == Status.ESCALATED,
                      sa.and_(col(QueueItem.status).in_(OPEN_STATUSES), col(QueueItem.severity) == Severity.CRITICAL)))
        .order_by(col(QueueItem.status) != Status.ESCALATED, col(QueueItem.severity_rank).desc(),
                  col(QueueItem.created_at))
        .limit(limit)
    ).all()
    confirmed_items = session.exec(
        select(QueueItem)
        .where(col(QueueItem.status) == Status.CONFIRMED)
        .where(col(QueueItem.decided_at) >= period_start_at)
        .where(col(QueueItem.decided_at) < period_end_at)
        .order_by(col(QueueItem.severity_rank).desc(), col(QueueItem.decided_at))
    ).all()
    # New posts collected in the period on incidents decided before those posts came (issue 12: nothing hides).
    new_counts: dict[int, int] = {int(i): int(n) for i, n in session.exec(
        select(col(QueueItem.id), sa.func.count())
        .join(Post, col(Post.incident_id) == col(QueueItem.incident_id))
        .where(col(QueueItem.status).in_((*FINAL_STATUSES, Status.ESCALATED)))
        .where(col(QueueItem.decided_at).is_not(None), col(Post.collected_at) > col(QueueItem.decided_at))
        .where(col(Post.collected_at) >= period_start_at, col(Post.collected_at) < period_end_at)
        .where(col(Post.id) != col(QueueItem.post_id))
        .group_by(col(QueueItem.id))
    ).all() if i is not None}
    # An escalated incident with news is already at the top (with its count of new posts): not twice.
    shown_on_top = {i.id for i in urgent}
    updated = session.exec(
        select(QueueItem).where(col(QueueItem.id).in_(set(new_counts) - shown_on_top))
        .order_by(col(QueueItem.severity_rank).desc(), col(QueueItem.id))
        .limit(limit)
    ).all() if set(new_counts) - shown_on_top else []

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
    # The oldest nobody has looked at yet, critical first, then by age.
    oldest = session.exec(
        select(QueueItem)
        .where(col(QueueItem.status).in_(OPEN_STATUSES))
        .order_by(col(QueueItem.severity) != Severity.CRITICAL, col(QueueItem.created_at), col(QueueItem.id))
        .limit(min(limit, 10))
    ).all()

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
        urgent=tuple(_lines(session, urgent, base_url, new_counts)),
        confirmed=tuple(_lines(session, confirmed_items[:limit], base_url)),
        confirmed_count=len(confirmed_items),
        updates=tuple(_lines(session, updated, base_url, new_counts)),
        pending=ordered,
        pending_count=sum(sum(d.values()) for d in ordered.values()),
        oldest=tuple(_lines(session, oldest, base_url)),
        failing_sources=failing,
        extra={"confirmed_shown": min(len(confirmed_items), limit)},
    )


@dataclass(frozen=True)
class Rendered:
    """A rendered email: subject, plain text and HTML."""

    subject: str
    text: str
    html: str


SUBJECT = N_("school-monitor digest for %(date)s: %(confirmed)s confirmed, %(pending)s pending review")


def render(data: DigestData, language: str, timezone: str, now: datetime) -> Rendered:
    """The digest as subject, text and HTML (pure: the same data gives the same email)."""
    t = translator(language, timezone)
    subject = t.gettext(SUBJECT) % {
        "date": t.dt(now, "%d.%m.%Y"), "confirmed": data.confirmed_count, "pending": data.pending_count
    }
    context = {
        "d": data,
        "tz": timezone,
        "now": now,
        "subject": subject,
        "hours": lambda at: max(0, int((now - at).total_seconds() // 3600)),
        "where": lambda line: where(t, line.school, line.town, line.district, line.region),
        # Plain text marks evidence words with *asterisks*.
        "plain": lambda segments: "".join(f"*{seg.text}*" if seg.mark else seg.text for seg in segments),
    }
    return Rendered(
        subject=subject,
        text=render_template("digest/digest.txt.j2", t, **context),
        html=render_template("digest/digest.html.j2", t, **context),
    )


def default_period_start(now: datetime) -> datetime:
    """Where the first digest of a list starts: 24 hours back."""
    return now - timedelta(days=1)
