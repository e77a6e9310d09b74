"""Everything the item page and GET /api/items/{id} show about one queue item, read in one place."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from monitor.core import tables
from monitor.core.errors import NotFound
from monitor.core.tables import AuditEvent, Classification, Decision, Post, QueueItem, User

MAX_SNAPSHOT_SHOWN = 2_000_000


@dataclass(frozen=True, slots=True)
class ItemDetail:
    """A queue item with its posts, verdict, snapshots, decisions and audit history."""

    item: QueueItem
    post: Post
    classification: Classification | None
    posts: list[Post]
    snapshots: dict[int, tables.Snapshot]
    decisions: list[tuple[Decision, str]]
    audit: list[AuditEvent]
    claimed_by: str | None


def _latest_classification(session: Session, post_id: int, model_version: str | None) -> Classification | None:
    stmt = select(Classification).where(Classification.post_id == post_id)
    rows = list(session.exec(stmt.order_by(col(Classification.created_at).desc())))
    for row in rows:
        if row.model_version == model_version:
            return row
    return rows[0] if rows else None


def load_item(session: Session, item_id: int) -> ItemDetail:
    """The item and what belongs to it; NotFound for an unknown id."""
    item = session.get(QueueItem, item_id)
    if item is None:
        raise NotFound(f"queue item {item_id} does not exist")
    post = session.get(Post, item.post_id)
    if post is None:
        raise NotFound(f"the post of queue item {item_id} is gone")
    posts = list(session.exec(select(Post).where(Post.incident_id == item.incident_id)
                              .order_by(col(Post.published_at)).limit(200)))
    if not any(p.id == post.id for p in posts):
        posts.insert(0, post)
    snapshot_ids = {p.snapshot_id for p in posts if p.snapshot_id is not None}
    snapshots = {}
    if snapshot_ids:
        # The body stays unloaded here: only the snapshot page decompresses it.
        for snap in session.exec(select(tables.Snapshot).where(col(tables.Snapshot.id).in_(snapshot_ids))):
            if snap.id is not None:
                snapshots[snap.id] = snap
    decisions = list(session.exec(
        select(Decision, User.name).join(User, col(User.id) == Decision.user_id)
        .where(Decision.queue_item_id == item_id).order_by(col(Decision.decided_at))).all())
    audit = list(session.exec(select(AuditEvent).where(AuditEvent.entity_type == "queue_item",
                                                       AuditEvent.entity_id == item_id)
                              .order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc()).limit(200)))
    holder = session.get(User, item.claimed_by_id) if item.claimed_by_id else None
    return ItemDetail(item=item, post=post, classification=_latest_classification(session, post.id or 0,
                                                                                   item.model_version),
                      posts=posts, snapshots=snapshots, decisions=[(d, str(n)) for d, n in decisions],
                      audit=audit, claimed_by=holder.name if holder else None)


def snapshot_text(snapshot: tables.Snapshot) -> str:
    """The archived body as text (decoded leniently), cut at a size a browser can show."""
    if snapshot.body_z is None:
        return ""
    try:
        body = zlib.decompress(snapshot.body_z)
    except zlib.error:
        return "(the stored snapshot is corrupt)"
    text = body[:MAX_SNAPSHOT_SHOWN].decode("utf-8", errors="replace")
    return text + ("\n… (cut)" if len(body) > MAX_SNAPSHOT_SHOWN else "")


def item_json(i: QueueItem, claimed_by: str | None, detail: ItemDetail | None = None) -> dict[str, Any]:
    """The API shape of an item; with `detail`, also its posts, verdict and decisions."""
    out: dict[str, Any] = {
        "id": i.id, "incident_id": i.incident_id, "status": i.status, "severity": i.severity, "score": i.score,
        "category": i.category, "categories": i.categories, "model_version": i.model_version,
        "region": i.region, "district": i.district, "school": i.school, "platform": i.platform,
        "language": i.language, "has_video": i.has_video, "post_count": i.post_count,
        "claimed_by": claimed_by, "lease_expires_at": _iso(i.lease_expires_at),
        "created_at": _iso(i.created_at), "decided_at": _iso(i.decided_at),
        "category_corrected_by": i.category_corrected_by, "category_corrected_at": _iso(i.category_corrected_at),
    }
    if detail is not None:
        out["posts"] = [post_json(p) for p in detail.posts]
        c = detail.classification
        out["classification"] = None if c is None else {
            "model_version": c.model_version, "score": c.score, "flag": c.flag, "severity": c.severity,
            "categories": c.categories, "evidence": c.evidence}
        out["decisions"] = [{"status": d.status, "reason": d.reason, "note": d.note, "user": name,
                             "decided_at": _iso(d.decided_at)} for d, name in detail.decisions]
    return out


def post_json(p: Post) -> dict[str, Any]:
    """The API shape of a stored post."""
    return {"id": p.id, "platform": p.platform, "external_id": p.external_id, "url": p.url, "author": p.author,
            "text": p.text, "language": p.language, "published_at": _iso(p.published_at), "media": p.media,
            "snapshot_sha256": p.snapshot_sha256, "region": p.region, "district": p.district, "school": p.school}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
