"""The ingest pipeline on SQLite and PostgreSQL: dedup, enrichment, one transaction, idempotence."""

from __future__ import annotations

import zlib
from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

import monitor.ingest.pipeline
from monitor.core.config import ClassifierSettings, Settings
from monitor.core.posts import Snapshot
from monitor.core.tables import AuditEvent, Classification, Post, QueueItem
from monitor.core.tables import Snapshot as SnapshotRow
from monitor.ingest.pipeline import Pipeline
from tests.fakes import KeywordClassifier, TablePlaces
from tests.helpers import BASE_TIME, make_post


def _count(sessions, table) -> int:
    with sessions() as s:
        return s.exec(select(sa.func.count()).select_from(table)).one()


@pytest.fixture
def pipeline(sessions, settings):
    return Pipeline(sessions, settings, classifier=KeywordClassifier(), places=TablePlaces())


def test_new_posts_are_enriched_classified_and_flagged_ones_enqueued(pipeline, sessions):
    posts = [
        make_post(1, "В Талгаре ученики школы №12 избили одноклассника, есть видео", video=True),
        make_post(2, "Каскелен мектебінде оқушылар төбелесті, бір оқушы ауруханада"),
        make_post(3, "School olympiad winners in Taldykorgan announced"),
        make_post(4, "Погода в Алматы: снег"),  # no school context: stored, not classified
    ]
    result = pipeline.ingest(posts)
    assert (result.new, result.updated, result.classified, result.enqueued) == (4, 0, 3, 2)
    with sessions() as s:
        rows = {p.external_id: p for p in s.exec(select(Post))}
        assert rows["chan/1"].language == "ru" and rows["chan/2"].language == "kk"
        assert rows["chan/3"].language == "en"
        assert (rows["chan/1"].region, rows["chan/1"].district, rows["chan/1"].school) == (
            "Almaty Region", "Talgar", "School No. 12")
        assert rows["chan/1"].has_video and rows["chan/1"].media[0]["type"] == "video"
        assert not rows["chan/4"].has_education_context
        assert rows["chan/1"].published_at == BASE_TIME + timedelta(minutes=1)
        verdicts = {c.post_id: c for c in s.exec(select(Classification))}
        assert set(verdicts) == {rows[k].id for k in ("chan/1", "chan/2", "chan/3")}
        c1 = verdicts[rows["chan/1"].id]
        assert c1.model_version == "keyword-test-1" and c1.flag and c1.severity == "high"
        assert c1.evidence[0]["text"] == "избили"
        items = list(s.exec(select(QueueItem).order_by(QueueItem.id)))
        assert [i.post_id for i in items] == [rows["chan/1"].id, rows["chan/2"].id]
        assert (items[0].district, items[0].category, items[0].has_video) == ("Talgar", "physical_violence", True)
        assert items[1].severity == "critical" and items[1].severity_rank == 4


def test_same_batch_twice_changes_nothing(pipeline, sessions):
    posts = [make_post(i, f"Школа №{i}: избили ученика в Талгаре" if i % 3 == 0 else None) for i in range(30)]
    first = pipeline.ingest(posts)
    assert first.new == 30 and first.enqueued == 10
    before = {t: _count(sessions, t) for t in (Post, Classification, QueueItem, AuditEvent)}
    calls = pipeline.classifier.calls
    second = pipeline.ingest(posts)
    assert (second.new, second.updated, second.unchanged, second.classified, second.enqueued) == (0, 0, 30, 0, 0)
    assert {t: _count(sessions, t) for t in before} == before
    assert pipeline.classifier.calls == calls


def test_edited_post_is_updated_and_reclassified(pipeline, sessions):
    pipeline.ingest([make_post(1, "Школьный концерт в Талгаре")])
    assert _count(sessions, QueueItem) == 0
    result = pipeline.ingest([make_post(1, "Школьный концерт в Талгаре закончился дракой, избили ученика")])
    assert (result.new, result.updated, result.classified, result.enqueued) == (0, 1, 1, 1)
    with sessions() as s:
        (row,) = s.exec(select(Post)).all()
        (verdict,) = s.exec(select(Classification)).all()
        assert "дракой" in row.text and verdict.flag


def test_duplicate_in_one_batch_keeps_the_later_copy(pipeline, sessions):
    result = pipeline.ingest([make_post(1, "первый текст школы"), make_post(1, "исправленный текст школы")])
    assert result.new == 1
    with sessions() as s:
        assert s.exec(select(Post.text)).one() == "исправленный текст школы"


def test_same_content_across_sources_is_linked_into_one_incident(pipeline, sessions):
    text = "В школе №5 Талгара избили девочку, видео в сети"
    a = make_post(1, text, url="https://news.example/a")
    b = replace(make_post(2, text.upper() + "  ", url="https://news.example/a"), platform="vk", external_id="-1_2")
    result = pipeline.ingest([a, b])
    assert result.linked == 1 and result.enqueued == 1
    with sessions() as s:
        first, second = s.exec(select(Post).order_by(Post.id)).all()
        assert second.duplicate_of_id == first.id and first.duplicate_of_id is None
        assert first.incident_id == second.incident_id
        (item,) = s.exec(select(QueueItem)).all()
        assert item.post_count == 2


def test_crash_mid_batch_leaves_nothing_half_written(pipeline, sessions, monkeypatch):
    real = monitor.ingest.pipeline.enqueue
    calls = {"n": 0}

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(monitor.ingest.pipeline, "enqueue", failing)
    posts = [make_post(i, f"В Талгаре в школе №{i} избили ученика") for i in range(5)]
    with pytest.raises(RuntimeError, match="disk full"):
        pipeline.ingest(posts)
    for table in (Post, Classification, QueueItem, SnapshotRow, AuditEvent):
        assert _count(sessions, table) == 0, table
    monkeypatch.setattr(monitor.ingest.pipeline, "enqueue", real)
    assert pipeline.ingest(posts).enqueued == 5  # the retry completes the batch


def test_snapshots_are_kept_compressed_once(pipeline, sessions):
    body = ("<html>" + "пост о школе " * 500 + "</html>").encode()
    snap = Snapshot(url="https://t.me/s/chan", body=body, fetched_at=BASE_TIME, content_type="text/html")
    posts = [replace(make_post(i), snapshot=snap) for i in range(3)]
    pipeline.ingest(posts)
    with sessions() as s:
        (row,) = s.exec(select(SnapshotRow)).all()
        assert zlib.decompress(row.body_z) == body and row.sha256 == snap.sha256 and row.size == len(body)
        assert len(row.body_z) < len(body) / 5
        assert {p.snapshot_id for p in s.exec(select(Post))} == {row.id}
        assert {p.snapshot_sha256 for p in s.exec(select(Post))} == {snap.sha256}
    # a later import of the same post without a snapshot keeps the evidence
    assert pipeline.ingest([make_post(0)]).updated == 0


def test_without_classifier_posts_wait_for_the_backlog_job(sessions, settings):
    bare = Pipeline(sessions, settings, places=TablePlaces())
    result = bare.ingest([make_post(1, "В школе №3 Талгара избили ученика"), make_post(2)])
    assert (result.new, result.classified, result.enqueued) == (2, 0, 0)
    full = Pipeline(sessions, settings, classifier=KeywordClassifier(), places=TablePlaces())
    assert full.classify_backlog() == 2
    assert full.classify_backlog() == 0
    assert _count(sessions, QueueItem) == 1


def test_lower_threshold_requeues_without_rescrape(sessions, settings):
    strict = Settings(database=settings.database, classifier=ClassifierSettings(threshold=0.95))
    Pipeline(sessions, strict, classifier=KeywordClassifier(), places=TablePlaces()).ingest(
        [make_post(1, "В школе №3 Талгара избили ученика")])
    assert _count(sessions, QueueItem) == 0
    assert Pipeline(sessions, settings, classifier=KeywordClassifier(), places=TablePlaces()).requeue() == 1
    assert _count(sessions, QueueItem) == 1
