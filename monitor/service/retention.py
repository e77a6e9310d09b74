"""Retention: purge what is no longer needed, on schedule (posts may concern minors; keep only what review needs).

- dismissed items (decided longer than `[retention] dismissed_days` ago): the item, its decisions
  and alerts, its incident and every post of it with their classifications;
- confirmed items after `confirmed_days` the same way;
- posts never flagged (no incident) collected longer than `unflagged_days` ago, with their classifications;
- raw snapshot bodies older than `snapshot_days`, except the evidence of confirmed and open items
  (the row with its sha256 stays while a post points at it); unreferenced snapshot rows go;
- job_run history after `job_run_days`, sent alerts after `sent_alert_days`;
- archived media (monitor.ingest.media.retention): rows with their posts (so a dismissed item's media go with
  it), files after `[media] retention_days` unless evidence of a kept item, unreferenced files swept.
Open items (new, in review, escalated) are never purged. Audit events are kept: the table is
append-only by database trigger; they hold ids and decisions, not post text.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from monitor.core.audit import record_audit
from monitor.core.config import Settings
from monitor.core.db import transaction
from monitor.core.tables import (
    Alert,
    Classification,
    Decision,
    GroupingCorrection,
    Incident,
    JobRun,
    Post,
    QueueItem,
    Snapshot,
    utcnow,
)
from monitor.core.vocab import EVIDENCE_STATUSES, Status

log = logging.getLogger(__name__)

BATCH = 500


@dataclass
class PurgeReport:
    """How many rows each rule removed (or, for snapshots, emptied)."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, key: str, n: int) -> None:
        """Count n more rows under key."""
        self.counts[key] = self.counts.get(key, 0) + n


def _ids(session: Session, stmt: Any) -> list[int]:
    return [int(x) for x in session.exec(stmt.limit(BATCH)).all()]


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _delete_posts(session: Session, post_ids: Sequence[int], report: PurgeReport) -> None:
    if not post_ids:
        return
    # A kept post may point at a purged one as its duplicate; the link goes, the kept post stays.
    session.execute(
        sa.update(Post).where(col(Post.duplicate_of_id).in_(post_ids)).values(duplicate_of_id=None)
    )
    report.add(
        "classification",
        _rowcount(
            session.execute(sa.delete(Classification).where(col(Classification.post_id).in_(post_ids)))
        ),
    )
    from monitor.ingest.media.retention import delete_post_media

    report.add("media_item", delete_post_media(session, post_ids))  # their files go in the media sweep
    # Grouping corrections about a purged post go with it (revision 0012_grouping).
    session.execute(sa.delete(GroupingCorrection).where(sa.or_(
        col(GroupingCorrection.post_a_id).in_(post_ids), col(GroupingCorrection.post_b_id).in_(post_ids))))
    report.add("post", _rowcount(session.execute(sa.delete(Post).where(col(Post.id).in_(post_ids)))))


def _purge_items(sessions: sessionmaker[Session], status: str, before: datetime, report: PurgeReport) -> None:
    """Remove items of one final status decided before a time, with their incidents and posts."""
    while True:
        with transaction(sessions) as session:
            rows = session.exec(
                select(col(QueueItem.id), col(QueueItem.incident_id))
                .where(col(QueueItem.status) == status, col(QueueItem.decided_at) < before)
                .order_by(col(QueueItem.id))
                .limit(BATCH)
            ).all()
            if not rows:
                return
            item_ids = [int(i or 0) for i, _ in rows]
            incident_ids = [int(i) for _, i in rows]
            # Items merged into these (revision 0012_grouping) go with them: their posts moved here.
            merged = session.exec(select(col(QueueItem.id), col(QueueItem.incident_id))
                                  .where(col(QueueItem.merged_into_id).in_(item_ids))).all()
            item_ids += [int(i or 0) for i, _ in merged]
            incident_ids += [int(i) for _, i in merged]
            report.add(
                "alert",
                _rowcount(session.execute(sa.delete(Alert).where(col(Alert.queue_item_id).in_(item_ids)))),
            )
            report.add(
                "decision",
                _rowcount(
                    session.execute(sa.delete(Decision).where(col(Decision.queue_item_id).in_(item_ids)))
                ),
            )
            session.execute(sa.update(GroupingCorrection).where(col(GroupingCorrection.queue_item_id).in_(item_ids))
                            .values(queue_item_id=None))
            report.add(
                f"queue_item_{status}",
                _rowcount(session.execute(sa.delete(QueueItem).where(col(QueueItem.id).in_(item_ids)))),
            )
            # A post still leading a kept item (moved there by an incident split) stays, unlinked.
            leading = select(col(QueueItem.post_id))
            session.execute(
                sa.update(Post)
                .where(col(Post.incident_id).in_(incident_ids), col(Post.id).in_(leading))
                .values(incident_id=None)
            )
            post_ids = [
                int(x or 0)
                for x in session.exec(
                    select(col(Post.id)).where(col(Post.incident_id).in_(incident_ids))
                ).all()
            ]
            _delete_posts(session, post_ids, report)
            session.execute(
                sa.update(Incident)
                .where(col(Incident.split_from_id).in_(incident_ids))
                .values(split_from_id=None)
            )
            report.add(
                "incident",
                _rowcount(session.execute(sa.delete(Incident).where(col(Incident.id).in_(incident_ids)))),
            )
            record_audit(
                session,
                "system",
                "retention.purge",
                "queue_item",
                None,
                status=status,
                items=item_ids,
                posts=len(post_ids),
            )


def _purge_unflagged(sessions: sessionmaker[Session], before: datetime, report: PurgeReport) -> None:
    while True:
        with transaction(sessions) as session:
            post_ids = _ids(
                session,
                select(col(Post.id))
                .where(
                    col(Post.incident_id).is_(None),
                    col(Post.collected_at) < before,
                    col(Post.id).not_in(select(col(QueueItem.post_id))),
                )
                .order_by(col(Post.id)),
            )
            if not post_ids:
                return
            _delete_posts(session, post_ids, report)


def _purge_snapshots(sessions: sessionmaker[Session], before: datetime, report: PurgeReport) -> None:
    with transaction(sessions) as session:
        used = select(col(Post.snapshot_id)).where(col(Post.snapshot_id).is_not(None))
        report.add(
            "snapshot_deleted",
            _rowcount(
                session.execute(
                    sa.delete(Snapshot).where(
                        col(Snapshot.fetched_at) < before, col(Snapshot.id).not_in(used)
                    )
                )
            ),
        )
        # Evidence of confirmed and still-open items is kept with them (until their own limit).
        kept = (
            select(col(Post.snapshot_id))
            .join(QueueItem, col(QueueItem.incident_id) == col(Post.incident_id))
            .where(col(Post.snapshot_id).is_not(None), col(QueueItem.status).in_(EVIDENCE_STATUSES))
        )
        report.add(
            "snapshot_body",
            _rowcount(
                session.execute(
                    sa.update(Snapshot)
                    .where(
                        col(Snapshot.fetched_at) < before,
                        col(Snapshot.body_z).is_not(None),
                        col(Snapshot.id).not_in(kept),
                    )
                    .values(body_z=None)
                )
            ),
        )


def purge(sessions: sessionmaker[Session], settings: Settings, now: datetime | None = None) -> PurgeReport:
    """Apply every retention rule once (the daily job and `monitor retention --purge`); returns counts."""
    now = now or utcnow()
    r = settings.retention
    report = PurgeReport()
    _purge_items(sessions, Status.DISMISSED, now - timedelta(days=r.dismissed_days), report)
    _purge_items(sessions, Status.CONFIRMED, now - timedelta(days=r.confirmed_days), report)
    _purge_unflagged(sessions, now - timedelta(days=r.unflagged_days), report)
    _purge_snapshots(sessions, now - timedelta(days=r.snapshot_days), report)
    with transaction(sessions) as session:
        report.add(
            "job_run",
            _rowcount(
                session.execute(
                    sa.delete(JobRun).where(col(JobRun.started_at) < now - timedelta(days=r.job_run_days))
                )
            ),
        )
        report.add(
            "alert",
            _rowcount(
                session.execute(
                    sa.delete(Alert).where(col(Alert.sent_at) < now - timedelta(days=r.sent_alert_days))
                )
            ),
        )
    from monitor.ingest.media.retention import purge_media

    for key, n in purge_media(sessions, settings, now).items():
        report.add(key, n)
    log.info("retention: %s", report.counts)
    return report
