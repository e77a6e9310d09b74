"""Done-when of issue 15: real encoded videos; reposts (half size, boxed under a caption bar, 1 s later)
match the original, different videos never match, and an empty-caption repost of a confirmed incident's
video lands in that incident's item as a visible update."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from monitor.core.config import Settings
from monitor.core.posts import Media, Post
from monitor.core.tables import AuditEvent, MediaItem, MediaMatch, QueueItem
from monitor.core.tables import Post as PostRow
from monitor.ingest.media.archive import DiskArchive
from monitor.ingest.media.hashing import hash_video
from monitor.ingest.media.job import run_media
from monitor.ingest.media.match import FrameHashes, judge
from monitor.ingest.pipeline import Pipeline
from monitor.review.queue import decide
from tests.fakes import KeywordClassifier, TablePlaces
from tests.helpers import make_user
from tests.media.conftest import MediaHost, media_settings

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
CDN = "https://cdn.example.kz/v/"


def _frames(data: bytes, settings: Settings, store: dict[str, bytes]) -> list[FrameHashes]:
    out = []
    for f in hash_video(data, settings.media).frames:
        sha = hashlib.sha256(f.jpeg).hexdigest()
        store[sha] = f.jpeg
        out.append(FrameHashes(f.idx, tuple(h for h in (f.pdq, f.pdq_crop) if h), f.quality, sha))
    return out


def test_reposts_match_and_different_videos_do_not(clips: dict[str, bytes]) -> None:
    settings = Settings()
    m = settings.media
    store: dict[str, bytes] = {}
    frames = {name: _frames(data, settings, store) for name, data in clips.items()}

    def verdict(a: str, b: str) -> bool:
        return judge(frames[a], frames[b], store.get, distance=m.match_distance, min_quality=m.min_quality,
                     min_share=m.min_share, min_inliers=m.min_inliers).is_match

    for variant in ("half", "boxed", "late"):
        assert verdict(variant, "original"), variant
        assert verdict("original", variant), variant
    others = ("other_a", "other_b", "other_c")
    for i, a in enumerate(others):
        assert not verdict(a, "original")
        for b in others[i + 1:]:
            assert not verdict(a, b), (a, b)
    # The boxed repost matches only through its content-box hashes: the whole frames look unrelated.
    whole_only = [FrameHashes(f.idx, f.hashes[:1], f.quality, f.jpeg_sha256) for f in frames["boxed"]]
    assert not judge(whole_only, frames["original"], store.get, distance=m.match_distance,
                     min_quality=m.min_quality, min_share=m.min_share, min_inliers=m.min_inliers).is_match


def _post(ext: str, text: str, video: str, at: datetime, platform: str = "telegram") -> Post:
    return Post(platform=platform, external_id=ext, url=f"https://t.me/ch/{ext}", text=text, published_at=at,
                media=(Media("video", CDN + video, thumbnail_url=CDN + video + ".jpg"),))


def test_empty_caption_repost_joins_confirmed_incident(
    settings: Settings, sessions: sessionmaker[Session], tmp_path: Path, clips: dict[str, bytes],
    host: MediaHost, make_fetcher, archive: DiskArchive,
) -> None:
    s = media_settings(settings, tmp_path)
    for name, data in clips.items():
        host.files[CDN + name] = (data, "video/mp4")
    pipeline = Pipeline(sessions, s, classifier=KeywordClassifier(), places=TablePlaces())
    pipeline.ingest([_post("1", "В Каскелене в школе №12 девятиклассники избили одноклассника", "original", T0)])
    with sessions() as session:
        item = session.exec(select(QueueItem)).one()
    moderator = make_user(sessions)
    decide(sessions, moderator, item.id or 0, "confirmed")

    # Reposts days later on other platforms, captions that neither a text classifier nor grouping can use;
    # an unrelated video with an equally empty caption.
    later = T0 + timedelta(days=4)
    pipeline.ingest([
        _post("r1", "жесть 😳", "boxed", later, "instagram"),
        _post("r2", "смотрите что творится", "late", later + timedelta(hours=1), "tiktok"),
        _post("u1", "жесть 😳", "other_a", later, "tiktok"),
    ])
    with sessions() as session:
        assert len(session.exec(select(QueueItem)).all()) == 1
        repost = session.exec(select(PostRow).where(PostRow.external_id == "r1")).one()
        assert repost.incident_id is None and not repost.has_education_context

    report = run_media(sessions, s, make_fetcher(s), archive, limit=50, now=later + timedelta(hours=2))
    assert report.failed == 0 and report.fetched == 4 and report.gone == 4  # the thumbnails are 404 here
    with sessions() as session:
        rows = {p.external_id: p for p in session.exec(select(PostRow))}
        assert rows["r1"].incident_id == rows["1"].incident_id == item.incident_id
        assert rows["r2"].incident_id == item.incident_id
        assert rows["u1"].incident_id is None
        updated = session.get(QueueItem, item.id)
        assert updated is not None and updated.status == "confirmed" and updated.post_count == 3
        joins = session.exec(select(AuditEvent).where(AuditEvent.action == "media.join",
                                                      AuditEvent.entity_id == item.id)).all()
        assert {j.detail["post_id"] for j in joins} == {rows["r1"].id, rows["r2"].id}
        assert all(j.detail["reason"].startswith("same video, ") and j.detail["reason"].endswith("% of frames")
                   for j in joins)
        u1_media = session.exec(select(MediaItem.id).join(PostRow, col(PostRow.id) == MediaItem.post_id)
                                .where(PostRow.external_id == "u1")).all()
        assert not session.exec(select(MediaMatch).where(
            col(MediaMatch.media_item_id).in_(u1_media) | col(MediaMatch.other_media_item_id).in_(u1_media))).all()

    # Running again fetches and joins nothing new (idempotent).
    again = run_media(sessions, s, make_fetcher(s), archive, limit=50, now=later + timedelta(hours=3))
    assert again.fetched == 0 and again.joined == []


@pytest.mark.parametrize("late_first", [True, False])
def test_join_works_in_either_order(
    settings: Settings, sessions: sessionmaker[Session], tmp_path: Path, clips: dict[str, bytes],
    host: MediaHost, make_fetcher, archive: DiskArchive, late_first: bool,
) -> None:
    """The repost's media may be archived before the incident forms; the join happens when it does."""
    s = media_settings(settings, tmp_path)
    for name in ("original", "half"):
        host.files[CDN + name] = (clips[name], "video/mp4")
    pipeline = Pipeline(sessions, s, classifier=KeywordClassifier(), places=TablePlaces())
    first = [_post("r", "жесть", "half", T0)]
    second = [_post("o", "В школе №3 Талгара избили ученика", "original", T0 + timedelta(hours=1))]
    batches = [first, second] if late_first else [second, first]
    for batch in batches:
        pipeline.ingest(batch)
        run_media(sessions, s, make_fetcher(s), archive, now=T0 + timedelta(hours=2))
    with sessions() as session:
        rows = {p.external_id: p for p in session.exec(select(PostRow))}
        assert rows["r"].incident_id is not None and rows["r"].incident_id == rows["o"].incident_id


def test_matching_resumes_after_a_crash(
    settings: Settings, sessions: sessionmaker[Session], tmp_path: Path, clips: dict[str, bytes],
    host: MediaHost, make_fetcher, archive: DiskArchive, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run that dies while matching has stored its files; the next run matches them (matched_at empty)."""
    from monitor.ingest.media import job

    s = media_settings(settings, tmp_path)
    for name in ("original", "late"):
        host.files[CDN + name] = (clips[name], "video/mp4")
    pipeline = Pipeline(sessions, s, classifier=KeywordClassifier(), places=TablePlaces())
    pipeline.ingest([_post("o", "В школе №3 Талгара избили ученика", "original", T0),
                     _post("r", "жесть", "late", T0 + timedelta(hours=1))])

    def crash(*_a: object, **_k: object) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr(job, "judge", crash)
    with pytest.raises(RuntimeError):
        run_media(sessions, s, make_fetcher(s), archive, now=T0 + timedelta(hours=2))
    monkeypatch.undo()
    with sessions() as session:
        assert {m.status for m in session.exec(select(MediaItem))} == {"fetched", "gone"}
    report = run_media(sessions, s, make_fetcher(s), archive, now=T0 + timedelta(hours=3))
    assert report.fetched == 0 and report.matches >= 1 and len(report.joined) == 1
