"""`monitor media fetch` and the scheduled job: discover, fetch, archive, hash, match, join.

Runs apart from ingest (a slow or failing media host never holds up a batch of posts); each file is
fetched outside any transaction and stored in one short transaction of its own, so a crash loses at
most the file in flight, and a re-run picks up where it stopped.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from monitor.core.config import Settings
from monitor.core.db import transaction
from monitor.core.errors import MonitorError
from monitor.core.tables import MediaFrame, MediaItem, MediaMatch, utcnow
from monitor.ingest.media.archive import Archive, ArchiveError, DiskArchive
from monitor.ingest.media.fetch import MediaFetcher, MediaFetchError, RefusedURL, open_media_client
from monitor.ingest.media.hashing import MediaDecodeError, hash_media
from monitor.ingest.media.index import HashIndex
from monitor.ingest.media.join import Joined, apply_match, pending_matches
from monitor.ingest.media.match import judge
from monitor.ingest.media.store import discover, due, frames_of, record_failure, record_fetch

log = logging.getLogger(__name__)
MAX_CANDIDATES = 10


@dataclass
class MediaReport:
    """What one run did."""

    discovered: int = 0
    fetched: int = 0
    failed: int = 0
    refused: int = 0
    gone: int = 0
    rechecked: int = 0
    frames: int = 0
    matches: int = 0
    joined: list[Joined] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Counts for logs and the CLI."""
        return {"discovered": self.discovered, "fetched": self.fetched, "failed": self.failed,
                "refused": self.refused, "deleted_at_source": self.gone, "rechecked": self.rechecked,
                "frames": self.frames, "matches": self.matches, "joined": len(self.joined)}


@dataclass
class IndexCache:
    """The near-neighbour index of stored frame hashes, kept between runs and topped up with new frames."""

    radius: int = 31
    index: HashIndex | None = None
    last_frame_id: int = 0

    def refresh(self, session: Session, min_quality: int) -> HashIndex:
        """The index with every frame stored since the last refresh added."""
        if self.index is None:
            self.index = HashIndex(max_radius=self.radius)
        stmt = (select(MediaFrame.id, MediaFrame.media_item_id, MediaFrame.pdq, MediaFrame.pdq_crop)
                .where(col(MediaFrame.id) > self.last_frame_id, col(MediaFrame.quality) >= min_quality)
                .order_by(col(MediaFrame.id)))
        for frame_id, item_id, full, crop in session.exec(stmt):
            self.index.add(full, item_id)
            if crop is not None:
                self.index.add(crop, item_id)
            self.last_frame_id = max(self.last_frame_id, int(frame_id or 0))
        return self.index


def _process(sessions: sessionmaker[Session], settings: Settings, fetcher: MediaFetcher, archive: Archive,
             item: MediaItem, now: datetime, report: MediaReport) -> int | None:
    """Fetch, archive and hash one item; the id when a new file was stored (matching picks it up after)."""
    item_id = item.id or 0
    recheck = item.status == "fetched"
    try:
        fetched = fetcher.fetch(item.url)
    except MediaFetchError as e:
        with transaction(sessions) as session:
            record_failure(session, item_id, settings.media, now, str(e), retry=e.retry, gone=e.gone)
        if e.gone:
            report.gone += 1
        elif isinstance(e, RefusedURL):
            report.refused += 1
        else:
            report.failed += 1
        log.info("media %s: %s", item_id, e)
        return None
    if recheck:
        with transaction(sessions) as session:
            row = session.get(MediaItem, item_id)
            if row is not None:
                row.checked_at = now
                session.add(row)
        report.rechecked += 1
        return None
    sha = archive.put(fetched.data)
    try:
        hashed = hash_media(fetched.data, fetched.content_type, settings.media)
        error = None
    except MediaDecodeError as e:  # kept as evidence all the same; it just cannot be compared
        hashed, error = None, str(e)
    jpegs = [archive.put(f.jpeg) for f in hashed.frames] if hashed else []
    with transaction(sessions) as session:
        stored = record_fetch(session, item_id, now, sha256=sha, content_type=fetched.content_type,
                              size=len(fetched.data), hashed=hashed, frame_jpegs=jpegs, error=error)
    if not stored:
        return None
    # A retention sweep running between the write and the commit would have found the files unreferenced.
    for data_sha, body in [(sha, fetched.data), *((j, f.jpeg) for j, f in zip(jpegs, hashed.frames if hashed else (), strict=True))]:
        if not archive.has(data_sha):
            archive.put(body)
    report.fetched += 1
    report.frames += len(jpegs)
    return item_id if hashed else None


def _loader(archive: Archive) -> Callable[[str], bytes | None]:
    def load(sha: str) -> bytes | None:
        try:
            return archive.get(sha)
        except ArchiveError:
            return None
    return load


def unmatched(session: Session, limit: int) -> list[int]:
    """Hashed items not yet compared with the stored media (new, or left by a run that stopped)."""
    stmt = (select(MediaItem.id).where(col(MediaItem.status) == "fetched", col(MediaItem.frame_count) > 0,
                                      col(MediaItem.matched_at).is_(None))
            .order_by(col(MediaItem.id)).limit(limit))
    return [int(i or 0) for i in session.exec(stmt).all()]


def match_items(sessions: sessionmaker[Session], settings: Settings, archive: Archive, item_ids: list[int],
                cache: IndexCache, now: datetime | None = None) -> int:
    """Compare hashed items with every stored one (index candidates, then `judge`); records matches."""
    m = settings.media
    found = 0
    with sessions() as session:
        index = cache.refresh(session, m.min_quality)
    load = _loader(archive)
    for item_id in item_ids:
        with transaction(sessions) as session:
            me = session.get(MediaItem, item_id)
            if me is None:
                continue
            me.matched_at = now or utcnow()
            session.add(me)
            mine = frames_of(session, [item_id])[item_id]
            hits: Counter[int] = Counter()
            for f in mine:
                if f.quality < m.min_quality:
                    continue
                for h in f.hashes:
                    hits.update({key for key, _ in index.near(h, m.match_distance)})
            hits.pop(item_id, None)
            candidates = [k for k, _ in hits.most_common(MAX_CANDIDATES * 3)]
            rows = session.exec(select(MediaItem).where(col(MediaItem.id).in_(candidates),
                                                        MediaItem.post_id != me.post_id)).all()
            others = {r.id: r for r in rows}
            ordered = [k for k in candidates if k in others][:MAX_CANDIDATES]
            their_frames = frames_of(session, ordered)
            for other_id in ordered:
                known = session.exec(select(MediaMatch.id).where(sa.or_(
                    sa.and_(col(MediaMatch.media_item_id) == item_id, col(MediaMatch.other_media_item_id) == other_id),
                    sa.and_(col(MediaMatch.media_item_id) == other_id, col(MediaMatch.other_media_item_id) == item_id),
                ))).first()
                if known is not None:
                    continue
                kind = "video" if len(mine) > 1 or len(their_frames[other_id]) > 1 else "photo"
                verdict = judge(mine, their_frames[other_id], load, distance=m.match_distance,
                                min_quality=m.min_quality, min_share=m.min_share, min_inliers=m.min_inliers,
                                kind=kind)
                log.debug("media %s vs %s: %s", item_id, other_id, verdict)
                if verdict.is_match:
                    session.add(MediaMatch(media_item_id=item_id, other_media_item_id=other_id,
                                           share=verdict.share, frames=verdict.matched_frames,
                                           inliers=verdict.inliers, reason=verdict.reason))
                    found += 1
    return found


def join_matches(sessions: sessionmaker[Session]) -> list[Joined]:
    """Apply every match that can join a post to an incident's item (each in its own transaction)."""
    joined: list[Joined] = []
    with sessions() as session:
        ids = [mm.id for mm in pending_matches(session)]
    for match_id in ids:
        with transaction(sessions) as session:
            match = session.get(MediaMatch, match_id)
            if match is None:
                continue
            result = apply_match(session, match)
            if result is not None:
                joined.append(result)
    return joined


def run_media(sessions: sessionmaker[Session], settings: Settings, fetcher: MediaFetcher, archive: Archive, *,
              limit: int | None = None, now: datetime | None = None, cache: IndexCache | None = None) -> MediaReport:
    """One run: register media of new posts, fetch what is due (at most `limit`), hash, match, join."""
    now = now or utcnow()
    limit = limit or settings.media.batch_size
    cache = cache or IndexCache(radius=settings.media.match_distance)
    report = MediaReport()
    with transaction(sessions) as session:
        report.discovered = discover(session, settings.media, limit)
    with sessions() as session:
        items = due(session, settings.media, now, limit)
    for item in items:
        try:
            _process(sessions, settings, fetcher, archive, item, now, report)
        except (MonitorError, OSError) as e:  # a full disk, a broken file: recorded, the others go on
            log.warning("media %s failed: %s", item.id, e)
            with transaction(sessions) as session:
                record_failure(session, item.id or 0, settings.media, now, f"{type(e).__name__}: {e}",
                               retry=True, gone=False)
            report.failed += 1
    with sessions() as session:
        todo = unmatched(session, max(limit, 100))
    if todo:
        report.matches = match_items(sessions, settings, archive, todo, cache, now)
    report.joined = join_matches(sessions)
    log.info("media: %s", report.summary())
    return report


def open_fetcher(settings: Settings, transport: Any = None) -> MediaFetcher:
    """A MediaFetcher over a new media HttpClient (close `fetcher.http` when done)."""
    http = open_media_client(settings.http, settings.media, transport)
    return MediaFetcher(http, settings.media, proxy=settings.http.proxy)


def scheduled(sessions: sessionmaker[Session], settings: Settings) -> Callable[[], dict[str, Any]]:
    """The scheduler's work function: a run with a fresh client, the hash index kept between runs."""
    cache = IndexCache(radius=settings.media.match_distance)
    archive = DiskArchive(settings.media.dir)

    def work() -> dict[str, Any]:
        fetcher = open_fetcher(settings)
        try:
            return run_media(sessions, settings, fetcher, archive, cache=cache).summary()
        finally:
            fetcher.http.close()

    return work
