"""ingest(posts): the one place where dedup, language, places, classification, storage and the queue meet."""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from monitor.core import tables
from monitor.core.boundary import post_problem, safe_label
from monitor.core.classification import Classifier, ClassifyItem, Embed, Verdict
from monitor.core.config import Settings
from monitor.core.db import transaction
from monitor.core.places.gazetteer import PlaceMatch, Places
from monitor.core.posts import Post, Snapshot, content_key
from monitor.core.vocab import Status
from monitor.ingest.incidents.store import assign_incident
from monitor.ingest.language import detect_language
from monitor.review.queue import enqueue

log = logging.getLogger(__name__)
CHUNK = 500  # keys per IN (...) query; well under SQLite's and PostgreSQL's parameter limits


@dataclass(frozen=True)
class IngestResult:
    """What one batch did."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    linked: int = 0
    classified: int = 0
    enqueued: int = 0
    skipped: int = 0  # refused by the boundary validator (logged with platform and id, never content)

    def __add__(self, other: IngestResult) -> IngestResult:
        return IngestResult(*(a + b for a, b in zip(self.astuple(), other.astuple(), strict=True)))

    def astuple(self) -> tuple[int, ...]:
        """The counts in field order."""
        return (self.new, self.updated, self.unchanged, self.linked, self.classified, self.enqueued,
                self.skipped)


@dataclass
class _Prepared:
    """A post with everything the pure stages derived from it."""

    post: Post
    row: dict[str, Any]
    existing_id: int | None = None
    changed: bool = True
    text_changed: bool = True
    verdict: Verdict | None = None
    needs_classification: bool = False


@dataclass
class _Places:
    best: PlaceMatch | None = None
    all: list[dict[str, Any]] = field(default_factory=list)
    education: bool = True


def routing(settings: Settings, region: str | None) -> str:
    """What happens to a flagged post about `region`: "queue" (watched or unknown place), else `[places] outside`."""
    if region is None or region in settings.places.regions:
        return "queue"
    return settings.places.outside


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


_COMPARED = ("url", "author", "text", "published_at", "media", "extras", "snapshot_sha256")


class Pipeline:
    """Runs batches of posts through the stages; holds the parts, not any state between batches."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        *,
        classifier: Classifier | None = None,
        places: Places | None = None,
        embed: Embed | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.classifier = classifier
        self.places = places
        self.embed = embed

    # -- pure stages -------------------------------------------------------------------------

    def _locate(self, text: str) -> _Places:
        if self.places is None:
            return _Places()
        matches, education = self.places.analyze(text)
        return _Places(matches[0] if matches else None, [m.to_dict() for m in matches], education)

    def _prepare(self, post: Post) -> _Prepared:
        where = self._locate(post.text)
        best = where.best
        row: dict[str, Any] = {
            "platform": post.platform,
            "external_id": post.external_id,
            "url": post.url,
            "author": post.author,
            "text": post.text,
            "language": detect_language(post.text),
            "published_at": post.published_at,
            "media": [m.to_record() for m in post.media],
            "extras": dict(post.extras),
            "has_video": post.has_video,
            "content_key": content_key(post.text, post.url),
            "snapshot_sha256": post.snapshot.sha256 if post.snapshot else None,
            "region": best.region if best else None,
            "district": best.district if best else None,
            "town": best.town if best else None,
            "school": best.school if best else None,
            "places": where.all,
            # A comment under a flagged school post is read in its parent's school context.
            "has_education_context": where.education or bool(
                isinstance(post.extras.get("parent"), dict) and post.extras["parent"].get("education_context")),
        }
        return _Prepared(post=post, row=row)

    def _should_classify(self, row: dict[str, Any]) -> bool:
        return bool(row["has_education_context"]) or self.settings.classifier.classify_without_school_context

    def _classify(self, prepared: list[_Prepared]) -> int:
        todo = [p for p in prepared if p.needs_classification]
        if not todo or self.classifier is None:
            return 0
        verdicts = self.classifier.classify(
            [ClassifyItem(p.post.text, p.post.has_video, p.row["school"]) for p in todo]
        )
        for p, verdict in zip(todo, verdicts, strict=True):
            p.verdict = verdict
        return len(todo)

    # -- the batch ---------------------------------------------------------------------------

    def ingest(self, posts: Sequence[Post], *, source_id: int | None = None) -> IngestResult:
        """Dedup, enrich, classify, store and enqueue one batch, all in one transaction."""
        latest: dict[tuple[str, str], Post] = {}
        skipped = 0
        for post in posts:  # the same post twice in one batch: the later copy wins
            problem = post_problem(post)
            if problem:
                # Scraper output meets the same rule as `monitor ingest` and the API; one bad post never
                # costs the batch. The log names the post by platform and id, never by its content.
                skipped += 1
                log.warning("skipped %s post %s: %s", safe_label(post.platform, 40),
                            safe_label(post.external_id, 80), problem)
                continue
            latest[(post.platform, post.external_id)] = post
        if not latest:
            return IngestResult(skipped=skipped)
        prepared = [self._prepare(p) for p in latest.values()]
        for attempt in range(3):
            try:
                result = self._ingest_prepared(prepared, source_id)
                return result + IngestResult(skipped=skipped) if skipped else result
            except sa.exc.IntegrityError:
                # Another process stored one of these posts between our read and our write:
                # read again and retry; the unique key keeps the result free of duplicates.
                if attempt == 2:
                    raise
                log.info("concurrent insert of the same posts; retrying batch")
        raise AssertionError("unreachable")

    def _ingest_prepared(self, prepared: list[_Prepared], source_id: int | None) -> IngestResult:
        version = self.classifier.version if self.classifier else None
        with self.sessions() as session:
            self._match_existing(session, prepared, version)
        classified = self._classify(prepared)
        with transaction(self.sessions) as session:
            self._store_snapshots(session, [p.post.snapshot for p in prepared if p.post.snapshot])
            new, updated = self._store_posts(session, prepared, source_id)
            ids = self._ids(session, prepared)
            linked = self._link_duplicates(session, [p.row["content_key"] for p in prepared])
            enqueued = self._store_verdicts(session, prepared, ids, version)
        unchanged = len(prepared) - new - updated
        return IngestResult(new, updated, unchanged, linked, classified, enqueued)

    def _match_existing(self, session: Session, prepared: list[_Prepared], version: str | None) -> None:
        by_key = {(p.row["platform"], p.row["external_id"]): p for p in prepared}
        cols = [tables.Post.id, tables.Post.platform, tables.Post.external_id,
                *(getattr(tables.Post, c) for c in _COMPARED)]
        found: dict[int, _Prepared] = {}
        for platform in {k[0] for k in by_key}:
            ext_ids = [k[1] for k in by_key if k[0] == platform]
            for chunk in _chunks(ext_ids):
                stmt = sa.select(*cols).where(tables.Post.platform == platform,
                                              tables.Post.external_id.in_(chunk))  # type: ignore[attr-defined]
                for r in session.execute(stmt):
                    p = by_key[(r.platform, r.external_id)]
                    p.existing_id = r.id
                    # An import without a snapshot keeps the evidence the post already has.
                    compared = _COMPARED if p.row["snapshot_sha256"] else _COMPARED[:-1]
                    p.changed = any(getattr(r, c) != p.row[c] for c in compared)
                    p.text_changed = r.text != p.row["text"]
                    found[r.id] = p
        have: set[int] = set()
        if version is not None and found:
            for chunk in _chunks(list(found)):
                have.update(session.exec(select(tables.Classification.post_id).where(
                    tables.Classification.model_version == version,
                    tables.Classification.post_id.in_(chunk))))  # type: ignore[attr-defined]
        for p in prepared:
            missing = p.existing_id is None or p.existing_id not in have
            p.needs_classification = self._should_classify(p.row) and (p.text_changed or missing)

    def _store_snapshots(self, session: Session, snapshots: list[Snapshot]) -> None:
        unique = {s.sha256: s for s in snapshots}
        if not unique:
            return
        existing: set[str] = set()
        for chunk in _chunks(list(unique)):
            existing.update(session.exec(select(tables.Snapshot.sha256).where(
                tables.Snapshot.sha256.in_(chunk))))  # type: ignore[attr-defined]
        rows = [
            {"sha256": sha, "url": s.url, "content_type": s.content_type[:200], "fetched_at": s.fetched_at,
             "size": len(s.body), "body_z": zlib.compress(s.body, 6)}
            for sha, s in unique.items() if sha not in existing
        ]
        if rows:
            session.execute(tables.table_of(tables.Snapshot).insert(), rows)

    def _snapshot_ids(self, session: Session, prepared: list[_Prepared]) -> dict[str, int]:
        shas = list({p.row["snapshot_sha256"] for p in prepared if p.row["snapshot_sha256"]})
        out: dict[str, int] = {}
        for chunk in _chunks(shas):
            for sid, sha in session.execute(sa.select(col(tables.Snapshot.id), col(tables.Snapshot.sha256)).where(
                    col(tables.Snapshot.sha256).in_(chunk))):
                out[sha] = sid
        return out

    def _store_posts(self, session: Session, prepared: list[_Prepared], source_id: int | None) -> tuple[int, int]:
        snapshot_ids = self._snapshot_ids(session, prepared)
        now = tables.utcnow()
        inserts, updates = [], []
        for p in prepared:
            row = dict(p.row)
            sha = row["snapshot_sha256"]
            row["snapshot_id"] = snapshot_ids.get(sha) if sha else None
            if p.existing_id is None:
                inserts.append({**row, "source_id": source_id, "collected_at": now, "updated_at": now})
            elif p.changed:
                if sha is None:  # an import without a snapshot keeps the evidence it had
                    row.pop("snapshot_sha256")
                    row.pop("snapshot_id")
                updates.append({**row, "id": p.existing_id, "updated_at": now})
        if inserts:
            session.execute(tables.table_of(tables.Post).insert(), inserts)  # Core executemany: ORM bulk splits batches on NULLs
        if updates:
            session.execute(sa.update(tables.Post), updates)
        return len(inserts), len(updates)

    def _ids(self, session: Session, prepared: list[_Prepared]) -> dict[tuple[str, str], int]:
        out = {(p.row["platform"], p.row["external_id"]): p.existing_id for p in prepared if p.existing_id}
        missing = [p for p in prepared if p.existing_id is None]
        for platform in {p.row["platform"] for p in missing}:
            ext_ids = [p.row["external_id"] for p in missing if p.row["platform"] == platform]
            for chunk in _chunks(ext_ids):
                for pid, ext in session.execute(sa.select(col(tables.Post.id), col(tables.Post.external_id)).where(
                        col(tables.Post.platform) == platform, col(tables.Post.external_id).in_(chunk))):
                    out[(platform, ext)] = pid
        return out

    def _link_duplicates(self, session: Session, keys: list[str]) -> int:
        """Posts with the same normalized text + URL point at the earliest one."""
        groups: dict[str, list[tuple[int, int | None]]] = {}
        for chunk in _chunks(list(set(keys))):
            stmt = sa.select(col(tables.Post.id), col(tables.Post.content_key), col(tables.Post.duplicate_of_id)).where(
                col(tables.Post.content_key).in_(chunk)).order_by(col(tables.Post.id))
            for pid, key, dup in session.execute(stmt):
                groups.setdefault(key, []).append((pid, dup))
        links = [{"id": pid, "duplicate_of_id": rows[0][0]}
                 for rows in groups.values() if len(rows) > 1
                 for pid, dup in rows[1:] if dup is None]
        if links:
            session.execute(sa.update(tables.Post), links)
        return len(links)

    def _store_verdicts(
        self, session: Session, prepared: list[_Prepared], ids: dict[tuple[str, str], int], version: str | None
    ) -> int:
        scored = [(ids[(p.row["platform"], p.row["external_id"])], p.verdict)
                  for p in prepared if p.verdict is not None]
        if not scored or version is None:
            return 0
        return self._save_classifications(session, scored, version)

    def _save_classifications(self, session: Session, scored: list[tuple[int, Verdict]], version: str) -> int:
        existing: dict[int, tables.Classification] = {}
        for chunk in _chunks([pid for pid, _ in scored]):
            for row in session.exec(select(tables.Classification).where(
                    tables.Classification.model_version == version,
                    tables.Classification.post_id.in_(chunk))):  # type: ignore[attr-defined]
                existing[row.post_id] = row
        threshold = self.settings.classifier.threshold
        enqueued = 0
        for post_id, v in scored:
            row = existing.get(post_id) or tables.Classification(post_id=post_id, model_version=version,
                                                                  score=0.0, flag=False)
            row.score, row.flag, row.severity = float(v.score), v.score >= threshold, v.severity
            row.categories = {k: round(float(s), 5) for k, s in v.categories.items()}
            row.evidence = [{"start": e.start, "end": e.end, "text": e.text} for e in v.evidence]
            session.add(row)
            if row.flag:
                session.flush()
                enqueued += self._enqueue(session, post_id, row)
        return enqueued

    def _enqueue(self, session: Session, post_id: int, classification: tables.Classification) -> int:
        post = session.get(tables.Post, post_id)
        assert post is not None
        route = routing(self.settings, post.region)
        if route == "drop":
            return 0
        incident = assign_incident(session, post, settings=self.settings, embed=self.embed)
        if post.incident_id != incident.id:
            post.incident_id = incident.id
            session.add(post)
            session.flush()
        if route == "keep":
            return 0
        # The model's own per-category thresholds (calibrated heads carry them), else 0.5 each.
        thresholds = getattr(self.classifier, "category_thresholds", None)
        _, created = enqueue(session, post, classification, incident, thresholds,
                             max_severity="low" if route == "queue_low" else None)
        return int(created)

    # -- backlog -----------------------------------------------------------------------------

    def classify_backlog(self, *, limit: int = 1000, batch: int = 64) -> int:
        """Classify stored posts that have no verdict from the current model; returns how many."""
        if self.classifier is None:
            return 0
        version = self.classifier.version
        done = 0
        while done < limit:
            with self.sessions() as session:
                scored = sa.select(col(tables.Classification.post_id)).where(
                    col(tables.Classification.model_version) == version)
                stmt = select(tables.Post).where(col(tables.Post.id).not_in(scored))
                if not self.settings.classifier.classify_without_school_context:
                    stmt = stmt.where(col(tables.Post.has_education_context).is_(True))
                rows = list(session.exec(stmt.order_by(col(tables.Post.id)).limit(min(batch, limit - done))))
            if not rows:
                break
            verdicts = self.classifier.classify(
                [ClassifyItem(r.text, r.has_video, r.school) for r in rows])
            with transaction(self.sessions) as session:
                self._save_classifications(session, [(r.id or 0, v) for r, v in zip(rows, verdicts, strict=True)],
                                           version)
            done += len(rows)
        return done

    def requeue(self) -> int:
        """Give every flagged post a live queue item; returns how many items were created.

        With a classifier, stored posts whose current-model score reaches today's threshold are flagged
        first (after lowering the threshold; no re-scrape). Then every post whose latest verdict is a
        flag and that has no incident, or whose incident has no live item (demo data removed, a crash,
        a merge gone wrong), is grouped and enqueued; `[places] outside` still applies.
        """
        threshold = self.settings.classifier.threshold
        with transaction(self.sessions) as session:
            if self.classifier is not None:
                stmt = select(tables.Classification).join(
                    tables.Post, col(tables.Post.id) == col(tables.Classification.post_id)).where(
                    col(tables.Classification.model_version) == self.classifier.version,
                    col(tables.Classification.score) >= threshold,
                    col(tables.Post.incident_id).is_(None))
                for row in list(session.exec(stmt)):
                    row.flag = True
                    session.add(row)
                session.flush()
            live = sa.select(col(tables.QueueItem.incident_id)).where(col(tables.QueueItem.status) != Status.MERGED)
            orphans = select(tables.Classification).join(
                tables.Post, col(tables.Post.id) == col(tables.Classification.post_id)).where(
                sa.or_(col(tables.Post.incident_id).is_(None), col(tables.Post.incident_id).not_in(live))
            ).order_by(col(tables.Classification.post_id), col(tables.Classification.id).desc())
            latest: dict[int, tables.Classification] = {}
            for row in session.exec(orphans):
                latest.setdefault(row.post_id, row)
            count = 0
            for post_id, row in sorted(latest.items()):
                if row.flag:
                    count += self._enqueue(session, post_id, row)
            return count
