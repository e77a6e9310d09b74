"""The reviewer sees the evidence: thumbnails and keyframes served by the app (login, audit, CSP), sha256,
download for moderators only, "joined because", "deleted at source"; dismissed items' media purged."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from monitor.core.config import Settings
from monitor.core.posts import Media, Post
from monitor.core.tables import AuditEvent, MediaFrame, MediaItem, QueueItem
from monitor.core.tables import Post as PostRow
from monitor.ingest.media.archive import DiskArchive
from monitor.ingest.media.job import run_media
from monitor.ingest.pipeline import Pipeline
from monitor.review.queue import decide
from monitor.review.users import create_user
from monitor.service.retention import purge
from monitor.web import create_app
from monitor.web.security import CSP
from tests.fakes import KeywordClassifier, TablePlaces
from tests.media.conftest import MediaHost, age_archive, media_settings
from tests.web.conftest import PASSWORD, login

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
CDN = "https://cdn.example.kz/v/"


def _post(ext: str, text: str, video: str, at: datetime) -> Post:
    return Post(platform="telegram", external_id=ext, url=f"https://t.me/ch/{ext}", text=text, published_at=at,
                media=(Media("video", CDN + video),))


@pytest.fixture
def scene(settings: Settings, sessions: sessionmaker[Session], tmp_path: Path, clips: dict[str, bytes],
          host: MediaHost, make_fetcher, archive: DiskArchive) -> dict[str, object]:
    """A confirmed incident with its video, joined by an empty-caption repost through the media job."""
    s = media_settings(settings, tmp_path)
    s = s.model_copy(update={"web": s.web.model_copy(update={"session_secret": SecretStr("t" * 40)})})
    for name in ("original", "half", "other_a"):
        host.files[CDN + name] = (clips[name], "video/mp4")
    pipeline = Pipeline(sessions, s, classifier=KeywordClassifier(), places=TablePlaces())
    pipeline.ingest([_post("1", "В Каскелене в школе №12 избили одноклассника", "original", T0)])
    pipeline.ingest([_post("2", "Драка в школе №5 Талгара", "other_a", T0)])
    with sessions() as session:
        items = {i.post_id: i for i in session.exec(select(QueueItem))}
        posts = {p.external_id: p for p in session.exec(select(PostRow))}
    for name, role in (("viewer", "viewer"), ("moderator", "moderator")):
        create_user(sessions, name, role, PASSWORD)
    mod = create_user(sessions, "boss", "admin", PASSWORD)
    item = items[posts["1"].id or 0]
    decide(sessions, mod, item.id or 0, "confirmed")
    pipeline.ingest([_post("r", "жесть 😳", "half", T0 + timedelta(days=1))])
    run_media(sessions, s, make_fetcher(s), archive, now=T0 + timedelta(days=1, hours=1))
    return {"settings": s, "item": item.id, "other_item": items[posts["2"].id or 0].id}


def _client(scene: dict[str, object], sessions: sessionmaker[Session], name: str | None) -> TestClient:
    settings = scene["settings"]
    # These assertions read the English interface (the shipped default is Russian).
    english = settings.model_copy(update={"web": settings.web.model_copy(update={"language": "en"})})  # type: ignore[attr-defined]
    app = create_app(english, sessions)
    client = TestClient(app, base_url="http://testserver")
    if name:
        login(client, name)
    return client


def test_item_page_shows_archived_media(scene: dict[str, object], sessions: sessionmaker[Session]) -> None:
    item_id = scene["item"]
    viewer = _client(scene, sessions, "viewer")
    page = viewer.get(f"/items/{item_id}")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CSP
    html = page.text
    with sessions() as session:
        media = session.exec(select(MediaItem).where(MediaItem.status == "fetched")
                             .order_by(col(MediaItem.id))).all()
        repost = session.exec(select(PostRow).where(PostRow.external_id == "r")).one()
    assert repost.incident_id is not None
    mine = [m for m in media if m.post_id in (repost.id,)]
    assert mine and mine[0].sha256 in html
    assert "joined because: same video, " in html and "% of frames" in html
    assert f"/items/{item_id}/media/{mine[0].id}/frames/0.jpg" in html
    assert "download archived file" not in html  # viewers do not download
    thumb = viewer.get(f"/items/{item_id}/media/{mine[0].id}/thumb.jpg")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert thumb.content.startswith(b"\xff\xd8") and thumb.headers["cache-control"] == "no-store"
    assert thumb.headers["content-security-policy"] == CSP
    assert viewer.get(f"/items/{item_id}/media/{mine[0].id}/frames/1.jpg").status_code == 200
    assert viewer.get(f"/items/{item_id}/media/{mine[0].id}/file").status_code == 403
    with sessions() as session:
        views = session.exec(select(AuditEvent).where(AuditEvent.action == "media.view",
                                                      AuditEvent.actor == "viewer")).all()
    assert len(views) == 2 and all(v.detail["sha256"] == mine[0].sha256 for v in views)
    # The queue (confirmed tab) shows the lead post's thumbnail through the same route.
    assert f'/items/{item_id}/media/' in viewer.get("/?status=confirmed").text


def test_download_for_moderators_and_no_access_without_login(
    scene: dict[str, object], sessions: sessionmaker[Session], archive: DiskArchive,
) -> None:
    item_id, other = scene["item"], scene["other_item"]
    with sessions() as session:
        media = session.exec(select(MediaItem).join(PostRow, col(PostRow.id) == MediaItem.post_id)
                             .where(PostRow.external_id == "1")).first()
        foreign = session.exec(select(MediaItem).join(PostRow, col(PostRow.id) == MediaItem.post_id)
                               .where(PostRow.external_id == "2")).first()
    assert media is not None and foreign is not None
    anonymous = _client(scene, sessions, None)
    assert anonymous.get(f"/items/{item_id}/media/{media.id}/thumb.jpg", follow_redirects=False).status_code == 303
    assert anonymous.get(f"/items/{item_id}/media/{media.id}/file", follow_redirects=False).status_code == 303
    moderator = _client(scene, sessions, "moderator")
    body = moderator.get(f"/items/{item_id}/media/{media.id}/file")
    assert body.status_code == 200 and body.headers["content-type"] == "application/octet-stream"
    assert body.headers["content-disposition"].startswith("attachment;")
    assert hashlib.sha256(body.content).hexdigest() == media.sha256
    assert "download archived file" in moderator.get(f"/items/{item_id}").text
    # Media of another item cannot be had through this item's URL.
    assert moderator.get(f"/items/{item_id}/media/{foreign.id}/file").status_code == 404
    assert moderator.get(f"/items/{other}/media/{foreign.id}/file").status_code == 200
    with sessions() as session:
        assert session.exec(select(AuditEvent).where(AuditEvent.action == "media.download")).all()


def test_deleted_at_source_is_marked(
    scene: dict[str, object], sessions: sessionmaker[Session], host: MediaHost, make_fetcher,
    archive: DiskArchive,
) -> None:
    s = scene["settings"]
    host.status[CDN + "original"] = 410
    report = run_media(sessions, s, make_fetcher(s), archive, now=T0 + timedelta(days=1, hours=14))  # type: ignore[arg-type]
    assert report.gone == 1
    with sessions() as session:
        gone = session.exec(select(MediaItem).where(col(MediaItem.deleted_at_source_at).is_not(None))).all()
    assert [m.url for m in gone] == [CDN + "original"] and gone[0].status == "fetched"  # the archive copy stays
    page = _client(scene, sessions, "viewer").get(f"/items/{scene['item']}").text
    assert "deleted at source" in page


def test_dismissed_items_media_purged_with_it(
    scene: dict[str, object], sessions: sessionmaker[Session], archive: DiskArchive,
) -> None:
    s: Settings = scene["settings"]  # type: ignore[assignment]
    from monitor.core.tables import User

    with sessions() as session:
        admin = session.exec(select(User).where(User.name == "boss")).one()
        media = session.exec(select(MediaItem).join(PostRow, col(PostRow.id) == MediaItem.post_id)
                             .where(PostRow.external_id == "2")).one()
        kept = session.exec(select(MediaItem).join(PostRow, col(PostRow.id) == MediaItem.post_id)
                            .where(PostRow.external_id == "1")).one()
        jpegs = [f.jpeg_sha256 for f in session.exec(select(MediaFrame).where(MediaFrame.media_item_id == media.id))]
    assert media.sha256 and archive.has(media.sha256) and jpegs
    decide(sessions, admin, scene["other_item"], "dismissed", reason="not_violence")  # type: ignore[arg-type]
    when = datetime.now(UTC) + timedelta(days=s.retention.dismissed_days + 1)
    age_archive(archive)
    report = purge(sessions, s, now=when)
    assert report.counts.get("media_item", 0) >= 1
    with sessions() as session:
        assert session.get(MediaItem, media.id) is None
        assert not session.exec(select(MediaFrame).where(MediaFrame.media_item_id == media.id)).all()
        assert session.get(MediaItem, kept.id) is not None
    assert not archive.has(media.sha256) and not any(archive.has(j) for j in jpegs if j)
    assert kept.sha256 and archive.has(kept.sha256)  # the confirmed item's evidence stays
