"""What the reviewer sees of an item's media: archived files, keyframes, matches; and the checks on serving them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from monitor.core.errors import NotFound
from monitor.core.tables import MediaFrame, MediaItem, MediaMatch, Post, QueueItem


@dataclass(frozen=True, slots=True)
class FrameView:
    """One keyframe of the strip."""

    idx: int
    t_s: float


@dataclass(frozen=True, slots=True)
class MediaView:
    """One media item of a post with its keyframes and why it joined (or what it matched)."""

    item: MediaItem
    frames: list[FrameView]
    joined_because: list[str]
    matched_posts: list[int]


def item_media(session: Session, post_ids: Iterable[int]) -> dict[int, list[MediaView]]:
    """The media of some posts by post id (each in its post's media order)."""
    ids = [p for p in post_ids if p]
    out: dict[int, list[MediaView]] = {p: [] for p in ids}
    if not ids:
        return out
    items = list(session.exec(select(MediaItem).where(col(MediaItem.post_id).in_(ids))
                              .order_by(col(MediaItem.post_id), col(MediaItem.position))))
    item_ids = [i.id for i in items if i.id is not None]
    frames: dict[int, list[FrameView]] = {i: [] for i in item_ids}
    matches: dict[int, list[tuple[str, int | None, int]]] = {i: [] for i in item_ids}
    if item_ids:
        for f in session.exec(select(MediaFrame).where(col(MediaFrame.media_item_id).in_(item_ids))
                              .order_by(col(MediaFrame.media_item_id), col(MediaFrame.idx))):
            if f.jpeg_sha256:
                frames[f.media_item_id].append(FrameView(f.idx, f.t_s))
        rows = session.exec(select(MediaMatch).where(
            col(MediaMatch.media_item_id).in_(item_ids) | col(MediaMatch.other_media_item_id).in_(item_ids)))
        for m in rows:
            for mine, other in ((m.media_item_id, m.other_media_item_id), (m.other_media_item_id, m.media_item_id)):
                if mine in matches:
                    matches[mine].append((m.reason, m.joined_incident_id, other))
    other_posts = dict(session.exec(select(MediaItem.id, MediaItem.post_id).where(
        col(MediaItem.id).in_([o for ms in matches.values() for _, _, o in ms]))).all())
    for i in items:
        mid = i.id or 0
        joined = [reason for reason, incident, _ in matches[mid] if incident is not None]
        others = sorted({int(other_posts[o]) for _, _, o in matches[mid] if o in other_posts})
        out[i.post_id].append(MediaView(i, frames[mid], joined, others))
    return out


def media_of_item(session: Session, item_id: int, media_id: int) -> MediaItem:
    """A media item of a post of the queue item's incident; NotFound otherwise (no serving by guessed ids)."""
    item = session.get(QueueItem, item_id)
    media = session.get(MediaItem, media_id)
    if item is None or media is None:
        raise NotFound(f"media {media_id} of item {item_id} does not exist")
    post = session.get(Post, media.post_id)
    if post is None or (post.incident_id != item.incident_id and post.id != item.post_id):
        raise NotFound(f"media {media_id} does not belong to item {item_id}")
    return media


def frame_sha(session: Session, media_id: int, idx: int) -> str:
    """The archived JPEG of one keyframe."""
    sha = session.exec(select(MediaFrame.jpeg_sha256).where(MediaFrame.media_item_id == media_id,
                                                            MediaFrame.idx == idx)).first()
    if not sha:
        raise NotFound(f"keyframe {idx} of media {media_id} is not archived")
    return sha


def queue_thumbs(session: Session, items: Sequence[QueueItem]) -> dict[int, int]:
    """For queue rows: item id -> the media id whose thumbnail the row shows (the lead post's first)."""
    by_post = {i.post_id: i.id for i in items if i.id is not None}
    if not by_post:
        return {}
    out: dict[int, int] = {}
    stmt = (select(MediaItem.post_id, MediaItem.id)
            .where(col(MediaItem.post_id).in_(list(by_post)), col(MediaItem.thumb_sha256).is_not(None))
            .order_by(col(MediaItem.post_id), col(MediaItem.position)))
    for post_id, media_id in session.exec(stmt).all():
        item_id = by_post[post_id]
        if item_id is not None:
            out.setdefault(item_id, int(media_id or 0))
    return out
