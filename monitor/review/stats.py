"""Dashboard numbers, computed in the database: flags and confirmations over time, queue age, throughput,
precision from decisions, source health, digest runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from monitor.core import tables
from monitor.core.tables import Decision, QueueItem, User, utcnow
from monitor.core.vocab import FALSE_ALARM_REASONS, OPEN_STATUSES, POSITIVE_DECISIONS, Status


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar of a chart: label, value, and its length as a fraction of the largest."""

    label: str
    value: int
    second: int
    fraction: float
    second_fraction: float


@dataclass(frozen=True, slots=True)
class Precision:
    """Confirmed (or escalated) ÷ decided for one category (None: every category) under one model version."""

    category: str | None
    model_version: str
    decided: int
    confirmed: int

    @property
    def precision(self) -> float | None:
        """The ratio, None before any decision."""
        return self.confirmed / self.decided if self.decided else None


def _day(session: Session, column: Any, zone: ZoneInfo) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return sa.func.date(sa.func.timezone(zone.key, column))
    # SQLite stores naive UTC text: shift by the zone's current offset (Almaty has no DST).
    offset = utcnow().astimezone(zone).utcoffset() or timedelta()
    return sa.func.date(column, f"{int(offset.total_seconds())} seconds")


def _bars(rows: dict[str, tuple[int, int]]) -> list[Bar]:
    top = max((a for a, _ in rows.values()), default=0) or 1
    return [Bar(k, a, b, a / top, b / top) for k, (a, b) in rows.items()]


def daily(session: Session, zone: ZoneInfo, days: int = 30) -> list[Bar]:
    """Flags (new queue items) and confirmations per local day, oldest first, every day present."""
    today = utcnow().astimezone(zone).date()
    start = datetime.combine(today - timedelta(days=days - 1), datetime.min.time(), zone)
    flagged_day = _day(session, QueueItem.created_at, zone)
    # SQLite answers 'YYYY-MM-DD' text, PostgreSQL a date: str() makes both the ISO key.
    flags = {str(k): int(n) for k, n in session.exec(
        select(flagged_day, sa.func.count()).where(col(QueueItem.created_at) >= start).group_by(flagged_day))}
    decided_day = _day(session, QueueItem.decided_at, zone)
    confirmed = {str(k): int(n) for k, n in session.exec(select(decided_day, sa.func.count()).where(
        col(QueueItem.decided_at) >= start, col(QueueItem.status).in_(POSITIVE_DECISIONS)).group_by(decided_day))}
    rows: dict[str, tuple[int, int]] = {}
    for n in range(days):
        d: date = today - timedelta(days=days - 1 - n)
        key = d.isoformat()
        rows[key] = (flags.get(key, 0), confirmed.get(key, 0))
    return _bars(rows)


def by_column(session: Session, column: str, zone: ZoneInfo, days: int = 30, limit: int = 25) -> list[Bar]:
    """Flags and confirmed items per district or category over the last `days` days, most flagged first."""
    attr = getattr(QueueItem, column)
    start = utcnow() - timedelta(days=days)
    confirmed = sa.func.sum(sa.case((col(QueueItem.status).in_(POSITIVE_DECISIONS), 1), else_=0))
    rows = session.exec(select(attr, sa.func.count(), confirmed).where(col(QueueItem.created_at) >= start)
                        .group_by(attr).order_by(sa.func.count().desc()).limit(limit)).all()
    return _bars({str(k or "unknown"): (int(n), int(c or 0)) for k, n, c in rows})


@dataclass(frozen=True, slots=True)
class Heat:
    """Counts per label and week (oldest week first), with a shade 0-4 per cell."""

    weeks: list[str]
    rows: list[tuple[str, list[tuple[int, int, int]]]]  # label, [(flagged, confirmed, shade)]


def weekly(session: Session, column: str, zone: ZoneInfo, weeks: int = 8, limit: int = 12) -> Heat:
    """Flags and confirmations per week for the most flagged districts or categories."""
    attr = getattr(QueueItem, column)
    today = utcnow().astimezone(zone).date()
    first = today - timedelta(days=today.weekday() + 7 * (weeks - 1))
    start = datetime.combine(first, datetime.min.time(), zone)
    day = _day(session, QueueItem.created_at, zone)
    positive = sa.func.sum(sa.case((col(QueueItem.status).in_(POSITIVE_DECISIONS), 1), else_=0))
    cells: dict[str, list[list[int]]] = {}
    for key, d, n, c in session.exec(select(attr, day, sa.func.count(), positive)
                                     .where(col(QueueItem.created_at) >= start).group_by(attr, day)):
        index = (date.fromisoformat(str(d)) - first).days // 7
        if 0 <= index < weeks:
            cell = cells.setdefault(str(key or "unknown"), [[0, 0] for _ in range(weeks)])[index]
            cell[0] += int(n)
            cell[1] += int(c or 0)
    top = sorted(cells, key=lambda k: -sum(f for f, _ in cells[k]))[:limit]
    peak = max((f for k in top for f, _ in cells[k]), default=0) or 1
    rows = [(k, [(f, c, 0 if f == 0 else 1 + min(3, int(4 * f / (peak + 1)))) for f, c in cells[k]]) for k in top]
    labels = [(first + timedelta(days=7 * w)).strftime("%d.%m") for w in range(weeks)]
    return Heat(weeks=labels, rows=rows)


def queue_size(session: Session) -> dict[str, Any]:
    """Open items, how many are claimed, and the age of the oldest."""
    open_items = col(QueueItem.status).in_(OPEN_STATUSES)
    count, oldest = session.exec(select(sa.func.count(), sa.func.min(QueueItem.created_at)).where(open_items)).one()
    escalated = session.exec(select(sa.func.count()).where(QueueItem.status == Status.ESCALATED)).one()
    in_review = session.exec(select(sa.func.count()).where(QueueItem.status == "in_review")).one()
    if isinstance(oldest, datetime) and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=ZoneInfo("UTC"))
    age_h = (utcnow() - oldest).total_seconds() / 3600 if isinstance(oldest, datetime) else None
    return {"open": int(count), "in_review": int(in_review), "escalated": int(escalated), "oldest_age_h": age_h}


def throughput(session: Session, days: int = 7) -> list[tuple[str, int, int]]:
    """Decisions per moderator: (name, last 24 hours, last `days` days)."""
    now = utcnow()
    recent = sa.func.sum(sa.case((col(Decision.decided_at) >= now - timedelta(days=1), 1), else_=0))
    rows = session.exec(select(User.name, recent, sa.func.count()).join(User, col(User.id) == Decision.user_id)
                        .where(col(Decision.decided_at) >= now - timedelta(days=days))
                        .group_by(User.name).order_by(sa.func.count().desc())).all()
    return [(str(name), int(r or 0), int(n)) for name, r, n in rows]


def _precision_rows(session: Session, *group: Any) -> list[Any]:
    """(group columns..., decided, confirmed) from decisions, grouped by `group`.

    Only dismissals that say "not a real incident" count against precision: a duplicate or old news was a
    right flag, already seen."""
    positive = sa.func.sum(sa.case((col(Decision.status).in_(POSITIVE_DECISIONS), 1), else_=0))
    stmt = (sa.select(*group, sa.func.count(), positive)
            .join(QueueItem, col(QueueItem.id) == Decision.queue_item_id)
            .where(sa.or_(col(Decision.status).in_(POSITIVE_DECISIONS), col(Decision.reason).in_(FALSE_ALARM_REASONS)))
            .group_by(*group).order_by(*group))
    return list(session.execute(stmt).all())


def precision(session: Session) -> list[Precision]:
    """Precision from decisions per category and model version (escalated counts as confirmed)."""
    rows = _precision_rows(session, col(QueueItem.category), col(Decision.model_version))
    return [Precision(str(c or "unknown"), str(m or "unknown"), int(n), int(p or 0)) for c, m, n, p in rows]


def precision_by_model(session: Session) -> list[Precision]:
    """Precision from decisions per model version over every category: model versions side by side."""
    rows = _precision_rows(session, col(Decision.model_version))
    return [Precision(None, str(m or "unknown"), int(n), int(p or 0)) for m, n, p in rows]


def sources(session: Session) -> list[tables.Source]:
    """Every source with its health fields, failing ones first."""
    return list(session.exec(select(tables.Source).order_by(col(tables.Source.consecutive_failures).desc(),
                                                            col(tables.Source.name))))


def digest_runs(session: Session, limit: int = 10) -> list[tables.DigestRun]:
    """The latest digest runs."""
    return list(session.exec(select(tables.DigestRun).order_by(col(tables.DigestRun.started_at).desc())
                             .limit(limit)))
