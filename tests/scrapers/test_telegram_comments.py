"""Telegram comments: the discussion widget parsed into posts linked to their parent, fetched and stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlmodel import select

from monitor.core.errors import ScrapeError
from monitor.core.posts import Post
from monitor.core.tables import Classification
from monitor.core.tables import Post as PostRow
from monitor.ingest.comments import collect_comments, flagged_channel_posts
from monitor.ingest.pipeline import Pipeline
from scrapers.telegram_comments import NoDiscussion, fetch_comments, parent_of, parse, parse_discussion
from tests.fakes import KeywordClassifier, TablePlaces
from tests.scrapers.helpers import Recorded, expected, fixture, html, http_client

WIDGET = "t.me/zhetysu_mektep/190"


def test_golden() -> None:
    want = expected("telegram/discussion_190.html")
    posts, cursor = parse(fixture("telegram/discussion_190.html"), want["url"])
    assert [p.to_record() for p in posts] == want["posts"]
    assert cursor is None


def test_details() -> None:
    d = parse_discussion(fixture("telegram/discussion_190.html"), "https://t.me/zhetysu_mektep/190?embed=1")
    assert d.parent == "zhetysu_mektep/190" and d.total == 4
    # The comment without a date is skipped; the photo-only one is kept with its photo.
    assert [c.extras["comment_id"] for c in d.comments] == [5002, 5003, 5004]
    assert d.comments[1].extras["reply_to_comment"] == 5002 and d.comments[1].author == "Аноним"
    assert d.comments[2].text == "" and d.comments[2].media[0].type == "photo"
    assert all(c.extras["parent"]["external_id"] == "zhetysu_mektep/190" for c in d.comments)
    assert parent_of("https://t.me/s/zhetysu_mektep/190") == "zhetysu_mektep/190"
    assert parent_of("https://t.me/zhetysu_mektep") is None


def test_no_discussion_and_bad_pages() -> None:
    with pytest.raises(NoDiscussion, match="no public comments"):
        parse(fixture("telegram/discussion_none.html"), "https://t.me/zhetysu_mektep/191")
    with pytest.raises(NoDiscussion, match="empty"):
        parse(b"", "https://t.me/zhetysu_mektep/191")
    with pytest.raises(ScrapeError, match="not the URL of a channel post"):
        parse(fixture("telegram/discussion_190.html"), "https://t.me/zhetysu_mektep")


def test_fetch_sends_the_widget_query() -> None:
    recorded = Recorded({WIDGET: html(fixture("telegram/discussion_190.html"))})
    discussion, snap = fetch_comments(http_client(recorded), "zhetysu_mektep/190", limit=500)
    assert recorded.paths() == [f"{WIDGET}?embed=1&discussion=1&comments_limit=100"]
    assert len(discussion.comments) == 3 and snap.body == fixture("telegram/discussion_190.html")
    with pytest.raises(NoDiscussion, match="HTTP 404"):
        fetch_comments(http_client(Recorded({})), "zhetysu_mektep/404")


def _channel_post(n: int, text: str) -> Post:
    return Post(platform="telegram", external_id=f"zhetysu_mektep/{n}", url=f"https://t.me/zhetysu_mektep/{n}",
                text=text, published_at=datetime.now(UTC) - timedelta(hours=n - 180), author="zhetysu_mektep")


def test_comments_of_flagged_posts_are_stored_linked_to_their_parent(sessions, settings) -> None:
    pipeline = Pipeline(sessions, settings, classifier=KeywordClassifier(), places=TablePlaces())
    pipeline.ingest([_channel_post(190, "В школе избили ученика"), _channel_post(191, "Драка у школы №3"),
                     _channel_post(192, "Школьная ярмарка"), _channel_post(193, "Буллинг в школе: мнение")])
    assert flagged_channel_posts(sessions) == ["zhetysu_mektep/190", "zhetysu_mektep/191", "zhetysu_mektep/193"]

    def broken(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("reset", request=request)

    recorded = Recorded({WIDGET: html(fixture("telegram/discussion_190.html")),
                         "t.me/zhetysu_mektep/191": html(fixture("telegram/discussion_none.html")),
                         "t.me/zhetysu_mektep/193": broken})
    run = collect_comments(sessions, http_client(recorded), pipeline)
    assert (run.parents, run.comments_new, run.without_discussion) == (3, 3, 1)
    assert len(run.errors) == 1 and run.errors[0].startswith("zhetysu_mektep/193: ") and "ConnectError" in run.errors[0]
    with sessions() as s:
        rows = {r.external_id: r for r in s.exec(select(PostRow).where(PostRow.platform == "telegram"))}
    comment = rows["zhetysu_mektep/190/c5002"]
    assert comment.extras["parent"]["external_id"] == "zhetysu_mektep/190" and comment.snapshot_id is not None
    # Comments are not parents: the flagged comment ("травля") is not asked for comments of its own.
    with sessions() as s:
        flagged = {c.post_id for c in s.exec(select(Classification).where(Classification.flag))}
    assert comment.id in flagged
    assert "zhetysu_mektep/190/c5002" not in flagged_channel_posts(sessions)
    again = collect_comments(sessions, http_client(recorded), pipeline)
    assert again.comments_new == 0


def test_scheduled_job_fails_when_a_post_could_not_be_fetched(sessions, settings) -> None:
    from monitor.service.scheduler import JobContext, telegram_comments

    pipeline = Pipeline(sessions, settings, classifier=KeywordClassifier(), places=TablePlaces())
    pipeline.ingest([_channel_post(190, "В школе избили ученика")])
    ok = telegram_comments(JobContext(settings, sessions), pipeline,
                           http_client(Recorded({WIDGET: html(fixture("telegram/discussion_190.html"))})))
    assert ok.comments_new == 3
    with pytest.raises(ScrapeError, match="1 of 1 posts failed; first: zhetysu_mektep/190: .*HTTP 500"):
        telegram_comments(JobContext(settings, sessions), pipeline,
                          http_client(Recorded({WIDGET: httpx.Response(500)})))
